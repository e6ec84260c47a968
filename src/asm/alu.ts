/**
 * Arithmetic: ALU (32-bit, writes w-registers, zero-extends) and ALU64.
 *   op|s|cls   s=0: dst op= imm   s=1: dst op= src
 * sdiv/smod are DIV/MOD with off=1; movsx is MOV (X) with off = 8/16/32; byte swaps are END
 * (ALU: K=le, X=be; ALU64 K: unconditional bswap) with the width in imm.
 */
import { AsmError } from './errors.ts';
import { imm32, reg, dstReg } from './imm.ts';
import type { Instruction } from './instruction.ts';
import { AluOp, Class, Source, rowsOfForm, type BinaryAluOp } from './opcode.ts';
import { isRegister, type Register } from './register.ts';

export type Width = 32 | 64;

/** The op field and off of each two-operand operation, from the opcode table. */
const base: ReadonlyMap<string, { code: number; off: number }> = new Map(
  rowsOfForm('binary').map((r) => [r.name, { code: r.code, off: r.off ?? 0 }]),
);

/** dst op= src|imm, in 32 or 64 bits. */
export function alu(op: BinaryAluOp, width: Width, dst: Register, src: Register | number): Instruction {
  const b = base.get(op);
  if (!b) throw new AsmError(`unknown ALU operation '${op}'`);
  const cls = width === 64 ? Class.ALU64 : Class.ALU;
  const d = dstReg(dst);
  if (isRegister(src)) return { op: b.code | Source.X | cls, dst: d, src: reg(src, 'source register'), off: b.off, imm: 0 };
  if (typeof src !== 'number') throw new AsmError(`invalid source ${JSON.stringify(src)}: a register r0..r10 or an integer`);
  const imm = imm32(src, width === 32);
  if ((op === 'lsh' || op === 'rsh' || op === 'arsh') && (imm < 0 || imm >= width)) {
    throw new AsmError(`shift by ${src} is out of range for ${width}-bit ${op} (0..${width - 1})`);
  }
  if ((op === 'div' || op === 'sdiv' || op === 'mod' || op === 'smod') && imm === 0) throw new AsmError(`${op} by the constant 0`);
  return { op: b.code | Source.K | cls, dst: d, src: 0, off: b.off, imm };
}

/** Source widths movsx takes, by destination width (the movsx rows of the table). */
const MOVSX_BITS: Readonly<Record<Width, readonly number[]>> = {
  32: rowsOfForm('movsx').filter((r) => r.classes.includes(Class.ALU)).map((r) => r.off ?? 0),
  64: rowsOfForm('movsx').filter((r) => r.classes.includes(Class.ALU64)).map((r) => r.off ?? 0),
};

/** dst = -dst */
export function neg(width: Width, dst: Register): Instruction {
  return { op: AluOp.neg | (width === 64 ? Class.ALU64 : Class.ALU), dst: dstReg(dst), src: 0, off: 0, imm: 0 };
}

/** dst = (s8|s16|s32) src, sign-extended to 64 bits (or to 32 bits for width 32). */
export function movsx(width: Width, dst: Register, src: Register, bits: 8 | 16 | 32): Instruction {
  const ok = MOVSX_BITS[width];
  if (!ok.includes(bits)) throw new AsmError(`movsx${width === 32 ? '32' : ''} sign-extends from ${ok.join(', ')} bits, not ${bits}`);
  return { op: AluOp.mov | Source.X | (width === 64 ? Class.ALU64 : Class.ALU), dst: dstReg(dst), src: reg(src, 'source register'), off: bits, imm: 0 };
}

export type Endian = 'le' | 'be' | 'bswap';

/** Byte order conversion of the low `bits` of dst: to little endian, big endian, or an unconditional swap. */
export function endian(kind: Endian, dst: Register, bits: 16 | 32 | 64): Instruction {
  if (bits !== 16 && bits !== 32 && bits !== 64) throw new AsmError(`byte swap width must be 16, 32 or 64, not ${bits}`);
  const op = kind === 'bswap' ? AluOp.end | Source.K | Class.ALU64 : AluOp.end | (kind === 'be' ? Source.X : Source.K) | Class.ALU;
  return { op, dst: dstReg(dst), src: 0, off: 0, imm: bits };
}
