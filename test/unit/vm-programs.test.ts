/**
 * The repository's other programs in the VM, no root needed: the socket filter (legacy
 * LD_ABS/LD_IND packet loads), the uprobe call counter (get_current_pid_tgid), and clang-built
 * objects read by src/elf (the tutorial's mes_pkt.c; global data, BTF maps and a bpf-to-bpf
 * call in btf_maps.c).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { udpPortFilter } from '../../programs/sockfilter.ts';
import { callCounter, callsSpec } from '../../programs/uprobe-count.ts';
import { udpFrame } from '../../src/frame/index.ts';
import { Vm } from '../../src/vm/index.ts';
import { FRAMES } from '../support/frames.ts';
import { readElf } from '../../src/elf/index.ts';
import { mesStart, maps } from '../../programs/mes_pkt/probe.ts';
import { seedBytes } from '../fixtures/elf/build.ts';

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

test('clang\'s mes_pkt.o (the tutorial\'s C) and the DSL probe leave the same maps in the VM', () => {
  const obj = readElf(seedBytes('mes_pkt'), { defaultType: 'sched_cls' });
  const start = obj.programs.find((p) => p.name === 'mes_start')!;
  const frames = [FRAMES.match, FRAMES.otherPort, FRAMES.match, FRAMES.tcp, FRAMES.arp, FRAMES.match];
  const run = (prog: typeof mesStart) => {
    const vm = new Vm({ clock: { ns: 100n, step: 10n } });
    const p = vm.load(prog);
    const insns = frames.map((f) => p.run({ data: f }).insns);
    return { insns, cnt: [...vm.map<number, number>(maps.cnt).entries()], start: [...vm.map<number, bigint>(maps.start).entries()].slice(0, 4) };
  };
  const c = run(start), dsl = run(mesStart);
  assert.equal(c.cnt, dsl.cnt);
  assert.equal(c.start, dsl.start);
  assert.equal(c.start, [[0, 100n], [1, 110n], [2, 120n], [3, 0n]]);
  assert.is(c.insns[0], 37, 'clang -O2: 37 instructions on the recording path');
  assert.is(dsl.insns[0], 34, 'the DSL probe: 34');
});

test('btf_maps.o: global data keeps its initial bytes, .rodata is read-only to the program, the call into .text works', () => {
  const obj = readElf(seedBytes('btf_maps'));
  const vm = new Vm();
  const countLen = vm.load(obj.programs.find((p) => p.name === 'count_len')!);
  const frame = udpFrame({ dport: 5001, payload: 'x'.repeat(40) }); // 82 bytes
  const r = countLen.run({ data: frame });
  assert.is(r.retval, (frame.length * 3) & 0xff, 'bump(1, len * scale) with scale = 3 from .rodata');
  const data = obj.maps.find((m) => m.name.endsWith('.data'))!, bss = obj.maps.find((m) => m.name.endsWith('.bss'))!;
  assert.is(vm.map<number, bigint>(data).get(0), 8n, 'runs = 7, then ++ (8-byte values read as u64, as BpfMap does)');
  assert.is(vm.map<number, bigint>(bss).get(0), BigInt(frame.length), 'last_len');
  countLen.run({ data: frame });
  assert.is(vm.map<number, bigint>('counts').get(1), BigInt(frame.length * 3 * 2), 'the hash element bump() created, then bumped');
  const xdp = vm.load(obj.programs.find((p) => p.name === 'xdp_pass')!);
  assert.is(xdp.run({ data: frame }).retval, 2);
  assert.is(vm.map<number, bigint>('counts').get(3), BigInt(frame.length));
  const sock = vm.load(obj.programs.find((p) => p.name === 'sock_keep')!);
  assert.is(sock.run({ data: frame }).retval, frame.length);
  const rodata = obj.maps.find((m) => m.name.endsWith('.rodata'))!;
  const writer = vm.load([
    { op: 0x18, dst: 1, src: 2, off: 0, imm: 0, imm2: 0, map: rodata },
    { op: 0x62, dst: 1, src: 0, off: 0, imm: 9 },
    { op: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ]);
  assert.throws(() => writer.run(), /store of 4 bytes .*\.rodata.* is read-only/);
});

test.run();
