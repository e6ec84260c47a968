/**
 * Map specs from the three ways an object declares maps:
 *   - legacy "maps": an array of fixed-size structs, one per symbol. iproute2's struct
 *     bpf_elf_map { type, size_key, size_value, max_elem, flags, id, pinning, inner_id,
 *     inner_idx } (28 or 36 bytes) and libbpf's older struct bpf_map_def { type, key_size,
 *     value_size, max_entries, map_flags } (20 bytes) share their first five fields; the struct
 *     size is the section size over the number of symbols in it, as both loaders compute it.
 *   - BTF-defined ".maps" (btf-maps.ts).
 *   - global data: .data*, .rodata*, .bss* become one-entry arrays holding the section.
 */
import type { ElfFile, ElfSection, ElfSymbol } from './file.ts';
import { SHF, SHT, STT } from './constants.ts';
import { ElfError } from './errors.ts';
import { btfMapDefs, type Btf } from './btf-maps.ts';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, mapTypeByNumber } from './map-types.ts';
import type { ElfMapSpec, ObjectPin } from './spec.ts';

const BPF_MAP_DEF_SIZE = 20;
const BPF_ELF_MAP_SIZE = 36;
const PIN_OBJECT_NS = 1, PIN_GLOBAL_NS = 2, LIBBPF_PIN_BY_NAME = 1;

/** A kernel object name: at most 15 characters of [A-Za-z0-9_.] (others become '_'). */
export function objName(symbol: string): string {
  return symbol.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

/** The data symbols (variables) defined in a section, by offset. */
export function dataSymbols(file: ElfFile, section: ElfSection): ElfSymbol[] {
  return file.symbols
    .filter((s) => s.shndx === section.index && s.type !== STT.SECTION && s.type !== STT.FILE && s.type !== STT.FUNC && s.name !== '')
    .sort((a, b) => a.value - b.value);
}

function mapType(n: number, name: string, section: string, offset: number): ElfMapSpec['type'] {
  const t = mapTypeByNumber(n);
  if (!t) throw new ElfError(`map '${name}' has unknown map type ${n}`, { section, offset });
  return t;
}

/** Maps of the legacy "maps" section, in either struct layout. */
export function legacyMaps(file: ElfFile, section: ElfSection, objectId: string): ElfMapSpec[] {
  const syms = dataSymbols(file, section);
  if (section.type === SHT.NOBITS) throw new ElfError('the map definitions are all zero (SHT_NOBITS): each needs at least a type and sizes', { section: section.name });
  if (syms.length === 0) {
    if (section.size === 0) return [];
    throw new ElfError(`${section.size} bytes but no map symbols: cannot tell where each definition starts`, { section: section.name });
  }
  if (section.size % syms.length) {
    throw new ElfError(`wrong size: ${section.size} bytes do not divide into ${syms.length} map definitions (one per symbol)`, { section: section.name, offset: 0 });
  }
  const def = section.size / syms.length;
  if (def < BPF_MAP_DEF_SIZE) {
    throw new ElfError(`wrong size: ${syms.length} maps in ${section.size} bytes is ${def} bytes each, less than struct bpf_map_def (${BPF_MAP_DEF_SIZE})`, { section: section.name, offset: 0 });
  }
  const elfMap = def >= 28;
  const known = elfMap ? Math.min(def, BPF_ELF_MAP_SIZE) : BPF_MAP_DEF_SIZE;
  const v = new DataView(section.data.buffer, section.data.byteOffset, section.data.byteLength);
  return syms.map((s) => {
    const at = s.value;
    if (at % def || at + def > section.size) {
      throw new ElfError(`map '${s.name}' at offset ${at} does not start a ${def}-byte definition inside the section (${section.size} bytes)`, { section: section.name, offset: at });
    }
    for (let i = known; i < def; i++) {
      if (section.data[at + i] !== 0) {
        throw new ElfError(`map '${s.name}' has non-zero bytes past the ${known}-byte ${elfMap ? 'struct bpf_elf_map' : 'struct bpf_map_def'} fields this loader knows`, { section: section.name, offset: at + i });
      }
    }
    const u = (i: number) => v.getUint32(at + i * 4, true);
    const name = objName(s.name);
    const base = {
      name, symbol: s.name, section: section.name, type: mapType(u(0), s.name, section.name, at),
      keySize: u(1), valueSize: u(2), maxEntries: u(3), ...(u(4) ? { flags: u(4) } : {}),
    };
    if (!elfMap) return { ...base, origin: 'bpf_map_def' as const };
    const pinning = u(6);
    if (def >= 36 && (u(7) || u(8))) {
      throw new ElfError(`map '${s.name}' is a map-in-map (inner_id ${u(7)}, inner_idx ${u(8)}): not supported yet`, { section: section.name, offset: at + 28 });
    }
    let pin: ObjectPin | undefined;
    if (pinning === PIN_GLOBAL_NS) pin = { kind: 'tc_global', path: `tc/globals/${name}` };
    else if (pinning === PIN_OBJECT_NS) pin = { kind: 'tc_object', path: `tc/${objectId}/${name}` };
    else if (pinning !== 0) {
      throw new ElfError(`map '${s.name}' has pinning ${pinning}: only PIN_NONE (0), PIN_OBJECT_NS (1) and PIN_GLOBAL_NS (2) are supported (not iproute2's /etc/iproute2/bpf_pinning)`, { section: section.name, offset: at + 24 });
    }
    return { ...base, origin: 'bpf_elf_map' as const, ...(pin ? { pin, pinning: 'by_name' as const } : {}) };
  });
}

/** Maps of ".maps", as the BTF struct of each variable declares them. */
export function btfMaps(file: ElfFile, section: ElfSection, btf: Btf | undefined): ElfMapSpec[] {
  if (!btf) throw new ElfError('BTF-defined maps need the .BTF section, and this object has none: compile with -g', { section: section.name });
  const syms = new Map(dataSymbols(file, section).map((s) => [s.name, s]));
  return btfMapDefs(btf).map((d) => {
    const sym = syms.get(d.name);
    if (!sym) throw new ElfError(`map '${d.name}' is in .BTF but has no symbol in the section`, { section: section.name });
    if (d.type === undefined) throw new ElfError(`map '${d.name}' has no type (__uint(type, BPF_MAP_TYPE_…))`, { section: section.name, offset: sym.value });
    const name = objName(d.name);
    let pin: ObjectPin | undefined;
    if (d.pinning === LIBBPF_PIN_BY_NAME) pin = { kind: 'by_name', path: name };
    else if (d.pinning) throw new ElfError(`map '${d.name}' has pinning ${d.pinning}: only LIBBPF_PIN_NONE (0) and LIBBPF_PIN_BY_NAME (1) exist`, { section: section.name, offset: sym.value });
    return {
      name, symbol: d.name, section: section.name, origin: 'btf' as const,
      type: mapType(d.type, d.name, section.name, sym.value),
      keySize: d.keySize ?? 0, valueSize: d.valueSize ?? 0, maxEntries: d.maxEntries ?? 0,
      ...(d.flags ? { flags: d.flags } : {}), ...(pin ? { pin, pinning: 'by_name' as const } : {}),
      ...(d.numaNode !== undefined ? { numaNode: d.numaNode } : {}), ...(d.mapExtra !== undefined ? { mapExtra: d.mapExtra } : {}),
      ...(d.keyTypeId !== undefined ? { btfKeyTypeId: d.keyTypeId } : {}), ...(d.valueTypeId !== undefined ? { btfValueTypeId: d.valueTypeId } : {}),
    };
  });
}

/** Is this a global-data section (.data*, .rodata*, .bss*) holding something? */
export function isDataSection(s: ElfSection): boolean {
  if (!(s.flags & SHF.ALLOC) || s.flags & SHF.EXECINSTR || s.size === 0) return false;
  return /^\.(data|rodata|bss)(\..*)?$/.test(s.name);
}

/**
 * The name libbpf gives a global-data map: the object's name (its file name up to the first
 * '.') cut so that prefix and section fit 15 characters ('btf_maps.rodata'), or the section
 * name alone for custom sections ('.data.config', '.rodata.str1.1'). Without an object name,
 * the section name.
 */
export function dataMapName(section: string, objectName?: string): string {
  if (!objectName || section.indexOf('.', 1) >= 0) return objName(section);
  const sfx = Math.max(7, section.length);
  const pfx = Math.max(0, Math.min(15 - sfx, objectName.length));
  return objName(objectName.slice(0, pfx) + section);
}

/** One array map of one entry per global-data section, holding its initial contents. */
export function dataMap(section: ElfSection, objectName?: string): ElfMapSpec {
  const ro = section.name.startsWith('.rodata');
  return {
    name: dataMapName(section.name, objectName), symbol: section.name, section: section.name, origin: 'data',
    type: 'array', keySize: 4, valueSize: section.size, maxEntries: 1,
    flags: BPF_F_MMAPABLE | (ro ? BPF_F_RDONLY_PROG : 0),
    ...(section.type === SHT.NOBITS ? {} : { contents: section.data }),
    ...(ro ? { freeze: true } : {}),
  };
}
