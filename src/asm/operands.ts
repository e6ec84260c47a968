/**
 * Operand parsing shared by the assembler's dialects (dialect-llvm.ts, dialect-ubpf.ts), and
 * what a dialect is: a function that parses one instruction from a token cursor. Lines,
 * labels, comments and linking are the assembler's (assembler.ts); a dialect never sees them.
 */
import type { Instruction, MapRef } from './instruction.ts';
import type { Cursor, Token } from './lexer.ts';

/** What a dialect gets besides the cursor. */
export interface DialectContext {
  /** The one MapRef object for a map name in this assembly. */
  map(name: string): MapRef;
}

/** Parses the instruction on one line (the cursor is past labels, at the first token). */
export type DialectParser = (c: Cursor, ctx: DialectContext) => Instruction;

export interface Reg { readonly n: number; readonly w: boolean; readonly col: number }

/** A parsed integer: its value, the column of its first token, and whether it was written in hex. */
export interface Num { readonly value: bigint; readonly col: number; readonly hex: boolean }

export const S16: readonly [bigint, bigint] = [-0x8000n, 0x7fffn];
export const S32: readonly [bigint, bigint] = [-0x80000000n, 0x7fffffffn];
/** An s32 field that also takes its unsigned spelling (0xffffffff is -1). */
export const U32OK: readonly [bigint, bigint] = [-0x80000000n, 0xffffffffn];

/** A register token: rN / wN (llvm) or %rN (ubpf), N in 0..10. */
export function parseReg(c: Cursor, what = 'a register'): Reg {
  const t = c.peek();
  const m = t?.kind === 'ident' ? /^%?([rw])(\d+)$/.exec(t.text) : null;
  if (!m || Number(m[2]) > 10 || (m[2]!.length > 1 && m[2]![0] === '0')) throw c.expected(`${what} (r0..r10${what.includes('32') ? '' : ' or w0..w10'})`);
  c.pos++;
  return { n: Number(m[2]), w: m[1] === 'w', col: t!.col };
}

export function isRegToken(t: Token | undefined): boolean {
  return t?.kind === 'ident' && /^%?[rw](10|[0-9])$/.test(t.text);
}

/** An integer with an optional sign. */
export function parseNumber(c: Cursor, what = 'a number'): Num {
  const col = c.col();
  let neg = false;
  if (c.accept('-')) neg = true;
  else c.accept('+');
  const t = c.peek();
  if (!t || t.kind !== 'num') throw c.expected(what);
  c.pos++;
  return { value: neg ? -t.value! : t.value!, col, hex: /^0x/i.test(t.text) };
}

/** Range-check a parsed integer; the message names the field and its range. */
export function fit(c: Cursor, v: { value: bigint; col: number }, [lo, hi]: readonly [bigint, bigint], what: string, hint = ''): number {
  if (v.value < lo || v.value > hi) throw c.error(`${what} ${v.value} does not fit in [${lo}, ${hi}]${hint}`, v.col);
  return Number(BigInt.asIntN(32, v.value));
}

export const imm32 = (c: Cursor, v: { value: bigint; col: number }, allowU32: boolean, what = 'immediate'): number =>
  fit(c, v, allowU32 ? U32OK : S32, what, allowU32 ? '' : ' (64-bit operations sign-extend a 32-bit immediate; use `rN = <value> ll` for 64-bit constants)');
export const off16 = (c: Cursor, v: { value: bigint; col: number }, what = 'offset'): number => fit(c, v, S16, what);

/** A 64-bit constant, signed or unsigned, as the (imm, imm2) halves of an LD_IMM64. */
export function imm64Halves(c: Cursor, v: { value: bigint; col: number }): { imm: number; imm2: number } {
  if (v.value < -(1n << 63n) || v.value >= 1n << 64n) throw c.error(`constant ${v.value} does not fit in 64 bits`, v.col);
  const u = BigInt.asUintN(64, v.value);
  return { imm: Number(BigInt.asIntN(32, u)), imm2: Number(BigInt.asIntN(32, u >> 32n)) };
}

/** A jump target: `+N`, `-N`, `N` or a label name, then an optional `<label>` that wins over N. */
export function parseTarget(c: Cursor, range: readonly [bigint, bigint], offset16 = (n: Num): number => fit(c, n, range, 'jump offset')): { offset?: number; target?: string } {
  let offset: number | undefined, target: string | undefined;
  const t = c.peek();
  if (t?.kind === 'ident') target = c.next()!.text;
  else offset = offset16(parseNumber(c, 'a jump offset (+N or -N) or a label'));
  if (c.accept('<')) {
    target = c.ident('a label name').text;
    c.expect('>', "'>' after the label name");
  }
  return target !== undefined ? { target } : { offset: offset! };
}

/** An instruction with the five fields, plus optional extras (target, map, imm2). */
export const mkInsn = (op: number, dst: number, src: number, off: number, imm: number, extra: Partial<Instruction> = {}): Instruction =>
  ({ op, dst, src, off, imm, ...extra });
