/**
 * toElf(): a collection of DSL programs and maps to a relocatable BPF object that clang could
 * have written, so that llvm-objdump disassembles it and libbpf (bpftool prog loadall, Debian
 * 12's tc) loads it:
 *   - each program is a global function in a section its type names ('tc', 'xdp', 'socket'…);
 *     programs of one section share it, as in libbpf's multi-program sections;
 *   - subprograms (targets of bpf-to-bpf calls and function references) go to .text, once per
 *     distinct body, reached through R_BPF_64_32 (calls) and R_BPF_64_64 (references);
 *   - maps are BTF-defined in .maps (with a minimal .BTF, btf-writer.ts), except global data
 *     (ElfMapSpec origin 'data', or a one-entry array a program takes a value address of), which
 *     becomes a .data/.rodata/.bss section;
 *   - map references are R_BPF_64_64 relocations on LD_IMM64, as clang emits them.
 */
import { encode, type Instruction } from '../asm/instruction.ts';
import { CallKind, Class, JmpOp, LD_IMM64, Pseudo, opClass, opCode } from '../asm/opcode.ts';
import type { ProgramSpec } from '../asm/program.ts';
import { specEntries, type CollectionSpec } from '../asm/collection-spec.ts';
import type { MapSpec } from '../asm/map-spec.ts';
import type { MapRef } from '../asm/instruction.ts';
import { isMapSpec } from '../asm/map-spec.ts';
import { EM_BPF, R_BPF, SHF, SHT, STB, STT } from './constants.ts';
import { btfForMaps } from './btf-writer.ts';
import { mapTypeNumber } from './map-types.ts';
import { sectionFor } from './section-types.ts';
import type { ElfMapSpec, ElfProgramSpec } from './spec.ts';

export interface WriteOptions {
  /** The license section; default: the programs' license (they must agree), else 'GPL'. */
  readonly license?: string;
  /** A `version` section (LINUX_VERSION_CODE), for kprobes on old kernels. */
  readonly kernelVersion?: number;
  /** Section name per program name, overriding the one its type implies. */
  readonly sections?: Readonly<Record<string, string>>;
}

/** A program or map the writer cannot express as an object libbpf reads. */
export class ElfWriteError extends Error {
  override name = 'ElfWriteError';
  readonly object: string;
  constructor(object: string, reason: string) {
    super(`${object}: ${reason}`);
    this.object = object;
  }
}

const isCall = (i: Instruction) => opClass(i.op) === Class.JMP && opCode(i.op) === JmpOp.call && i.src === CallKind.local;
const isFuncRef = (i: Instruction) => i.op === LD_IMM64 && i.src === Pseudo.func;
const slotsOf = (i: Instruction) => (i.op === LD_IMM64 ? 2 : 1);

interface Piece {
  readonly name: string;
  readonly insns: Instruction[];
  /** instruction index -> name of the function it calls or references */
  readonly calls: Map<number, string>;
}

/** Split a linked program into its entry and subprograms at the targets of local calls and function references. */
function split(p: ProgramSpec): { entry: Piece; subs: Piece[] } {
  const at: number[] = [];
  let s = 0;
  for (const i of p.insns) { at.push(s); s += slotsOf(i); }
  const indexOfSlot = new Map(at.map((slot, n) => [slot, n]));
  const labelAt = new Map<number, string>();
  for (const [name, n] of p.labels) if (!labelAt.has(n)) labelAt.set(n, name);
  const starts = new Set<number>();
  const targetOf = (n: number): number => {
    const i = p.insns[n]!;
    const dest = at[n]! + 1 + i.imm;
    const t = indexOfSlot.get(dest);
    if (t === undefined) throw new ElfWriteError(`program '${p.name}'`, `instruction ${n} calls slot ${dest}, which does not start an instruction`);
    return t;
  };
  p.insns.forEach((i, n) => { if (isCall(i) || isFuncRef(i)) starts.add(targetOf(n)); });
  if (starts.has(0)) throw new ElfWriteError(`program '${p.name}'`, 'calls its own entry (recursion is not allowed in BPF)');
  const bounds = [0, ...[...starts].sort((a, b) => a - b), p.insns.length];
  const pieces: Piece[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const from = bounds[k]!, to = bounds[k + 1]!;
    const name = k === 0 ? '' : labelAt.get(from) ?? `${p.name}_sub${k}`;
    const calls = new Map<number, string>();
    const insns = p.insns.slice(from, to).map((i, off) => {
      if (!(isCall(i) || isFuncRef(i))) return i;
      const t = targetOf(from + off);
      calls.set(off, labelAt.get(t) ?? `${p.name}_sub${bounds.indexOf(t)}`);
      return i;
    });
    pieces.push({ name, insns, calls });
  }
  return { entry: pieces[0]!, subs: pieces.slice(1) };
}

class Strtab {
  private readonly parts: Uint8Array[] = [new Uint8Array(1)];
  private readonly offs = new Map<string, number>([['', 0]]);
  private len = 1;
  add(s: string): number {
    let o = this.offs.get(s);
    if (o === undefined) {
      const b = new TextEncoder().encode(s + '\0');
      o = this.len;
      this.offs.set(s, o);
      this.parts.push(b);
      this.len += b.length;
    }
    return o;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.len);
    let p = 0;
    for (const b of this.parts) { out.set(b, p); p += b.length; }
    return out;
  }
}

interface OutSection {
  name: string;
  type: number;
  flags: number;
  data: Uint8Array;
  /** NOBITS size */
  size?: number;
  link?: number;
  info?: number;
  align: number;
  entsize?: number;
}

interface OutSymbol { name: string; bind: number; type: number; shndx: number; value: number; size: number }
interface OutReloc { offset: number; symbol: string; type: number }

/** Whether a map is written as a global-data section rather than a .maps definition. */
function dataSectionName(m: MapSpec, valueRefs: ReadonlySet<string>): string | undefined {
  const e = m as Partial<ElfMapSpec>;
  if (e.origin === 'data' && e.section) return e.section;
  if (!valueRefs.has(m.name)) return undefined;
  if (m.type !== 'array' || m.keySize !== 4 || m.maxEntries !== 1) {
    throw new ElfWriteError(`map '${m.name}'`, 'a program takes the address of a value in it (ldMapValue), which an object can only express for global data: ' +
      'a one-entry array with 4-byte keys');
  }
  return `.data.${m.name}`;
}

/** The object file for a collection. */
export function toElf(spec: CollectionSpec, opts: WriteOptions = {}): Uint8Array {
  const programs = specEntries<ProgramSpec>(spec.programs).map(([, p]) => p);
  if (programs.length === 0) throw new ElfWriteError('collection', 'has no programs to write');
  // Maps: the listed ones, then any full spec a program references.
  const maps = new Map<string, MapSpec>();
  for (const [, m] of specEntries<MapSpec>(spec.maps)) maps.set(m.name, m);
  for (const p of programs) for (const ref of p.maps) {
    if (maps.has(ref.name)) continue;
    if (!isMapSpec(ref)) throw new ElfWriteError(`map '${ref.name}'`, `program '${p.name}' references it, but it is neither in the collection's maps nor a full MapSpec`);
    maps.set(ref.name, ref);
  }
  const valueRefs = new Set<string>();
  for (const p of programs) for (const i of p.insns) if (i.map && i.src === Pseudo.map_value) valueRefs.add(i.map.name);

  const licenses = new Set(programs.map((p) => p.license));
  if (!opts.license && licenses.size > 1) throw new ElfWriteError('collection', `programs disagree on the license (${[...licenses].join(', ')}); an object has one: pass { license }`);
  const license = opts.license ?? programs[0]!.license ?? 'GPL';

  const sections: OutSection[] = [{ name: '', type: SHT.NULL, flags: 0, data: new Uint8Array(0), align: 0 }];
  const secIndex = new Map<string, number>();
  const addSection = (s: OutSection): number => { sections.push(s); return sections.length - 1; };
  const locals: OutSymbol[] = [], globals: OutSymbol[] = [];
  const relocs = new Map<number, OutReloc[]>();

  // .text: distinct subprogram bodies, each once.
  const textPieces: { piece: Piece; symbol: string; offset: number; key: string }[] = [];
  const perProgram = programs.map((p) => {
    const { entry, subs } = split(p);
    const rename = new Map<string, string>();
    for (const sub of subs) {
      const key = `${sub.name}|${hex(encode(sub.insns))}|${sub.insns.map((i) => i.map?.name ?? '').join(',')}|${[...sub.calls.values()].join(',')}`;
      const same = textPieces.find((t) => t.key === key);
      if (same) { rename.set(sub.name, same.symbol); continue; }
      const clash = textPieces.some((t) => t.symbol === sub.name) || programs.some((q) => symbolOf(q) === sub.name);
      const symbol = clash ? `${p.name}__${sub.name}` : sub.name;
      rename.set(sub.name, symbol);
      textPieces.push({ piece: sub, symbol, offset: 0, key });
    }
    return { p, entry, subs, rename };
  });
  // Calls inside a subprogram name the program-local label: resolve them to .text symbols.
  const subRename = new Map<Piece, Map<string, string>>();
  for (const pp of perProgram) for (const s of pp.subs) subRename.set(s, pp.rename);
  let textSize = 0;
  for (const t of textPieces) { t.offset = textSize; textSize += encode(t.piece.insns).length; }

  const code = (pieces: readonly { piece: Piece; offset: number; rename: ReadonlyMap<string, string> }[], sectionIdx: number): Uint8Array => {
    const parts: Uint8Array[] = [];
    const list = relocs.get(sectionIdx) ?? [];
    for (const { piece, offset, rename } of pieces) {
      let slot = 0;
      const insns = piece.insns.map((i, n) => {
        const at = offset + slot * 8;
        slot += slotsOf(i);
        const callee = piece.calls.get(n);
        if (callee !== undefined) {
          const sym = rename.get(callee) ?? callee;
          if (isCall(i)) {
            list.push({ offset: at, symbol: sym, type: R_BPF['64_32'] });
            return { ...i, imm: -1 };
          }
          // A function's address: against the .text section symbol, the byte offset in imm, as
          // clang writes it (libbpf takes no other form for LD_IMM64 of a subprogram).
          const t = textPieces.find((x) => x.symbol === sym);
          if (!t) throw new ElfWriteError(`function '${sym}'`, 'is referenced but was not written to .text');
          list.push({ offset: at, symbol: '.text', type: R_BPF['64_64'] });
          return { ...i, imm: t.offset, imm2: 0 };
        }
        if (i.map) return mapReloc(i, at, list);
        return i;
      });
      parts.push(encode(insns));
    }
    relocs.set(sectionIdx, list);
    return concat(parts);
  };
  const dataSymbolOf = new Map<string, string>();
  const mapReloc = (i: Instruction, at: number, list: OutReloc[]): Instruction => {
    const m = i.map as MapRef;
    const dataSym = dataSymbolOf.get(m.name);
    if (dataSym !== undefined) {
      list.push({ offset: at, symbol: dataSym, type: R_BPF['64_64'] });
      // The offset into the section travels in the first imm, as clang writes it.
      return { ...i, src: 0, imm: i.src === Pseudo.map_value ? i.imm2 ?? 0 : 0, imm2: 0 };
    }
    if (i.src === Pseudo.map_value) throw new ElfWriteError(`map '${m.name}'`, 'value references need a data section');
    list.push({ offset: at, symbol: `map:${m.name}`, type: R_BPF['64_64'] });
    return { ...i, src: 0, imm: 0, imm2: 0 };
  };

  const strtab = addSection({ name: '.strtab', type: SHT.STRTAB, flags: 0, data: new Uint8Array(0), align: 1 });
  // data sections first, so that code can refer to their symbols
  const dataMaps: [MapSpec, string][] = [];
  const btfMaps: MapSpec[] = [];
  for (const m of maps.values()) {
    const sec = dataSectionName(m, valueRefs);
    if (sec) dataMaps.push([m, sec]); else btfMaps.push(m);
  }
  let textIdx = -1;
  if (textPieces.length) {
    textIdx = addSection({ name: '.text', type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.EXECINSTR, data: new Uint8Array(0), align: 8 });
    locals.push({ name: '.text', bind: STB.LOCAL, type: STT.SECTION, shndx: textIdx, value: 0, size: 0 });
    for (const t of textPieces) locals.push({ name: t.symbol, bind: STB.LOCAL, type: STT.FUNC, shndx: textIdx, value: t.offset, size: encode(t.piece.insns).length });
  }
  for (const [m, sec] of dataMaps) {
    const e = m as Partial<ElfMapSpec>;
    const bss = sec.startsWith('.bss');
    const idx = addSection({
      name: sec, type: bss ? SHT.NOBITS : SHT.PROGBITS, flags: SHF.ALLOC | (sec.startsWith('.rodata') ? 0 : SHF.WRITE),
      data: bss ? new Uint8Array(0) : padTo(e.contents ?? new Uint8Array(0), m.valueSize), size: m.valueSize, align: 8,
    });
    secIndex.set(sec, idx);
    locals.push({ name: sec, bind: STB.LOCAL, type: STT.SECTION, shndx: idx, value: 0, size: 0 });
    dataSymbolOf.set(m.name, sec);
  }
  // program sections, grouped by name in first-use order
  const groups = new Map<string, typeof perProgram>();
  for (const pp of perProgram) {
    const sec = opts.sections?.[pp.p.name] ?? (pp.p as Partial<ElfProgramSpec>).section ?? sectionFor(pp.p.type, pp.p.expectedAttachType);
    if (!sec) throw new ElfWriteError(`program '${pp.p.name}'`, `no libbpf section name for type '${pp.p.type}'${pp.p.expectedAttachType ? ` and attach type '${pp.p.expectedAttachType}'` : ''}: pass { sections: { ${pp.p.name}: '…' } }`);
    if (sec === '.text') throw new ElfWriteError(`program '${pp.p.name}'`, 'a program cannot live in .text (libbpf reads .text as subprograms)');
    groups.set(sec, [...(groups.get(sec) ?? []), pp]);
  }
  const progSections: { idx: number; list: { piece: Piece; offset: number; rename: ReadonlyMap<string, string>; p: ProgramSpec }[] }[] = [];
  for (const [sec, list] of groups) {
    const idx = addSection({ name: sec, type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.EXECINSTR, data: new Uint8Array(0), align: 8 });
    let off = 0;
    const placed = list.map((pp) => { const r = { piece: pp.entry, offset: off, rename: pp.rename, p: pp.p }; off += encode(pp.entry.insns).length; return r; });
    for (const r of placed) globals.push({ name: symbolOf(r.p), bind: STB.GLOBAL, type: STT.FUNC, shndx: idx, value: r.offset, size: encode(r.piece.insns).length });
    progSections.push({ idx, list: placed });
  }
  // .maps and its BTF
  let mapsIdx = -1;
  const MAP_DEF = 48; // six int (*)[N] pointers: type, max_entries, key_size, value_size, map_flags, pinning
  if (btfMaps.length) {
    mapsIdx = addSection({ name: '.maps', type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.WRITE, data: new Uint8Array(0), align: 8 });
  }
  const licenseIdx = addSection({ name: 'license', type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.WRITE, data: new TextEncoder().encode(license + '\0'), align: 1 });
  globals.push({ name: '_license', bind: STB.GLOBAL, type: STT.OBJECT, shndx: licenseIdx, value: 0, size: license.length + 1 });
  if (opts.kernelVersion !== undefined) {
    const d = new Uint8Array(4);
    new DataView(d.buffer).setUint32(0, opts.kernelVersion, true);
    const vIdx = addSection({ name: 'version', type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.WRITE, data: d, align: 4 });
    globals.push({ name: '_version', bind: STB.GLOBAL, type: STT.OBJECT, shndx: vIdx, value: 0, size: 4 });
  }
  if (btfMaps.length) {
    const entries = btfMaps.map((m, k) => {
      const type = mapTypeNumber(m.type);
      if (type <= 0) throw new ElfWriteError(`map '${m.name}'`, `unknown map type '${m.type}'`);
      const fields: [string, number][] = [['type', type], ['max_entries', m.maxEntries], ['key_size', m.keySize], ['value_size', m.valueSize]];
      if (m.flags) fields.push(['map_flags', m.flags]);
      const pin = (m as Partial<ElfMapSpec>).pin;
      if (pin) fields.push(['pinning', 1]);
      globals.push({ name: (m as Partial<ElfMapSpec>).symbol ?? m.name, bind: STB.GLOBAL, type: STT.OBJECT, shndx: mapsIdx, value: k * MAP_DEF, size: fields.length * 8 });
      return { name: (m as Partial<ElfMapSpec>).symbol ?? m.name, offset: k * MAP_DEF, fields };
    });
    sections[mapsIdx]!.data = new Uint8Array(btfMaps.length * MAP_DEF);
    addSection({ name: '.BTF', type: SHT.PROGBITS, flags: 0, data: btfForMaps(entries, btfMaps.length * MAP_DEF), align: 4 });
  }

  // code, now that every symbol has a home
  if (textIdx >= 0) {
    sections[textIdx]!.data = code(textPieces.map((t) => ({ piece: t.piece, offset: t.offset, rename: subRename.get(t.piece) ?? new Map() })), textIdx);
  }
  for (const ps of progSections) sections[ps.idx]!.data = code(ps.list, ps.idx);

  // symbols: locals first (sh_info = first global)
  const symbols: OutSymbol[] = [{ name: '', bind: 0, type: 0, shndx: 0, value: 0, size: 0 }, ...locals, ...globals];
  const symIndex = (name: string): number => {
    if (name.startsWith('map:')) {
      const m = maps.get(name.slice(4))!;
      const sym = (m as Partial<ElfMapSpec>).symbol ?? m.name;
      return symbols.findIndex((s) => s.name === sym && s.shndx === mapsIdx);
    }
    const i = symbols.findIndex((s) => s.name === name && (s.type === STT.FUNC || s.type === STT.SECTION));
    if (i < 0) throw new ElfWriteError(`symbol '${name}'`, 'is referenced but was not written');
    return i;
  };
  const rels: [number, Uint8Array][] = [];
  for (const [target, list] of relocs) {
    if (!list.length) continue;
    const b = new Uint8Array(list.length * 16);
    const v = new DataView(b.buffer);
    list.forEach((r, k) => {
      v.setBigUint64(k * 16, BigInt(r.offset), true);
      v.setUint32(k * 16 + 8, r.type, true);
      v.setUint32(k * 16 + 12, symIndex(r.symbol), true);
    });
    rels.push([target, b]);
  }
  const symtabIdx = sections.length + rels.length;
  for (const [target, b] of rels) {
    addSection({ name: `.rel${sections[target]!.name}`, type: SHT.REL, flags: 0x40 /* SHF_INFO_LINK */, data: b, link: symtabIdx, info: target, align: 8, entsize: 16 });
  }
  const names = new Strtab();
  const symBytes = new Uint8Array(symbols.length * 24);
  const sv = new DataView(symBytes.buffer);
  symbols.forEach((s, k) => {
    sv.setUint32(k * 24, s.type === STT.SECTION ? 0 : names.add(s.name), true);
    sv.setUint8(k * 24 + 4, (s.bind << 4) | s.type);
    sv.setUint16(k * 24 + 6, s.shndx, true);
    sv.setBigUint64(k * 24 + 8, BigInt(s.value), true);
    sv.setBigUint64(k * 24 + 16, BigInt(s.size), true);
  });
  addSection({ name: '.symtab', type: SHT.SYMTAB, flags: 0, data: symBytes, link: strtab, info: 1 + locals.length, align: 8, entsize: 24 });
  const nameOffs = sections.map((s) => names.add(s.name));
  sections[strtab]!.data = names.bytes();
  return layout(sections, nameOffs, strtab);
}

function symbolOf(p: ProgramSpec): string {
  return (p as Partial<ElfProgramSpec>).symbol ?? p.name;
}

function layout(sections: readonly OutSection[], nameOffs: readonly number[], shstrndx: number): Uint8Array {
  let off = 64;
  const offsets: number[] = [];
  for (const s of sections) {
    const a = Math.max(s.align, 1);
    off = Math.ceil(off / a) * a;
    offsets.push(off);
    if (s.type !== SHT.NOBITS && s.type !== SHT.NULL) off += s.data.length;
  }
  const shoff = Math.ceil(off / 8) * 8;
  const out = new Uint8Array(shoff + sections.length * 64);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, EM_BPF, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, sections.length, true);
  v.setUint16(62, shstrndx, true);
  sections.forEach((s, k) => {
    if (s.type !== SHT.NOBITS && s.type !== SHT.NULL) out.set(s.data, offsets[k]!);
    const h = shoff + k * 64;
    if (k === 0) return;
    v.setUint32(h, nameOffs[k]!, true);
    v.setUint32(h + 4, s.type, true);
    v.setBigUint64(h + 8, BigInt(s.flags), true);
    v.setBigUint64(h + 24, BigInt(offsets[k]!), true);
    v.setBigUint64(h + 32, BigInt(s.type === SHT.NOBITS ? s.size ?? 0 : s.data.length), true);
    v.setUint32(h + 40, s.link ?? 0, true);
    v.setUint32(h + 44, s.info ?? 0, true);
    v.setBigUint64(h + 48, BigInt(s.align), true);
    v.setBigUint64(h + 56, BigInt(s.entsize ?? 0), true);
  });
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function padTo(b: Uint8Array, size: number): Uint8Array {
  if (b.length >= size) return b.subarray(0, size);
  const out = new Uint8Array(size);
  out.set(b);
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
