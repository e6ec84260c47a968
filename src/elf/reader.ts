/**
 * readElf(): a clang/llc-built BPF object to the specs loadCollection takes.
 *
 *   1. file.ts checks the container: header, sections, symbols, relocations.
 *   2. maps.ts reads the maps ("maps", ".maps", global data).
 *   3. Each function symbol in an executable section other than .text is a program; .text
 *      holds the subprograms they call.
 *   4. Relocations: R_BPF_64_64 on an LD_IMM64 becomes a map reference (BPF_PSEUDO_MAP_FD, or
 *      BPF_PSEUDO_MAP_VALUE + offset into global data) or a function reference; R_BPF_64_32
 *      on a call names the callee. Each program gets every function it reaches appended once,
 *      and its calls patched to pc-relative offsets.
 *   5. .BTF.ext line info gives each instruction its C source line, and is passed on to the
 *      kernel with func info; CO-RE relocations are resolved against `coreTarget` (the running
 *      kernel's BTF, which the loader must pass: the reader reads no file) before anything is decoded (src/btf/core.ts).
 */
import { createHash } from 'node:crypto';
import { AsmError } from '../asm/errors.ts';
import { INSN_SIZE, decode, type Instruction } from '../asm/instruction.ts';
import { CallKind, Class, JmpOp, LD_IMM64, Pseudo } from '../asm/opcode.ts';
import { referencedMaps, type ProgramType } from '../asm/program.ts';
import { R_BPF, SHF, SHN_UNDEF, SHT, STT, relocationName } from './constants.ts';
import { ElfError } from './errors.ts';
import { parseElfFile, type ElfFile, type ElfRelocation, type ElfSection, type ElfSymbol } from './file.ts';
import { fixupDatasecs, parseBtf, type Btf } from './btf-maps.ts';
import { parseBtfExt, type BtfExt, type FuncInfo, type LineInfo } from './btf-ext.ts';
import { btfMaps, dataMap, dataSymbols, isDataSection, legacyMaps, objName } from './maps.ts';
import { sectionType, SECTION_NAMES } from './section-types.ts';
import type { CorePoison, ElfCollection, ElfMapSpec, ElfProgramSpec, ObjectBtf, ProgramBtfInfo } from './spec.ts';
import { decodeBtf, type Btf as TargetBtf } from '../btf/decode.ts';
import { decodeBtfExt } from '../btf/ext.ts';
import { coreRelocateSections } from '../btf/core.ts';
import { BtfError } from '../btf/errors.ts';

export interface ReadOptions {
  /** The type of every program, whatever its section says (bpftool's `type`, tc's `bpf`). */
  readonly type?: ProgramType;
  /** The type of programs in sections libbpf's table does not know ("ingress"); without it they are an error. */
  readonly defaultType?: ProgramType;
  /**
   * The object's name, as libbpf takes it from the file name ('btf_maps' for btf_maps.o):
   * global-data maps are then named as libbpf names them ('btf_maps.rodata'), else after
   * their section ('.rodata').
   */
  readonly objectName?: string;
  /**
   * The BTF CO-RE relocations resolve against, asked for only when the object has some; an
   * object with CO-RE relocations and no coreTarget is an ElfError. The reader is pure: a
   * loader for this machine passes runningKernelBtf (src/btf/kernel.ts).
   */
  readonly coreTarget?: () => TargetBtf;
}

/** A function in an executable section: a program entry or a subprogram. */
interface Func {
  readonly key: string;
  readonly name: string;
  readonly section: ElfSection;
  /** Byte range in the section. */
  readonly start: number;
  readonly end: number;
}

/** A function decoded and relocated, with the calls it makes still to be linked. */
interface Body {
  readonly insns: Instruction[];
  /** instruction index -> callee key */
  readonly calls: Map<number, string>;
}

// Copied once: under tsx an imported binding is a getter, and these run for every instruction.
const LDIMM64: number = LD_IMM64;
const CALL_OP: number = Class.JMP | JmpOp.call, CALL_LOCAL: number = CallKind.local, PSEUDO_FUNC: number = Pseudo.func;
const isCall = (i: Instruction) => i.op === CALL_OP && i.src === CALL_LOCAL;
const isFuncRef = (i: Instruction) => i.op === LDIMM64 && i.src === PSEUDO_FUNC;

/**
 * The object name libbpf takes from a file name ('btf_maps' for /x/btf_maps.o): what readers
 * of the same file pass as objectName, so global-data maps get the same names everywhere.
 */
export function objectNameOf(file: string): string {
  return (file.split('/').pop() ?? '').split('.')[0] ?? '';
}

/** Read an object's maps and programs. Throws ElfError for anything it cannot read. */
export function readElf(bytes: Uint8Array, opts: ReadOptions = {}): ElfCollection {
  const file = parseElfFile(bytes);
  return collectionOf(file, opts);
}

function cstr(section: ElfSection): string {
  const end = section.data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? section.data : section.data.subarray(0, end));
}

/**
 * The file with its CO-RE relocations applied: executable sections patched for the target
 * kernel, and the poisoned instructions with their reasons.
 */
function applyCore(file: ElfFile, opts: ReadOptions): { file: ElfFile; poisons: CorePoison[] } {
  const btfSec = file.sections.find((s) => s.name === '.BTF'), extSec = file.sections.find((s) => s.name === '.BTF.ext');
  if (!btfSec || !extSec || btfSec.type === SHT.NOBITS || extSec.type === SHT.NOBITS) return { file, poisons: [] };
  // No core_relo block in the header (hdr_len < 32, or core_relo_len 0): nothing to relocate,
  // and no reason to decode .BTF a second time with src/btf's codec.
  const x = extSec.data;
  if (x.length >= 32) {
    const v = new DataView(x.buffer, x.byteOffset, x.length);
    if (v.getUint32(4, true) < 32 || v.getUint32(28, true) === 0) return { file, poisons: [] };
  }
  try {
    const local = decodeBtf(btfSec.data);
    const ext = decodeBtfExt(extSec.data, local);
    const n = ext.coreRelo.reduce((a, x) => a + x.records.length, 0);
    if (n === 0) return { file, poisons: [] };
    if (!opts.coreTarget) throw new ElfError(`this object has CO-RE relocations (${n}): pass coreTarget (e.g. runningKernelBtf()) to relocate them for a kernel`, { section: '.BTF.ext' });
    const sections = new Map(file.sections.filter((s) => s.flags & SHF.EXECINSTR).map((s) => [s.name, s.data]));
    const done = coreRelocateSections(local, ext, sections, opts.coreTarget());
    const poisons: CorePoison[] = [];
    for (const [section, results] of done.results) for (const r of results) if (r.poison) poisons.push({ section, insn: r.insn, reason: r.poison });
    const patched = file.sections.map((s) => (done.sections.has(s.name) ? { ...s, data: done.sections.get(s.name)! } : s));
    return { file: { ...file, sections: patched }, poisons };
  } catch (e) {
    if (e instanceof BtfError) throw new ElfError(`CO-RE: ${e.message}`, { section: '.BTF.ext' });
    throw e;
  }
}

export function collectionOf(input: ElfFile, opts: ReadOptions = {}): ElfCollection {
  const { file, poisons } = applyCore(input, opts);
  const byName = new Map(file.sections.map((s) => [s.name, s]));
  const objectId = createHash('sha1').update(file.bytes).digest('hex');

  const licenseSec = byName.get('license');
  const license = licenseSec ? cstr(licenseSec) : '';
  let kernelVersion: number | undefined;
  const versionSec = byName.get('version');
  if (versionSec) {
    if (versionSec.size !== 4) throw new ElfError(`wrong size: ${versionSec.size} bytes, a kernel version is a u32 (4)`, { section: 'version', offset: 0 });
    if (versionSec.type !== SHT.NOBITS) kernelVersion = new DataView(versionSec.data.buffer, versionSec.data.byteOffset, 4).getUint32(0, true);
  }

  const btfSec = byName.get('.BTF');
  const btf = btfSec && btfSec.type !== SHT.NOBITS ? parseBtf(btfSec.data) : undefined;
  const extSec = byName.get('.BTF.ext');
  const ext = btf && extSec && extSec.type !== SHT.NOBITS ? parseBtfExt(extSec.data, btf.strings) : undefined;

  // Maps, and which map each symbol names (by section index and offset).
  const maps: ElfMapSpec[] = [];
  const mapAt = new Map<string, ElfMapSpec>();
  const dataMaps = new Map<number, ElfMapSpec>();
  for (const s of file.sections) {
    let found: ElfMapSpec[] | undefined;
    if (s.name === 'maps') found = legacyMaps(file, s, objectId);
    else if (s.name === '.maps') found = btfMaps(file, s, btf);
    if (found) {
      const syms = new Map(dataSymbols(file, s).map((x) => [x.name, x]));
      for (const m of found) mapAt.set(`${s.index}:${syms.get(m.symbol)!.value}`, m);
      maps.push(...found);
    } else if (isDataSection(s)) {
      const m = dataMap(s, opts.objectName);
      dataMaps.set(s.index, m);
      maps.push(m);
    }
  }
  const names = new Set<string>();
  for (const m of maps) {
    if (names.has(m.name)) throw new ElfError(`two maps are named '${m.name}' (map names are cut to 15 characters)`, { section: m.section });
    names.add(m.name);
  }

  // Functions: every STT_FUNC symbol in an executable section.
  const funcs = new Map<string, Func>();
  const funcsBySection = new Map<number, Func[]>();
  for (const s of file.sections) {
    if (s.type !== SHT.PROGBITS || !(s.flags & SHF.EXECINSTR)) continue;
    if (s.size % INSN_SIZE) throw new ElfError(`size ${s.size} is not a whole number of 8-byte instructions`, { section: s.name, offset: s.size - (s.size % INSN_SIZE) });
    const syms = file.symbols.filter((x) => x.shndx === s.index && x.type === STT.FUNC).sort((a, b) => a.value - b.value);
    const list: Func[] = [];
    if (syms.length === 0 && s.size > 0 && s.name !== '.text') {
      // llc without symbols: the whole section is one program, named after it.
      list.push({ key: `${s.index}:0`, name: s.name, section: s, start: 0, end: s.size });
    }
    syms.forEach((sym, i) => {
      if (sym.value % INSN_SIZE || sym.value >= s.size) throw new ElfError(`function '${sym.name}' at ${sym.value} is not an instruction inside the section (${s.size} bytes)`, { section: s.name, offset: sym.value });
      const next = syms[i + 1]?.value ?? s.size;
      const end = sym.size ? sym.value + sym.size : next;
      if (end > s.size || end <= sym.value || end % INSN_SIZE) {
        throw new ElfError(`function '${sym.name}' [${sym.value}, ${end}) does not fit the section (${s.size} bytes)`, { section: s.name, offset: sym.value });
      }
      if (end > next) throw new ElfError(`function '${sym.name}' [${sym.value}, ${end}) overlaps '${syms[i + 1]!.name}' at ${next}`, { section: s.name, offset: next });
      const key = `${s.index}:${sym.value}`;
      if (funcs.has(key)) return; // an alias at the same address
      list.push({ key, name: sym.name, section: s, start: sym.value, end });
    });
    for (const f of list) funcs.set(f.key, f);
    funcsBySection.set(s.index, list);
  }

  const lines = lineTable(ext, btf);
  const bodies = new Map<string, Body>();
  const bodyOf = (f: Func): Body => {
    let b = bodies.get(f.key);
    if (!b) bodies.set(f.key, (b = relocate(file, f, funcs, mapAt, dataMaps, lines)));
    return b;
  };

  const programs: ElfProgramSpec[] = [];
  for (const [index, list] of funcsBySection) {
    const section = file.sections[index]!;
    if (section.name === '.text') continue;
    for (const f of list) programs.push(linkProgram(f, funcs, bodyOf, { opts, license, kernelVersion, ext, section }));
  }
  const progNames = new Set<string>();
  for (const p of programs) {
    if (progNames.has(p.name)) throw new ElfError(`two programs are named '${p.name}' (program names are cut to 15 characters)`, { section: p.section });
    progNames.add(p.name);
  }

  const fixed = btf && btfSec
    ? fixupDatasecs(btfSec.data, btf, (n) => byName.get(n)?.size, (sec, sym) => {
      const s = byName.get(sec);
      return s ? file.symbols.find((x) => x.shndx === s.index && x.name === sym)?.value : undefined;
    })
    : undefined;
  const withBtf = fixed ? programs.map((p) => (p.btfInfo ? { ...p, objectBtf: encodeBtfInfo(fixed, p.btfInfo) } : p)) : programs;
  return {
    maps, programs: withBtf, license, objectId, ...(kernelVersion !== undefined ? { kernelVersion } : {}), ...(fixed ? { btf: fixed } : {}),
    ...(poisons.length ? { corePoisons: poisons } : {}),
  };
}

/** func_info and line_info in the kernel's record layouts (8 and 16 bytes, little-endian). */
function encodeBtfInfo(btf: Uint8Array, info: ProgramBtfInfo): ObjectBtf {
  const funcInfo = new Uint8Array(info.funcInfo.length * 8), lineInfo = new Uint8Array(info.lineInfo.length * 16);
  const fv = new DataView(funcInfo.buffer), lv = new DataView(lineInfo.buffer);
  info.funcInfo.forEach((f, k) => { fv.setUint32(k * 8, f.insnOff, true); fv.setUint32(k * 8 + 4, f.typeId, true); });
  info.lineInfo.forEach((l, k) => {
    lv.setUint32(k * 16, l.insnOff, true); lv.setUint32(k * 16 + 4, l.fileNameOff, true);
    lv.setUint32(k * 16 + 8, l.lineOff, true); lv.setUint32(k * 16 + 12, l.lineCol, true);
  });
  return { btf, funcInfo, funcInfoCount: info.funcInfo.length, lineInfo, lineInfoCount: info.lineInfo.length };
}

/** "file.c:line" for a byte offset in a section, from .BTF.ext line info. */
type Lines = (section: string, off: number) => string | undefined;

const noLines: Lines = () => undefined;

function lineTable(ext: BtfExt | undefined, btf: Btf | undefined): Lines {
  if (!ext || !btf) return noLines;
  const tables = new Map<string, { off: number; where: string }[]>();
  for (const [sec, list] of ext.lineInfo) {
    tables.set(sec, list.map((l) => {
      const file = btf.strings(l.fileNameOff).split('/').pop() ?? '';
      return { off: l.insnOff, where: `${file}:${l.lineCol >>> 10}` };
    }).sort((a, b) => a.off - b.off));
  }
  return (sec, off) => {
    const t = tables.get(sec);
    if (!t) return undefined;
    let lo = 0, hi = t.length - 1, best: string | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (t[mid]!.off <= off) { best = t[mid]!.where; lo = mid + 1; } else hi = mid - 1;
    }
    return best;
  };
}

function decodeFunc(f: Func): Instruction[] {
  try {
    return decode(f.section.data.subarray(f.start, f.end));
  } catch (e) {
    if (e instanceof AsmError) throw new ElfError(`function '${f.name}': ${e.reason}`, { section: f.section.name, offset: f.start + (e.index ?? 0) * INSN_SIZE });
    throw e;
  }
}

/** The function that starts at a byte offset of a section, or an ElfError naming what was called. */
function funcAt(funcs: ReadonlyMap<string, Func>, section: ElfSection, off: number, what: string, where: { section: string; offset: number }): Func {
  const f = funcs.get(`${section.index}:${off}`);
  if (!f) throw new ElfError(`${what}: no function starts at offset ${off} of section '${section.name}' (a call to a missing function)`, where);
  return f;
}

/** Decode one function and apply its relocations; calls are left for linkProgram. */
function relocate(file: ElfFile, f: Func, funcs: ReadonlyMap<string, Func>, mapAt: ReadonlyMap<string, ElfMapSpec>,
  dataMaps: ReadonlyMap<number, ElfMapSpec>, lines: Lines): Body {
  const raw = decodeFunc(f);
  const sec = f.section;
  // slot -> instruction index
  // slot -> instruction index (-1 inside an LD_IMM64), and back
  const indexAt = new Int32Array((f.end - f.start) / INSN_SIZE).fill(-1);
  const slotAt = new Int32Array(raw.length);
  let slot = 0;
  for (let n = 0; n < raw.length; n++) { indexAt[slot] = n; slotAt[n] = slot; slot += raw[n]!.op === LDIMM64 ? 2 : 1; }
  const insns: Instruction[] = raw;
  if (lines !== noLines) {
    for (let n = 0; n < raw.length; n++) {
      const src = lines(sec.name, f.start + slotAt[n]! * INSN_SIZE);
      if (src) insns[n] = { ...raw[n]!, source: src };
    }
  }
  const calls = new Map<number, string>();
  const relocs = (file.relocations.get(sec.index) ?? []).filter((r) => r.offset >= f.start && r.offset < f.end);
  const relocated = new Set<number>();
  for (const r of relocs) {
    const where = { section: sec.name, offset: r.offset };
    if (r.type === R_BPF.NONE) continue;
    if ((r.offset - f.start) % INSN_SIZE) throw new ElfError(`${relocationName(r.type)} at 0x${r.offset.toString(16)} is not on an instruction boundary`, where);
    const n = indexAt[(r.offset - f.start) / INSN_SIZE]!;
    if (n < 0) throw new ElfError(`${relocationName(r.type)} at 0x${r.offset.toString(16)} points into the second half of an LD_IMM64`, where);
    const insn = insns[n]!;
    const sym = file.symbols[r.symbol]!;
    relocated.add(n);
    if (r.type === R_BPF['64_64']) {
      if (insn.op !== LDIMM64) throw new ElfError(`R_BPF_64_64 against '${sym.name}' applies to opcode 0x${insn.op.toString(16)}, not an LD_IMM64`, where);
      insns[n] = ldImm64Reloc(file, insn, sym, r, f, funcs, mapAt, dataMaps, calls, n);
    } else if (r.type === R_BPF['64_32']) {
      if (!isCall(insn)) throw new ElfError(`R_BPF_64_32 against '${sym.name}' applies to an instruction that is not a bpf-to-bpf call (opcode 0x${insn.op.toString(16)}, src ${insn.src})`, where);
      const target = symbolSection(file, sym, where, 'call');
      if (!(target.flags & SHF.EXECINSTR)) throw new ElfError(`call to '${sym.name}', which is in section '${target.name}', not in code`, where);
      const off = sym.value + (insn.imm + 1) * INSN_SIZE;
      calls.set(n, funcAt(funcs, target, off, `call to '${sym.type === STT.SECTION ? `${target.name}+${off}` : sym.name}'`, where).key);
    } else {
      throw new ElfError(`relocation ${relocationName(r.type)} against '${sym.name}' is not supported in code (only R_BPF_64_64 on LD_IMM64 and R_BPF_64_32 on calls)`, where);
    }
  }
  // Calls and function references resolved by the compiler, within this section.
  insns.forEach((i, n) => {
    if (relocated.has(n) || !(isCall(i) || isFuncRef(i))) return;
    const off = f.start + (slotAt[n]! + 1 + i.imm) * INSN_SIZE;
    const where = { section: sec.name, offset: f.start + slotAt[n]! * INSN_SIZE };
    // Inside its own body: a subprogram the compiler (or our writer) kept in one function.
    if (off >= f.start && off < f.end) return;
    calls.set(n, funcAt(funcs, sec, off, `call at instruction ${slotAt[n]!} of '${f.name}'`, where).key);
  });
  return { insns, calls };
}


function symbolSection(file: ElfFile, sym: ElfSymbol, where: { section: string; offset: number }, what: string): ElfSection {
  if (sym.shndx === SHN_UNDEF) {
    throw new ElfError(`${what} of '${sym.name}', which is not defined in this object (an extern: __kconfig, __ksym and linking several objects are not supported yet)`, where);
  }
  const s = file.sections[sym.shndx];
  if (!s) throw new ElfError(`symbol '${sym.name}' is in section ${sym.shndx}, which does not exist`, where);
  return s;
}

function ldImm64Reloc(file: ElfFile, insn: Instruction, sym: ElfSymbol, r: ElfRelocation, f: Func, funcs: ReadonlyMap<string, Func>,
  mapAt: ReadonlyMap<string, ElfMapSpec>, dataMaps: ReadonlyMap<number, ElfMapSpec>, calls: Map<number, string>, n: number): Instruction {
  const where = { section: f.section.name, offset: r.offset };
  const target = symbolSection(file, sym, where, 'reference');
  if (target.name === 'maps' || target.name === '.maps') {
    const m = mapAt.get(`${target.index}:${sym.value + insn.imm}`) ?? mapAt.get(`${target.index}:${sym.value}`);
    if (!m) throw new ElfError(`reference to '${sym.name}' at offset ${sym.value + insn.imm} of '${target.name}', where no map is defined`, where);
    return { ...insn, src: Pseudo.map_fd, imm: 0, imm2: 0, map: m };
  }
  const data = dataMaps.get(target.index);
  if (data) {
    const off = sym.value + insn.imm;
    if (off < 0 || off > target.size) throw new ElfError(`reference to '${sym.name}' + ${insn.imm} is outside '${target.name}' (${target.size} bytes)`, where);
    return { ...insn, src: Pseudo.map_value, imm: 0, imm2: off, map: data };
  }
  if (target.flags & SHF.EXECINSTR) {
    const off = sym.value + (sym.type === STT.SECTION ? insn.imm : 0);
    calls.set(n, funcAt(funcs, target, off, `reference to function '${sym.name}'`, where).key);
    return { ...insn, src: Pseudo.func, imm: 0, imm2: 0 };
  }
  throw new ElfError(`LD_IMM64 refers to '${sym.name}' in section '${target.name}', which is neither a map, global data nor code`, where);
}

interface LinkContext {
  readonly opts: ReadOptions;
  readonly license: string;
  readonly kernelVersion: number | undefined;
  readonly ext: BtfExt | undefined;
  readonly section: ElfSection;
}

/** The entry function followed by every function it reaches, each once; calls patched to offsets. */
function linkProgram(entry: Func, funcs: ReadonlyMap<string, Func>, bodyOf: (f: Func) => Body, ctx: LinkContext): ElfProgramSpec {
  const order: Func[] = [entry];
  const seen = new Set([entry.key]);
  for (let k = 0; k < order.length; k++) {
    for (const callee of bodyOf(order[k]!).calls.values()) {
      if (!seen.has(callee)) { seen.add(callee); order.push(funcs.get(callee)!); }
    }
  }
  // Callees in the order they sit in the object, so that writing and reading again keeps the layout.
  const callees = order.slice(1).sort((a, b) => a.section.index - b.section.index || a.start - b.start);
  order.splice(1, order.length - 1, ...callees);
  const startSlot = new Map<string, number>();
  const startIndex = new Map<string, number>();
  let slots = 0, count = 0;
  for (const f of order) {
    startSlot.set(f.key, slots);
    startIndex.set(f.key, count);
    for (const i of bodyOf(f).insns) slots += i.op === LDIMM64 ? 2 : 1;
    count += bodyOf(f).insns.length;
  }
  const insns: Instruction[] = [];
  const labels = new Map<string, number>();
  const funcInfo: FuncInfo[] = [], lineInfo: LineInfo[] = [];
  for (const f of order) {
    const body = bodyOf(f);
    const base = startSlot.get(f.key)!;
    labels.set(f.name, startIndex.get(f.key)!);
    let slot = base;
    body.insns.forEach((i, n) => {
      const callee = body.calls.get(n);
      if (callee === undefined) insns.push(i);
      else {
        const to = funcs.get(callee)!;
        insns.push({ ...i, imm: startSlot.get(callee)! - slot - 1, target: to.name });
      }
      slot += i.op === LDIMM64 ? 2 : 1;
    });
    if (ctx.ext) {
      const inRange = <T extends { insnOff: number }>(xs: readonly T[] | undefined) => (xs ?? []).filter((x) => x.insnOff >= f.start && x.insnOff < f.end)
        .map((x) => ({ ...x, insnOff: base + (x.insnOff - f.start) / INSN_SIZE }));
      funcInfo.push(...inRange(ctx.ext.funcInfo.get(f.section.name)));
      lineInfo.push(...inRange(ctx.ext.lineInfo.get(f.section.name)));
    }
  }
  const known = sectionType(ctx.section.name);
  let type: ProgramType, typeSource: ElfProgramSpec['typeSource'];
  if (ctx.opts.type) { type = ctx.opts.type; typeSource = 'explicit'; }
  else if (known) { type = known.type; typeSource = 'section'; }
  else if (ctx.opts.defaultType) { type = ctx.opts.defaultType; typeSource = 'default'; }
  else {
    throw new ElfError(`the section name does not say the program type of '${entry.name}' (libbpf knows ${SECTION_NAMES.slice(0, 8).join(', ')}, …): ` +
      'pass the type (--type sched_cls, as tc loads any section)', { section: ctx.section.name, offset: entry.start });
  }
  const sameType = !ctx.opts.type || ctx.opts.type === known?.type;
  const attach = sameType ? known?.expectedAttachType : undefined;
  return {
    name: objName(entry.name), symbol: entry.name, type, typeSource, license: ctx.license, section: ctx.section.name,
    ...(attach ? { expectedAttachType: attach } : {}),
    ...(known?.attachTo !== undefined ? { attachTo: known.attachTo } : {}),
    flags: sameType ? known?.flags ?? 0 : 0, needsAttachBtf: sameType ? known?.needsAttachBtf ?? false : false,
    ...(ctx.kernelVersion !== undefined ? { kernelVersion: ctx.kernelVersion } : {}),
    insns, labels, maps: referencedMaps(insns), callees: order.slice(1).map((f) => f.name),
    ...(ctx.ext && (funcInfo.length || lineInfo.length) ? { btfInfo: { funcInfo, lineInfo } } : {}),
  };
}
