/** sectionFor: a type without an expected attach type gets its plain default section, never a variant. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sectionFor, sectionType } from '../../src/elf/section-types.ts';

test('no expected attach type: the type\'s default section (xdp, not xdp.frags/devmap)', () => {
  assert.is(sectionFor('xdp'), 'xdp');
  assert.is(sectionFor('sk_reuseport'), 'sk_reuseport');
  assert.is(sectionFor('kprobe'), 'kprobe');
  assert.is(sectionFor('sched_cls'), 'tc');
  assert.is(sectionFor('socket_filter'), 'socket');
});

test('an expected attach type picks its row, still without variants', () => {
  assert.is(sectionFor('xdp', 'xdp'), 'xdp');
  assert.is(sectionFor('xdp', 'xdp_devmap'), 'xdp/devmap');
  assert.is(sectionFor('xdp', 'xdp_cpumap'), 'xdp/cpumap');
  assert.is(sectionFor('sched_cls', 'tcx_egress'), 'tc/egress');
});

test('the section written reads back as the same type', () => {
  for (const t of ['xdp', 'sched_cls', 'kprobe', 'socket_filter', 'tracepoint', 'sk_reuseport'] as const) {
    const s = sectionFor(t)!;
    assert.is(sectionType(s)?.type, t, s);
    assert.is(sectionType(s)?.flags, 0, `${s}: no sleepable/frags flag`);
  }
});

test.run();
