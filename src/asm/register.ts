/**
 * Registers r0..r10 as typed constants. r0 holds return values, r1..r5 arguments (clobbered
 * by calls), r6..r9 survive calls, r10 is the read-only frame pointer.
 */
export type Register = 'r0' | 'r1' | 'r2' | 'r3' | 'r4' | 'r5' | 'r6' | 'r7' | 'r8' | 'r9' | 'r10';

export const r0 = 'r0', r1 = 'r1', r2 = 'r2', r3 = 'r3', r4 = 'r4', r5 = 'r5';
export const r6 = 'r6', r7 = 'r7', r8 = 'r8', r9 = 'r9', r10 = 'r10';
export const REGISTERS: readonly Register[] = [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10];
/** The frame pointer: readable, never a destination. */
export const FP: Register = r10;

export function isRegister(x: unknown): x is Register {
  return typeof x === 'string' && /^r(10|[0-9])$/.test(x);
}

export function regIndex(r: Register): number {
  return Number(r.slice(1));
}

export function regName(n: number): Register {
  if (!Number.isInteger(n) || n < 0 || n > 10) throw new RangeError(`invalid register number ${n}`);
  return REGISTERS[n]!;
}
