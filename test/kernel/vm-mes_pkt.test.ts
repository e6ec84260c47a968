/**
 * The kernel referees the VM on mes_pkt's probe: the same frames through mes_start and mes_end
 * in the kernel (BPF_PROG_TEST_RUN) and in the VM leave the same counters, the same slots
 * stamped, and the same return values. (Timestamps differ: two clocks.)
 */
import * as assert from 'uvu/assert';
import { mesStart, mesEnd, maps } from '../../programs/mes_pkt/probe.ts';
import { createMap } from '../../src/syscall/map.ts';
import { loadProgram } from '../../src/syscall/program.ts';
import { Vm } from '../../src/vm/index.ts';
import { kernelSuite } from '../support/kernel.ts';
import { FRAMES } from '../support/frames.ts';

const t = kernelSuite('vm-mes_pkt');

t('mes_start and mes_end: the kernel and the VM leave the same counters and stamped slots', () => {
  const frames = [FRAMES.match, FRAMES.otherPort, FRAMES.match, FRAMES.tcp, FRAMES.arp, FRAMES.match];
  using cnt = createMap<number, number>(maps.cnt);
  using start = createMap<number, bigint>(maps.start);
  using end = createMap<number, bigint>(maps.end);
  using ks = loadProgram(mesStart, { maps: [cnt, start] });
  using ke = loadProgram(mesEnd, { maps: [cnt, end] });
  const vm = new Vm({ clock: { ns: 1n, step: 1n } });
  const vs = vm.load(mesStart), ve = vm.load(mesEnd);
  for (const f of frames) {
    assert.is(vs.run({ data: f }).retval, ks.testRun({ data: f }).retval);
    assert.is(ve.run({ data: f }).retval, ke.testRun({ data: f }).retval);
  }
  assert.equal([vm.map(maps.cnt).get(0), vm.map(maps.cnt).get(1)], [cnt.get(0), cnt.get(1)]);
  assert.is(cnt.get(0), 3);
  const stamped = (get: (i: number) => bigint | undefined) => Array.from({ length: 8 }, (_, i) => (get(i) ?? 0n) !== 0n);
  assert.equal(stamped((i) => vm.map<number, bigint>(maps.start).get(i)), stamped((i) => start.get(i)));
  assert.equal(stamped((i) => vm.map<number, bigint>(maps.end).get(i)), stamped((i) => end.get(i)));
});

t.run();
