/**
 * Lesson: an unbounded back-edge loop, next to a bounded loop the kernel accepts. When the
 * timestamp buffer is full, "wait until there is room": spin on *cnt. The verifier sees the
 * loop come back to its top in a state identical to the last one (nothing it tracks changed),
 * so it cannot end. The fix retries at most MAX_TRIES times: the counter r8 makes every trip
 * a new state, and after MAX_TRIES the loop exits on every path.
 */
import { program, r0, r6, r7, r8, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import { CNT_START, lookupCounter, MES_SLOTS } from '../mes_pkt/probe.ts';
import type { Lesson } from './lesson.ts';

const MAX_TRIES = 4;

function waitForRoom(name: string, bounded: boolean): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    lookupCounter(b, CNT_START);
    if (bounded) b.mov(r8, 0).comment('tries = 0');
    b.label('again');
    b.ldx('u32', r7, r6, 0).comment('r7 = *cnt');
    if (bounded) {
      b.jle(r7, MES_SLOTS - 1, 'room');
      b.add(r8, 1);
      b.jlt(r8, MAX_TRIES, 'again').comment(`while (++tries < ${MAX_TRIES})`);
      b.ja('pass').comment('still full: give up');
    } else {
      b.jgt(r7, MES_SLOTS - 1, 'again').comment('while (*cnt >= MES_SLOTS)');
    }
    b.label('room');
    b.call('ktime_get_ns').comment('stamp');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = waitForRoom('spin_loop', false);
export const fixed = waitForRoom('bounded_loop', true);

export const lesson: Lesson = {
  name: 'unbounded-loop', id: 'unbounded-loop', broken, fixed,
  expected: 'infinite loop detected at insn',
};
