/**
 * Lesson: r0 not set at exit. The probe's `pass:` label without `r0 = TC_ACT_OK`: on the path
 * where the packet is too short nothing has written r0.
 */
import { program, r0, r1, r2, r3, skb, ETH_HLEN, IPV4_HLEN, UDP_HLEN, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import type { Lesson } from './lesson.ts';

function checkLength(name: string, setR0: boolean): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    b.ldx('u32', r2, r1, skb.data_end);
    b.ldx('u32', r1, r1, skb.data);
    b.mov(r3, r1);
    b.add(r3, ETH_HLEN + IPV4_HLEN + UDP_HLEN);
    b.jgt(r3, r2, 'pass').comment('packet too short');
    b.call('ktime_get_ns').comment('stamp');
    b.label('pass');
    if (setR0) b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = checkLength('r0_unset', false);
export const fixed = checkLength('r0_set', true);

export const lesson: Lesson = {
  name: 'r0-not-set', id: 'r0-not-set', broken, fixed,
  expected: 'R0 !read_ok',
  note: 'The path that reaches exit after the call is fine (the helper returned in r0): the verifier stops at the first path that fails, the short packet.',
};
