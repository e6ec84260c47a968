/**
 * A small, pure ELF symbol reader for uprobes: where in the file does function X start? A
 * uprobe is placed by (inode, file offset), so a symbol's virtual address (st_value) has to be
 * turned into a file offset through the section that holds it:
 *
 *   file offset = st_value - section.sh_addr + section.sh_offset
 *
 * (for a shared library the two usually coincide; for a non-PIE executable they differ by the
 * load address, e.g. 0x401136 -> 0x1136).
 *
 *   ELF header     e_ident (class, data), e_shoff, e_shentsize, e_shnum, e_shstrndx
 *   section table  .symtab / .dynsym (SHT_SYMTAB 2 / SHT_DYNSYM 11), sh_link -> their strtab
 *   symbol         st_name, st_info (bind << 4 | type), st_shndx, st_value, st_size
 *
 * ELF32 and ELF64, either byte order. It reads outside bytes, so every read is bounds-checked
 * and the only thing it throws is ElfSymbolError (the fuzz test holds it to that). It knows
 * nothing of BPF objects: src/elf is the loader's reader.
 */

export class ElfSymbolError extends Error {
  override name = 'ElfSymbolError';
  /** The file, when the caller named one. */
  readonly path: string | undefined;
  /** The symbol asked for, when the failure is about it. */
  readonly symbol: string | undefined;
  /** What went wrong, without the path: 'not an ELF file', 'no symbol…'. */
  readonly reason: string;

  constructor(reason: string, opts: { path?: string; symbol?: string } = {}) {
    super(`${opts.path ? `${opts.path}: ` : ''}${reason}`);
    this.reason = reason;
    this.path = opts.path;
    this.symbol = opts.symbol;
  }
}

export const STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2, STT_GNU_IFUNC = 10;
export const STB_LOCAL = 0, STB_GLOBAL = 1, STB_WEAK = 2;
const SHT_SYMTAB = 2, SHT_DYNSYM = 11, SHT_NOBITS = 8, SHT_GNU_VERSYM = 0x6fffffff;
const VERSYM_HIDDEN = 0x8000;
const SHN_UNDEF = 0, SHN_LORESERVE = 0xff00;

export interface ElfSymbol {
  readonly name: string;
  /** st_value: the virtual address (or, in relocatable objects, the offset in its section). */
  readonly value: bigint;
  readonly size: bigint;
  /** STT_*: 2 for a function, 10 for an IFUNC resolver. */
  readonly type: number;
  /** STB_*: 0 local, 1 global, 2 weak. */
  readonly bind: number;
  readonly sectionIndex: number;
  /** '.symtab' or '.dynsym': where it was found. */
  readonly table: string;
  /** Where the code starts in the file: what a uprobe's offset is. */
  readonly fileOffset: number;
  /**
   * A non-default version kept for old binaries (.gnu.version marks it hidden, `name@VER` rather
   * than `name@@VER`): new programs do not call it.
   */
  readonly hidden: boolean;
}

interface Section {
  readonly name: number;
  readonly type: number;
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly entsize: number;
}

/** Bounds-checked little/big-endian reads over the file's bytes. */
class Reader {
  private readonly v: DataView;
  constructor(readonly bytes: Uint8Array, readonly le: boolean, private readonly path: string | undefined) {
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(off: number, n: number, what: string): void {
    if (!Number.isSafeInteger(off) || off < 0 || off + n > this.bytes.length) {
      throw new ElfSymbolError(`truncated or corrupt ELF: ${what} at ${off} lies outside the file (${this.bytes.length} bytes)`, { path: this.path });
    }
  }
  u8(off: number, what: string): number { this.need(off, 1, what); return this.v.getUint8(off); }
  u16(off: number, what: string): number { this.need(off, 2, what); return this.v.getUint16(off, this.le); }
  u32(off: number, what: string): number { this.need(off, 4, what); return this.v.getUint32(off, this.le); }
  u64(off: number, what: string): bigint { this.need(off, 8, what); return this.v.getBigUint64(off, this.le); }
  /** A 64-bit size or offset that must fit a JS number (files are far smaller). */
  num(v: bigint, what: string): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfSymbolError(`corrupt ELF: ${what} ${v} is too large`, { path: this.path });
    return Number(v);
  }
  cstr(off: number, end: number, what: string): string {
    this.need(off, 1, what);
    const stop = this.bytes.subarray(off, Math.min(end, this.bytes.length)).indexOf(0);
    if (stop < 0) throw new ElfSymbolError(`corrupt ELF: ${what} at ${off} has no terminating NUL`, { path: this.path });
    return new TextDecoder().decode(this.bytes.subarray(off, off + stop));
  }
}

export interface ElfFile {
  readonly class: 32 | 64;
  readonly littleEndian: boolean;
  /** e_type: 2 executable, 3 shared object (or PIE). */
  readonly type: number;
  readonly machine: number;
  /** Every defined and undefined symbol of .symtab and .dynsym, in file order. */
  readonly symbols: readonly ElfSymbol[];
}

/** Parse the symbol tables of an ELF file. */
export function readElfSymbols(bytes: Uint8Array, path?: string): ElfFile {
  if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfSymbolError('not an ELF file (no \\x7fELF magic)', { path });
  }
  const cls = bytes[4], data = bytes[5];
  if (cls !== 1 && cls !== 2) throw new ElfSymbolError(`unknown ELF class ${cls} (1 is ELF32, 2 is ELF64)`, { path });
  if (data !== 1 && data !== 2) throw new ElfSymbolError(`unknown ELF byte order ${data} (1 little, 2 big endian)`, { path });
  const is64 = cls === 2;
  const r = new Reader(bytes, data === 1, path);
  const type = r.u16(16, 'e_type'), machine = r.u16(18, 'e_machine');
  const shoff = is64 ? r.num(r.u64(40, 'e_shoff'), 'e_shoff') : r.u32(32, 'e_shoff');
  const shentsize = r.u16(is64 ? 58 : 46, 'e_shentsize');
  const shnum = r.u16(is64 ? 60 : 48, 'e_shnum');
  const shstrndx = r.u16(is64 ? 62 : 50, 'e_shstrndx');
  if (shoff === 0 || shnum === 0) throw new ElfSymbolError('the file has no section headers, so no symbol tables (fully stripped): give the offset instead of a symbol', { path });
  if (shentsize < (is64 ? 64 : 40)) throw new ElfSymbolError(`corrupt ELF: e_shentsize ${shentsize} is too small`, { path });
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    const what = `section header ${i}`;
    sections.push(is64 ? {
      name: r.u32(o, what), type: r.u32(o + 4, what), addr: r.u64(o + 16, what),
      offset: r.num(r.u64(o + 24, what), what), size: r.num(r.u64(o + 32, what), what),
      link: r.u32(o + 40, what), entsize: r.num(r.u64(o + 56, what), what),
    } : {
      name: r.u32(o, what), type: r.u32(o + 4, what), addr: BigInt(r.u32(o + 12, what)),
      offset: r.u32(o + 16, what), size: r.u32(o + 20, what), link: r.u32(o + 24, what), entsize: r.u32(o + 36, what),
    });
  }
  const shstr = sections[shstrndx];
  const secName = (s: Section): string => {
    if (!shstr || shstr.type === SHT_NOBITS) return '';
    if (s.name >= shstr.size) throw new ElfSymbolError(`corrupt ELF: a section name offset ${s.name} lies outside .shstrtab`, { path });
    return r.cstr(shstr.offset + s.name, shstr.offset + shstr.size, 'section name');
  };

  // .gnu.version: one u16 per .dynsym entry, its version index; bit 15 marks a hidden (old) version.
  const versym = sections.find((x) => x.type === SHT_GNU_VERSYM);
  const symbols: ElfSymbol[] = [];
  for (const tab of sections) {
    if (tab.type !== SHT_SYMTAB && tab.type !== SHT_DYNSYM) continue;
    const table = secName(tab) || (tab.type === SHT_SYMTAB ? '.symtab' : '.dynsym');
    const entsize = tab.entsize || (is64 ? 24 : 16);
    if (entsize < (is64 ? 24 : 16)) throw new ElfSymbolError(`corrupt ELF: ${table} entries of ${entsize} bytes are too small`, { path });
    const strtab = sections[tab.link];
    if (!strtab) throw new ElfSymbolError(`corrupt ELF: ${table} links to string table ${tab.link}, which does not exist`, { path });
    const count = Math.floor(tab.size / entsize);
    for (let i = 1; i < count; i++) {
      const o = tab.offset + i * entsize;
      const what = `${table} entry ${i}`;
      const nameOff = r.u32(o, what);
      const info = r.u8(o + (is64 ? 4 : 12), what);
      const shndx = r.u16(o + (is64 ? 6 : 14), what);
      const value = is64 ? r.u64(o + 8, what) : BigInt(r.u32(o + 4, what));
      const size = is64 ? r.u64(o + 16, what) : BigInt(r.u32(o + 8, what));
      if (nameOff === 0) continue;
      if (nameOff >= strtab.size) throw new ElfSymbolError(`corrupt ELF: ${what} names offset ${nameOff}, outside its string table`, { path });
      const name = r.cstr(strtab.offset + nameOff, strtab.offset + strtab.size, `${what} name`);
      let fileOffset = -1;
      const sec = shndx !== SHN_UNDEF && shndx < SHN_LORESERVE ? sections[shndx] : undefined;
      if (sec && sec.type !== SHT_NOBITS && value >= sec.addr) {
        const off = value - sec.addr + BigInt(sec.offset);
        if (off <= BigInt(Number.MAX_SAFE_INTEGER)) fileOffset = Number(off);
      }
      const hidden = tab.type === SHT_DYNSYM && versym !== undefined && versym.type !== SHT_NOBITS && (i + 1) * 2 <= versym.size &&
        (r.u16(versym.offset + i * 2, `.gnu.version entry ${i}`) & VERSYM_HIDDEN) !== 0;
      symbols.push({ name, value, size, type: info & 0xf, bind: info >> 4, sectionIndex: shndx, table, fileOffset, hidden });
    }
  }
  return { class: is64 ? 64 : 32, littleEndian: data === 1, type, machine, symbols };
}

const BIND_RANK: Readonly<Record<number, number>> = { [STB_GLOBAL]: 0, [STB_WEAK]: 1, [STB_LOCAL]: 2 };

/**
 * The function `name` defined in the file, with its file offset. Versioned names match their
 * base (`getpid` finds `getpid@@GLIBC_2.2.5`). Among several definitions, global beats weak
 * beats local; definitions at different addresses with the same rank are ambiguous.
 */
export function findFunction(elf: ElfFile, name: string, path?: string): ElfSymbol {
  const base = (n: string): string => { const at = n.indexOf('@'); return at < 0 ? n : n.slice(0, at); };
  const named = elf.symbols.filter((s) => s.name === name || (!name.includes('@') && base(s.name) === name));
  const anyDefined = named.filter((s) => s.sectionIndex !== SHN_UNDEF && s.fileOffset >= 0);
  // memcpy@GLIBC_2.2.5 (old, hidden) beside memcpy@@GLIBC_2.14 (current): probe what programs call.
  const defined = anyDefined.some((s) => !s.hidden) ? anyDefined.filter((s) => !s.hidden) : anyDefined;
  if (defined.length === 0) {
    const why = named.length ? `'${name}' is only referenced here (undefined: it lives in a library this file links against)` : `no symbol '${name}'`;
    const tables = [...new Set(elf.symbols.map((s) => s.table))];
    throw new ElfSymbolError(`${why} in ${tables.length ? tables.join(' and ') : 'its symbol tables'}: ` +
      `check the name with \`nm ${tables.includes('.symtab') ? '' : '-D '}--defined-only ${path ?? 'FILE'} | grep ${name}\`, or give the offset instead`, { path, symbol: name });
  }
  const ifunc = defined.find((s) => s.type === STT_GNU_IFUNC);
  if (ifunc && defined.every((s) => s.type === STT_GNU_IFUNC || s.value === ifunc.value)) {
    throw new ElfSymbolError(`'${name}' is an IFUNC: its address is a resolver that picks an implementation at load time, ` +
      `so a probe there fires once per process, not per call; probe the implementation it picks by its offset instead ` +
      `(glibc's are local symbols such as __${name}_avx_unaligned_erms, listed in its debug symbols)`, { path, symbol: name });
  }
  const funcs = defined.filter((s) => s.type === STT_FUNC || s.type === STT_NOTYPE);
  if (funcs.length === 0) {
    throw new ElfSymbolError(`'${name}' is not a function (symbol type ${defined[0]!.type}): a uprobe goes on code`, { path, symbol: name });
  }
  funcs.sort((a, b) => (BIND_RANK[a.bind] ?? 3) - (BIND_RANK[b.bind] ?? 3));
  const best = funcs[0]!;
  const rivals = funcs.filter((s) => (BIND_RANK[s.bind] ?? 3) === (BIND_RANK[best.bind] ?? 3) && s.fileOffset !== best.fileOffset);
  if (rivals.length) {
    throw new ElfSymbolError(`'${name}' is defined ${rivals.length + 1} times at different offsets ` +
      `(${[best, ...rivals].map((s) => `0x${s.fileOffset.toString(16)}`).join(', ')}): give the offset instead`, { path, symbol: name });
  }
  return best;
}
