/**
 * Lesson: a GPL-only helper under a non-GPL license. Debug-print the counter with
 * bpf_trace_printk, in a program whose license is "Proprietary". The same code with the
 * probe's license ("GPL") loads.
 */
import { program, r0, r1, r2, r3, r6, r7, r10, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import { CNT_START, lookupCounter } from '../mes_pkt/probe.ts';
import type { Lesson } from './lesson.ts';

/** "cnt %u\n\0" as the little-endian u64 a store writes. */
const FMT = 0x000a7525_20746e63n;

function printCounter(name: string, license: string): ProgramSpec {
  return program({ name, type: 'sched_cls', license }, (b) => {
    lookupCounter(b, CNT_START);
    b.ldx('u32', r7, r6, 0);
    // bpf_trace_printk("cnt %u\n", 8, *cnt);
    b.ld64(r1, FMT);
    b.stx('u64', r10, -16, r1).comment('"cnt %u\\n"');
    b.mov(r1, r10);
    b.add(r1, -16);
    b.mov(r2, 8);
    b.mov(r3, r7);
    b.call('trace_printk');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = printCounter('gpl_only', 'Proprietary');
export const fixed = printCounter('gpl_only_fix', 'GPL');

export const lesson: Lesson = {
  name: 'gpl-only-helper', id: 'gpl-only-helper', broken, fixed,
  expected: 'cannot call GPL-restricted function from non-GPL compatible program',
};
