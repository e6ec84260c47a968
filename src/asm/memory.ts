/**
 * Loads and stores (LDX, ST, STX with mode MEM), sign-extending loads (LDX with mode MEMSX),
 * and the legacy packet loads LD_ABS / LD_IND (r0 = ntoh(*(size *)(skb->data + imm [+ src]))).
 *   mode|size|cls
 */
import { AsmError } from './errors.ts';
import { imm32, off16, reg, dstReg } from './imm.ts';
import type { Instruction } from './instruction.ts';
import { Class, Mode, Size, type SizeName } from './opcode.ts';
import type { Register } from './register.ts';

function size(s: SizeName): number {
  const v = Size[s];
  if (v === undefined) throw new AsmError(`invalid size ${JSON.stringify(s)}: use 'u8', 'u16', 'u32' or 'u64'`);
  return v;
}

/** dst = *(size *)(src + off) */
export function ldx(sz: SizeName, dst: Register, src: Register, off: number): Instruction {
  return { op: Class.LDX | Mode.MEM | size(sz), dst: dstReg(dst), src: reg(src, 'base register'), off: off16(off), imm: 0 };
}

/** dst = *(s8|s16|s32 *)(src + off), sign-extended to 64 bits. */
export function ldxsx(sz: SizeName, dst: Register, src: Register, off: number): Instruction {
  if (sz === 'u64') throw new AsmError('a sign-extending load of u64 does not exist (use ldx)');
  return { op: Class.LDX | Mode.MEMSX | size(sz), dst: dstReg(dst), src: reg(src, 'base register'), off: off16(off), imm: 0 };
}

/** *(size *)(dst + off) = src */
export function stx(sz: SizeName, dst: Register, off: number, src: Register): Instruction {
  return { op: Class.STX | Mode.MEM | size(sz), dst: reg(dst, 'base register'), src: reg(src, 'source register'), off: off16(off), imm: 0 };
}

/** *(size *)(dst + off) = imm (sign-extended for u64) */
export function st(sz: SizeName, dst: Register, off: number, imm: number): Instruction {
  return { op: Class.ST | Mode.MEM | size(sz), dst: reg(dst, 'base register'), src: 0, off: off16(off), imm: imm32(imm, sz !== 'u64') };
}

/** r0 = *(size *)(skb->data + imm), in host order (legacy; socket filters and tc only). */
export function ldAbs(sz: SizeName, imm: number): Instruction {
  if (sz === 'u64') throw new AsmError('legacy packet loads are u8, u16 or u32 only');
  return { op: Class.LD | Mode.ABS | size(sz), dst: 0, src: 0, off: 0, imm: imm32(imm) };
}

/** r0 = *(size *)(skb->data + src + imm) (legacy). */
export function ldInd(sz: SizeName, src: Register, imm: number): Instruction {
  if (sz === 'u64') throw new AsmError('legacy packet loads are u8, u16 or u32 only');
  return { op: Class.LD | Mode.IND | size(sz), dst: 0, src: reg(src, 'index register'), off: 0, imm: imm32(imm) };
}
