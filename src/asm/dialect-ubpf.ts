/**
 * The ubpf / bpf_conformance assembly dialect: a mnemonic, then operands.
 *
 *   mov32 %r0, 1          add %r1, %r2         neg %r1           le16 %r0  be64 %r0  bswap32 %r0 (swap32)
 *   ldxdw %r2, [%r10-8]   ldxsb %r0, [%r1]     stw [%r10-4], 5   stxdw [%r10-8], %r1
 *   lock add [%r10-8], %r1      lock fetch add32 [%r10-4], %r1 (or fetch_add32)
 *   lock xchg [%r10-8], %r1     lock cmpxchg [%r10-8], %r1   (r0 is implicit)
 *   lddw %r1, 0x1122334455667788      movsx832 %r2, %r1 (width 8 into 32 bits) ... movsx3264
 *   jne %r0, 15, fail     jeq32 %r1, %r2, +3   ja label   ja32 label (gotol)
 *   call 5   call local f   exit   ldabsw 12   ldindb %r1, 4
 *
 * Immediates are 32 bits either way: 0xffffff80 is accepted for a 64-bit operation and means
 * its bit pattern (-128, sign-extended), as the ubpf assembler does.
 */
import {
  fit, isRegToken, off16, parseInt, parseReg, parseTarget, type DialectParser, type Reg,
} from './assembler.ts';
import type { Instruction } from './instruction.ts';
import type { Cursor } from './lexer.ts';
import { AluOp, AtomicOp, CallKind, Class, JmpOp, LD_IMM64, Mode, Pseudo, Size, Source, type SizeName } from './opcode.ts';

const ALU: Readonly<Record<string, { code: number; off: number }>> = {
  add: { code: AluOp.add, off: 0 }, sub: { code: AluOp.sub, off: 0 }, mul: { code: AluOp.mul, off: 0 },
  div: { code: AluOp.div, off: 0 }, sdiv: { code: AluOp.div, off: 1 }, mod: { code: AluOp.mod, off: 0 },
  smod: { code: AluOp.mod, off: 1 }, or: { code: AluOp.or, off: 0 }, and: { code: AluOp.and, off: 0 },
  xor: { code: AluOp.xor, off: 0 }, lsh: { code: AluOp.lsh, off: 0 }, rsh: { code: AluOp.rsh, off: 0 },
  arsh: { code: AluOp.arsh, off: 0 }, mov: { code: AluOp.mov, off: 0 },
};
const JMP: Readonly<Record<string, number>> = {
  jeq: JmpOp.jeq, jne: JmpOp.jne, jgt: JmpOp.jgt, jge: JmpOp.jge, jlt: JmpOp.jlt, jle: JmpOp.jle,
  jsgt: JmpOp.jsgt, jsge: JmpOp.jsge, jslt: JmpOp.jslt, jsle: JmpOp.jsle, jset: JmpOp.jset,
};
const SIZES: Readonly<Record<string, SizeName>> = { b: 'u8', h: 'u16', w: 'u32', dw: 'u64' };
const ATOMIC: Readonly<Record<string, number>> = {
  add: AtomicOp.add, or: AtomicOp.or, and: AtomicOp.and, xor: AtomicOp.xor, xchg: AtomicOp.xchg, cmpxchg: AtomicOp.cmpxchg,
};
const U32: readonly [bigint, bigint] = [-0x80000000n, 0xffffffffn];
const S16: readonly [bigint, bigint] = [-0x8000n, 0x7fffn];
const S32: readonly [bigint, bigint] = [-0x80000000n, 0x7fffffffn];

const I = (op: number, dst: number, src: number, off: number, imm: number, extra: Partial<Instruction> = {}): Instruction =>
  ({ op, dst, src, off, imm, ...extra });

function reg(c: Cursor): Reg {
  const r = parseReg(c, 'a register');
  if (r.w) throw c.error('this dialect names registers %r0..%r10', r.col);
  return r;
}

/** `[%r10-8]`, `[%r1]`, `[%r1+0x10]` */
function memOperand(c: Cursor): { base: number; off: number } {
  c.expect('[', "'[' and a memory operand like [%r10-8]");
  const base = reg(c);
  let off = 0;
  const s = c.peek();
  if (s && s.kind === 'punct' && (s.text === '+' || s.text === '-')) off = off16(c, parseInt(c, 'an offset'));
  c.expect(']', "']' after the offset");
  return { base: base.n, off };
}

const imm = (c: Cursor, what = 'an immediate'): number => fit(c, parseInt(c, what), U32, 'immediate');

function target(c: Cursor, range: readonly [bigint, bigint]): Partial<Instruction> & { at: number } {
  const t = parseTarget(c, range);
  return { at: t.offset ?? 0, ...(t.target !== undefined ? { target: t.target } : {}) };
}

export const parseUbpf: DialectParser = (c) => {
  const t = c.ident('a mnemonic (mov, add32, ldxdw, stw, jne, call, exit, ...)');
  let m = t.text;
  const bad = (): never => { c.pos--; throw c.expected('a mnemonic (mov, add32, ldxdw, stw, jne, lock, call, exit, ...)'); };
  if (m === 'exit') return I(Class.JMP | JmpOp.exit, 0, 0, 0, 0);
  if (m === 'call') {
    if (c.accept('local')) {
      const { at, ...rest } = target(c, S32);
      return I(Class.JMP | JmpOp.call, 0, CallKind.local, 0, at, rest);
    }
    return I(Class.JMP | JmpOp.call, 0, CallKind.helper, 0, imm(c, 'a helper id'));
  }
  if (m === 'ja' || m === 'ja32') {
    const { at, ...rest } = target(c, m === 'ja' ? S16 : S32);
    return m === 'ja' ? I(Class.JMP | JmpOp.ja, 0, 0, at, 0, rest) : I(Class.JMP32 | JmpOp.ja, 0, 0, 0, at, rest);
  }
  if (m === 'lddw') {
    const d = reg(c);
    c.expect(',');
    const v = parseInt(c, 'a 64-bit constant');
    if (v.value < -(1n << 63n) || v.value >= 1n << 64n) throw c.error(`constant ${v.value} does not fit in 64 bits`, v.col);
    const u = BigInt.asUintN(64, v.value);
    return { op: LD_IMM64, dst: d.n, src: Pseudo.imm, off: 0, imm: Number(BigInt.asIntN(32, u)), imm2: Number(BigInt.asIntN(32, u >> 32n)) };
  }
  if (m === 'lock') {
    let op = c.ident('an atomic operation (add, or, and, xor, xchg, cmpxchg, fetch add, ...)').text;
    let fetch = false;
    if (op === 'fetch') { fetch = true; op = c.ident('add, or, and or xor after fetch').text; }
    if (op.startsWith('fetch_')) { fetch = true; op = op.slice(6); }
    const w = op.endsWith('32');
    if (w) op = op.slice(0, -2);
    let code = ATOMIC[op];
    if (code === undefined || (fetch && (op === 'xchg' || op === 'cmpxchg'))) { c.pos--; throw c.expected('add, or, and, xor, xchg or cmpxchg (with 32 for u32)'); }
    if (fetch) code |= AtomicOp.fetch_add;
    const mem = memOperand(c);
    c.expect(',');
    const s = reg(c);
    return I(Class.STX | Mode.ATOMIC | (w ? Size.u32 : Size.u64), mem.base, s.n, mem.off, code);
  }
  const ldabs = /^ld(abs|ind)(b|h|w)$/.exec(m);
  if (ldabs) {
    const size = Size[SIZES[ldabs[2]!]!];
    if (ldabs[1] === 'abs') return I(Class.LD | Mode.ABS | size, 0, 0, 0, fit(c, parseInt(c, 'an offset'), S32, 'offset'));
    const s = reg(c);
    c.expect(',');
    return I(Class.LD | Mode.IND | size, 0, s.n, 0, fit(c, parseInt(c, 'an offset'), S32, 'offset'));
  }
  const ldx = /^ldx(s?)(b|h|w|dw)$/.exec(m);
  if (ldx) {
    if (ldx[1] && ldx[2] === 'dw') bad();
    const d = reg(c);
    c.expect(',');
    const mem = memOperand(c);
    return I(Class.LDX | (ldx[1] ? Mode.MEMSX : Mode.MEM) | Size[SIZES[ldx[2]!]!], d.n, mem.base, mem.off, 0);
  }
  const st = /^st(x?)(b|h|w|dw)$/.exec(m);
  if (st) {
    const mem = memOperand(c);
    c.expect(',');
    const size = Size[SIZES[st[2]!]!];
    if (st[1]) return I(Class.STX | Mode.MEM | size, mem.base, reg(c).n, mem.off, 0);
    return I(Class.ST | Mode.MEM | size, mem.base, 0, mem.off, imm(c));
  }
  const end = /^(le|be|bswap|swap)(16|32|64)$/.exec(m);
  if (end) {
    const d = reg(c);
    const kind = end[1] === 'swap' ? 'bswap' : end[1];
    const op = kind === 'bswap' ? Class.ALU64 | AluOp.end | Source.K : Class.ALU | AluOp.end | (kind === 'be' ? Source.X : Source.K);
    return I(op, d.n, 0, 0, Number(end[2]));
  }
  const movsx = /^movsx(8|16|32)(32|64)$/.exec(m);
  if (movsx) {
    const bits = Number(movsx[1]), w = movsx[2] === '32';
    if (w && bits === 32) bad();
    const d = reg(c);
    c.expect(',');
    const s = reg(c);
    return I((w ? Class.ALU : Class.ALU64) | AluOp.mov | Source.X, d.n, s.n, bits, 0);
  }
  const w = m.endsWith('32') && m !== '32';
  if (w) m = m.slice(0, -2);
  if (m === 'neg') return I((w ? Class.ALU : Class.ALU64) | AluOp.neg, reg(c).n, 0, 0, 0);
  const alu = ALU[m];
  if (alu) {
    const d = reg(c);
    c.expect(',');
    const cls = w ? Class.ALU : Class.ALU64;
    if (isRegToken(c.peek())) return I(cls | alu.code | Source.X, d.n, reg(c).n, alu.off, 0);
    return I(cls | alu.code | Source.K, d.n, 0, alu.off, imm(c));
  }
  const jmp = JMP[m];
  if (jmp !== undefined) {
    const d = reg(c);
    c.expect(',');
    const cls = w ? Class.JMP32 : Class.JMP;
    const insn = isRegToken(c.peek()) ? I(cls | jmp | Source.X, d.n, reg(c).n, 0, 0) : I(cls | jmp | Source.K, d.n, 0, 0, imm(c));
    c.expect(',');
    const { at, ...rest } = target(c, S16);
    return { ...insn, off: at, ...rest };
  }
  return bad();
};
