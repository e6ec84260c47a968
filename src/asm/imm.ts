/** Range checks shared by the instruction constructors: never a silent truncation. */
import { AsmError } from './errors.ts';
import { isRegister, regIndex, type Register } from './register.ts';

export const S16 = [-0x8000, 0x7fff] as const;
export const S32 = [-0x80000000, 0x7fffffff] as const;

export function checkInt(v: number, [lo, hi]: readonly [number, number], what: string): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new AsmError(`${what} ${v} does not fit in [${lo}, ${hi}]`);
  return v;
}

/** An s32 immediate; with allowU32, 0x80000000..0xffffffff is accepted and stored as its s32 bits. */
export function imm32(v: number, allowU32 = false): number {
  if (allowU32 && Number.isInteger(v) && v > S32[1] && v <= 0xffffffff) return v | 0;
  if (!Number.isInteger(v) || v < S32[0] || v > S32[1]) {
    throw new AsmError(`immediate ${v} does not fit in 32 bits (signed${allowU32 ? ' or unsigned' : ''}); use ld64 for 64-bit constants`);
  }
  return v;
}

export function off16(v: number): number {
  return checkInt(v, S16, 'offset');
}

export function reg(r: Register, role = 'register'): number {
  if (!isRegister(r)) throw new AsmError(`invalid ${role} ${JSON.stringify(r)}: use r0..r10`);
  return regIndex(r);
}

/** A destination register: r10 is the read-only frame pointer. */
export function dstReg(r: Register): number {
  const n = reg(r, 'destination register');
  if (n === 10) throw new AsmError('r10 is the read-only frame pointer and cannot be written');
  return n;
}
