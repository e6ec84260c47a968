/**
 * Listings in the ubpf / bpf_conformance dialect: the printer that pairs with dialect-ubpf.ts,
 * so `assemble(disassembleUbpf(x), { dialect: 'ubpf' })` gives back the same bytes. The
 * spelling follows bpf_conformance's own disassembler (src/bpf_disassembler.cc):
 *
 *   mov32 %r0, 1          add %r1, %r2          neg32 %r1        le16 %r1  be64 %r1  bswap32 %r1
 *   sdiv %r1, 7           movsx832 %r1, %r2     (bits of the source, then of the result)
 *   ldxdw %r2, [%r10-8]   ldxsb %r0, [%r1]      stw [%r10-4], 5   stxdw [%r10-8], %r1
 *   lock add32 [%r10-4], %r1   lock fetch or [%r10-8], %r1   lock xchg [%r10-8], %r1
 *   lddw %r1, 0x1122334455667788   ldabsw 12   ldindb %r1, 4
 *   jne %r1, -5, +1       jeq32 %r1, %r2, fail  ja +1   ja32 +1   call 5   call local +1   exit
 *
 * Immediates print as bpf_conformance prints them: small and negative ones in decimal, the rest
 * as unsigned hex (0xffffff80 in a 64-bit operation is -128 sign-extended, as in the assembler).
 *
 * The dialect has no spelling for LD_IMM64 with a pseudo source (map, BTF id, func...), nor for
 * a kfunc's module index: formatUbpf() throws an AsmError for those and for every kfunc call
 * (the assembler reads bpf_conformance's `call runtime N`, but a listing that printed it for
 * some kfuncs and not others would read oddly), ubpfUnsupported() says why first. Mnemonics
 * come from the opcode table's `ubpf` column.
 */
import { AsmError } from './errors.ts';
import { encode, imm64, invalidReason, type Instruction } from './instruction.ts';
import { branchField, slotIndex } from './link.ts';
import {
  CallKind, Class, JmpOp, LD_IMM64, Pseudo, Size, Source, opClass, opSize, opSource, opcodeRow, sizeName,
  type SizeName,
} from './opcode.ts';

export interface UbpfListingOptions {
  /** Prefix each instruction with its slot index (`   4: `), as bpf_conformance does. Default false. */
  readonly index?: boolean;
  /**
   * Jump, ja32 and local-call targets as labels (`jne %r0, 15, fail` with `fail:` lines), the
   * way the .data vectors are written. Default true. Names come from this map (label ->
   * instruction index, as in ProgramSpec.labels), then each instruction's `target`; the rest
   * are `L<slot>`. With false, pc-relative offsets (`+3`).
   */
  readonly labels?: boolean | ReadonlyMap<string, number>;
  /** Instruction comments as `# text`. Default true. */
  readonly comments?: boolean;
}

const reg = (n: number): string => `%r${n}`;
const rel = (n: number): string => (n < 0 ? `${n}` : `+${n}`);

/** bpf_conformance's _format_imm: decimal when negative or small, else unsigned hex. */
function immText(v: number): string {
  if ((v < 0 && v !== -0x80000000) || (v >= -10 && v <= 10)) return `${v}`;
  return `0x${(v >>> 0).toString(16)}`;
}

/** `[%r10-8]`, `[%r1]`, `[%r1+76]` */
const memText = (base: number, off: number): string => `[${reg(base)}${off === 0 ? '' : off > 0 ? `+${off}` : `${off}`}]`;

/** The size suffix of memory mnemonics (ldxw, stxdw, ldabsh). */
export const UBPF_SIZE_SUFFIX: Readonly<Record<SizeName, string>> = { u8: 'b', u16: 'h', u32: 'w', u64: 'dw' };

/**
 * Why an instruction has no ubpf spelling, or null when it has one. Invalid encodings have
 * none either (their reason comes from invalidReason()).
 */
export function ubpfUnsupported(i: Instruction): string | null {
  const invalid = invalidReason(i);
  if (invalid) return invalid;
  if (i.op === LD_IMM64 && i.src !== Pseudo.imm) {
    return `LD_IMM64 with pseudo source ${i.src} (map, BTF id, func...) has no ubpf spelling: use the llvm dialect`;
  }
  if (i.op === (Class.JMP | JmpOp.call) && i.src === CallKind.kfunc) return 'a kfunc call has no ubpf spelling: use the llvm dialect';
  return null;
}

/**
 * The ubpf text of one instruction; `target` (a label name) replaces the pc-relative offset of
 * a jump, ja32 or local call. Throws an AsmError for what the dialect cannot express.
 */
export function formatUbpf(i: Instruction, target?: string): string {
  const why = ubpfUnsupported(i);
  if (why) throw new AsmError(`cannot print ${Array.from(encode([i]), (b) => b.toString(16).padStart(2, '0')).join(' ')} in the ubpf dialect: ${why}`);
  const { op, dst, src, off, imm } = i;
  const to = (n: number): string => target ?? rel(n);
  // ubpfUnsupported() passed, so the instruction is valid and its row exists.
  const row = opcodeRow(i)!;
  const cls = opClass(op);
  const w = cls === Class.ALU || cls === Class.JMP32 ? '32' : '';
  const size = UBPF_SIZE_SUFFIX[sizeName(op)];
  switch (row.form) {
    case 'binary': return `${row.ubpf}${w} ${reg(dst)}, ${opSource(op) === Source.X ? reg(src) : immText(imm)}`;
    case 'unary': return `${row.ubpf}${w} ${reg(dst)}`;
    case 'movsx': return `${row.ubpf}${w || '64'} ${reg(dst)}, ${reg(src)}`;
    case 'endian': return `${row.ubpf}${imm} ${reg(dst)}`;
    case 'jcond': return `${row.ubpf}${w} ${reg(dst)}, ${opSource(op) === Source.X ? reg(src) : immText(imm)}, ${to(off)}`;
    case 'ja': return `${row.ubpf} ${to(off)}`;
    case 'gotol': return `${row.ubpf} ${to(imm)}`;
    case 'call': return src === CallKind.local ? `${row.ubpf} ${to(imm)}` : `${row.ubpf} ${immText(imm)}`;
    case 'exit': return row.ubpf;
    case 'ldx': case 'ldxsx': return `${row.ubpf}${size} ${reg(dst)}, ${memText(src, off)}`;
    case 'st': return `${row.ubpf}${size} ${memText(dst, off)}, ${immText(imm)}`;
    case 'stx': return `${row.ubpf}${size} ${memText(dst, off)}, ${reg(src)}`;
    case 'atomic': case 'fetch': case 'xchg': case 'cmpxchg':
      return `lock ${row.ubpf}${opSize(op) === Size.u32 ? '32' : ''} ${memText(dst, off)}, ${reg(src)}`;
    case 'ld_imm64': return `${row.ubpf} ${reg(dst)}, 0x${BigInt.asUintN(64, imm64(i)).toString(16)}`;
    // ldabs/ldind: the assembler reads a signed 32-bit offset here, so no unsigned hex.
    case 'ld_abs': return `${row.ubpf}${size} ${imm}`;
    case 'ld_ind': return `${row.ubpf}${size} ${reg(src)}, ${imm}`;
  }
}

/**
 * A whole program in the ubpf dialect, newline-terminated: label lines (`fail:`) and one line
 * per instruction. Throws an AsmError naming the first instruction the dialect cannot express.
 */
export function disassembleUbpf(insns: readonly Instruction[], opts: UbpfListingOptions = {}): string {
  const at = slotIndex(insns);
  const bySlot = new Map<number, number>();
  insns.forEach((_, idx) => bySlot.set(at[idx]!, idx));
  const dest = insns.map((i, idx) => {
    const field = branchField(i);
    return field === null ? undefined : bySlot.get(at[idx]! + 1 + i[field]);
  });
  const names = new Map<number, string[]>();
  if (opts.labels !== false) {
    const taken = new Set<string>();
    const add = (idx: number, name: string): void => {
      if (taken.has(name)) return;
      taken.add(name);
      names.set(idx, [...(names.get(idx) ?? []), name]);
    };
    if (opts.labels instanceof Map) for (const [name, idx] of opts.labels) if (idx < insns.length) add(idx, name);
    insns.forEach((i, idx) => { const t = dest[idx]; if (t !== undefined && i.target !== undefined && !names.has(t)) add(t, i.target); });
    for (const t of dest) {
      if (t === undefined || names.has(t)) continue;
      let name = `L${at[t]}`;
      while (taken.has(name)) name += '_';
      add(t, name);
    }
  }
  const width = Math.max(4, String(Math.max(0, at[insns.length]! - 1)).length);
  const out: string[] = [];
  insns.forEach((i, idx) => {
    for (const name of names.get(idx) ?? []) out.push(`${name}:`);
    const t = dest[idx];
    const list = t !== undefined ? names.get(t) : undefined;
    // Prefer the instruction's own label name when the target has several.
    const target = list && (i.target !== undefined && list.includes(i.target) ? i.target : list[0]);
    let text: string;
    try {
      text = formatUbpf(i, target);
    } catch (e) {
      if (e instanceof AsmError) throw new AsmError(e.reason, { index: idx, ...(i.source !== undefined ? { source: i.source } : {}) });
      throw e;
    }
    const prefix = opts.index ? `${String(at[idx]).padStart(width)}: ` : '';
    const comment = opts.comments !== false && i.comment ? `  # ${i.comment}` : '';
    out.push(prefix + text + comment);
  });
  return out.length ? out.join('\n') + '\n' : '';
}
