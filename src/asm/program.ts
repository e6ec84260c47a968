/**
 * The DSL: `program(spec, (b) => { … })` builds a ProgramSpec. One builder call makes one
 * instruction; labels are names resolved by link() when the builder finishes. Each
 * instruction records the TypeScript line that emitted it, so errors and listings can point
 * back at the source.
 */
import * as alu from './alu.ts';
import { atomic } from './atomic.ts';
import { call, callLocal, kfunc } from './call.ts';
import { AsmError } from './errors.ts';
import type { Instruction, MapRef } from './instruction.ts';
import { ja, gotol, jcond, exit, type Target } from './jump.ts';
import * as imm64 from './ld-imm64.ts';
import { link } from './link.ts';
import * as mem from './memory.ts';
import type { AtomicOpName, BinaryAluOp, CondJump, SizeName } from './opcode.ts';
import type { Register } from './register.ts';
import type { ProgramType } from './program-type.ts';
import type { Field } from './headers.ts';
import { findSourceMap, type SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

export type { ProgramType } from './program-type.ts';

export interface ProgramOptions {
  /** Up to 15 characters, [A-Za-z0-9_.] (the kernel's BPF_OBJ_NAME_LEN). */
  readonly name: string;
  readonly type: ProgramType;
  /** 'GPL' (or compatible) unlocks GPL-only helpers. */
  readonly license?: string;
  readonly expectedAttachType?: string;
}

export interface ProgramSpec extends ProgramOptions {
  readonly license: string;
  readonly insns: readonly Instruction[];
  /** label -> index of the instruction it marks */
  readonly labels: ReadonlyMap<string, number>;
  /** the maps the program references, in order of first use */
  readonly maps: readonly MapRef[];
}

/** What every builder call returns: lets the caller attach a listing comment. */
export interface Emitted {
  comment(text: string): Emitted;
}

const HERE = new URL('.', import.meta.url).pathname;
const sourceMaps = new Map<string, SourceMap | undefined>();

/** The line in the file as written: under tsx the stack sees transformed code, so map it back. */
function originalLine(file: string, line: number, column: number): number {
  if (!sourceMaps.has(file)) sourceMaps.set(file, findSourceMap(file));
  const entry = sourceMaps.get(file)?.findEntry(line - 1, column - 1);
  return entry && 'originalLine' in entry ? entry.originalLine + 1 : line;
}

/**
 * The first stack frame outside src/asm: the DSL line that asked for this instruction. Reads
 * structured call sites instead of formatting a stack string, which is what made building a
 * program slow (tens of microseconds per instruction).
 */
function callerLine(): string | undefined {
  const prepare = Error.prepareStackTrace, limit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_e, sites) => sites;
  Error.stackTraceLimit = 10;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  Error.captureStackTrace(holder, callerLine);
  const sites = holder.stack ?? [];
  Error.prepareStackTrace = prepare;
  Error.stackTraceLimit = limit;
  for (const site of sites) {
    const name = site.getFileName();
    if (!name || name.startsWith('node:')) continue;
    const file = name.startsWith('file://') ? fileURLToPath(name) : name;
    if (file.startsWith(HERE) || file.includes('/node_modules/')) continue;
    const line = originalLine(name, site.getLineNumber() ?? 0, site.getColumnNumber() ?? 0);
    const rel = file.startsWith(process.cwd() + '/') ? file.slice(process.cwd().length + 1) : file;
    return `${rel}:${line}`;
  }
  return undefined;
}

export class Builder {
  readonly insns: Instruction[] = [];
  readonly labels = new Map<string, number>();
  /** where each label was defined, for errors about the label itself */
  private readonly labelSources = new Map<string, string | undefined>();
  private lastLabel: string | undefined;
  private readonly trackSource: boolean;

  constructor(opts: { trackSource?: boolean } = {}) {
    this.trackSource = opts.trackSource ?? true;
  }

  /** Append an instruction made by `make`, with its origin attached to any error it throws. */
  private push(make: () => Instruction): Emitted {
    const source = this.trackSource ? callerLine() : undefined;
    let insn: Instruction;
    try {
      insn = make();
    } catch (e) {
      if (e instanceof AsmError && e.index === undefined) throw new AsmError(e.reason, { index: this.insns.length, label: this.lastLabel, source });
      throw e;
    }
    const idx = this.insns.length;
    this.insns.push(source ? { ...insn, source } : insn);
    const emitted: Emitted = {
      comment: (text: string) => {
        this.insns[idx] = { ...this.insns[idx]!, comment: text };
        return emitted;
      },
    };
    return emitted;
  }

  /** Append an instruction built elsewhere (e.g. by the constructors in alu.ts). */
  emit(insn: Instruction): Emitted {
    return this.push(() => insn);
  }

  /** Name the next instruction. */
  label(name: string): this {
    const source = callerLine();
    const origin = { index: this.insns.length, label: this.lastLabel, source };
    if (!/^[A-Za-z_.$][\w.$]*$/.test(name)) throw new AsmError(`invalid label name ${JSON.stringify(name)}`, origin);
    if (this.labels.has(name)) throw new AsmError(`duplicate label '${name}' (first defined before instruction ${this.labels.get(name)})`, origin);
    this.labels.set(name, this.insns.length);
    this.labelSources.set(name, source);
    this.lastLabel = name;
    return this;
  }

  // ALU64 and ALU (32-bit: names end in 32, operate on the w view of a register)
  add(d: Register, s: Register | number) { return this.push(() => alu.alu('add', 64, d, s)); }
  sub(d: Register, s: Register | number) { return this.push(() => alu.alu('sub', 64, d, s)); }
  mul(d: Register, s: Register | number) { return this.push(() => alu.alu('mul', 64, d, s)); }
  div(d: Register, s: Register | number) { return this.push(() => alu.alu('div', 64, d, s)); }
  sdiv(d: Register, s: Register | number) { return this.push(() => alu.alu('sdiv', 64, d, s)); }
  mod(d: Register, s: Register | number) { return this.push(() => alu.alu('mod', 64, d, s)); }
  smod(d: Register, s: Register | number) { return this.push(() => alu.alu('smod', 64, d, s)); }
  or(d: Register, s: Register | number) { return this.push(() => alu.alu('or', 64, d, s)); }
  and(d: Register, s: Register | number) { return this.push(() => alu.alu('and', 64, d, s)); }
  xor(d: Register, s: Register | number) { return this.push(() => alu.alu('xor', 64, d, s)); }
  lsh(d: Register, s: Register | number) { return this.push(() => alu.alu('lsh', 64, d, s)); }
  rsh(d: Register, s: Register | number) { return this.push(() => alu.alu('rsh', 64, d, s)); }
  arsh(d: Register, s: Register | number) { return this.push(() => alu.alu('arsh', 64, d, s)); }
  mov(d: Register, s: Register | number) { return this.push(() => alu.alu('mov', 64, d, s)); }
  add32(d: Register, s: Register | number) { return this.push(() => alu.alu('add', 32, d, s)); }
  sub32(d: Register, s: Register | number) { return this.push(() => alu.alu('sub', 32, d, s)); }
  mul32(d: Register, s: Register | number) { return this.push(() => alu.alu('mul', 32, d, s)); }
  div32(d: Register, s: Register | number) { return this.push(() => alu.alu('div', 32, d, s)); }
  sdiv32(d: Register, s: Register | number) { return this.push(() => alu.alu('sdiv', 32, d, s)); }
  mod32(d: Register, s: Register | number) { return this.push(() => alu.alu('mod', 32, d, s)); }
  smod32(d: Register, s: Register | number) { return this.push(() => alu.alu('smod', 32, d, s)); }
  or32(d: Register, s: Register | number) { return this.push(() => alu.alu('or', 32, d, s)); }
  and32(d: Register, s: Register | number) { return this.push(() => alu.alu('and', 32, d, s)); }
  xor32(d: Register, s: Register | number) { return this.push(() => alu.alu('xor', 32, d, s)); }
  lsh32(d: Register, s: Register | number) { return this.push(() => alu.alu('lsh', 32, d, s)); }
  rsh32(d: Register, s: Register | number) { return this.push(() => alu.alu('rsh', 32, d, s)); }
  arsh32(d: Register, s: Register | number) { return this.push(() => alu.alu('arsh', 32, d, s)); }
  mov32(d: Register, s: Register | number) { return this.push(() => alu.alu('mov', 32, d, s)); }
  /** Any two-operand ALU op by name, for generated code. */
  alu(op: BinaryAluOp, width: 32 | 64, d: Register, s: Register | number) { return this.push(() => alu.alu(op, width, d, s)); }
  neg(d: Register) { return this.push(() => alu.neg(64, d)); }
  neg32(d: Register) { return this.push(() => alu.neg(32, d)); }
  movsx(d: Register, s: Register, bits: 8 | 16 | 32) { return this.push(() => alu.movsx(64, d, s, bits)); }
  movsx32(d: Register, s: Register, bits: 8 | 16) { return this.push(() => alu.movsx(32, d, s, bits)); }
  le(d: Register, bits: 16 | 32 | 64) { return this.push(() => alu.endian('le', d, bits)); }
  be(d: Register, bits: 16 | 32 | 64) { return this.push(() => alu.endian('be', d, bits)); }
  bswap(d: Register, bits: 16 | 32 | 64) { return this.push(() => alu.endian('bswap', d, bits)); }

  // memory
  ldx(size: SizeName, d: Register, base: Register, off: number) { return this.push(() => mem.ldx(size, d, base, off)); }
  ldxsx(size: SizeName, d: Register, base: Register, off: number) { return this.push(() => mem.ldxsx(size, d, base, off)); }
  stx(size: SizeName, base: Register, off: number, s: Register) { return this.push(() => mem.stx(size, base, off, s)); }
  st(size: SizeName, base: Register, off: number, imm: number) { return this.push(() => mem.st(size, base, off, imm)); }
  /** dst = the header field at base + baseOff + field.off, with the field's own size. */
  ldField(d: Register, base: Register, field: Field, baseOff = 0) { return this.push(() => mem.ldx(field.size, d, base, baseOff + field.off)); }
  ldAbs(size: SizeName, imm: number) { return this.push(() => mem.ldAbs(size, imm)); }
  ldInd(size: SizeName, s: Register, imm: number) { return this.push(() => mem.ldInd(size, s, imm)); }
  atomic(op: AtomicOpName, size: 'u32' | 'u64', base: Register, off: number, s: Register) { return this.push(() => atomic(op, size, base, off, s)); }

  // 64-bit immediates
  ld64(d: Register, v: bigint | number) { return this.push(() => imm64.ld64(d, v)); }
  ldMap(d: Register, map: MapRef | number) { return this.push(() => imm64.ldMap(d, map)); }
  ldMapValue(d: Register, map: MapRef | number, off = 0) { return this.push(() => imm64.ldMapValue(d, map, off)); }
  ldBtfId(d: Register, id: number) { return this.push(() => imm64.ldBtfId(d, id)); }
  ldFunc(d: Register, t: Target) { return this.push(() => imm64.ldFunc(d, t)); }
  ldMapIdx(d: Register, idx: number) { return this.push(() => imm64.ldMapIdx(d, idx)); }
  ldMapIdxValue(d: Register, idx: number, off = 0) { return this.push(() => imm64.ldMapIdxValue(d, idx, off)); }

  // jumps
  ja(t: Target) { return this.push(() => ja(t)); }
  gotol(t: Target) { return this.push(() => gotol(t)); }
  /** Any conditional jump by name, for generated code. */
  jump(op: CondJump, width: 32 | 64, d: Register, s: Register | number, t: Target) { return this.push(() => jcond(op, width, d, s, t)); }
  jeq(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jeq', 64, d, s, t)); }
  jne(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jne', 64, d, s, t)); }
  jgt(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jgt', 64, d, s, t)); }
  jge(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jge', 64, d, s, t)); }
  jlt(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jlt', 64, d, s, t)); }
  jle(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jle', 64, d, s, t)); }
  jsgt(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jsgt', 64, d, s, t)); }
  jsge(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jsge', 64, d, s, t)); }
  jslt(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jslt', 64, d, s, t)); }
  jsle(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jsle', 64, d, s, t)); }
  jset(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jset', 64, d, s, t)); }
  jeq32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jeq', 32, d, s, t)); }
  jne32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jne', 32, d, s, t)); }
  jgt32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jgt', 32, d, s, t)); }
  jge32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jge', 32, d, s, t)); }
  jlt32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jlt', 32, d, s, t)); }
  jle32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jle', 32, d, s, t)); }
  jsgt32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jsgt', 32, d, s, t)); }
  jsge32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jsge', 32, d, s, t)); }
  jslt32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jslt', 32, d, s, t)); }
  jsle32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jsle', 32, d, s, t)); }
  jset32(d: Register, s: Register | number, t: Target) { return this.push(() => jcond('jset', 32, d, s, t)); }

  // calls
  /** Call a helper by name ('ktime_get_ns' or 'bpf_ktime_get_ns') or id. */
  call(helper: string | number) { return this.push(() => call(helper)); }
  /** A bpf-to-bpf call to the subprogram at a label. */
  callLocal(t: Target) { return this.push(() => callLocal(t)); }
  kfunc(btfId: number, moduleFdIndex = 0) { return this.push(() => kfunc(btfId, moduleFdIndex)); }
  exit() { return this.push(() => exit()); }

  /** Resolve labels and return the finished instructions. */
  link(): Instruction[] {
    for (const [name, at] of this.labels) {
      if (at >= this.insns.length) {
        throw new AsmError(`label '${name}' marks no instruction (it is at the end of the program)`, { index: at, label: name, source: this.labelSources.get(name) });
      }
    }
    return link(this.insns, this.labels);
  }
}

/** Collect the distinct maps referenced by LD_IMM64 instructions, in order of first use. */
export function referencedMaps(insns: readonly Instruction[]): MapRef[] {
  const seen = new Set<MapRef>();
  for (const i of insns) if (i.map) seen.add(i.map);
  return [...seen];
}

/** Build a program with the DSL. */
export function program(opts: ProgramOptions, build: (b: Builder) => void): ProgramSpec {
  if (!/^[A-Za-z0-9_.]{0,15}$/.test(opts.name)) {
    throw new AsmError(`program name ${JSON.stringify(opts.name)} must be at most 15 characters of [A-Za-z0-9_.]`);
  }
  const b = new Builder();
  build(b);
  if (b.insns.length === 0) throw new AsmError(`program '${opts.name}' has no instructions`);
  const insns = b.link();
  return { ...opts, license: opts.license ?? 'GPL', insns, labels: b.labels, maps: referencedMaps(insns) };
}

