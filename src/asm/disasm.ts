/**
 * The disassembler: instructions to text in LLVM's BPF syntax (what `clang -S` and
 * `llvm-objdump -d` print, close to the verifier log), one text form per valid instruction so
 * that assemble(disassemble(x)) gives back the same bytes. docs/listing.md lists every form.
 *
 *   r2 = *(u32 *)(r1 + 76)          ldx            w0 += 1               ALU (32-bit: w names)
 *   *(u64 *)(r10 - 8) = r1          stx            r0 = (s8)r1           movsx
 *   lock *(u64 *)(r10 - 8) += r1    atomic         r0 = be32 r0          byte swap
 *   if r3 > r2 goto +32 <out>       jump           call bpf_ktime_get_ns#5
 *   r1 = map[map_mes_cnt] ll        LD_IMM64 with a pseudo source (our forms; llvm prints ld_pseudo)
 *
 * Two styles: 'tsbpf' (the default) names helpers and pseudo LD_IMM64 sources; 'llvm' prints
 * exactly what llvm-mc 14 prints wherever LLVM knows the instruction and its text keeps every
 * field (`call 5`, `ld_pseudo r1, 1, 3`), so a listing diffs cleanly against llvm-objdump.
 */
import { helperName } from './helpers.ts';
import { INSN_SIZE, decode, encode, imm64, type Instruction } from './instruction.ts';
import { branchField } from './link.ts';
import {
  AluOp, AtomicOp, CallKind, Class, JmpOp, LD_IMM64, Mode, Pseudo, Source, SIZE_BYTES,
  opClass, opCode, opMode, opSource, opcodesOf, rowsOfForm, sizeName,
} from './opcode.ts';

export type ListingStyle = 'tsbpf' | 'llvm';

export interface FormatOptions {
  /** 'tsbpf' (default) or 'llvm' (helper calls as `call 5`, pseudo LD_IMM64 as `ld_pseudo`). */
  readonly style?: ListingStyle;
  /**
   * Name the value register of sub-64-bit loads and stores by its w view
   * (`w2 = *(u32 *)(r1 + 80)`), as llvm does with +alu32 (-mcpu=v3 objects). Same bytes.
   */
  readonly alu32?: boolean;
  /**
   * The program is one the kernel returned (BPF_OBJ_GET_INFO_BY_FD xlated_prog_insns): its
   * map loads carry map ids, not fds, so print them as bpftool does, `r1 = map[id:5] ll` and
   * `r1 = map[id:5][0] + 16 ll` (for BPF_PSEUDO_MAP_FD / MAP_VALUE without a map name).
   * Default false (`map[fd:N]`). Style 'tsbpf' only: 'llvm' prints `ld_pseudo` either way.
   */
  readonly mapIds?: boolean;
}

export interface ListingOptions extends FormatOptions {
  /** Prefix each instruction with its slot index (`  4: `). Default false. */
  readonly index?: boolean;
  /** Show the raw bytes of each instruction. Default false. */
  readonly bytes?: boolean;
  /**
   * Label lines before jump targets and `<label>` after jumps. Default true. Names come from
   * this map (label -> instruction index, as in ProgramSpec.labels) and from each instruction's
   * `target`; a target with no name gets one the way llvm numbers basic blocks (LBB0_7).
   */
  readonly labels?: boolean | ReadonlyMap<string, number>;
  /** Show instruction comments as `# text`. Default true. */
  readonly comments?: boolean;
  /** Show the TypeScript line that emitted each instruction. Default false. */
  readonly source?: boolean;
}

/** One instruction of a listing, for tools that align other text with it. */
export interface ListingLine {
  /** Instruction index (LD_IMM64 counts once). */
  readonly index: number;
  /** Slot index: what jump offsets and the verifier log count. */
  readonly slot: number;
  readonly slots: 1 | 2;
  /** The instruction's text, with its `<label>` suffix when it jumps to a named target. */
  readonly text: string;
  readonly bytes: Uint8Array;
  /** The first label naming this instruction, and all of them. */
  readonly label?: string;
  readonly labels: readonly string[];
  /** The label this instruction jumps to, calls or references. */
  readonly target?: string;
  readonly comment?: string;
  readonly source?: string;
  readonly insn: Instruction;
  /** The rendered line (label lines excluded). */
  readonly line: string;
}

// Performance: disassemble() is meant to run at >= 1 M instructions/s (bench/asm.ts), so the
// per-instruction path allocates little beyond the strings it returns: slot numbers, jump
// targets and label names live in typed arrays indexed by instruction, register names and hex
// bytes come from tables, and there are no closures inside the hot functions (tsx/esbuild's
// keepNames would wrap each one in a __name() call every time it is created).

const R: readonly string[] = Array.from({ length: 16 }, (_, n) => `r${n}`);
const W: readonly string[] = Array.from({ length: 16 }, (_, n) => `w${n}`);
const HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const SPACES: readonly string[] = Array.from({ length: 41 }, (_, n) => ' '.repeat(n));

/** `r3`, or `w3` for the 32-bit view. */
function reg(n: number, w: boolean): string {
  return (w ? W[n] : R[n]) ?? `${w ? 'w' : 'r'}${n}`;
}
/** `+3` / `-3` / `+0`: how llvm prints a pc-relative offset. */
function rel(n: number): string {
  return n < 0 ? `${n}` : `+${n}`;
}
/** `(r10 - 8)`, `(r1 + 0)` */
function mem(base: number, off: number): string {
  return `(${reg(base, false)} ${off < 0 ? '-' : '+'} ${Math.abs(off)})`;
}
function plusMinus(v: number): string {
  return v < 0 ? ` - ${-v}` : ` + ${v}`;
}
/** String(v).padStart(width) */
function padNum(v: number, width: number): string {
  const s = `${v}`;
  const k = width - s.length;
  return k <= 0 ? s : k < SPACES.length ? SPACES[k] + s : s.padStart(width);
}
/** s.padEnd(width) */
function padEnd(s: string, width: number): string {
  const k = width - s.length;
  return k <= 0 ? s : k < SPACES.length ? s + SPACES[k] : s.padEnd(width);
}
/** `61 12 50 00 ...`: len bytes of b from p, space separated. */
function hexAt(b: Uint8Array, p: number, len: number): string {
  let s = HEX[b[p]!]!;
  for (let k = 1; k < len; k++) s += ' ' + HEX[b[p + k]!]!;
  return s;
}

const HEX_DIGITS = new TextEncoder().encode('0123456789abcdef');
const ascii = new TextDecoder();
/**
 * Every byte of b as `xx ` in one flat string, so that the bytes column of instruction k is a
 * substring of it (no copy) rather than 15 concatenations. Only for disassemble(): listing()
 * keeps its lines, and a line holding a substring would keep all of this alive.
 */
function spacedHex(b: Uint8Array): string {
  const out = new Uint8Array(b.length * 3);
  for (let k = 0, p = 0; k < b.length; k++, p += 3) {
    const x = b[k]!;
    out[p] = HEX_DIGITS[x >> 4]!;
    out[p + 1] = HEX_DIGITS[x & 15]!;
    out[p + 2] = 0x20;
  }
  return ascii.decode(out);
}

// Symbols from the opcode table, indexed by the op field (>> 4) and, for ALU, off (sdiv, smod).
const ALU_SYM: readonly (string | undefined)[] = (() => {
  const t: (string | undefined)[] = new Array(32).fill(undefined);
  for (const r of rowsOfForm('binary')) if (r.name !== 'mov') t[(r.code >> 4) | ((r.off ?? 0) << 4)] = r.llvm;
  return t;
})();
const JMP_SYM: readonly (string | undefined)[] = (() => {
  const t: (string | undefined)[] = new Array(16).fill(undefined);
  for (const r of rowsOfForm('jcond')) t[r.code >> 4] = r.llvm;
  return t;
})();
/** Byte-swap opcode byte -> 'le', 'be' or 'bswap'. */
const END_SYM: readonly (string | undefined)[] = (() => {
  const t: (string | undefined)[] = new Array(256).fill(undefined);
  for (const r of rowsOfForm('endian')) for (const op of opcodesOf(r)) t[op] = r.llvm;
  return t;
})();
/** Atomic imm -> `+=` (lock forms) or `add` (atomic_fetch_add), from the table. */
const ATOMIC_ALU: ReadonlyMap<number, string> = new Map(rowsOfForm('atomic').map((r) => [r.imm!, r.llvm]));
const ATOMIC_FETCH: ReadonlyMap<number, string> = new Map(rowsOfForm('fetch').map((r) => [r.imm!, r.llvm]));

/** `r1 = <rhs> ll` for each LD_IMM64 source kind; see docs/listing.md. */
function ldImm64(i: Instruction, llvm: boolean, mapIds: boolean): string {
  const d = reg(i.dst, false), imm2 = i.imm2 ?? 0;
  if (i.src === Pseudo.imm) return `${d} = ${BigInt.asIntN(64, imm64(i))} ll`;
  const generic = `ld_pseudo ${d}, ${i.src}, ${i.imm}${imm2 !== 0 ? `, ${imm2}` : ''}`;
  if (llvm) return generic;
  const map = i.map && i.imm === 0 ? i.map.name : mapIds ? `id:${i.imm}` : `fd:${i.imm}`;
  switch (i.src) {
    case Pseudo.map_fd: return imm2 === 0 ? `${d} = map[${map}] ll` : generic;
    case Pseudo.map_value: return `${d} = map[${map}][0]${imm2 !== 0 ? plusMinus(imm2) : ''} ll`;
    case Pseudo.btf_id: return `${d} = btf_id(${i.imm}${imm2 !== 0 ? `, ${imm2}` : ''}) ll`;
    case Pseudo.func: return imm2 === 0 ? `${d} = func(${rel(i.imm)}) ll` : generic;
    case Pseudo.map_idx: return imm2 === 0 ? `${d} = map[idx:${i.imm}] ll` : generic;
    case Pseudo.map_idx_value: return `${d} = map[idx:${i.imm}][0]${imm2 !== 0 ? plusMinus(imm2) : ''} ll`;
  }
  return generic;
}

/** formatInstruction() with its options unpacked, for the per-instruction loop. */
function format(i: Instruction, llvm: boolean, alu32: boolean, mapIds: boolean): string {
  const op = i.op, dst = i.dst, src = i.src, off = i.off, imm = i.imm;
  const cls = opClass(op);
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const w = cls === Class.ALU, code = opCode(op), x = opSource(op) === Source.X;
      const d = reg(dst, w);
      if (code === AluOp.neg) return `${d} = -${d}`;
      if (code === AluOp.end) {
        const kind = END_SYM[op];
        if (kind === undefined) break;
        const r = reg(dst, false);
        return `${r} = ${kind}${imm} ${r}`;
      }
      const rhs = x ? reg(src, w) : `${imm}`;
      if (code === AluOp.mov) return x && off !== 0 ? `${d} = (s${off})${rhs}` : `${d} = ${rhs}`;
      const sym = off === 0 || off === 1 ? ALU_SYM[(code >> 4) | (off << 4)] : undefined;
      if (sym === undefined) break;
      return `${d} ${sym} ${rhs}`;
    }
    case Class.JMP:
    case Class.JMP32: {
      const code = opCode(op), w = cls === Class.JMP32;
      if (code === JmpOp.exit) return 'exit';
      if (code === JmpOp.ja) return w ? `gotol ${rel(imm)}` : `goto ${rel(off)}`;
      if (code === JmpOp.call) {
        if (src === CallKind.local) return `call pc${rel(imm)}`;
        if (src === CallKind.kfunc) return `call kfunc(${imm}${off !== 0 ? `, ${off}` : ''})`;
        const name = llvm ? undefined : helperName(imm);
        return name ? `call ${name}#${imm}` : `call ${imm}`;
      }
      const sym = JMP_SYM[code >> 4];
      if (sym === undefined) break;
      const x = opSource(op) === Source.X;
      const rhs = x ? reg(src, w) : code === JmpOp.jset ? (imm < 0 ? `-0x${(-imm).toString(16)}` : `0x${imm.toString(16)}`) : `${imm}`;
      return `if ${reg(dst, w)} ${sym} ${rhs} goto ${rel(off)}`;
    }
    case Class.LDX: {
      const size = sizeName(op);
      if (opMode(op) === Mode.MEMSX) return `${reg(dst, false)} = *(s${SIZE_BYTES[size] * 8} *)${mem(src, off)}`;
      return `${reg(dst, alu32 && size !== 'u64')} = *(${size} *)${mem(src, off)}`;
    }
    case Class.ST:
      return `*(${sizeName(op)} *)${mem(dst, off)} = ${imm}`;
    case Class.STX: {
      const size = sizeName(op);
      if (opMode(op) !== Mode.ATOMIC) return `*(${size} *)${mem(dst, off)} = ${reg(src, alu32 && size !== 'u64')}`;
      const w = size === 'u32', s = reg(src, w);
      const alu = ATOMIC_ALU.get(imm);
      if (alu !== undefined) return `lock *(${size} *)${mem(dst, off)} ${alu} ${s}`;
      const fetch = ATOMIC_FETCH.get(imm);
      if (fetch !== undefined) return `${s} = ${fetch}((${size} *)${mem(dst, off)}, ${s})`;
      const addr = `r${dst} ${off < 0 ? '-' : '+'} ${Math.abs(off)}`;
      if (imm === AtomicOp.xchg) return `${s} = ${w ? 'xchg32_32' : 'xchg_64'}(${addr}, ${s})`;
      if (imm === AtomicOp.cmpxchg) return `${reg(0, w)} = ${w ? 'cmpxchg32_32' : 'cmpxchg_64'}(${addr}, ${reg(0, w)}, ${s})`;
      break;
    }
    case Class.LD: {
      if (op === LD_IMM64) return ldImm64(i, llvm, mapIds);
      const size = sizeName(op);
      if (opMode(op) === Mode.ABS) return `r0 = *(${size} *)skb[${imm}]`;
      if (opMode(op) === Mode.IND) return `r0 = *(${size} *)skb[r${src}${imm !== 0 ? plusMinus(imm) : ''}]`;
      break;
    }
  }
  const b = encode([i]);
  return `.invalid ${hexAt(b, 0, b.length)}`;
}

/**
 * The text of one instruction, without a label suffix. Throws nothing: an instruction that is
 * not a valid encoding prints as `.invalid <hex>` (decode() rejects those before they get here).
 */
export function formatInstruction(i: Instruction, opts: FormatOptions = {}): string {
  return format(i, opts.style === 'llvm', opts.alu32 === true, opts.mapIds === true);
}

/** Slot index of every instruction, plus the total slot count at [n]. */
function slotStarts(insns: readonly Instruction[]): Int32Array {
  const n = insns.length, at = new Int32Array(n + 1);
  let s = 0;
  for (let k = 0; k < n; k++) {
    at[k] = s;
    s += insns[k]!.op === LD_IMM64 ? 2 : 1;
  }
  at[n] = s;
  return at;
}

/** Where each pc-relative instruction lands, as an instruction index (-1 if nowhere valid). */
function targets(insns: readonly Instruction[], at: Int32Array): Int32Array {
  const n = insns.length, total = at[n]!;
  const bySlot = new Int32Array(total).fill(-1);
  for (let k = 0; k < n; k++) bySlot[at[k]!] = k;
  const dest = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = insns[k]!;
    const field = branchField(i);
    let d = -1;
    if (field !== null) {
      const s = at[k]! + 1 + (field === 'off' ? i.off : i.imm);
      if (s >= 0 && s < total && (s | 0) === s) d = bySlot[s]!;
    }
    dest[k] = d;
  }
  return dest;
}

/** Label names by instruction: lists[ref[idx]] when ref[idx] >= 0. */
interface Names {
  readonly ref: Int32Array;
  readonly lists: string[][];
}

function addName(names: Names, idx: number, name: string): void {
  const r = names.ref[idx]!;
  if (r < 0) {
    names.ref[idx] = names.lists.length;
    names.lists.push([name]);
  } else names.lists[r]!.push(name);
}

/**
 * Names for jump targets. Given labels win, then each instruction's own `target`; the rest are
 * numbered like llvm's basic blocks (a block starts at 0, at every target and after every
 * jump or exit), so a clang-built program gets the names llvm-objdump shows.
 */
function nameTargets(insns: readonly Instruction[], dest: Int32Array, given: ReadonlyMap<string, number>): Names {
  const n = insns.length;
  const names: Names = { ref: new Int32Array(n).fill(-1), lists: [] };
  const { ref } = names;
  const taken = new Set(given.keys());
  // Map keys are distinct, and a name is only added to an instruction with none yet, so no
  // list ever needs a duplicate check. Labels past the end (or not at an index) name nothing.
  for (const [name, idx] of given) if (idx < n && idx >= 0 && Number.isInteger(idx)) addName(names, idx, name);
  for (let k = 0; k < n; k++) {
    const t = dest[k]!, target = insns[k]!.target;
    if (t >= 0 && target !== undefined && ref[t]! < 0 && !taken.has(target)) { addName(names, t, target); taken.add(target); }
  }
  // Block leaders, and each one's rank among them (the N of LBB0_N).
  const leader = new Uint8Array(n + 1);
  leader[0] = 1;
  for (let k = 0; k < n; k++) {
    const t = dest[k]!;
    if (t >= 0) leader[t] = 1;
    const op = insns[k]!.op, cls = opClass(op);
    if ((cls === Class.JMP || cls === Class.JMP32) && opCode(op) !== JmpOp.call && k + 1 < n) leader[k + 1] = 1;
  }
  const rank = new Int32Array(n);
  for (let k = 0, c = 0; k < n; k++) if (leader[k] !== 0) rank[k] = c++;
  // Unnamed targets in order of first appearance, so collisions get the same `_` suffixes.
  for (let k = 0; k < n; k++) {
    const t = dest[k]!;
    if (t < 0 || ref[t]! >= 0) continue;
    let name = `LBB0_${rank[t]!}`;
    while (taken.has(name)) name += '_';
    taken.add(name);
    addName(names, t, name);
  }
  return names;
}

/**
 * What listing() and disassemble() share: the program's slots, targets and label names, the
 * options unpacked, and render(), which leaves one instruction's pieces in its fields.
 */
class Lister {
  readonly insns: readonly Instruction[];
  readonly at: Int32Array;
  readonly dest: Int32Array | null = null;
  readonly names: Names | null = null;
  /** The encoded program (null unless a bytes column or ListingLine.bytes needs it). */
  readonly bytes: Uint8Array | null = null;
  /** spacedHex(bytes), for disassemble() with a bytes column. */
  readonly hex: string | null = null;
  readonly llvm: boolean;
  readonly alu32: boolean;
  readonly mapIds: boolean;
  readonly objdump: boolean;
  readonly index: boolean;
  readonly showBytes: boolean;
  readonly comments: boolean;
  readonly source: boolean;
  readonly idxWidth: number;
  // render()'s results.
  text = '';
  line = '';
  target: string | undefined = undefined;
  comment: string | undefined = undefined;
  src: string | undefined = undefined;

  constructor(code: Uint8Array | readonly Instruction[], opts: ListingOptions, needBytes: boolean) {
    const raw = code instanceof Uint8Array;
    const insns = raw ? decode(code) : code;
    this.insns = insns;
    this.at = slotStarts(insns);
    if (opts.labels !== false) {
      this.dest = targets(insns, this.at);
      this.names = nameTargets(insns, this.dest, opts.labels instanceof Map ? opts.labels : new Map());
    }
    this.llvm = opts.style === 'llvm';
    this.alu32 = opts.alu32 === true;
    this.mapIds = opts.mapIds === true;
    // llvm-objdump's columns (tab separated) in llvm style; aligned spaces otherwise.
    this.objdump = this.llvm && opts.index === true;
    this.index = Boolean(opts.index);
    this.showBytes = Boolean(opts.bytes);
    this.comments = opts.comments !== false;
    this.source = Boolean(opts.source);
    this.idxWidth = Math.max(4, String(Math.max(0, this.at[insns.length]! - 1)).length);
    // Raw input is what encode(decode(code)) would give back: copy it (lines hand out views of
    // it) rather than encode again; disassemble() only reads it.
    if (needBytes || this.showBytes) this.bytes = raw ? (needBytes ? new Uint8Array(code) : code) : encode(insns);
    if (!needBytes && this.showBytes) this.hex = spacedHex(this.bytes!);
  }

  /** The first label naming instruction k, and all of them (the list itself: do not change it). */
  labelsAt(k: number): readonly string[] | undefined {
    if (this.names === null) return undefined;
    const r = this.names.ref[k]!;
    return r < 0 ? undefined : this.names.lists[r];
  }

  /** The bytes of the instruction at slot `slot`, `n` slots long, as hex. */
  hexOf(slot: number, n: number): string {
    const len = n === 2 ? 2 * INSN_SIZE : INSN_SIZE;
    return this.hex !== null ? this.hex.substring(slot * 3 * INSN_SIZE, (slot * INSN_SIZE + len) * 3 - 1) : hexAt(this.bytes!, slot * INSN_SIZE, len);
  }

  render(k: number): void {
    const i = this.insns[k]!;
    let target: string | undefined;
    if (this.dest !== null) {
      const t = this.dest[k]!;
      const list = t >= 0 ? this.labelsAt(t) : undefined;
      if (list !== undefined) target = i.target !== undefined && list.includes(i.target) ? i.target : list[0];
    }
    const insnText = format(i, this.llvm, this.alu32, this.mapIds);
    const text = target !== undefined ? `${insnText} <${target}>` : insnText;
    const comment = this.comments ? i.comment : undefined;
    const source = this.source ? i.source : undefined;
    const slot = this.at[k]!;
    let prefix: string;
    if (this.objdump) {
      prefix = this.showBytes ? `${padNum(slot, 8)}:\t${this.hexOf(slot, this.at[k + 1]! - slot)}\t` : `${padNum(slot, 8)}:\t`;
    } else {
      // The column is as wide as an LD_IMM64's 16 bytes (47 characters), then two spaces.
      const col = !this.showBytes ? '' : this.at[k + 1]! - slot === 2 ? `${this.hexOf(slot, 2)}  ` : `${this.hexOf(slot, 1)}                          `;
      prefix = this.index ? `${padNum(slot, this.idxWidth)}: ${col}` : this.showBytes ? col : '  ';
    }
    let line = prefix + text;
    const hasComment = comment !== undefined && comment !== '';
    if (hasComment || source !== undefined) {
      const notes = !hasComment ? `@ ${source}` : source !== undefined ? `${comment ?? ''}  @ ${source}` : `${comment ?? ''}`;
      line = this.objdump ? `${line}\t# ${notes}` : `${prefix}${padEnd(text, 34)}  # ${notes}`;
    }
    this.text = text;
    this.line = line;
    this.target = target;
    this.comment = comment;
    this.src = source;
  }
}

/** The structured listing: one entry per instruction. Accepts instructions or raw bytes. */
export function listing(code: Uint8Array | readonly Instruction[], opts: ListingOptions = {}): ListingLine[] {
  const l = new Lister(code, opts, true);
  const { insns, at } = l, bytes = l.bytes!, n = insns.length;
  const out: ListingLine[] = [];
  for (let k = 0; k < n; k++) {
    l.render(k);
    const i = insns[k]!, slot = at[k]!, end = at[k + 1]!;
    const labels = l.labelsAt(k) ?? [];
    // Same keys in the same order as ever; the optional ones only when they have a value.
    const o = { index: k, slot, slots: end - slot === 2 ? 2 : 1, text: l.text, bytes: bytes.subarray(slot * INSN_SIZE, end * INSN_SIZE), labels } as Mutable<ListingLine>;
    if (labels[0] !== undefined) o.label = labels[0];
    if (l.target !== undefined) o.target = l.target;
    if (l.comment !== undefined) o.comment = l.comment;
    if (l.src !== undefined) o.source = l.src;
    o.insn = i;
    o.line = l.line;
    out.push(o);
  }
  return out;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The listing as text: label lines (`name:`) and one line per instruction, newline-terminated. */
export function disassemble(code: Uint8Array | readonly Instruction[], opts: ListingOptions = {}): string {
  const l = new Lister(code, opts, false);
  const n = l.insns.length;
  const symbols = opts.style === 'llvm' && Boolean(opts.index);
  // The text is built a few hundred lines at a time, each batch joined into one flat string
  // at once: the line strings (ropes of the pieces) then die young instead of all surviving
  // to the end, which made garbage collection most of the time.
  const chunks: string[] = [];
  const batch: string[] = [];
  for (let k = 0; k < n; k++) {
    const labels = l.labelsAt(k);
    if (labels !== undefined) {
      for (const name of labels) {
        batch.push(symbols ? `\n${(l.at[k]! * INSN_SIZE).toString(16).padStart(16, '0')} <${name}>:\n` : `${name}:\n`);
      }
    }
    l.render(k);
    batch.push(l.line, '\n');
    if (batch.length >= 1024) { chunks.push(batch.join('')); batch.length = 0; }
  }
  chunks.push(batch.join(''));
  return chunks.join('');
}
