/**
 * Lesson: a missing NULL check after a map lookup. mes_end wants the start timestamp of the
 * packet it is finishing: map_mes_start[*cnt]. The key is only known at run time, so the
 * lookup may find nothing and return NULL; the program reads the value without checking.
 *
 * The counter lookup just before needs its check in C, but on 6.x kernels the verifier knows
 * that an array lookup with a constant key below max_entries cannot fail (its r0 is map_value,
 * not map_value_or_null): explain shows both.
 */
import { program, r0, r1, r2, r6, r7, r10, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import { CNT_START, lookupCounter, maps } from '../mes_pkt/probe.ts';
import type { Lesson } from './lesson.ts';

function startTimestamp(name: string, nullCheck: boolean): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    // cnt = bpf_map_lookup_elem(&map_mes_cnt, &idx);  (constant key)
    lookupCounter(b, CNT_START);
    // t0 = bpf_map_lookup_elem(&map_mes_start, cnt);  (key known only at run time)
    b.ldx('u32', r7, r6, 0);
    b.stx('u32', r10, -8, r7).comment('key = *cnt');
    b.mov(r2, r10);
    b.add(r2, -8);
    b.ldMap(r1, maps.start);
    b.call('map_lookup_elem');
    if (nullCheck) b.jeq(r0, 0, 'pass').comment('if (!t0)');
    b.ldx('u64', r1, r0, 0).comment('*t0');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = startTimestamp('no_null_check', false);
export const fixed = startTimestamp('null_check', true);

export const lesson: Lesson = {
  name: 'missing-null-check', id: 'map-null-check', broken, fixed,
  expected: "R0 invalid mem access 'map_value_or_null'",
  note: 'An array lookup with a constant key below max_entries (the counter, key 0) cannot fail, and 6.x kernels know it: its result is map_value, no check needed. The timestamp lookup uses a key known only at run time.',
};
