/**
 * The ubpf / bpf_conformance assembly dialect: a mnemonic, then operands. It accepts
 * everything bpf_conformance's own assembler (lib/src/bpf_assembler.cc) accepts, with the same
 * meaning; the mnemonics come from the opcode table's `ubpf` column.
 *
 *   mov32 %r0, 1      add %r1, %r2      sdiv32 %r1, 3      neg %r1      neg32 %r1
 *   le16 %r0   be64 %r0   bswap32 %r0 (or swap32)        movsx832 %r2, %r1 ... movsx3264 (bits, then width)
 *   ldxdw %r2, [%r10-8]   ldxsb %r0, [%r1]   stw [%r10-4], 5   stxdw [%r10-8], %r1
 *   lock add [%r10-8], %r1   lock fetch add32 [%r10-4], %r1 (or fetch_add32)   lock xchg [%r10-8], %r1
 *   lock cmpxchg [%r10-8], %r1 (r0 is implicit; `lock fetch xchg` and `lock fetch cmpxchg` are the same)
 *   lddw %r1, 0x1122334455667788   jne %r0, 15, fail   jeq32 %r1, %r2, +3   ja label   ja32 label
 *   call 5   call helper 5   call local f   call runtime 7 (src 2: a kfunc)   exit
 *   call helper %r1 (callx, 0x8d)   ldabsw 12   ldindb %r1, 4 (these two are ours)
 *
 * As in bpf_conformance:
 * - Immediates are 32 bits either way: 0xffffff80 is accepted for a 64-bit operation and means
 *   its bit pattern (-128, sign-extended).
 * - A hex offset of at most 0xffff, in a memory operand or a jump, is the 16-bit pattern:
 *   [%r1+0xffff] is [%r1-1], and `ja +0xffff` jumps back one.
 * - The first `exit` is also the label `exit` (assembler.ts defines it), so `jeq %r1, 0, exit`
 *   needs no label line.
 * - %r11..%r15, callx and movsx with an immediate parse, for negative tests: the instructions
 *   they make are invalid (decode() and the kernel reject them), so assemble() refuses them
 *   unless given `allowInvalid`.
 * Differences, on purpose: a bare number as a jump target is an offset here (bpf_conformance
 * would look for a label named by digits; a line `5:` is a slot index here), and a label and an
 * instruction on one line (`l: exit`) are both kept (bpf_conformance drops the instruction).
 */
import type { Instruction } from './instruction.ts';
import type { Cursor, Token } from './lexer.ts';
import {
  CallKind, Class, JmpOp, OPCODE_TABLE, Pseudo, Size, Source, opcodesOf, type OpcodeRow, type SizeName,
} from './opcode.ts';
import {
  S16, S32, U32OK, fit, imm64Halves, mkInsn, parseNumber, parseTarget, type DialectParser, type Num,
} from './operands.ts';

const SUFFIX: Readonly<Record<SizeName, string>> = { u8: 'b', u16: 'h', u32: 'w', u64: 'dw' };

/** A mnemonic's row and opcode byte (without the source bit for rows that take K or X). */
interface Entry { readonly row: OpcodeRow; readonly op: number; readonly imm?: number }

/** Every plain mnemonic (all but call and lock), spelled out from the opcode table. */
const MNEMONICS: ReadonlyMap<string, Entry> = (() => {
  const m = new Map<string, Entry>();
  for (const row of OPCODE_TABLE) {
    for (const cls of row.classes) {
      const narrow = cls === Class.ALU || cls === Class.JMP32 ? '32' : '';
      switch (row.form) {
        case 'binary': case 'unary': case 'jcond':
          m.set(row.ubpf + narrow, { row, op: cls | row.code });
          break;
        case 'movsx':
          m.set(row.ubpf + (narrow || '64'), { row, op: cls | row.code | Source.X });
          break;
        case 'endian':
          for (const op of opcodesOf(row)) {
            for (const bits of [16, 32, 64]) {
              m.set(`${row.ubpf}${bits}`, { row, op, imm: bits });
              // bpf_conformance also spells bswap as swap.
              if (row.name === 'bswap') m.set(`swap${bits}`, { row, op, imm: bits });
            }
          }
          break;
        case 'ja': case 'gotol': case 'exit': case 'ld_imm64':
          m.set(row.ubpf, { row, op: opcodesOf(row)[0]! });
          break;
        case 'ldx': case 'ldxsx': case 'st': case 'stx': case 'ld_abs': case 'ld_ind':
          for (const s of row.sizes ?? []) m.set(row.ubpf + SUFFIX[s], { row, op: cls | row.code | Size[s] });
          break;
      }
    }
  }
  return m;
})();

/** `lock` operations by their words after `lock`: 'add', 'add32', 'fetch add', 'xchg32', ... */
const ATOMICS: ReadonlyMap<string, Entry> = (() => {
  const m = new Map<string, Entry>();
  for (const row of OPCODE_TABLE) {
    if (row.form !== 'atomic' && row.form !== 'fetch' && row.form !== 'xchg' && row.form !== 'cmpxchg') continue;
    for (const s of row.sizes ?? []) m.set(row.ubpf + (s === 'u32' ? '32' : ''), { row, op: Class.STX | row.code | Size[s], imm: row.imm });
  }
  return m;
})();

const CALL = Class.JMP | JmpOp.call;

const REG = /^%?r(1[0-5]|[0-9])$/;
const isReg = (t: Token | undefined): boolean => t?.kind === 'ident' && REG.test(t.text);

/** %r0..%r10, and %r11..%r15 as bpf_conformance allows them (for negative tests). */
function reg(c: Cursor): number {
  const t = c.peek();
  if (!t || !isReg(t)) throw c.expected(t?.kind === 'ident' && /^w\d+$/.test(t.text) ? 'a register: this dialect names them %r0..%r10' : 'a register (%r0..%r10)');
  c.pos++;
  return Number(REG.exec(t.text)![1]);
}

/** A 16-bit offset: s16, or hex up to 0xffff as its bit pattern. */
function off16(c: Cursor, n: Num, what: string): number {
  if (n.hex && n.value >= 0n && n.value <= 0xffffn) return Number(BigInt.asIntN(16, n.value));
  return fit(c, n, S16, what);
}

/** `[%r10-8]`, `[%r1]`, `[%r1+0x10]` */
function memOperand(c: Cursor): { base: number; off: number } {
  c.expect('[', "'[' and a memory operand like [%r10-8]");
  const base = reg(c);
  let off = 0;
  const s = c.peek();
  if (s && s.kind === 'punct' && (s.text === '+' || s.text === '-')) off = off16(c, parseNumber(c, 'an offset'), 'offset');
  c.expect(']', "']' after the offset");
  return { base, off };
}

const imm = (c: Cursor, what = 'an immediate'): number => fit(c, parseNumber(c, what), U32OK, 'immediate');

/** A jump target: a label, `+N` or `-N`; hex offsets up to 0xffff are 16-bit patterns, as in off. */
function target(c: Cursor, range: readonly [bigint, bigint]): Partial<Instruction> & { at: number } {
  const t = parseTarget(c, range, (n) => (n.hex && n.value >= 0n && n.value <= 0xffffn ? Number(BigInt.asIntN(16, n.value)) : fit(c, n, range, 'jump offset')));
  return { at: t.offset ?? 0, ...(t.target !== undefined ? { target: t.target } : {}) };
}

/** `call N`, `call helper N|%rN`, `call local <target>`, `call runtime N`. */
function parseCall(c: Cursor): Instruction {
  if (c.accept('local')) {
    const { at, ...rest } = target(c, S32);
    return mkInsn(CALL, 0, CallKind.local, 0, at, rest);
  }
  if (c.accept('runtime')) return mkInsn(CALL, 0, CallKind.kfunc, 0, imm(c, 'a BTF id'));
  c.accept('helper');
  // callx: the helper's address in a register (in dst), as bpf_conformance encodes it.
  if (isReg(c.peek())) return mkInsn(CALL | Source.X, reg(c), 0, 0, 0);
  return mkInsn(CALL, 0, CallKind.helper, 0, imm(c, "a helper id, or 'local', 'helper' or 'runtime'"));
}

/** `lock [fetch] op[32] [%rD+off], %rS` */
function parseLock(c: Cursor): Instruction {
  let word = c.ident('an atomic operation (add, or, and, xor, xchg, cmpxchg, fetch add, ...)');
  let fetch = false;
  if (word.text === 'fetch') { fetch = true; word = c.ident('add, or, and, xor, xchg or cmpxchg after fetch'); }
  let op = word.text;
  if (op.startsWith('fetch_')) { fetch = true; op = op.slice(6); }
  // With fetch, the plain operation only for xchg and cmpxchg, which always fetch.
  let e = fetch ? ATOMICS.get(`fetch ${op}`) : ATOMICS.get(op);
  if (!e && fetch) { const plain = ATOMICS.get(op); if (plain && plain.row.form !== 'atomic') e = plain; }
  if (!e) { c.pos--; throw c.expected('add, or, and, xor, xchg or cmpxchg (with 32 for u32)'); }
  const mem = memOperand(c);
  c.expect(',');
  return mkInsn(e.op, mem.base, reg(c), mem.off, e.imm!);
}

/** Whether a word is a ubpf mnemonic (for the LLVM dialect's hint on ubpf text). */
export const isUbpfMnemonic = (word: string): boolean => MNEMONICS.has(word) || word === 'lock';

export const parseUbpf: DialectParser = (c) => {
  const t = c.ident('a mnemonic (mov, add32, ldxdw, stw, jne, call, exit, ...)');
  if (t.text === 'call') return parseCall(c);
  if (t.text === 'lock') return parseLock(c);
  const e = MNEMONICS.get(t.text);
  if (!e) { c.pos--; throw c.expected('a mnemonic (mov, add32, ldxdw, stw, jne, lock, call, exit, ...)'); }
  const { row, op } = e;
  switch (row.form) {
    case 'exit': return mkInsn(op, 0, 0, 0, 0);
    case 'ja': { const { at, ...rest } = target(c, S16); return mkInsn(op, 0, 0, at, 0, rest); }
    case 'gotol': { const { at, ...rest } = target(c, S32); return mkInsn(op, 0, 0, 0, at, rest); }
    case 'unary': return mkInsn(op | Source.K, reg(c), 0, 0, 0);
    case 'endian': return mkInsn(op, reg(c), 0, 0, e.imm!);
    case 'binary': case 'movsx': {
      const d = reg(c);
      c.expect(',');
      // movsx with an immediate is no instruction, but bpf_conformance assembles it (K, off = bits).
      if (isReg(c.peek())) return mkInsn(op | Source.X, d, reg(c), row.off ?? 0, 0);
      return mkInsn(op & ~Source.X, d, 0, row.off ?? 0, imm(c));
    }
    case 'jcond': {
      const d = reg(c);
      c.expect(',');
      const insn = isReg(c.peek()) ? mkInsn(op | Source.X, d, reg(c), 0, 0) : mkInsn(op | Source.K, d, 0, 0, imm(c));
      c.expect(',');
      const { at, ...rest } = target(c, S16);
      return { ...insn, off: at, ...rest };
    }
    case 'ld_imm64': {
      const d = reg(c);
      c.expect(',');
      const { imm: lo, imm2 } = imm64Halves(c, parseNumber(c, 'a 64-bit constant'));
      return { op, dst: d, src: Pseudo.imm, off: 0, imm: lo, imm2 };
    }
    case 'ldx': case 'ldxsx': {
      const d = reg(c);
      c.expect(',');
      const m = memOperand(c);
      return mkInsn(op, d, m.base, m.off, 0);
    }
    case 'st': case 'stx': {
      const m = memOperand(c);
      c.expect(',');
      return row.form === 'stx' ? mkInsn(op, m.base, reg(c), m.off, 0) : mkInsn(op, m.base, 0, m.off, imm(c));
    }
    case 'ld_abs': return mkInsn(op, 0, 0, 0, fit(c, parseNumber(c, 'an offset'), S32, 'offset'));
    case 'ld_ind': {
      const s = reg(c);
      c.expect(',');
      return mkInsn(op, 0, s, 0, fit(c, parseNumber(c, 'an offset'), S32, 'offset'));
    }
  }
  c.pos--;
  throw c.expected('a mnemonic');
};
