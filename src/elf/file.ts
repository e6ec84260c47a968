/**
 * The ELF container: header, section headers, symbols and relocations of an ELF64
 * little-endian relocatable object for EM_BPF, checked as it is read. Nothing here knows about
 * programs or maps (reader.ts does); every bound is checked before it is used, so bad bytes give
 * an ElfError naming the section and offset, never a RangeError or a read past the end.
 *
 *   Elf64_Ehdr (64 B)   e_ident[16] e_type:2 e_machine:2 e_version:4 e_entry:8 e_phoff:8
 *                       e_shoff:8 e_flags:4 e_ehsize:2 e_phentsize:2 e_phnum:2 e_shentsize:2
 *                       e_shnum:2 e_shstrndx:2
 *   Elf64_Shdr (64 B)   name:4 type:4 flags:8 addr:8 offset:8 size:8 link:4 info:4 addralign:8 entsize:8
 *   Elf64_Sym  (24 B)   name:4 info:1 other:1 shndx:2 value:8 size:8
 *   Elf64_Rel  (16 B)   offset:8 info:8 (symbol index << 32 | type)
 */
import {
  EHDR_SIZE, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_BPF, ET_REL, REL_SIZE, SHDR_SIZE, SHN_ABS, SHN_COMMON,
  SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SHT, SYM_SIZE,
} from './constants.ts';
import { ElfError } from './errors.ts';

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** The section's bytes (empty for SHT_NOBITS such as .bss: `size` says how big it is). */
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  /** STB_LOCAL, STB_GLOBAL, STB_WEAK */
  readonly bind: number;
  /** STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION… */
  readonly type: number;
  /** Section index, or SHN_UNDEF / SHN_ABS / SHN_COMMON. */
  readonly shndx: number;
  readonly value: number;
  readonly size: number;
}

export interface ElfRelocation {
  /** Byte offset in the section the relocation applies to. */
  readonly offset: number;
  readonly type: number;
  readonly symbol: number;
}

export interface ElfFile {
  readonly bytes: Uint8Array;
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
  /** Relocations by the index of the section they apply to. */
  readonly relocations: ReadonlyMap<number, readonly ElfRelocation[]>;
}

const MACHINES: Readonly<Record<number, string>> = { 3: 'i386', 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V' };

/** A u64 field that must fit a JS number and, as a file offset or size, the file. */
function u64(view: DataView, at: number, what: string, where: { section?: string; offset?: number }): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} 0x${v.toString(16)} is out of range`, where);
  return Number(v);
}

/** A NUL-terminated string at off in a string table section. */
export function stringAt(table: ElfSection, off: number, what: string): string {
  if (off >= table.data.length) {
    throw new ElfError(`${what} name offset ${off} is past the end of the string table (${table.data.length} bytes)`, { section: table.name, offset: off });
  }
  const end = table.data.indexOf(0, off);
  if (end < 0) throw new ElfError(`${what} name at offset ${off} has no terminating NUL`, { section: table.name, offset: off });
  return latin1(table.data.subarray(off, end));
}

const decoder = new TextDecoder('utf-8');
function latin1(b: Uint8Array): string {
  return decoder.decode(b);
}

function header(bytes: Uint8Array, view: DataView): { shoff: number; shnum: number; shstrndx: number } {
  if (bytes.length < EHDR_SIZE) throw new ElfError(`truncated: ${bytes.length} bytes, but an ELF header alone is ${EHDR_SIZE}`, { offset: bytes.length });
  if (ELFMAG.some((b, i) => bytes[i] !== b)) throw new ElfError('not an ELF file (no \\x7fELF magic): is this the object clang wrote with -c?', { offset: 0 });
  if (bytes[4] !== ELFCLASS64) throw new ElfError(`ELF class ${bytes[4]} is not ELFCLASS64 (2): BPF objects are 64-bit`, { offset: 4 });
  if (bytes[5] !== ELFDATA2LSB) {
    throw new ElfError(`data encoding ${bytes[5]} is not little-endian (1): build with -target bpfel (or bpf on a little-endian host)`, { offset: 5 });
  }
  if (bytes[6] !== 1) throw new ElfError(`ELF version ${bytes[6]} is not 1`, { offset: 6 });
  const type = view.getUint16(16, true), machine = view.getUint16(18, true);
  if (machine !== EM_BPF) {
    const m = MACHINES[machine] ? ` (${MACHINES[machine]})` : '';
    throw new ElfError(`built for machine ${machine}${m}, not BPF (${EM_BPF}): compile with clang -target bpf`, { offset: 18 });
  }
  if (type !== ET_REL) throw new ElfError(`ELF type ${type} is not a relocatable object (ET_REL, 1): load the .o that clang -c wrote, not a linked file`, { offset: 16 });
  const shoff = u64(view, 40, 'section header offset', { offset: 40 });
  const shentsize = view.getUint16(58, true);
  let shnum = view.getUint16(60, true);
  let shstrndx = view.getUint16(62, true);
  if (shoff === 0) return { shoff, shnum: 0, shstrndx: 0 };
  if (shentsize !== SHDR_SIZE) throw new ElfError(`section header size ${shentsize} is not ${SHDR_SIZE}`, { offset: 58 });
  if (shoff > bytes.length - SHDR_SIZE) throw new ElfError(`section headers at 0x${shoff.toString(16)} are past the end of the file (${bytes.length} bytes): the file is truncated`, { offset: shoff });
  // More than 0xff00 sections: the real count and string table index live in section 0.
  if (shnum === 0) shnum = u64(view, shoff + 32, 'extended section count', { offset: shoff + 32 });
  if (shstrndx === SHN_XINDEX) shstrndx = view.getUint32(shoff + 40, true);
  if (shnum > (bytes.length - shoff) / SHDR_SIZE) {
    throw new ElfError(`${shnum} section headers at 0x${shoff.toString(16)} need ${shnum * SHDR_SIZE} bytes, the file has ${bytes.length - shoff} after them: the file is truncated`, { offset: shoff });
  }
  if (shstrndx >= shnum) throw new ElfError(`section name table index ${shstrndx} is out of range (${shnum} sections)`, { offset: 62 });
  return { shoff, shnum, shstrndx };
}

/** Parse and check the container. Throws ElfError on anything malformed. */
export function parseElfFile(input: Uint8Array): ElfFile {
  const bytes = input;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { shoff, shnum, shstrndx } = header(bytes, view);

  type Raw = Omit<ElfSection, 'name'> & { nameOff: number };
  const raw: Raw[] = [];
  for (let i = 0; i < shnum; i++) {
    const p = shoff + i * SHDR_SIZE;
    const where = { section: `#${i}`, offset: p };
    const type = view.getUint32(p + 4, true);
    const offset = u64(view, p + 24, 'section offset', where);
    const size = u64(view, p + 32, 'section size', where);
    if (type === SHT.NULL && i !== 0) throw new ElfError('a section of type SHT_NULL after section 0: the section headers are damaged', where);
    const hasData = type !== SHT.NOBITS && type !== SHT.NULL;
    if (hasData && (offset > bytes.length || size > bytes.length - offset)) {
      throw new ElfError(`section data [0x${offset.toString(16)}, +0x${size.toString(16)}) is past the end of the file (${bytes.length} bytes): the file is truncated`, where);
    }
    raw.push({
      index: i, nameOff: view.getUint32(p, true), type,
      flags: u64(view, p + 8, 'section flags', where), offset, size,
      link: view.getUint32(p + 40, true), info: view.getUint32(p + 44, true),
      addralign: u64(view, p + 48, 'section alignment', where), entsize: u64(view, p + 56, 'entry size', where),
      data: hasData ? bytes.subarray(offset, offset + size) : new Uint8Array(0),
    });
  }

  const names = raw[shstrndx];
  if (shnum && names && names.type !== SHT.STRTAB) throw new ElfError(`the section name table (section ${shstrndx}) is not a string table`, { section: `#${shstrndx}` });
  const sections: ElfSection[] = raw.map((s) => {
    const { nameOff, ...rest } = s;
    const name = names && s.index !== 0 ? stringAt({ ...names, name: '.shstrtab' }, nameOff, `section ${s.index}`) : '';
    return { ...rest, name };
  });
  checkOverlaps(sections, shoff, shnum, bytes.length);

  const symtabs = sections.filter((s) => s.type === SHT.SYMTAB);
  if (symtabs.length > 1) throw new ElfError(`${symtabs.length} symbol tables (sections ${symtabs.map((s) => s.index).join(', ')}); a relocatable object has one`, { section: symtabs[1]!.name });
  if (sections.some((s) => s.type === SHT.SYMTAB_SHNDX)) throw new ElfError('extended section indexes (SHT_SYMTAB_SHNDX) are not supported: the object has over 65280 sections');
  const symtab = symtabs[0];
  const symbols = symtab ? parseSymbols(symtab, sections) : [];

  const relocations = new Map<number, ElfRelocation[]>();
  for (const s of sections) {
    if (s.type === SHT.RELA) throw new ElfError('RELA relocations: BPF objects use REL (implicit addends); was this written by clang -target bpf?', { section: s.name });
    if (s.type !== SHT.REL) continue;
    if (!symtab || s.link !== symtab.index) throw new ElfError(`relocations link to section ${s.link}, which is not the symbol table`, { section: s.name });
    const target = sections[s.info];
    if (!target || s.info === 0) throw new ElfError(`relocations apply to section ${s.info}, which does not exist`, { section: s.name });
    if (s.size % REL_SIZE) throw new ElfError(`size ${s.size} is not a multiple of ${REL_SIZE} (Elf64_Rel)`, { section: s.name, offset: s.size - (s.size % REL_SIZE) });
    const rv = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    const list = relocations.get(target.index) ?? [];
    for (let p = 0; p < s.size; p += REL_SIZE) {
      const offset = u64(rv, p, 'relocation offset', { section: s.name, offset: p });
      const symbol = rv.getUint32(p + 12, true);
      const type = rv.getUint32(p + 8, true);
      if (symbol >= symbols.length) throw new ElfError(`relocation names symbol ${symbol}, but the symbol table has ${symbols.length}`, { section: s.name, offset: p });
      if (offset >= target.size) {
        throw new ElfError(`relocation at 0x${offset.toString(16)} is outside section '${target.name}' (${target.size} bytes)`, { section: s.name, offset: p });
      }
      list.push({ offset, type, symbol });
    }
    relocations.set(target.index, list);
  }
  return { bytes, sections, symbols, relocations };
}

function checkOverlaps(sections: readonly ElfSection[], shoff: number, shnum: number, fileSize: number): void {
  const spans = sections
    .filter((s) => s.type !== SHT.NOBITS && s.type !== SHT.NULL && s.size > 0)
    .map((s) => ({ name: s.name || `#${s.index}`, start: s.offset, end: s.offset + s.size }));
  spans.push({ name: 'the ELF header', start: 0, end: EHDR_SIZE });
  if (shnum) spans.push({ name: 'the section header table', start: shoff, end: Math.min(shoff + shnum * SHDR_SIZE, fileSize) });
  spans.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    const a = spans[i - 1]!, b = spans[i]!;
    if (b.start < a.end) {
      const who = (x: { name: string }) => (x.name.startsWith('the ') ? x.name : `section '${x.name}'`);
      const section = b.name.startsWith('the ') ? a.name : b.name;
      throw new ElfError(`${who(b)} [0x${b.start.toString(16)}, 0x${b.end.toString(16)}) overlaps ${who(a)} [0x${a.start.toString(16)}, 0x${a.end.toString(16)})`,
        { section: section.startsWith('the ') ? undefined : section, offset: section === b.name ? 0 : b.start - a.start });
    }
  }
}

function parseSymbols(symtab: ElfSection, sections: readonly ElfSection[]): ElfSymbol[] {
  if (symtab.size % SYM_SIZE) throw new ElfError(`size ${symtab.size} is not a multiple of ${SYM_SIZE} (Elf64_Sym)`, { section: symtab.name, offset: symtab.size - (symtab.size % SYM_SIZE) });
  const strtab = sections[symtab.link];
  if (!strtab || strtab.type !== SHT.STRTAB) throw new ElfError(`the symbol names are in section ${symtab.link}, which is not a string table`, { section: symtab.name });
  const view = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
  const out: ElfSymbol[] = [];
  for (let p = 0, i = 0; p < symtab.size; p += SYM_SIZE, i++) {
    const where = { section: symtab.name, offset: p };
    const info = view.getUint8(p + 4);
    const shndx = view.getUint16(p + 6, true);
    if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= sections.length) {
      throw new ElfError(`symbol ${i} is in section ${shndx}, but there are ${sections.length} sections`, where);
    }
    if (shndx >= SHN_LORESERVE && shndx !== SHN_ABS && shndx !== SHN_COMMON) throw new ElfError(`symbol ${i} has the reserved section index 0x${shndx.toString(16)}`, where);
    const type = info & 0xf;
    // Section symbols are named by their section; their st_name is usually 0.
    const nameOff = view.getUint32(p, true);
    const name = type === 3 && nameOff === 0 && shndx < sections.length ? sections[shndx]!.name : stringAt(strtab, nameOff, `symbol ${i}`);
    out.push({
      index: i, name, bind: info >> 4, type, shndx,
      value: u64(view, p + 8, `symbol ${i} value`, where), size: u64(view, p + 16, `symbol ${i} size`, where),
    });
  }
  return out;
}
