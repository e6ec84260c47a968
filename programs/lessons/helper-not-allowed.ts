/**
 * Lesson: a helper SCHED_CLS may not call. Record, with the timestamp, the kernel function we
 * are attached to (bpf_get_func_ip): a tracing helper, meaningless for a tc classifier. The
 * fix records the CPU instead (bpf_get_smp_processor_id, which tc may call).
 */
import { program, r0, r10, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import type { Lesson } from './lesson.ts';

function stampWithOrigin(name: string, helper: string): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    b.call(helper).comment('r1 is still the context');
    b.stx('u64', r10, -8, r0).comment('origin');
    b.call('ktime_get_ns');
    b.stx('u64', r10, -16, r0).comment('t');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = stampWithOrigin('bad_helper', 'get_func_ip');
export const fixed = stampWithOrigin('bad_helper_fix', 'get_smp_processor_id');

export const lesson: Lesson = {
  name: 'helper-not-allowed', id: 'helper-not-allowed', broken, fixed,
  expected: 'program of this type cannot use helper bpf_get_func_ip#173',
};
