/**
 * Lesson: a jump into the middle of an LD_IMM64. "If the packet is already marked, keep its
 * mark, else load the default": the hand-written offset +1 skips "one instruction", but the
 * 64-bit constant load is two 8-byte slots, so the jump lands on its second half.
 *
 * tsbpf's linker (src/asm/link.ts) refuses that offset, so `broken` is built without link()
 * (unlinked()): the lesson shows both what the assembler says and what the kernel says when
 * the assembler is bypassed. The fix uses a label, and the linker counts the slots.
 */
import { program, r0, r1, r3, skb, TC_ACT_OK, type Builder } from '../../src/asm/index.ts';
import { unlinked, type Lesson } from './lesson.ts';

/** The default mark: a 64-bit constant, so it needs LD_IMM64. */
const DEFAULT_MARK = 0x1_0000_1389n;

function markPacket(b: Builder, skip: string | number): void {
  b.mov(r0, TC_ACT_OK);
  b.ldx('u32', r3, r1, skb.mark);
  b.jne(r3, 0, skip).comment('already marked: keep it');
  b.ld64(r3, DEFAULT_MARK).comment('two slots');
  b.label('keep');
  b.stx('u32', r1, skb.mark, r3);
  b.exit();
}

export const broken = unlinked({ name: 'ldimm_jump', type: 'sched_cls', license: 'GPL' }, (b) => markPacket(b, +1));
export const fixed = program({ name: 'ldimm_fix', type: 'sched_cls', license: 'GPL' }, (b) => markPacket(b, 'keep'));

export const lesson: Lesson = {
  name: 'jump-into-ldimm64', id: 'jump-into-ldimm64', broken, fixed,
  expected: 'jump into the middle of ldimm64 insn 3',
};
