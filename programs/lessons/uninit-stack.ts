/**
 * Lesson: a read of an uninitialised stack slot. The key for the counter lookup is passed as
 * r10 - 4 but never stored, so bpf_map_lookup_elem would read whatever the stack held.
 * The verifier forbids it to loaders without CAP_PERFMON; root may (it can read kernel memory
 * anyway), so the lesson loads `broken` with CAP_PERFMON and CAP_SYS_ADMIN dropped.
 */
import { program, r0, r1, r2, r6, r10, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import { CNT_START, maps } from '../mes_pkt/probe.ts';
import type { Lesson } from './lesson.ts';

function lookupCounter(name: string, storeKey: boolean): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    if (storeKey) b.st('u32', r10, -4, CNT_START).comment('idx = CNT_START');
    b.mov(r2, r10);
    b.add(r2, -4).comment('&idx');
    b.ldMap(r1, maps.cnt);
    b.call('map_lookup_elem');
    b.mov(r6, r0);
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = lookupCounter('uninit_stk', false);
export const fixed = lookupCounter('uninit_stk_fix', true);

export const lesson: Lesson = {
  name: 'uninit-stack', id: 'uninit-stack', broken, fixed, unprivileged: true,
  expected: 'invalid read from stack R2 off=-4 size=4',
};
