/**
 * The llvm assembly dialect: what disassemble() prints and `clang -S` / `llvm-objdump -d`
 * write (docs/listing.md lists every form). Operators and words come from the opcode table.
 *
 *   r2 = *(u32 *)(r1 + 76)     w0 += 1     r0 = (s8)r1     r0 = be32 r0     r0 = -r0
 *   *(u64 *)(r10 - 8) = r1     lock *(u64 *)(r10 - 8) += r1     r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)
 *   if r3 > r2 goto +32 <out>  goto +3  gotol +70000  call bpf_ktime_get_ns#5  call pc+3  exit
 *   r1 = map[map_mes_cnt] ll   r1 = 0x1122334455667788 ll   r0 = *(u16 *)skb[12]
 */
import { isUbpfMnemonic } from './dialect-ubpf.ts';
import { helperId } from './helpers.ts';
import type { Instruction, MapRef } from './instruction.ts';
import type { Cursor } from './lexer.ts';
import {
  AluOp, CallKind, Class, JmpOp, LD_IMM64, Mode, Pseudo, Size, Source, opcodesOf, rowsOfForm,
  type SizeName,
} from './opcode.ts';
import {
  S16, S32, fit, imm32, imm64Halves, isRegToken, mkInsn, off16, parseNumber, parseReg, parseTarget,
  type DialectContext, type DialectParser, type Reg,
} from './operands.ts';

const SIZE_NAMES: Readonly<Record<string, SizeName>> = { u8: 'u8', u16: 'u16', u32: 'u32', u64: 'u64' };
const SX_NAMES: Readonly<Record<string, SizeName>> = { s8: 'u8', s16: 'u16', s32: 'u32' };

// Operator symbols from the opcode table.
const ALU_ASSIGN: ReadonlyMap<string, { code: number; off: number }> = new Map(
  rowsOfForm('binary').filter((r) => r.name !== 'mov').map((r) => [r.llvm, { code: r.code, off: r.off ?? 0 }]),
);
const JMP_CMP: ReadonlyMap<string, number> = new Map(rowsOfForm('jcond').map((r) => [r.llvm, r.code]));
const LOCK_OPS: ReadonlyMap<string, number> = new Map(rowsOfForm('atomic').map((r) => [r.llvm, r.imm!]));
const FETCH_OPS: ReadonlyMap<string, number> = new Map(rowsOfForm('fetch').map((r) => [r.llvm, r.imm!]));
/** `xchg_64` / `xchg32_32` / `cmpxchg_64` / `cmpxchg32_32`: operation imm and size. */
const SWAP_OPS: ReadonlyMap<string, { imm: number; size: 'u32' | 'u64'; form: string }> = new Map(
  rowsOfForm('xchg').concat(rowsOfForm('cmpxchg')).flatMap((r): [string, { imm: number; size: 'u32' | 'u64'; form: string }][] => [
    [`${r.llvm}_64`, { imm: r.imm!, size: 'u64', form: r.form }],
    [`${r.llvm}32_32`, { imm: r.imm!, size: 'u32', form: r.form }],
  ]),
);
/** `(s8)`: movsx source widths by class. */
const MOVSX: ReadonlyMap<string, { bits: number; classes: readonly number[] }> = new Map(
  rowsOfForm('movsx').map((r) => [r.llvm, { bits: r.off ?? 0, classes: r.classes }]),
);
/** `be16` / `le32` / `bswap64`: the opcode byte of each byte-swap word. */
const ENDIAN: ReadonlyMap<string, number> = new Map(rowsOfForm('endian').map((r) => [r.llvm, opcodesOf(r)[0]!]));

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
  if (sign && (sign.text === '+' || sign.text === '-') && sign.kind === 'punct') off = off16(c, parseNumber(c, 'an offset'));
  return { base: base.n, off };
}

/** `(r10 - 8)` */
function parseMem(c: Cursor): { base: number; off: number } {
  c.expect('(', "'(' and a memory operand like (r10 - 8)");
  const a = parseAddr(c);
  c.expect(')', "')' after the offset");
  return a;
}

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
    const id = imm32(c, parseNumber(c, 'a BTF id'), true, 'BTF id');
    const mod = c.accept(',') ? off16(c, parseNumber(c, 'a module BTF fd index'), 'module index') : 0;
    c.expect(')');
    return mkInsn(CALL, 0, CallKind.kfunc, mod, id);
  }
  if (t?.kind === 'ident') {
    c.next();
    let id = helperId(t.text);
    if (c.accept('#')) {
      const n = parseNumber(c, 'a helper id after #');
      const v = imm32(c, n, true, 'helper id');
      if (id !== undefined && id !== v) throw c.error(`${t.text} is helper #${id}, not #${v}`, n.col);
      id = v;
    }
    if (id !== undefined) return mkInsn(CALL, 0, CallKind.helper, 0, id);
    // Not a helper: a bpf-to-bpf call to a label (checked when labels are known).
    return mkInsn(CALL, 0, CallKind.local, 0, 0, { target: t.text });
  }
  const n = parseNumber(c, "a helper (name or id), 'pc+N' for a bpf-to-bpf call, a label, or kfunc(id)");
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
      id = imm32(c, parseNumber(c, `a map ${k.text === 'fd' ? 'fd' : 'index'}`), true, `map ${kind}`);
    } else {
      kind = 'name';
      map = ctx.map(k.text);
    }
    c.expect(']');
    let value = false, off = 0;
    if (c.accept('[')) {
      const z = parseNumber(c, '0 (the only element a direct value load can address)');
      if (z.value !== 0n) throw c.error('a direct map value load addresses element [0] only; add the byte offset after it: map[...][0] + 8', z.col);
      c.expect(']');
      value = true;
      const s = c.peek();
      if (s && s.kind === 'punct' && (s.text === '+' || s.text === '-')) off = imm32(c, parseNumber(c, 'a byte offset'), false, 'value offset');
    }
    const src = kind === 'idx' ? (value ? Pseudo.map_idx_value : Pseudo.map_idx) : value ? Pseudo.map_value : Pseudo.map_fd;
    insn = ld(src, id, off, map ? { map } : {});
  } else if (t.kind === 'ident' && t.text === 'btf_id') {
    c.next(); c.expect('(');
    const id = imm32(c, parseNumber(c, 'a BTF id'), true, 'BTF id');
    const fd = c.accept(',') ? imm32(c, parseNumber(c, 'a module BTF fd'), true, 'module BTF fd') : 0;
    c.expect(')');
    insn = ld(Pseudo.btf_id, id, fd);
  } else if (t.kind === 'ident' && t.text === 'func') {
    c.next(); c.expect('(');
    const { offset, target } = parseTarget(c, S32);
    c.expect(')');
    insn = ld(Pseudo.func, offset ?? 0, 0, target !== undefined ? { target } : {});
  } else {
    const { imm, imm2 } = imm64Halves(c, parseNumber(c, 'a 64-bit constant'));
    insn = ld(Pseudo.imm, imm, imm2);
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
        const imm = sign && sign.kind === 'punct' && (sign.text === '+' || sign.text === '-') ? imm32(c, parseNumber(c, 'an offset'), false) : 0;
        insn = mkInsn(Class.LD | Mode.IND | Size[size], 0, s.n, 0, imm);
      } else {
        insn = mkInsn(Class.LD | Mode.ABS | Size[size], 0, 0, 0, imm32(c, parseNumber(c, 'an offset or an index register'), false));
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
    const sx = MOVSX.get(k.text);
    if (sx === undefined || !sx.classes.includes(cls)) { c.pos--; throw c.expected(dst.w ? "'s8' or 's16'" : "'s8', 's16' or 's32'"); }
    const bits = sx.bits;
    c.expect(')');
    const s = parseReg(c);
    if (s.w !== dst.w) throw c.error(`use ${dst.w ? 'w' : 'r'} registers on both sides`, s.col);
    return mkInsn(cls | AluOp.mov | Source.X, dst.n, s.n, bits, 0);
  }
  if (t.kind === 'ident') {
    const end = /^([a-z]+)(16|32|64)$/.exec(t.text);
    const endOp = end ? ENDIAN.get(end[1]!) : undefined;
    if (endOp !== undefined) {
      c.next();
      const s = parseReg(c);
      sameReg(c, dst, s, 'the byte-swapped register');
      return mkInsn(endOp, dst.n, 0, 0, Number(end![2]));
    }
    const fetch = FETCH_OPS.get(t.text);
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
    const swap = SWAP_OPS.get(t.text);
    if (swap !== undefined) {
      c.next(); c.expect('(');
      const m = parseAddr(c);
      c.expect(',');
      const size = swap.size;
      if (swap.form === 'cmpxchg') {
        if (dst.n !== 0) throw c.error('cmpxchg writes r0: r0 = cmpxchg_64(r10 - 8, r0, r1)', dst.col);
        const r0 = parseReg(c);
        if (r0.n !== 0) throw c.error('cmpxchg compares with r0: its second operand must be r0', r0.col);
        c.expect(',');
        const s = parseReg(c);
        c.expect(')');
        return mkInsn(Class.STX | Mode.ATOMIC | Size[size], m.base, s.n, m.off, swap.imm);
      }
      const s = parseReg(c);
      c.expect(')');
      sameReg(c, dst, s, 'the exchanged register');
      return mkInsn(Class.STX | Mode.ATOMIC | Size[size], m.base, s.n, m.off, swap.imm);
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
  const v = parseNumber(c, 'a register, a number or a load like *(u32 *)(r1 + 0)');
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
        const code = opTok && opTok.kind === 'punct' ? JMP_CMP.get(opTok.text) : undefined;
        if (code === undefined) throw c.expected('a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)');
        c.next();
        const cls = d.w ? Class.JMP32 : Class.JMP;
        let insn: Instruction;
        if (isRegToken(c.peek())) {
          const s = parseReg(c);
          if (s.w !== d.w) throw c.error(`compare ${d.w ? 'w' : 'r'} registers with ${d.w ? 'w' : 'r'} registers`, s.col);
          insn = mkInsn(cls | code | Source.X, d.n, s.n, 0, 0);
        } else {
          insn = mkInsn(cls | code | Source.K, d.n, 0, 0, imm32(c, parseNumber(c, 'a register or a number'), d.w));
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
        const code = opTok && opTok.kind === 'punct' ? LOCK_OPS.get(opTok.text) : undefined;
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
        const k = parseNumber(c, 'a pseudo source kind (0..6)');
        const kind = fit(c, k, [0n, 6n], 'pseudo source kind');
        c.expect(',');
        const imm = imm32(c, parseNumber(c, 'an immediate'), true);
        const imm2 = c.accept(',') ? imm32(c, parseNumber(c, 'a second immediate'), true) : 0;
        if (kind === Pseudo.func && c.accept('<')) {
          const target = c.ident('a label name').text;
          c.expect('>', "'>' after the label name");
          return { op: LD_IMM64, dst: d.n, src: kind, off: 0, imm: 0, imm2, target };
        }
        return { op: LD_IMM64, dst: d.n, src: kind, off: 0, imm, imm2 };
      }
    }
    const e = c.expected('an instruction (rN = ..., *(u32 *)(rN + off) = ..., if, goto, call, exit, lock, ...)');
    // ubpf text (mov r0, 1) in the default dialect: say which dialect it is
    throw isUbpfMnemonic(t.text) ? c.error(`${e.reason} (ubpf syntax? pass --dialect ubpf)`) : e;
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
    return mkInsn(Class.ST | Mode.MEM | Size[size], m.base, 0, m.off, imm32(c, parseNumber(c, 'a register or a number'), size !== 'u64'));
  }
  if (!isRegToken(t)) throw c.expected('an instruction');
  const d = parseReg(c);
  const opTok = c.peek();
  if (opTok?.text === '=' && opTok.kind === 'punct') { c.next(); return parseAssign(c, d, ctx); }
  const alu = opTok && opTok.kind === 'punct' ? ALU_ASSIGN.get(opTok.text) : undefined;
  if (!alu) throw c.expected("'=' or an operation like += -= *= /= s/= %= s%= |= &= ^= <<= >>= s>>=");
  c.next();
  const cls = d.w ? Class.ALU : Class.ALU64;
  if (isRegToken(c.peek())) {
    const s = parseReg(c);
    if (s.w !== d.w) throw c.error(`use ${d.w ? 'w' : 'r'} registers on both sides (${d.w ? '32' : '64'}-bit operation)`, s.col);
    return mkInsn(cls | alu.code | Source.X, d.n, s.n, alu.off, 0);
  }
  return mkInsn(cls | alu.code | Source.K, d.n, 0, alu.off, imm32(c, parseNumber(c, 'a register or a number'), d.w));
};
