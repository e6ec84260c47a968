/**
 * Lesson: a stack access out of bounds. The probe keeps the timestamp at r10 - 16; this
 * variant keeps a history of 64 timestamps on the stack below the key, and the first entry,
 * r10 - 8 - 64 * 8 = r10 - 520, is past the 512-byte frame.
 */
import { program, r0, r10, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import type { Lesson } from './lesson.ts';

const HISTORY = 64;

function stampOnStack(name: string, at: number): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    b.call('ktime_get_ns');
    b.stx('u64', r10, at, r0).comment('t');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = stampOnStack('stack_oob', -8 - HISTORY * 8);
export const fixed = stampOnStack('stack_oob_fix', -16);

export const lesson: Lesson = {
  name: 'stack-out-of-bounds', id: 'stack-out-of-bounds', broken, fixed,
  expected: 'invalid write to stack R10 off=-520 size=8',
  note: 'The probe keeps its 512 timestamps in an array map (map_mes_start) for this reason.',
};
