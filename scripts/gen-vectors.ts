/**
 * Writes the project's own conformance vectors, test/fixtures/conformance/*.data, in
 * bpf_conformance's `.data` format: a program in the ubpf dialect and the r0 it must return.
 *
 *   npx tsx scripts/gen-vectors.ts           rewrite the directory
 *   npx tsx scripts/gen-vectors.ts --check   exit 1 when a committed file differs
 *
 * Each program is built here as a short list of instructions, printed as ubpf text, and run
 * by the reference evaluator below to get its result. The evaluator is written from RFC 9669's
 * text with BigInt (registers as u64, memory as bytes) and shares nothing with tsbpf's
 * assembler or VM, so a vector checks them rather than echoing them. Where the kernel is
 * stricter than the RFC (the verifier refuses a division by the constant 0 and a shift by a
 * constant ≥ the width), those cases use a register operand, which the RFC defines the same.
 *
 * Coverage: every ALU and ALU64 operation with K and X operands (sdiv/smod, movsx, neg,
 * le/be/bswap, shifts by masked amounts), every JMP and JMP32 condition both taken and not,
 * ja and gotol, loads and stores of every size (sign-extending loads too) on the stack and on
 * the input memory, every atomic operation in 32 and 64 bits, lddw, and program-local calls.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------
// The instructions a vector is made of.

type Size = 'b' | 'h' | 'w' | 'dw';
const BYTES: Readonly<Record<Size, number>> = { b: 1, h: 2, w: 4, dw: 8 };
type AluName = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'mod' | 'smod' | 'or' | 'and' | 'xor' | 'lsh' | 'rsh' | 'arsh' | 'mov';
type JmpName = 'jeq' | 'jne' | 'jgt' | 'jge' | 'jlt' | 'jle' | 'jsgt' | 'jsge' | 'jslt' | 'jsle' | 'jset';
type AtomicName = 'add' | 'or' | 'and' | 'xor' | 'xchg' | 'cmpxchg';
/** A register, or a 32-bit immediate (as the instruction's signed imm field). */
type Src = { readonly r: number } | { readonly k: number };

type Insn =
  | { readonly t: 'alu'; readonly op: AluName; readonly w: 32 | 64; readonly dst: number; readonly src: Src }
  | { readonly t: 'movsx'; readonly w: 32 | 64; readonly bits: 8 | 16 | 32; readonly dst: number; readonly src: number }
  | { readonly t: 'neg'; readonly w: 32 | 64; readonly dst: number }
  | { readonly t: 'end'; readonly kind: 'le' | 'be' | 'bswap'; readonly bits: 16 | 32 | 64; readonly dst: number }
  | { readonly t: 'lddw'; readonly dst: number; readonly v: bigint }
  | { readonly t: 'ldx'; readonly size: Size; readonly sx: boolean; readonly dst: number; readonly base: number; readonly off: number }
  | { readonly t: 'st'; readonly size: Size; readonly base: number; readonly off: number; readonly k: number }
  | { readonly t: 'stx'; readonly size: Size; readonly base: number; readonly off: number; readonly src: number }
  | { readonly t: 'atomic'; readonly op: AtomicName; readonly fetch: boolean; readonly w: 32 | 64; readonly base: number; readonly off: number; readonly src: number }
  | { readonly t: 'jmp'; readonly op: JmpName; readonly w: 32 | 64; readonly dst: number; readonly src: Src; readonly to: string }
  | { readonly t: 'ja'; readonly long: boolean; readonly to: string }
  | { readonly t: 'call'; readonly to: string }
  | { readonly t: 'exit' }
  | { readonly t: 'label'; readonly name: string }
  | { readonly t: 'comment'; readonly text: string };

const R = (r: number): Src => ({ r });
const K = (k: number): Src => {
  if (!Number.isInteger(k) || k < -0x80000000 || k > 0x7fffffff) throw new Error(`imm ${k} is not a signed 32-bit value`);
  return { k };
};

// ---------------------------------------------------------------------------------------------
// Printing, in the ubpf dialect bpf_conformance's own vectors use.

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const memOp = (base: number, off: number): string => `[%r${base}${off === 0 ? '' : off > 0 ? `+${off}` : `${off}`}]`;
const srcText = (s: Src): string => ('r' in s ? `%r${s.r}` : s.k < 0 ? `${s.k}` : s.k > 9 ? `0x${s.k.toString(16)}` : `${s.k}`);

function text(i: Insn): string {
  switch (i.t) {
    case 'alu': return `${i.op}${i.w === 32 ? '32' : ''} %r${i.dst}, ${srcText(i.src)}`;
    case 'movsx': return `movsx${i.bits}${i.w} %r${i.dst}, %r${i.src}`;
    case 'neg': return `neg${i.w === 32 ? '32' : ''} %r${i.dst}`;
    case 'end': return `${i.kind}${i.bits} %r${i.dst}`;
    case 'lddw': return `lddw %r${i.dst}, ${hex(i.v)}`;
    case 'ldx': return `ldx${i.sx ? 's' : ''}${i.size} %r${i.dst}, ${memOp(i.base, i.off)}`;
    case 'st': return `st${i.size} ${memOp(i.base, i.off)}, ${srcText(K(i.k))}`;
    case 'stx': return `stx${i.size} ${memOp(i.base, i.off)}, %r${i.src}`;
    case 'atomic': return `lock ${i.fetch && i.op !== 'xchg' && i.op !== 'cmpxchg' ? 'fetch ' : ''}${i.op}${i.w === 32 ? '32' : ''} ${memOp(i.base, i.off)}, %r${i.src}`;
    case 'jmp': return `${i.op}${i.w === 32 ? '32' : ''} %r${i.dst}, ${srcText(i.src)}, ${i.to}`;
    case 'ja': return `${i.long ? 'ja32' : 'ja'} ${i.to}`;
    case 'call': return `call local ${i.to}`;
    case 'exit': return 'exit';
    case 'label': return `${i.name}:`;
    case 'comment': return `# ${i.text}`;
  }
}

// ---------------------------------------------------------------------------------------------
// The reference evaluator (RFC 9669), in BigInt.

const M64 = (1n << 64n) - 1n, M32 = 0xffffffffn;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);

function swap(v: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** §4.1: ALU64 operates on 64 bits, ALU on the low 32 (the result zero-extended). */
function alu(op: AluName, w: 32 | 64, dst: bigint, src: bigint): bigint {
  const mask = w === 64 ? M64 : M32, sh = w === 64 ? 63n : 31n;
  const a = dst & mask, b = src & mask;
  const s = (v: bigint): bigint => (w === 64 ? s64(v) : s32(v));
  const wrap = (v: bigint): bigint => BigInt.asUintN(w, v);
  switch (op) {
    case 'add': return wrap(a + b);
    case 'sub': return wrap(a - b);
    case 'mul': return wrap(a * b);
    // "If execution would result in division by zero, the destination register is instead set to zero."
    case 'div': return b === 0n ? 0n : a / b;
    // BigInt division truncates toward zero, as §4.1 requires for SDIV; overflow wraps.
    case 'sdiv': return b === 0n ? 0n : wrap(s(a) / s(b));
    // "modulo by zero: for ALU64 the destination is unchanged, for ALU the upper 32 bits are zeroed"
    case 'mod': return b === 0n ? a : a % b;
    // truncated modulo (the sign of the dividend): -13 % 3 == -1
    case 'smod': return b === 0n ? a : wrap(s(a) % s(b));
    case 'or': return a | b;
    case 'and': return a & b;
    case 'xor': return a ^ b;
    // "Shift operations use a mask of 0x3F (63) for 64-bit operations and 0x1F (31) for 32-bit operations."
    case 'lsh': return wrap(a << (b & sh));
    case 'rsh': return a >> (b & sh);
    case 'arsh': return wrap(s(a) >> (b & sh));
    case 'mov': return b;
  }
}

function cond(op: JmpName, w: 32 | 64, a0: bigint, b0: bigint): boolean {
  const a = w === 64 ? a0 : u32(a0), b = w === 64 ? b0 : u32(b0);
  const sa = w === 64 ? s64(a) : s32(a), sb = w === 64 ? s64(b) : s32(b);
  switch (op) {
    case 'jeq': return a === b;
    case 'jne': return a !== b;
    case 'jgt': return a > b;
    case 'jge': return a >= b;
    case 'jlt': return a < b;
    case 'jle': return a <= b;
    case 'jsgt': return sa > sb;
    case 'jsge': return sa >= sb;
    case 'jslt': return sa < sb;
    case 'jsle': return sa <= sb;
    case 'jset': return (a & b) !== 0n;
  }
}

/** Where the input memory and each call frame's stack live in the evaluator's address space. */
const MEM_BASE = 0x1000_0000n, STACK_TOP = 0x7000_0000n, FRAME = 0x1000n;

export class EvalError extends Error {
  override name = 'EvalError';
}

/**
 * Run a program: r1 = the memory (or 0), r2 = its length, as bpf_conformance's runtimes pass
 * them. Reading memory nobody wrote is an error: the verifier would refuse such a program, so
 * a generator bug shows here first.
 */
export function evaluate(prog: readonly Insn[], mem: Uint8Array = new Uint8Array(0)): bigint {
  const code = prog.filter((i) => i.t !== 'label' && i.t !== 'comment');
  const labels = new Map<string, number>();
  let n = 0;
  for (const i of prog) if (i.t === 'label') labels.set(i.name, n); else if (i.t !== 'comment') n++;
  const bytes = new Map<bigint, number>();
  mem.forEach((b, i) => bytes.set(MEM_BASE + BigInt(i), b));
  const load = (addr: bigint, size: number): bigint => {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) {
      const b = bytes.get(addr + BigInt(i));
      if (b === undefined) throw new EvalError(`read of unwritten byte at ${hex(addr + BigInt(i))}`);
      v = (v << 8n) | BigInt(b);
    }
    return v;
  };
  const store = (addr: bigint, size: number, v: bigint): void => {
    for (let i = 0; i < size; i++) bytes.set(addr + BigInt(i), Number((v >> BigInt(8 * i)) & 0xffn));
  };
  const regs: (bigint | undefined)[] = new Array(11).fill(undefined);
  regs[1] = mem.length ? MEM_BASE : 0n;
  regs[2] = BigInt(mem.length);
  regs[10] = STACK_TOP;
  const reg = (r: number): bigint => {
    const v = regs[r];
    if (v === undefined) throw new EvalError(`r${r} read before it was written`);
    return v;
  };
  const frames: { ret: number; saved: (bigint | undefined)[] }[] = [];
  const jump = (to: string): number => {
    const at = labels.get(to);
    if (at === undefined) throw new EvalError(`no label ${to}`);
    return at;
  };
  for (let pc = 0, steps = 0; ; steps++) {
    if (steps > 100000) throw new EvalError('does not terminate');
    const i = code[pc];
    if (!i) throw new EvalError(`fell off the end at ${pc}`);
    pc++;
    switch (i.t) {
      case 'alu': {
        // imm is sign-extended to 64 bits, then used unsigned (DIV/MOD) or as is; ALU uses its low 32.
        const b = 'r' in i.src ? reg(i.src.r) : u64(BigInt(i.src.k));
        regs[i.dst] = alu(i.op, i.w, i.op === 'mov' ? 0n : reg(i.dst), b);
        break;
      }
      case 'movsx': {
        const v = BigInt.asIntN(i.bits, reg(i.src));
        regs[i.dst] = i.w === 64 ? u64(v) : u32(v);
        break;
      }
      case 'neg': regs[i.dst] = i.w === 64 ? u64(-reg(i.dst)) : u32(-reg(i.dst)); break;
      case 'end': {
        const mask = (1n << BigInt(i.bits)) - 1n, v = reg(i.dst) & mask;
        // this host (and the kernel under test) is little-endian: le truncates, be and bswap swap
        regs[i.dst] = i.kind === 'le' ? v : swap(v, i.bits);
        break;
      }
      case 'lddw': regs[i.dst] = u64(i.v); break;
      case 'ldx': {
        const v = load(reg(i.base) + BigInt(i.off), BYTES[i.size]);
        regs[i.dst] = i.sx ? u64(BigInt.asIntN(8 * BYTES[i.size], v)) : v;
        break;
      }
      // ST: the imm, sign-extended to 64 bits, truncated to the size
      case 'st': store(reg(i.base) + BigInt(i.off), BYTES[i.size], u64(BigInt(i.k))); break;
      case 'stx': store(reg(i.base) + BigInt(i.off), BYTES[i.size], reg(i.src)); break;
      case 'atomic': {
        const size = i.w / 8, addr = reg(i.base) + BigInt(i.off);
        const old = load(addr, size), src = reg(i.src) & (i.w === 64 ? M64 : M32);
        if (i.op === 'cmpxchg') {
          // "compares R0 with the value at dst + offset; if equal, src is stored; the old value is loaded into R0" (zero-extended)
          if ((reg(0) & (i.w === 64 ? M64 : M32)) === old) store(addr, size, src);
          regs[0] = old;
        } else if (i.op === 'xchg') {
          store(addr, size, src);
          regs[i.src] = old;
        } else {
          const next = i.op === 'add' ? old + src : i.op === 'or' ? old | src : i.op === 'and' ? old & src : old ^ src;
          store(addr, size, next);
          if (i.fetch) regs[i.src] = old;
        }
        break;
      }
      case 'jmp': {
        const b = 'r' in i.src ? reg(i.src.r) : u64(BigInt(i.src.k));
        if (cond(i.op, i.w, reg(i.dst), b)) pc = jump(i.to);
        break;
      }
      case 'ja': pc = jump(i.to); break;
      case 'call': {
        // a new frame: r6-r9 are the caller's (callee-saved), r10 points at a fresh stack
        frames.push({ ret: pc, saved: regs.slice(6, 11) });
        for (const r of [0, 6, 7, 8, 9]) regs[r] = undefined;
        regs[10] = reg(10) - FRAME;
        pc = jump(i.to);
        break;
      }
      case 'exit': {
        const f = frames.pop();
        if (!f) return reg(0);
        regs.splice(6, 5, ...f.saved);
        for (const r of [1, 2, 3, 4, 5]) regs[r] = undefined;
        pc = f.ret;
        break;
      }
      default: break; // labels and comments were filtered out
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The vectors.

export interface GenVector {
  /** File name without .data. */
  readonly name: string;
  /** The first comment of the program: what it checks (and where in RFC 9669). */
  readonly description: string;
  readonly prog: readonly Insn[];
  readonly mem?: Uint8Array;
}

const V = (name: string, description: string, prog: Insn[], mem?: Uint8Array): GenVector => ({ name, description, prog, ...(mem ? { mem } : {}) });
const lddw = (dst: number, v: bigint): Insn => ({ t: 'lddw', dst, v: u64(v) });
const exit: Insn = { t: 'exit' };
const mov = (dst: number, src: Src, w: 32 | 64 = 64): Insn => ({ t: 'alu', op: 'mov', w, dst, src });

const ALU_SECTION: Readonly<Record<AluName, string>> = {
  add: '4.1', sub: '4.1', mul: '4.1', div: '4.1', sdiv: '4.1', mod: '4.1', smod: '4.1', or: '4.1', and: '4.1',
  xor: '4.1', lsh: '4.1', rsh: '4.1', arsh: '4.1', mov: '4.1',
};

/** Operand pairs per operation: [dst, src]. For the K form src must be a signed 32-bit value. */
const GENERIC: readonly (readonly [bigint, bigint])[] = [
  [0x123456789abcdef0n, 0x0fedcba987654321n], [0xffffffffffffffffn, 1n], [0x00000000ffffffffn, 0x1n],
  [0x8000000000000000n, 0xffffffffffffffffn], [0x7fffffffn, -0x80000000n],
];
const DIVISION: readonly (readonly [bigint, bigint])[] = [
  [100n, 7n], [-100n, 7n], [100n, -7n], [-100n, -7n], [0xfedcba9876543210n, 0n], [-0x8000000000000000n, -1n],
  [-0x80000000n, -1n], [0x7fffffffffffffffn, 0x100000000n], [13n, 0xffffffffn],
];
const SHIFTS: readonly (readonly [bigint, bigint])[] = [
  [0x8123456789abcdefn, 0n], [0x8123456789abcdefn, 1n], [0x8123456789abcdefn, 31n], [0x8123456789abcdefn, 63n],
  // by register only: amounts past the width are masked (the verifier refuses them as constants)
  [0x8123456789abcdefn, 32n], [0x8123456789abcdefn, 64n + 4n], [0xf0000001n, 0x1_0000_0021n],
];

function fitsK(v: bigint, w: 32 | 64, op: AluName): boolean {
  const k = s64(v);
  if (k < -0x80000000n || k > 0x7fffffffn) return false;
  if ((op === 'div' || op === 'mod' || op === 'sdiv' || op === 'smod') && k === 0n) return false; // "div by zero" is refused
  if ((op === 'lsh' || op === 'rsh' || op === 'arsh') && (k < 0n || k >= BigInt(w))) return false; // "invalid shift" is refused
  return true;
}

function aluVectors(): GenVector[] {
  const out: GenVector[] = [];
  const ops: AluName[] = ['add', 'sub', 'mul', 'div', 'sdiv', 'mod', 'smod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh', 'mov'];
  for (const op of ops) {
    const pairs = op === 'div' || op === 'sdiv' || op === 'mod' || op === 'smod' ? DIVISION : op === 'lsh' || op === 'rsh' || op === 'arsh' ? SHIFTS : GENERIC;
    for (const w of [64, 32] as const) {
      for (const form of ['reg', 'imm'] as const) {
        let n = 0;
        for (const [a, b] of pairs) {
          if (form === 'imm' && !fitsK(b, w, op)) continue;
          // the destination starts with its upper half set, so a 32-bit op must be seen to clear it
          const dstInit = w === 32 ? u64(a) | 0xdead_beef_0000_0000n : u64(a);
          const srcText = form === 'reg' ? hex(u64(b)) : `${s64(b)}`;
          const prog: Insn[] = [
            lddw(0, dstInit),
            ...(form === 'reg' ? [lddw(1, b), { t: 'alu', op, w, dst: 0, src: R(1) } as Insn] : [{ t: 'alu', op, w, dst: 0, src: K(Number(s64(b))) } as Insn]),
            exit,
          ];
          out.push(V(`alu${w}_${op}_${form}_${n++}`, `RFC 9669 §${ALU_SECTION[op]}: ${op.toUpperCase()} ${w === 64 ? 'ALU64' : 'ALU'} ${form === 'reg' ? 'X' : 'K'}: dst ${hex(dstInit)}, src ${srcText}.`, prog));
        }
      }
    }
  }
  // MOVSX (§4.1): sign-extend the low 8/16/32 bits of src; ALU zero-extends the 32-bit result.
  const sx: [32 | 64, 8 | 16 | 32, bigint][] = [
    [64, 8, 0x1234_5678_9abc_de80n], [64, 8, 0x7fn], [64, 16, 0xffff_ffff_0000_8001n], [64, 16, 0x7fffn], [64, 32, 0x8000_0000n], [64, 32, 0xffff_ffff_7fff_ffffn],
    [32, 8, 0xffn], [32, 8, 0x1234_5678_9abc_de7fn], [32, 16, 0xffff_0000_0000_8000n], [32, 16, 0x17fffn],
  ];
  const seen = new Map<string, number>();
  sx.forEach(([w, bits, v]) => {
    const n = seen.get(`${w}/${bits}`) ?? 0;
    seen.set(`${w}/${bits}`, n + 1);
    out.push(V(`alu${w}_movsx${bits}_${n}`, `RFC 9669 §4.1: MOVSX ${w === 64 ? 'ALU64' : 'ALU'} from ${bits} bits: src ${hex(v)}.`,
    [lddw(0, 0x5555_5555_5555_5555n), lddw(1, v), { t: 'movsx', w, bits, dst: 0, src: 1 }, exit]));
  });
  // MOV K: ALU64 sign-extends the imm, ALU zero-extends it.
  for (const [w, k] of [[64, -2], [32, -2], [64, 0x7fffffff], [32, 0]] as const) {
    out.push(V(`alu${w}_mov_k_${k < 0 ? 'neg' : k}`, `RFC 9669 §4.1: MOV ${w === 64 ? 'ALU64' : 'ALU'} K ${k}.`, [lddw(0, -1n), mov(0, K(k), w), exit]));
  }
  // NEG
  for (const w of [64, 32] as const) {
    for (const [n, v] of [[0, 1n], [1, 0n], [2, 0x8000_0000_0000_0000n], [3, 0xffff_ffff_8000_0000n], [4, 0x1_0000_0005n]] as const) {
      out.push(V(`alu${w}_neg_${n}`, `RFC 9669 §4.1: NEG ${w === 64 ? 'ALU64' : 'ALU'}: dst ${hex(v)}.`, [lddw(0, v), { t: 'neg', w, dst: 0 }, exit]));
    }
  }
  // Byte swaps (§4.2): le truncates on a little-endian host, be and bswap swap.
  for (const kind of ['le', 'be', 'bswap'] as const) {
    for (const bits of [16, 32, 64] as const) {
      out.push(V(`end_${kind}${bits}`, `RFC 9669 §4.2: ${kind === 'bswap' ? 'BSWAP (ALU64)' : `${kind.toUpperCase()} (ALU, TO_${kind.toUpperCase()})`} ${bits}: 0x0123456789abcdef.`,
        [lddw(0, 0x0123_4567_89ab_cdefn), { t: 'end', kind, bits, dst: 0 }, exit]));
    }
  }
  return out;
}

function jumpVectors(): GenVector[] {
  const out: GenVector[] = [];
  // [dst, src]: equal, unsigned bigger/smaller, signed opposite, differing only in the upper half
  const pairs: readonly (readonly [bigint, bigint])[] = [
    [5n, 5n], [7n, 5n], [5n, 7n], [-1n, 1n], [1n, -1n], [0x1_0000_0005n, 5n], [-0x80000000n, 0x7fffffffn], [0x8000_0000n, 0x8000_0000n + 0x8000_0000_0000_0000n],
  ];
  const ops: JmpName[] = ['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jsgt', 'jsge', 'jslt', 'jsle', 'jset'];
  for (const op of ops) {
    for (const w of [64, 32] as const) {
      for (const form of ['reg', 'imm'] as const) {
        let n = 0;
        for (const [a, b] of pairs) {
          if (form === 'imm' && (s64(b) < -0x80000000n || s64(b) > 0x7fffffffn)) continue;
          const src = form === 'reg' ? R(2) : K(Number(s64(b)));
          out.push(V(`jmp${w}_${op}_${form}_${n++}`, `RFC 9669 §4.3: ${op.toUpperCase()} ${w === 64 ? 'JMP' : 'JMP32'} ${form === 'reg' ? 'X' : 'K'}: ${hex(u64(a))} vs ${form === 'reg' ? hex(u64(b)) : s64(b)}; r0 is 1 when taken.`, [
            lddw(1, a), ...(form === 'reg' ? [lddw(2, b)] : []), mov(0, K(1)),
            { t: 'jmp', op, w, dst: 1, src, to: 'taken' }, mov(0, K(0)), { t: 'label', name: 'taken' }, exit,
          ]));
        }
      }
    }
  }
  // forward over the code in between, then back into it: every instruction is reachable (the
  // verifier refuses unreachable ones), and r0 records the order
  for (const long of [false, true]) {
    out.push(V(long ? 'jmp32_ja' : 'jmp_ja', `RFC 9669 §4.3: JA${long ? ' in JMP32 (gotol), by its 32-bit imm' : ', by its 16-bit offset'}, forwards then backwards.`, [
      mov(0, K(1)), { t: 'ja', long, to: 'second' }, { t: 'label', name: 'third' }, { t: 'alu', op: 'mul', w: 64, dst: 0, src: K(10) }, exit,
      { t: 'label', name: 'second' }, { t: 'alu', op: 'mul', w: 64, dst: 0, src: K(10) }, { t: 'alu', op: 'add', w: 64, dst: 0, src: K(2) },
      { t: 'ja', long, to: 'third' },
    ]));
  }
  out.push(V('jmp_ja_back', 'RFC 9669 §4.3: JA backwards: a bounded loop counting to 5.', [
    mov(0, K(0)), { t: 'label', name: 'loop' }, { t: 'alu', op: 'add', w: 64, dst: 0, src: K(1) },
    { t: 'jmp', op: 'jge', w: 64, dst: 0, src: K(5), to: 'out' }, { t: 'ja', long: false, to: 'loop' }, { t: 'label', name: 'out' }, exit,
  ]));
  return out;
}

function memoryVectors(): GenVector[] {
  const out: GenVector[] = [];
  const sizes: Size[] = ['b', 'h', 'w', 'dw'];
  const pattern = 0x8182_8384_f5f6_f7f8n;
  for (const s of sizes) {
    // STX then LDX (and LDXS) through the stack, over a word that was cleared first
    out.push(V(`mem_stx${s}_ldx${s}`, `RFC 9669 §5.1: STX and LDX of size ${s.toUpperCase()} on the stack: only ${BYTES[s]} byte(s) are written and read.`, [
      lddw(1, pattern), lddw(2, 0x1111_1111_1111_1111n), { t: 'stx', size: 'dw', base: 10, off: -16, src: 2 },
      { t: 'stx', size: s, base: 10, off: -16, src: 1 }, { t: 'ldx', size: 'dw', sx: false, dst: 0, base: 10, off: -16 },
      { t: 'ldx', size: s, sx: false, dst: 3, base: 10, off: -16 }, { t: 'alu', op: 'xor', w: 64, dst: 0, src: R(3) }, exit,
    ]));
    for (const k of [-2, 0x7f7f7f7f]) {
      out.push(V(`mem_st${s}_${k < 0 ? 'neg' : 'pos'}`, `RFC 9669 §5.1: ST of size ${s.toUpperCase()}: the imm ${k}, sign-extended, truncated to ${BYTES[s]} byte(s).`, [
        lddw(2, 0x1111_1111_1111_1111n), { t: 'stx', size: 'dw', base: 10, off: -8, src: 2 },
        { t: 'st', size: s, base: 10, off: -8, k }, { t: 'ldx', size: 'dw', sx: false, dst: 0, base: 10, off: -8 }, exit,
      ]));
    }
    if (s !== 'dw') {
      for (const v of [pattern, 0x0102_0304_0506_0708n]) {
        out.push(V(`mem_ldxs${s}_${v === pattern ? 'neg' : 'pos'}`, `RFC 9669 §5.2: sign-extending LDXS${s.toUpperCase()} of ${hex(v & ((1n << BigInt(8 * BYTES[s])) - 1n))}.`, [
          lddw(1, v), { t: 'stx', size: 'dw', base: 10, off: -8, src: 1 }, { t: 'ldx', size: s, sx: true, dst: 0, base: 10, off: -8 }, exit,
        ]));
      }
    }
  }
  // The input memory (-- mem): r1 points at it, r2 is its length.
  const mem = Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x85, 0x86, 0x87, 0x88, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11]);
  out.push(V('mem_input_length', 'bpf_conformance convention: r2 holds the length of the input memory.', [mov(0, R(2)), exit], mem));
  for (const s of sizes) {
    out.push(V(`mem_input_ldx${s}`, `RFC 9669 §5.1: LDX${s.toUpperCase()} from the input memory at offset 4 (little-endian).`, [{ t: 'ldx', size: s, sx: false, dst: 0, base: 1, off: 4 }, exit], mem));
    if (s !== 'dw') out.push(V(`mem_input_ldxs${s}`, `RFC 9669 §5.2: LDXS${s.toUpperCase()} from the input memory at offset 4.`, [{ t: 'ldx', size: s, sx: true, dst: 0, base: 1, off: 4 }, exit], mem));
  }
  out.push(V('mem_input_store', 'RFC 9669 §5.1: stores into the input memory are read back.', [
    { t: 'st', size: 'h', base: 1, off: 2, k: 0x7777 }, lddw(3, 0x99n), { t: 'stx', size: 'b', base: 1, off: 9, src: 3 },
    { t: 'ldx', size: 'dw', sx: false, dst: 0, base: 1, off: 8 }, { t: 'ldx', size: 'w', sx: false, dst: 4, base: 1, off: 0 },
    { t: 'alu', op: 'add', w: 64, dst: 0, src: R(4) }, exit,
  ], mem));
  // LDDW (§5.4)
  for (const [n, v] of [[0, 0x1122_3344_5566_7788n], [1, 0xffff_ffff_ffff_ffffn], [2, 0x8000_0000n], [3, 0x1_0000_0000n]] as const) {
    out.push(V(`lddw_${n}`, `RFC 9669 §5.4: LDDW loads the 64-bit immediate ${hex(v)}.`, [lddw(0, v), exit]));
  }
  return out;
}

function atomicVectors(): GenVector[] {
  const out: GenVector[] = [];
  const init = 0x1234_5678_8765_4321n, operand = 0xf0f0_f0f0_8000_000fn;
  for (const w of [64, 32] as const) {
    for (const op of ['add', 'or', 'and', 'xor'] as const) {
      for (const fetch of [false, true]) {
        // r0 = the memory word after, xor'd with the fetched value (or with the operand left alone)
        out.push(V(`atomic${w}_${fetch ? 'fetch_' : ''}${op}`, `RFC 9669 §5.3: ${fetch ? 'FETCH | ' : ''}${op.toUpperCase()} ${w}-bit on the low word of ${hex(init)} with ${hex(operand)}; r0 = the memory after ^ r1 after.`, [
          lddw(1, init), { t: 'stx', size: 'dw', base: 10, off: -8, src: 1 }, lddw(1, operand),
          { t: 'atomic', op, fetch, w, base: 10, off: -8, src: 1 },
          { t: 'ldx', size: 'dw', sx: false, dst: 0, base: 10, off: -8 }, { t: 'alu', op: 'xor', w: 64, dst: 0, src: R(1) }, exit,
        ]));
      }
    }
    out.push(V(`atomic${w}_xchg`, `RFC 9669 §5.3: XCHG ${w}-bit: r0 = the memory after ^ the old value in r1.`, [
      lddw(1, init), { t: 'stx', size: 'dw', base: 10, off: -8, src: 1 }, lddw(1, operand),
      { t: 'atomic', op: 'xchg', fetch: true, w, base: 10, off: -8, src: 1 },
      { t: 'ldx', size: 'dw', sx: false, dst: 0, base: 10, off: -8 }, { t: 'alu', op: 'xor', w: 64, dst: 0, src: R(1) }, exit,
    ]));
    for (const hit of [true, false]) {
      const expect = hit ? init : 0x5555_5555_8765_4321n; // a miss differs in the upper half only: a 32-bit cmpxchg still hits
      out.push(V(`atomic${w}_cmpxchg_${hit ? 'equal' : 'differs'}`, `RFC 9669 §5.3: CMPXCHG ${w}-bit with r0 = ${hex(expect)} against ${hex(init)}: r0 = the memory after ^ (r0 after << 1).`, [
        lddw(1, init), { t: 'stx', size: 'dw', base: 10, off: -8, src: 1 }, lddw(1, operand), lddw(0, expect),
        { t: 'atomic', op: 'cmpxchg', fetch: true, w, base: 10, off: -8, src: 1 },
        { t: 'alu', op: 'lsh', w: 64, dst: 0, src: K(1) }, { t: 'ldx', size: 'dw', sx: false, dst: 2, base: 10, off: -8 },
        { t: 'alu', op: 'xor', w: 64, dst: 0, src: R(2) }, exit,
      ]));
    }
  }
  return out;
}

function callVectors(): GenVector[] {
  const add = (dst: number, src: Src): Insn => ({ t: 'alu', op: 'add', w: 64, dst, src });
  const mul = (dst: number, src: Src): Insn => ({ t: 'alu', op: 'mul', w: 64, dst, src });
  return [
    V('call_local_args', 'RFC 9669 §4.3.2: a program-local call passes r1-r5 and returns r0.', [
      mov(1, K(1)), mov(2, K(2)), mov(3, K(3)), mov(4, K(4)), mov(5, K(5)), { t: 'call', to: 'f' }, exit,
      { t: 'label', name: 'f' }, mov(0, R(1)), mul(0, K(10)), add(0, R(2)), mul(0, K(10)), add(0, R(3)), mul(0, K(10)), add(0, R(4)), mul(0, K(10)), add(0, R(5)), exit,
    ]),
    V('call_local_callee_saved', 'RFC 9669 §4.3.2 and the BPF calling convention: r6-r9 survive a call that uses them.', [
      mov(6, K(6)), mov(7, K(7)), mov(8, K(8)), mov(9, K(9)), { t: 'call', to: 'f' },
      mov(1, R(6)), mul(1, K(1000)), mov(2, R(7)), mul(2, K(100)), add(1, R(2)), mov(2, R(8)), mul(2, K(10)), add(1, R(2)), add(1, R(9)), add(0, R(1)), exit,
      { t: 'label', name: 'f' }, mov(6, K(60)), mov(7, K(70)), mov(8, K(80)), mov(9, K(90)), mov(0, R(6)), add(0, R(9)), mul(0, K(10000)), exit,
    ]),
    V('call_local_stack', 'RFC 9669 §4.3.2: each call has its own stack frame (r10).', [
      lddw(1, 0x1111n), { t: 'stx', size: 'dw', base: 10, off: -8, src: 1 }, { t: 'call', to: 'f' },
      { t: 'ldx', size: 'dw', sx: false, dst: 1, base: 10, off: -8 }, mul(0, K(0x10000)), add(0, R(1)), exit,
      { t: 'label', name: 'f' }, lddw(1, 0x2222n), { t: 'stx', size: 'dw', base: 10, off: -8, src: 1 }, { t: 'ldx', size: 'dw', sx: false, dst: 0, base: 10, off: -8 }, exit,
    ]),
    V('call_local_nested', 'RFC 9669 §4.3.2: calls nest; each returns to its caller.', [
      mov(1, K(3)), { t: 'call', to: 'f' }, add(0, K(1)), exit,
      { t: 'label', name: 'f' }, mov(6, R(1)), { t: 'call', to: 'g' }, mul(0, R(6)), exit,
      { t: 'label', name: 'g' }, mov(0, K(7)), exit,
    ]),
  ];
}

/** Every project vector, in a stable order. */
export function projectVectors(): GenVector[] {
  return [...aluVectors(), ...jumpVectors(), ...memoryVectors(), ...atomicVectors(), ...callVectors()];
}

export const GENERATED_HEADER = '# Generated by scripts/gen-vectors.ts: do not edit. Run `npx tsx scripts/gen-vectors.ts` to regenerate.';

/** The .data text of a vector, its result computed by the evaluator. */
export function vectorText(v: GenVector): string {
  const lines = [GENERATED_HEADER, '# SPDX-License-Identifier: GPL-2.0-only', '-- asm', `# ${v.description}`];
  for (const i of v.prog) lines.push(text(i));
  if (v.mem) {
    lines.push('-- mem');
    lines.push(Array.from(v.mem, (b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  lines.push('-- result', hex(evaluate(v.prog, v.mem)));
  return lines.join('\n') + '\n';
}

/** file name -> text, for every vector. */
export function generatedFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of projectVectors()) {
    const file = `${v.name}.data`;
    if (out.has(file)) throw new Error(`two vectors are named ${v.name}`);
    out.set(file, vectorText(v));
  }
  return out;
}

export const VECTOR_DIR = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'test', 'fixtures', 'conformance');

function main(argv: string[]): number {
  const files = generatedFiles();
  const existing = (() => { try { return readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.data')); } catch { return []; } })();
  if (argv.includes('--check')) {
    const stale = [...files].filter(([f, t]) => { try { return readFileSync(path.join(VECTOR_DIR, f), 'utf8') !== t; } catch { return true; } }).map(([f]) => f);
    const extra = existing.filter((f) => !files.has(f));
    if (stale.length || extra.length) {
      console.error(`test/fixtures/conformance is out of date (${stale.length} differ, ${extra.length} extra): run npx tsx scripts/gen-vectors.ts`);
      return 1;
    }
    console.log(`${files.size} vectors up to date`);
    return 0;
  }
  mkdirSync(VECTOR_DIR, { recursive: true });
  for (const f of existing) if (!files.has(f)) rmSync(path.join(VECTOR_DIR, f));
  for (const [f, t] of files) writeFileSync(path.join(VECTOR_DIR, f), t);
  console.log(`wrote ${files.size} vectors to ${path.relative(process.cwd(), VECTOR_DIR) || '.'}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
