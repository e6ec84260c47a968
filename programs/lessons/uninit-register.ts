/**
 * Lesson: a read of an uninitialised register. `*cnt += 1` written as `r7 += 1; *cnt = r7`
 * without first loading r7 = *cnt: r7 was never written.
 */
import { program, r0, r6, r7, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import { CNT_START, lookupCounter } from '../mes_pkt/probe.ts';
import type { Lesson } from './lesson.ts';

function bumpCounter(name: string, loadFirst: boolean): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    lookupCounter(b, CNT_START);
    if (loadFirst) b.ldx('u32', r7, r6, 0).comment('r7 = *cnt');
    b.add(r7, 1).comment('*cnt + 1');
    b.stx('u32', r6, 0, r7);
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = bumpCounter('uninit_reg', false);
export const fixed = bumpCounter('uninit_reg_fix', true);

export const lesson: Lesson = {
  name: 'uninit-register', id: 'uninit-register', broken, fixed,
  expected: 'R7 !read_ok',
};
