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
import { INSN_SIZE, decode, encode, imm64, slots, type Instruction } from './instruction.ts';
import { branchField, slotIndex } from './link.ts';
import {
  AluOp, AtomicOp, CallKind, Class, JmpOp, LD_IMM64, Mode, Pseudo, Source, SIZE_BYTES,
  opClass, opCode, opMode, opSource, sizeName,
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

const reg = (n: number, w = false): string => `${w ? 'w' : 'r'}${n}`;
/** `+3` / `-3` / `+0`: how llvm prints a pc-relative offset. */
const rel = (n: number): string => (n < 0 ? `${n}` : `+${n}`);
/** `(r10 - 8)`, `(r1 + 0)` */
const mem = (base: number, off: number): string => `(r${base} ${off < 0 ? '-' : '+'} ${Math.abs(off)})`;
const plusMinus = (v: number): string => (v < 0 ? ` - ${-v}` : ` + ${v}`);

const ALU_OPS: Readonly<Record<number, string>> = {
  [AluOp.add]: '+=', [AluOp.sub]: '-=', [AluOp.mul]: '*=', [AluOp.div]: '/=', [AluOp.or]: '|=',
  [AluOp.and]: '&=', [AluOp.lsh]: '<<=', [AluOp.rsh]: '>>=', [AluOp.mod]: '%=', [AluOp.xor]: '^=',
  [AluOp.arsh]: 's>>=',
};
const JMP_OPS: Readonly<Record<number, string>> = {
  [JmpOp.jeq]: '==', [JmpOp.jne]: '!=', [JmpOp.jgt]: '>', [JmpOp.jge]: '>=', [JmpOp.jlt]: '<',
  [JmpOp.jle]: '<=', [JmpOp.jsgt]: 's>', [JmpOp.jsge]: 's>=', [JmpOp.jslt]: 's<', [JmpOp.jsle]: 's<=',
  [JmpOp.jset]: '&',
};
const ATOMIC_ALU: Readonly<Record<number, string>> = {
  [AtomicOp.add]: '+=', [AtomicOp.or]: '|=', [AtomicOp.and]: '&=', [AtomicOp.xor]: '^=',
};
const ATOMIC_FETCH: Readonly<Record<number, string>> = {
  [AtomicOp.fetch_add]: 'add', [AtomicOp.fetch_or]: 'or', [AtomicOp.fetch_and]: 'and', [AtomicOp.fetch_xor]: 'xor',
};

/** `r1 = <rhs> ll` for each LD_IMM64 source kind; see docs/listing.md. */
function ldImm64(i: Instruction, style: ListingStyle): string {
  const d = reg(i.dst), imm2 = i.imm2 ?? 0;
  if (i.src === Pseudo.imm) return `${d} = ${BigInt.asIntN(64, imm64(i))} ll`;
  const generic = `ld_pseudo ${d}, ${i.src}, ${i.imm}${imm2 !== 0 ? `, ${imm2}` : ''}`;
  if (style === 'llvm') return generic;
  const mapName = i.map && i.imm === 0 ? i.map.name : undefined;
  switch (i.src) {
    case Pseudo.map_fd: return imm2 === 0 ? `${d} = map[${mapName ?? `fd:${i.imm}`}] ll` : generic;
    case Pseudo.map_value: return `${d} = map[${mapName ?? `fd:${i.imm}`}][0]${imm2 !== 0 ? plusMinus(imm2) : ''} ll`;
    case Pseudo.btf_id: return `${d} = btf_id(${i.imm}${imm2 !== 0 ? `, ${imm2}` : ''}) ll`;
    case Pseudo.func: return imm2 === 0 ? `${d} = func(${rel(i.imm)}) ll` : generic;
    case Pseudo.map_idx: return imm2 === 0 ? `${d} = map[idx:${i.imm}] ll` : generic;
    case Pseudo.map_idx_value: return `${d} = map[idx:${i.imm}][0]${imm2 !== 0 ? plusMinus(imm2) : ''} ll`;
  }
  return generic;
}

/**
 * The text of one instruction, without a label suffix. Throws nothing: an instruction that is
 * not a valid encoding prints as `.invalid <hex>` (decode() rejects those before they get here).
 */
export function formatInstruction(i: Instruction, opts: FormatOptions = {}): string {
  const style = opts.style ?? 'tsbpf';
  const { op, dst, src, off, imm } = i;
  const cls = opClass(op);
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const w = cls === Class.ALU, code = opCode(op), x = opSource(op) === Source.X;
      const d = reg(dst, w);
      if (code === AluOp.neg) return `${d} = -${d}`;
      if (code === AluOp.end) {
        const kind = cls === Class.ALU64 ? 'bswap' : x ? 'be' : 'le';
        return `${reg(dst)} = ${kind}${imm} ${reg(dst)}`;
      }
      const rhs = x ? reg(src, w) : `${imm}`;
      if (code === AluOp.mov) return x && off !== 0 ? `${d} = (s${off})${rhs}` : `${d} = ${rhs}`;
      const sym = ALU_OPS[code];
      if (sym === undefined) break;
      return `${d} ${off === 1 ? 's' : ''}${sym} ${rhs}`;
    }
    case Class.JMP:
    case Class.JMP32: {
      const code = opCode(op), w = cls === Class.JMP32;
      if (code === JmpOp.exit) return 'exit';
      if (code === JmpOp.ja) return w ? `gotol ${rel(imm)}` : `goto ${rel(off)}`;
      if (code === JmpOp.call) {
        if (src === CallKind.local) return `call pc${rel(imm)}`;
        if (src === CallKind.kfunc) return `call kfunc(${imm}${off !== 0 ? `, ${off}` : ''})`;
        const name = style === 'llvm' ? undefined : helperName(imm);
        return name ? `call ${name}#${imm}` : `call ${imm}`;
      }
      const sym = JMP_OPS[code];
      if (sym === undefined) break;
      const x = opSource(op) === Source.X;
      const rhs = x ? reg(src, w) : code === JmpOp.jset ? (imm < 0 ? `-0x${(-imm).toString(16)}` : `0x${imm.toString(16)}`) : `${imm}`;
      return `if ${reg(dst, w)} ${sym} ${rhs} goto ${rel(off)}`;
    }
    case Class.LDX: {
      const size = sizeName(op);
      if (opMode(op) === Mode.MEMSX) return `${reg(dst)} = *(s${SIZE_BYTES[size] * 8} *)${mem(src, off)}`;
      return `${reg(dst, opts.alu32 === true && size !== 'u64')} = *(${size} *)${mem(src, off)}`;
    }
    case Class.ST:
      return `*(${sizeName(op)} *)${mem(dst, off)} = ${imm}`;
    case Class.STX: {
      const size = sizeName(op);
      if (opMode(op) !== Mode.ATOMIC) return `*(${size} *)${mem(dst, off)} = ${reg(src, opts.alu32 === true && size !== 'u64')}`;
      const w = size === 'u32', s = reg(src, w);
      const alu = ATOMIC_ALU[imm];
      if (alu !== undefined) return `lock *(${size} *)${mem(dst, off)} ${alu} ${s}`;
      const fetch = ATOMIC_FETCH[imm];
      if (fetch !== undefined) return `${s} = atomic_fetch_${fetch}((${size} *)${mem(dst, off)}, ${s})`;
      const addr = `r${dst} ${off < 0 ? '-' : '+'} ${Math.abs(off)}`;
      if (imm === AtomicOp.xchg) return `${s} = ${w ? 'xchg32_32' : 'xchg_64'}(${addr}, ${s})`;
      if (imm === AtomicOp.cmpxchg) return `${reg(0, w)} = ${w ? 'cmpxchg32_32' : 'cmpxchg_64'}(${addr}, ${reg(0, w)}, ${s})`;
      break;
    }
    case Class.LD: {
      if (op === LD_IMM64) return ldImm64(i, style);
      const size = sizeName(op);
      if (opMode(op) === Mode.ABS) return `r0 = *(${size} *)skb[${imm}]`;
      if (opMode(op) === Mode.IND) return `r0 = *(${size} *)skb[r${src}${imm !== 0 ? plusMinus(imm) : ''}]`;
      break;
    }
  }
  return `.invalid ${Array.from(encode([i]), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

/** Where each pc-relative instruction lands, as an instruction index (undefined if nowhere valid). */
function targets(insns: readonly Instruction[]): (number | undefined)[] {
  const at = slotIndex(insns);
  const bySlot = new Map<number, number>();
  at.slice(0, insns.length).forEach((s, idx) => bySlot.set(s, idx));
  return insns.map((i, idx) => {
    const field = branchField(i);
    return field === null ? undefined : bySlot.get(at[idx]! + 1 + i[field]);
  });
}

/**
 * Names for jump targets. Given labels win, then each instruction's own `target`; the rest are
 * numbered like llvm's basic blocks (a block starts at 0, at every target and after every
 * jump or exit), so a clang-built program gets the names llvm-objdump shows.
 */
function nameTargets(insns: readonly Instruction[], dest: readonly (number | undefined)[], given: ReadonlyMap<string, number>): Map<number, string[]> {
  const names = new Map<number, string[]>();
  const add = (idx: number, name: string): void => {
    const list = names.get(idx) ?? [];
    if (!list.includes(name)) list.push(name);
    names.set(idx, list);
  };
  const taken = new Set(given.keys());
  for (const [name, idx] of given) if (idx < insns.length) add(idx, name);
  insns.forEach((i, idx) => {
    const t = dest[idx];
    if (t !== undefined && i.target !== undefined && !names.has(t) && !taken.has(i.target)) { add(t, i.target); taken.add(i.target); }
  });
  const leaders = new Set<number>([0]);
  insns.forEach((i, idx) => {
    const t = dest[idx];
    if (t !== undefined) leaders.add(t);
    const cls = opClass(i.op);
    if ((cls === Class.JMP || cls === Class.JMP32) && opCode(i.op) !== JmpOp.call && idx + 1 < insns.length) leaders.add(idx + 1);
  });
  const order = [...leaders].sort((a, b) => a - b);
  for (const t of new Set(dest)) {
    if (t === undefined || names.has(t)) continue;
    let name = `LBB0_${order.indexOf(t)}`;
    while (taken.has(name)) name += '_';
    taken.add(name);
    add(t, name);
  }
  return names;
}

const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** The structured listing: one entry per instruction. Accepts instructions or raw bytes. */
export function listing(code: Uint8Array | readonly Instruction[], opts: ListingOptions = {}): ListingLine[] {
  const insns = code instanceof Uint8Array ? decode(code) : code;
  const style = opts.style ?? 'tsbpf';
  const useLabels = opts.labels !== false;
  const dest = targets(insns);
  const names = useLabels ? nameTargets(insns, dest, opts.labels instanceof Map ? opts.labels : new Map()) : new Map<number, string[]>();
  const at = slotIndex(insns);
  const total = at[insns.length]!;
  const idxWidth = Math.max(4, String(Math.max(0, total - 1)).length);
  const showComments = opts.comments !== false;
  return insns.map((i, idx) => {
    const t = dest[idx];
    const tname = t !== undefined ? names.get(t)?.[0] : undefined;
    const target = tname !== undefined && i.target !== undefined && names.get(t!)!.includes(i.target) ? i.target : tname;
    const text = formatInstruction(i, opts) + (target !== undefined ? ` <${target}>` : '');
    const bytes = encode([i]);
    const comment = showComments ? i.comment : undefined;
    const source = opts.source ? i.source : undefined;
    // llvm-objdump's columns (tab separated) in llvm style; aligned spaces otherwise.
    const objdump = style === 'llvm' && opts.index === true;
    let prefix = '';
    if (objdump) prefix = `${String(at[idx]).padStart(8)}:\t${opts.bytes ? hexBytes(bytes) + '\t' : ''}`;
    else {
      if (opts.index) prefix += `${String(at[idx]).padStart(idxWidth)}: `;
      else if (!opts.bytes) prefix += '  ';
      if (opts.bytes) prefix += hexBytes(bytes).padEnd(2 * INSN_SIZE * 3 - 1) + '  ';
    }
    let line = prefix + text;
    const notes = [comment, source !== undefined ? `@ ${source}` : undefined].filter((x) => x !== undefined && x !== '');
    if (notes.length) line = `${objdump ? line + '\t' : prefix + text.padEnd(34) + '  '}# ${notes.join('  ')}`;
    const labels = names.get(idx) ?? [];
    return {
      index: idx, slot: at[idx]!, slots: slots(i), text, bytes, labels,
      ...(labels[0] !== undefined ? { label: labels[0] } : {}),
      ...(target !== undefined ? { target } : {}),
      ...(comment !== undefined ? { comment } : {}),
      ...(source !== undefined ? { source } : {}),
      insn: i, line,
    };
  });
}

/** The listing as text: label lines (`name:`) and one line per instruction, newline-terminated. */
export function disassemble(code: Uint8Array | readonly Instruction[], opts: ListingOptions = {}): string {
  const out: string[] = [];
  for (const l of listing(code, opts)) {
    for (const name of l.labels) {
      if (opts.style === 'llvm' && opts.index) out.push('', `${(l.slot * INSN_SIZE).toString(16).padStart(16, '0')} <${name}>:`);
      else out.push(`${name}:`);
    }
    out.push(l.line);
  }
  return out.length ? out.join('\n') + '\n' : '';
}
