/**
 * The repository's other programs in the VM: the socket filter (legacy LD_ABS/LD_IND packet
 * loads) and the uprobe call counter (get_current_pid_tgid), no root needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { udpPortFilter } from '../../programs/sockfilter.ts';
import { callCounter, callsSpec } from '../../programs/uprobe-count.ts';
import { udpFrame } from '../../src/frame/index.ts';
import { Vm } from '../../src/vm/index.ts';
import { FRAMES } from '../support/frames.ts';

test('sockfilter: keeps UDP to its port whole (r0 = skb->len), drops the rest, and ends on a short frame', () => {
  const vm = new Vm();
  const f = vm.load(udpPortFilter(5001));
  assert.is(f.run({ data: FRAMES.match }).retval, FRAMES.match.length);
  for (const other of [FRAMES.otherPort, FRAMES.tcp, FRAMES.arp]) assert.is(f.run({ data: other }).retval, 0);
  // the IPv4 header length comes from the frame: options move the UDP header, LD_IND follows
  const r = f.run({ data: FRAMES.match.subarray(0, 30) });
  assert.is(r.retval, 0, 'LD_ABS past the end ends the program with r0 = 0');
  const frag = udpFrame({ dport: 5001, payload: 'x' });
  frag[14 + 7] = 0x10; // fragment offset != 0: no UDP header in this fragment
  assert.is(f.run({ data: frag }).retval, 0);
});

test('uprobe-count: counts every hit, or only the chosen tgid\'s', () => {
  const vm = new Vm({ task: { tgid: 77, pid: 78 } });
  const all = vm.load(callCounter());
  for (let i = 0; i < 3; i++) all.run();
  assert.is(vm.map<number, bigint>(callsSpec).get(0), 3n);
  const mine = vm.load(callCounter({ tgid: 77 })), other = vm.load(callCounter({ tgid: 99 }));
  mine.run(); other.run(); other.run();
  assert.is(vm.map<number, bigint>(callsSpec).get(0), 4n);
});

test.run();
