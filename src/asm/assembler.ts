/**
 * The assembler: text to instructions, then link() (the same label resolution and range checks
 * as the DSL). Every line is
 *
 *   [slot:] [8 or 16 hex bytes] [label:]... [instruction] [# comment | ; comment]
 *
 * so the disassembler's output in any mode (index, bytes, labels, comments) assembles back to
 * the same bytes; the index and byte columns are ignored. `llvm-objdump -d -r` output is
 * accepted too: its `0000000000000128 <LBB0_7>:` lines are labels and an R_BPF_64_64
 * relocation turns the LD_IMM64 above it into a map reference, as libbpf does.
 *
 * Dialects: 'llvm' (what disassemble() prints, see docs/listing.md) and 'ubpf' (the
 * bpf_conformance syntax, dialect-ubpf.ts). A dialect only parses one instruction from a
 * token cursor; lines, labels, comments and linking are shared here.
 */
import { AsmError, AsmSyntaxError } from './errors.ts';
import { helperId } from './helpers.ts';
import { encode, type Instruction, type MapRef } from './instruction.ts';
import { Cursor, lexLine, type Token } from './lexer.ts';
import { link } from './link.ts';
import {
  AluOp, AtomicOp, CallKind, Class, JmpOp, LD_IMM64, Mode, Pseudo, Size, Source,
  type SizeName,
} from './opcode.ts';
import { parseUbpf } from './dialect-ubpf.ts';

export type Dialect = 'llvm' | 'ubpf';

export interface AssembleOptions {
  /** Named in errors and in each instruction's `source` (default '<input>'). */
  readonly file?: string;
  /** 'llvm' (default: what disassemble() prints), 'ubpf', or 'auto' (ubpf if it names registers as %rN). */
  readonly dialect?: Dialect | 'auto';
}

export interface Assembled {
  /** Linked instructions; each has `source` = file:line, and `comment` from its line. */
  readonly insns: Instruction[];
  /** label -> instruction index */
  readonly labels: Map<string, number>;
  /** Maps named by `map[name]` (or relocations), in order of first use. */
  readonly maps: MapRef[];
}

/** What a dialect gets besides the cursor. */
export interface DialectContext {
  /** The one MapRef object for a map name in this assembly. */
  map(name: string): MapRef;
}

/** Parses the instruction on one line (the cursor is past labels, at the first token). */
export type DialectParser = (c: Cursor, ctx: DialectContext) => Instruction;

// ---------------------------------------------------------------------------------------------
// Operand helpers shared by the dialects.

export interface Reg { readonly n: number; readonly w: boolean; readonly col: number }

const S16: readonly [bigint, bigint] = [-0x8000n, 0x7fffn];
const S32: readonly [bigint, bigint] = [-0x80000000n, 0x7fffffffn];
const U32OK: readonly [bigint, bigint] = [-0x80000000n, 0xffffffffn];

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

/** An integer with an optional sign; returns the value and the column of its first token. */
export function parseInt(c: Cursor, what = 'a number'): { value: bigint; col: number } {
  const col = c.col();
  let neg = false;
  if (c.accept('-')) neg = true;
  else c.accept('+');
  const t = c.peek();
  if (!t || t.kind !== 'num') throw c.expected(what);
  c.pos++;
  return { value: neg ? -t.value! : t.value!, col };
}

/** Range-check a parsed integer; the message names the field and its range. */
export function fit(c: Cursor, v: { value: bigint; col: number }, [lo, hi]: readonly [bigint, bigint], what: string, hint = ''): number {
  if (v.value < lo || v.value > hi) throw c.error(`${what} ${v.value} does not fit in [${lo}, ${hi}]${hint}`, v.col);
  return Number(BigInt.asIntN(32, v.value));
}

export const imm32 = (c: Cursor, v: { value: bigint; col: number }, allowU32: boolean, what = 'immediate'): number =>
  fit(c, v, allowU32 ? U32OK : S32, what, allowU32 ? '' : ' (64-bit operations sign-extend a 32-bit immediate; use `rN = <value> ll` for 64-bit constants)');
export const off16 = (c: Cursor, v: { value: bigint; col: number }, what = 'offset'): number => fit(c, v, S16, what);

/** A jump target: `+N`, `-N`, `N` or a label name, then an optional `<label>` that wins over N. */
export function parseTarget(c: Cursor, range: readonly [bigint, bigint]): { offset?: number; target?: string } {
  let offset: number | undefined, target: string | undefined;
  const t = c.peek();
  if (t?.kind === 'ident') target = c.next()!.text;
  else offset = fit(c, parseInt(c, 'a jump offset (+N or -N) or a label'), range, 'jump offset');
  if (c.accept('<')) {
    target = c.ident('a label name').text;
    c.expect('>', "'>' after the label name");
  }
  return target !== undefined ? { target } : { offset: offset! };
}

const SIZE_NAMES: Readonly<Record<string, SizeName>> = { u8: 'u8', u16: 'u16', u32: 'u32', u64: 'u64' };
const SX_NAMES: Readonly<Record<string, SizeName>> = { s8: 'u8', s16: 'u16', s32: 'u32' };

// ---------------------------------------------------------------------------------------------
// The llvm dialect.

const ALU_ASSIGN: Readonly<Record<string, { code: number; off: number }>> = {
  '+=': { code: AluOp.add, off: 0 }, '-=': { code: AluOp.sub, off: 0 }, '*=': { code: AluOp.mul, off: 0 },
  '/=': { code: AluOp.div, off: 0 }, 's/=': { code: AluOp.div, off: 1 }, '%=': { code: AluOp.mod, off: 0 },
  's%=': { code: AluOp.mod, off: 1 }, '|=': { code: AluOp.or, off: 0 }, '&=': { code: AluOp.and, off: 0 },
  '^=': { code: AluOp.xor, off: 0 }, '<<=': { code: AluOp.lsh, off: 0 }, '>>=': { code: AluOp.rsh, off: 0 },
  's>>=': { code: AluOp.arsh, off: 0 },
};
const JMP_CMP: Readonly<Record<string, number>> = {
  '==': JmpOp.jeq, '!=': JmpOp.jne, '>': JmpOp.jgt, '>=': JmpOp.jge, '<': JmpOp.jlt, '<=': JmpOp.jle,
  's>': JmpOp.jsgt, 's>=': JmpOp.jsge, 's<': JmpOp.jslt, 's<=': JmpOp.jsle, '&': JmpOp.jset,
};
const LOCK_OPS: Readonly<Record<string, number>> = { '+=': AtomicOp.add, '|=': AtomicOp.or, '&=': AtomicOp.and, '^=': AtomicOp.xor };
const FETCH_OPS: Readonly<Record<string, number>> = {
  atomic_fetch_add: AtomicOp.fetch_add, atomic_fetch_or: AtomicOp.fetch_or, atomic_fetch_and: AtomicOp.fetch_and, atomic_fetch_xor: AtomicOp.fetch_xor,
};

/** `*(u32 *)` or `(u32 *)`: the size inside; sx = it was s8/s16/s32. */
function parseSizeCast(c: Cursor, allowSx: boolean): { size: SizeName; sx: boolean; col: number } {
  c.expect('(');
  const t = c.ident(allowSx ? 'a size (u8, u16, u32, u64, s8, s16, s32)' : 'a size (u8, u16, u32, u64)');
  const size = SIZE_NAMES[t.text] ?? (allowSx ? SX_NAMES[t.text] : undefined);
  if (!size) { c.pos--; throw c.expected(allowSx ? 'a size (u8, u16, u32, u64, s8, s16, s32)' : 'a size (u8, u16, u32, u64)'); }
  c.expect('*', "'*' (as in '(u32 *)')");
  c.expect(')');
  return { size, sx: !(t.text in SIZE_NAMES), col: t.col };
}

/** `r10 - 8` (the inside of a memory operand): base register and s16 offset. */
function parseAddr(c: Cursor): { base: number; off: number } {
  const base = parseReg(c, 'a base register');
  if (base.w) throw c.error('a base address is a 64-bit register: use r, not w', base.col);
  let off = 0;
  const sign = c.peek();
  if (sign && (sign.text === '+' || sign.text === '-') && sign.kind === 'punct') off = off16(c, parseInt(c, 'an offset'));
  return { base: base.n, off };
}

/** `(r10 - 8)` */
function parseMem(c: Cursor): { base: number; off: number } {
  c.expect('(', "'(' and a memory operand like (r10 - 8)");
  const a = parseAddr(c);
  c.expect(')', "')' after the offset");
  return a;
}

const mkInsn = (op: number, dst: number, src: number, off: number, imm: number, extra: Partial<Instruction> = {}): Instruction =>
  ({ op, dst, src, off, imm, ...extra });

function sameReg(c: Cursor, a: Reg, b: Reg, what: string): void {
  if (a.n !== b.n) throw c.error(`${what} must be the same register as the destination (r${a.n})`, b.col);
}

function parseCall(c: Cursor): Instruction {
  const CALL = Class.JMP | JmpOp.call;
  const t = c.peek();
  if (t?.kind === 'ident' && t.text === 'pc' && (c.peek(1)?.text === '+' || c.peek(1)?.text === '-')) {
    c.next();
    const { offset, target } = parseTarget(c, S32);
    return mkInsn(CALL, 0, CallKind.local, 0, offset ?? 0, target !== undefined ? { target } : {});
  }
  if (t?.kind === 'ident' && t.text === 'kfunc' && c.peek(1)?.text === '(') {
    c.next(); c.next();
    const id = imm32(c, parseInt(c, 'a BTF id'), true, 'BTF id');
    const mod = c.accept(',') ? off16(c, parseInt(c, 'a module BTF fd index'), 'module index') : 0;
    c.expect(')');
    return mkInsn(CALL, 0, CallKind.kfunc, mod, id);
  }
  if (t?.kind === 'ident') {
    c.next();
    let id = helperId(t.text);
    if (c.accept('#')) {
      const n = parseInt(c, 'a helper id after #');
      const v = imm32(c, n, true, 'helper id');
      if (id !== undefined && id !== v) throw c.error(`${t.text} is helper #${id}, not #${v}`, n.col);
      id = v;
    }
    if (id !== undefined) return mkInsn(CALL, 0, CallKind.helper, 0, id);
    // Not a helper: a bpf-to-bpf call to a label (checked when labels are known).
    return mkInsn(CALL, 0, CallKind.local, 0, 0, { target: t.text });
  }
  const n = parseInt(c, "a helper (name or id), 'pc+N' for a bpf-to-bpf call, a label, or kfunc(id)");
  return mkInsn(CALL, 0, CallKind.helper, 0, imm32(c, n, true, 'helper id'));
}

/** The right-hand side of `rN = ...` that ends in `ll`: LD_IMM64 of a constant or a pseudo source. */
function parseLdImm64(c: Cursor, dst: Reg, ctx: DialectContext): Instruction {
  if (dst.w) throw c.error('a 64-bit load (ll) writes a 64-bit register: use r, not w', dst.col);
  const t = c.peek()!;
  const ld = (src: number, imm: number, imm2: number, extra: Partial<Instruction> = {}): Instruction =>
    ({ op: LD_IMM64, dst: dst.n, src, off: 0, imm, imm2, ...extra });
  let insn: Instruction;
  if (t.kind === 'ident' && t.text === 'map') {
    c.next();
    c.expect('[', "'[' (as in map[fd:3], map[idx:0] or map[name])");
    let kind: 'fd' | 'idx' | 'name', id = 0, map: MapRef | undefined;
    const k = c.ident("'fd:N', 'idx:N' or a map name");
    if ((k.text === 'fd' || k.text === 'idx') && c.accept(':')) {
      kind = k.text;
      id = imm32(c, parseInt(c, `a map ${k.text === 'fd' ? 'fd' : 'index'}`), true, `map ${kind}`);
    } else {
      kind = 'name';
      map = ctx.map(k.text);
    }
    c.expect(']');
    let value = false, off = 0;
    if (c.accept('[')) {
      const z = parseInt(c, '0 (the only element a direct value load can address)');
      if (z.value !== 0n) throw c.error('a direct map value load addresses element [0] only; add the byte offset after it: map[...][0] + 8', z.col);
      c.expect(']');
      value = true;
      const s = c.peek();
      if (s && s.kind === 'punct' && (s.text === '+' || s.text === '-')) off = imm32(c, parseInt(c, 'a byte offset'), false, 'value offset');
    }
    const src = kind === 'idx' ? (value ? Pseudo.map_idx_value : Pseudo.map_idx) : value ? Pseudo.map_value : Pseudo.map_fd;
    insn = ld(src, id, off, map ? { map } : {});
  } else if (t.kind === 'ident' && t.text === 'btf_id') {
    c.next(); c.expect('(');
    const id = imm32(c, parseInt(c, 'a BTF id'), true, 'BTF id');
    const fd = c.accept(',') ? imm32(c, parseInt(c, 'a module BTF fd'), true, 'module BTF fd') : 0;
    c.expect(')');
    insn = ld(Pseudo.btf_id, id, fd);
  } else if (t.kind === 'ident' && t.text === 'func') {
    c.next(); c.expect('(');
    const { offset, target } = parseTarget(c, S32);
    c.expect(')');
    insn = ld(Pseudo.func, offset ?? 0, 0, target !== undefined ? { target } : {});
  } else {
    const v = parseInt(c, 'a 64-bit constant');
    if (v.value < -(1n << 63n) || v.value >= 1n << 64n) throw c.error(`constant ${v.value} does not fit in 64 bits`, v.col);
    const u = BigInt.asUintN(64, v.value);
    insn = ld(Pseudo.imm, Number(BigInt.asIntN(32, u)), Number(BigInt.asIntN(32, u >> 32n)));
  }
  c.expect('ll', "'ll' (64-bit immediates end in ll)");
  if (insn.src === Pseudo.func && c.accept('<')) {
    const name = c.ident('a label name').text;
    c.expect('>', "'>' after the label name");
    return { ...insn, imm: 0, target: name };
  }
  return insn;
}

/** `dst = ...` in all its forms. */
function parseAssign(c: Cursor, dst: Reg, ctx: DialectContext): Instruction {
  const cls = dst.w ? Class.ALU : Class.ALU64;
  const t = c.peek();
  if (!t) throw c.expected('a value after =');
  // Loads: *(u32 *)(r1 + 4), *(s8 *)(...), *(u8 *)skb[...]
  if (t.text === '*' && t.kind === 'punct') {
    c.next();
    const { size, sx, col } = parseSizeCast(c, true);
    if (c.peek()?.text === 'skb') {
      c.next();
      if (sx) throw c.error('legacy packet loads are u8, u16 or u32', col);
      if (size === 'u64') throw c.error('legacy packet loads are u8, u16 or u32 only', col);
      if (dst.n !== 0 || dst.w) throw c.error('legacy packet loads always write r0', dst.col);
      c.expect('[', "'[' (as in skb[10] or skb[r1 + 4])");
      let insn: Instruction;
      if (isRegToken(c.peek())) {
        const s = parseReg(c);
        if (s.w) throw c.error('the index register is 64-bit: use r, not w', s.col);
        const sign = c.peek();
        const imm = sign && sign.kind === 'punct' && (sign.text === '+' || sign.text === '-') ? imm32(c, parseInt(c, 'an offset'), false) : 0;
        insn = mkInsn(Class.LD | Mode.IND | Size[size], 0, s.n, 0, imm);
      } else {
        insn = mkInsn(Class.LD | Mode.ABS | Size[size], 0, 0, 0, imm32(c, parseInt(c, 'an offset or an index register'), false));
      }
      c.expect(']');
      return insn;
    }
    const m = parseMem(c);
    if (sx) {
      if (dst.w) throw c.error('a sign-extending load writes a 64-bit register: use r, not w', dst.col);
      return mkInsn(Class.LDX | Mode.MEMSX | Size[size], dst.n, m.base, m.off, 0);
    }
    if (dst.w && size === 'u64') throw c.error('a u64 load writes a 64-bit register: use r, not w', dst.col);
    return mkInsn(Class.LDX | Mode.MEM | Size[size], dst.n, m.base, m.off, 0);
  }
  // neg: r0 = -r0
  if (t.text === '-' && isRegToken(c.peek(1))) {
    c.next();
    const s = parseReg(c);
    if (s.w !== dst.w) throw c.error(`neg must use the same register: ${dst.w ? 'w' : 'r'}${dst.n} = -${dst.w ? 'w' : 'r'}${dst.n}`, s.col);
    sameReg(c, dst, s, 'neg');
    return mkInsn(cls | AluOp.neg, dst.n, 0, 0, 0);
  }
  // movsx: r0 = (s8)r1
  if (t.text === '(' && t.kind === 'punct') {
    c.next();
    const k = c.ident('a sign-extension width (s8, s16 or s32)');
    const bits = { s8: 8, s16: 16, s32: 32 }[k.text];
    if (bits === undefined || (dst.w && bits === 32)) { c.pos--; throw c.expected(dst.w ? "'s8' or 's16'" : "'s8', 's16' or 's32'"); }
    c.expect(')');
    const s = parseReg(c);
    if (s.w !== dst.w) throw c.error(`use ${dst.w ? 'w' : 'r'} registers on both sides`, s.col);
    return mkInsn(cls | AluOp.mov | Source.X, dst.n, s.n, bits, 0);
  }
  if (t.kind === 'ident') {
    const end = /^(le|be|bswap)(16|32|64)$/.exec(t.text);
    if (end) {
      c.next();
      const s = parseReg(c);
      sameReg(c, dst, s, 'the byte-swapped register');
      const op = end[1] === 'bswap' ? Class.ALU64 | AluOp.end | Source.K : Class.ALU | AluOp.end | (end[1] === 'be' ? Source.X : Source.K);
      return mkInsn(op, dst.n, 0, 0, Number(end[2]));
    }
    const fetch = FETCH_OPS[t.text];
    if (fetch !== undefined) {
      c.next(); c.expect('(');
      const { size, col } = parseSizeCast(c, false);
      if (size !== 'u32' && size !== 'u64') throw c.error('atomic operations are u32 or u64 only', col);
      const m = parseMem(c);
      c.expect(',');
      const s = parseReg(c);
      c.expect(')');
      sameReg(c, dst, s, 'the fetched register');
      return mkInsn(Class.STX | Mode.ATOMIC | Size[size], m.base, s.n, m.off, fetch);
    }
    if (t.text === 'xchg_64' || t.text === 'xchg32_32' || t.text === 'cmpxchg_64' || t.text === 'cmpxchg32_32') {
      c.next(); c.expect('(');
      const m = parseAddr(c);
      c.expect(',');
      const size = t.text.endsWith('_64') ? 'u64' : 'u32';
      if (t.text.startsWith('cmpxchg')) {
        if (dst.n !== 0) throw c.error('cmpxchg writes r0: r0 = cmpxchg_64(r10 - 8, r0, r1)', dst.col);
        const r0 = parseReg(c);
        if (r0.n !== 0) throw c.error('cmpxchg compares with r0: its second operand must be r0', r0.col);
        c.expect(',');
        const s = parseReg(c);
        c.expect(')');
        return mkInsn(Class.STX | Mode.ATOMIC | Size[size], m.base, s.n, m.off, AtomicOp.cmpxchg);
      }
      const s = parseReg(c);
      c.expect(')');
      sameReg(c, dst, s, 'the exchanged register');
      return mkInsn(Class.STX | Mode.ATOMIC | Size[size], m.base, s.n, m.off, AtomicOp.xchg);
    }
    if (t.text === 'map' || t.text === 'btf_id' || t.text === 'func') return parseLdImm64(c, dst, ctx);
    if (isRegToken(t)) {
      const s = parseReg(c);
      if (s.w !== dst.w) throw c.error(`use ${dst.w ? 'w' : 'r'} registers on both sides (${dst.w ? '32' : '64'}-bit move)`, s.col);
      return mkInsn(cls | AluOp.mov | Source.X, dst.n, s.n, 0, 0);
    }
    throw c.expected('a register, a number, a load like *(u32 *)(r1 + 0), or a 64-bit value ending in ll');
  }
  // A number: a 32-bit move, or with `ll` a 64-bit load.
  const save = c.pos;
  const v = parseInt(c, 'a register, a number or a load like *(u32 *)(r1 + 0)');
  if (c.peek()?.text === 'll') { c.pos = save; return parseLdImm64(c, dst, ctx); }
  return mkInsn(cls | AluOp.mov | Source.K, dst.n, 0, 0, imm32(c, v, dst.w));
}

export const parseLlvm: DialectParser = (c, ctx) => {
  const t = c.peek()!;
  if (t.kind === 'ident' && !isRegToken(t)) {
    switch (t.text) {
      case 'exit': c.next(); return mkInsn(Class.JMP | JmpOp.exit, 0, 0, 0, 0);
      case 'goto': {
        c.next();
        const { offset, target } = parseTarget(c, S16);
        return mkInsn(Class.JMP | JmpOp.ja, 0, 0, offset ?? 0, 0, target !== undefined ? { target } : {});
      }
      case 'gotol': {
        c.next();
        const { offset, target } = parseTarget(c, S32);
        return mkInsn(Class.JMP32 | JmpOp.ja, 0, 0, 0, offset ?? 0, target !== undefined ? { target } : {});
      }
      case 'call': c.next(); return parseCall(c);
      case 'if': {
        c.next();
        const d = parseReg(c);
        const opTok = c.peek();
        const code = opTok && opTok.kind === 'punct' ? JMP_CMP[opTok.text] : undefined;
        if (code === undefined) throw c.expected('a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)');
        c.next();
        const cls = d.w ? Class.JMP32 : Class.JMP;
        let insn: Instruction;
        if (isRegToken(c.peek())) {
          const s = parseReg(c);
          if (s.w !== d.w) throw c.error(`compare ${d.w ? 'w' : 'r'} registers with ${d.w ? 'w' : 'r'} registers`, s.col);
          insn = mkInsn(cls | code | Source.X, d.n, s.n, 0, 0);
        } else {
          insn = mkInsn(cls | code | Source.K, d.n, 0, 0, imm32(c, parseInt(c, 'a register or a number'), d.w));
        }
        c.expect('goto', "'goto'");
        const { offset, target } = parseTarget(c, S16);
        return { ...insn, off: offset ?? 0, ...(target !== undefined ? { target } : {}) };
      }
      case 'lock': {
        c.next();
        c.expect('*', "'*' (as in lock *(u64 *)(r10 - 8) += r1)");
        const { size, col } = parseSizeCast(c, false);
        if (size !== 'u32' && size !== 'u64') throw c.error('atomic operations are u32 or u64 only', col);
        const m = parseMem(c);
        const opTok = c.peek();
        const code = opTok && opTok.kind === 'punct' ? LOCK_OPS[opTok.text] : undefined;
        if (code === undefined) throw c.expected('an atomic operation (+=, |=, &=, ^=)');
        c.next();
        const s = parseReg(c);
        return mkInsn(Class.STX | Mode.ATOMIC | Size[size], m.base, s.n, m.off, code);
      }
      case 'ld_pseudo': {
        c.next();
        const d = parseReg(c);
        if (d.w) throw c.error('ld_pseudo writes a 64-bit register: use r, not w', d.col);
        c.expect(',');
        const k = parseInt(c, 'a pseudo source kind (0..6)');
        const kind = fit(c, k, [0n, 6n], 'pseudo source kind');
        c.expect(',');
        const imm = imm32(c, parseInt(c, 'an immediate'), true);
        const imm2 = c.accept(',') ? imm32(c, parseInt(c, 'a second immediate'), true) : 0;
        if (kind === Pseudo.func && c.accept('<')) {
          const target = c.ident('a label name').text;
          c.expect('>', "'>' after the label name");
          return { op: LD_IMM64, dst: d.n, src: kind, off: 0, imm: 0, imm2, target };
        }
        return { op: LD_IMM64, dst: d.n, src: kind, off: 0, imm, imm2 };
      }
    }
    throw c.expected('an instruction (rN = ..., *(u32 *)(rN + off) = ..., if, goto, call, exit, lock, ...)');
  }
  if (t.text === '*' && t.kind === 'punct') {
    c.next();
    const { size, sx, col } = parseSizeCast(c, false);
    if (sx) throw c.error('stores take u8, u16, u32 or u64', col);
    const m = parseMem(c);
    c.expect('=', "'='");
    if (isRegToken(c.peek())) {
      const s = parseReg(c);
      if (s.w && size === 'u64') throw c.error('a u64 store takes a 64-bit register: use r, not w', s.col);
      return mkInsn(Class.STX | Mode.MEM | Size[size], m.base, s.n, m.off, 0);
    }
    return mkInsn(Class.ST | Mode.MEM | Size[size], m.base, 0, m.off, imm32(c, parseInt(c, 'a register or a number'), size !== 'u64'));
  }
  if (!isRegToken(t)) throw c.expected('an instruction');
  const d = parseReg(c);
  const opTok = c.peek();
  if (opTok?.text === '=' && opTok.kind === 'punct') { c.next(); return parseAssign(c, d, ctx); }
  const alu = opTok && opTok.kind === 'punct' ? ALU_ASSIGN[opTok.text] : undefined;
  if (!alu) throw c.expected("'=' or an operation like += -= *= /= s/= %= s%= |= &= ^= <<= >>= s>>=");
  c.next();
  const cls = d.w ? Class.ALU : Class.ALU64;
  if (isRegToken(c.peek())) {
    const s = parseReg(c);
    if (s.w !== d.w) throw c.error(`use ${d.w ? 'w' : 'r'} registers on both sides (${d.w ? '32' : '64'}-bit operation)`, s.col);
    return mkInsn(cls | alu.code | Source.X, d.n, s.n, alu.off, 0);
  }
  return mkInsn(cls | alu.code | Source.K, d.n, 0, alu.off, imm32(c, parseInt(c, 'a register or a number'), d.w));
};

// ---------------------------------------------------------------------------------------------
// Lines, labels, linking.

/** 'ubpf' if the text names registers as %rN, else 'llvm'. */
export function detectDialect(text: string): Dialect {
  return /(^|[\s,[(])%r\d/m.test(text) ? 'ubpf' : 'llvm';
}

const INDEX_AND_BYTES = /^(\s*\d+:)?(\s*(?:[0-9a-fA-F]{2}[ \t]){7}[0-9a-fA-F]{2}(?:(?:[ \t][0-9a-fA-F]{2}){8})?)?(?=\s|$)/;
const OBJDUMP_LABEL = /^\s*[0-9a-fA-F]+\s+<([A-Za-z_.$][\w.$]*)>:\s*$/;
const OBJDUMP_RELOC = /^\s*[0-9a-fA-F]+:\s+R_BPF_64_64\s+([A-Za-z_.$][\w.$]*)\s*$/;
const OBJDUMP_NOISE = /^\s*(Disassembly of section .*:|\S+:\s+file format .*|\.(text|section|globl|p2align|file)\b.*)\s*$/;

interface Pos { line: number; col: number }

/** Assemble text into linked instructions and labels. Errors are AsmSyntaxError with line:column. */
export function assemble(text: string, opts: AssembleOptions = {}): Assembled {
  const file = opts.file;
  const dialect = !opts.dialect || opts.dialect === 'auto' ? (opts.dialect === 'auto' ? detectDialect(text) : 'llvm') : opts.dialect;
  // Looked up here, not in a module-level table: dialect-ubpf.ts imports this module.
  const parse: DialectParser = dialect === 'ubpf' ? parseUbpf : parseLlvm;
  const maps = new Map<string, MapRef>();
  const ctx: DialectContext = {
    map: (name) => {
      let m = maps.get(name);
      if (!m) { m = { name }; maps.set(name, m); }
      return m;
    },
  };
  const insns: Instruction[] = [];
  const at: Pos[] = [];
  const targetAt: (Pos | undefined)[] = [];
  const labels = new Map<string, number>();
  const labelAt = new Map<string, Pos>();
  const defineLabel = (name: string, pos: Pos): void => {
    if (labels.has(name)) throw new AsmSyntaxError(`duplicate label '${name}' (first defined at line ${labelAt.get(name)!.line})`, pos.line, pos.col, file);
    labels.set(name, insns.length);
    labelAt.set(name, pos);
  };
  const lines = text.split('\n');
  for (let ln = 1; ln <= lines.length; ln++) {
    let raw = lines[ln - 1]!;
    if (OBJDUMP_NOISE.test(raw)) continue;
    const objLabel = OBJDUMP_LABEL.exec(raw);
    if (objLabel) { defineLabel(objLabel[1]!, { line: ln, col: raw.indexOf('<') + 2 }); continue; }
    const reloc = OBJDUMP_RELOC.exec(raw);
    if (reloc) {
      const prev = insns[insns.length - 1];
      if (!prev || prev.op !== LD_IMM64) throw new AsmSyntaxError('an R_BPF_64_64 relocation must follow an LD_IMM64 (rN = 0 ll)', ln, 1, file);
      insns[insns.length - 1] = { ...prev, src: prev.src === Pseudo.imm ? Pseudo.map_fd : prev.src, map: ctx.map(reloc[1]!) };
      continue;
    }
    // Blank out the slot index and raw bytes columns, keeping columns for errors.
    raw = raw.replace(INDEX_AND_BYTES, (m) => ' '.repeat(m.length));
    const c = new Cursor(lexLine(raw, ln, file), ln, file);
    while (c.peek()?.kind === 'ident' && c.peek(1)?.text === ':' && !isRegToken(c.peek())) {
      const t = c.next()!;
      c.next();
      defineLabel(t.text, { line: ln, col: t.col });
    }
    if (c.atEnd()) continue;
    const col = c.col();
    let insn = parse(c, ctx);
    c.end();
    const comment = c.lexed.comment;
    insn = { ...insn, source: `${file ?? '<input>'}:${ln}`, ...(comment ? { comment } : {}) };
    insns.push(insn);
    at.push({ line: ln, col });
    // The column of a label operand, for "unknown label" errors.
    const tt = insn.target !== undefined ? c.tokens.find((x) => x.text === insn.target && x.kind === 'ident') : undefined;
    targetAt.push(tt ? { line: ln, col: tt.col } : undefined);
  }
  // A call to a name that is neither a label nor a helper is a typo'd helper more often than not.
  insns.forEach((i, idx) => {
    if (i.target !== undefined && !labels.has(i.target)) {
      const p = targetAt[idx] ?? at[idx]!;
      const isCall = i.op === (Class.JMP | JmpOp.call);
      throw new AsmSyntaxError(isCall ? `'${i.target}' is neither a label nor a helper name (helpers are named as in linux/bpf.h, e.g. bpf_map_lookup_elem)` : `unknown label '${i.target}'`, p.line, p.col, file);
    }
  });
  let linked: Instruction[];
  try {
    linked = link(insns, labels);
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    if (e.index !== undefined && at[e.index]) {
      const p = targetAt[e.index] ?? at[e.index]!;
      throw new AsmSyntaxError(e.reason, p.line, p.col, file);
    }
    const name = /label '([^']+)'/.exec(e.reason)?.[1];
    const p = name !== undefined ? labelAt.get(name) : undefined;
    throw new AsmSyntaxError(e.reason, p?.line ?? lines.length, p?.col ?? 1, file);
  }
  return { insns: linked, labels, maps: [...maps.values()] };
}

/**
 * Parse one instruction, unlinked: a label operand stays in `target`, and raw offsets are not
 * checked against a program (so `gotol +2147483647` parses). For tools and tests.
 */
export function parseInstruction(text: string, opts: AssembleOptions = {}): Instruction {
  const dialect = !opts.dialect || opts.dialect === 'auto' ? (opts.dialect === 'auto' ? detectDialect(text) : 'llvm') : opts.dialect;
  const c = new Cursor(lexLine(text, 1, opts.file), 1, opts.file);
  if (c.atEnd()) throw c.expected('an instruction');
  const insn = (dialect === 'ubpf' ? parseUbpf : parseLlvm)(c, { map: (name) => ({ name }) });
  c.end();
  return insn;
}

/** Assemble straight to the bytes the kernel reads. */
export function assembleBytes(text: string, opts: AssembleOptions = {}): Uint8Array {
  return encode(assemble(text, opts).insns);
}
