/**
 * The least of BTF the ELF reader needs, a decoder of its own that predates src/btf (the full
 * codec, which reader.ts already uses for CO-RE; this one is to move onto it): walk the type
 * section of .BTF to read BTF-defined map definitions (the DATASEC ".maps" of libbpf's
 * `struct { __uint(type, …); __type(key, …); … } name SEC(".maps")`), and patch DATASEC sizes
 * and variable offsets that clang leaves zero (the kernel refuses a DATASEC of size 0).
 *
 *   btf_header (24 B): magic:2 (0xeb9f) version:1 flags:1 hdr_len:4 type_off:4 type_len:4 str_off:4 str_len:4
 *   btf_type   (12 B): name_off:4 info:4 (vlen:16, kind:5 at bit 24, kind_flag at bit 31) size|type:4
 *   then per kind: INT +4, ARRAY +12, STRUCT/UNION vlen*12, ENUM vlen*8, FUNC_PROTO vlen*8,
 *   VAR +4, DATASEC vlen*12, DECL_TAG +4, ENUM64 vlen*12.
 *
 * In a map definition every integer is encoded as a pointer to an array whose length is the
 * value (`int (*type)[BPF_MAP_TYPE_HASH]`), and key/value as a pointer to the key/value type.
 */
import { ElfError } from './errors.ts';

export const BTF_MAGIC = 0xeb9f;
export const BtfKind = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10,
  RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  readonly offset: number;
}

export interface BtfType {
  readonly id: number;
  readonly kind: number;
  readonly name: string;
  readonly vlen: number;
  /** size for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, the referenced type id for the others. */
  readonly sizeOrType: number;
  /** Byte offset of this type's record in the .BTF section (for errors and patching). */
  readonly at: number;
  /** STRUCT/UNION members, DATASEC entries (name '', type = var id, offset, and size in `sizes`). */
  readonly members: readonly BtfMember[];
  /** DATASEC entry sizes. */
  readonly sizes: readonly number[];
  /** ARRAY: element type, index type, number of elements. */
  readonly array?: { readonly type: number; readonly nelems: number };
}

export interface Btf {
  readonly types: readonly (BtfType | undefined)[];
  /** Offset of the type section within .BTF (header length + type_off). */
  readonly typeStart: number;
  readonly strings: (off: number) => string;
}

const SECTION = '.BTF';
const MAX_DEPTH = 32;

/** Parse the type and string sections of .BTF; every record is bounds-checked. */
export function parseBtf(data: Uint8Array, section = SECTION): Btf {
  const err = (reason: string, offset?: number) => new ElfError(reason, { section, offset });
  if (data.length < 24) throw err(`${data.length} bytes is too short for a BTF header (24)`, 0);
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (v.getUint16(0, true) !== BTF_MAGIC) throw err(`bad magic 0x${v.getUint16(0, true).toString(16)} (want 0xeb9f; big-endian BTF is not supported)`, 0);
  const hdrLen = v.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > data.length) throw err(`header length ${hdrLen} is out of range`, 4);
  const typeOff = v.getUint32(8, true), typeLen = v.getUint32(12, true);
  const strOff = v.getUint32(16, true), strLen = v.getUint32(20, true);
  const typeStart = hdrLen + typeOff, strStart = hdrLen + strOff;
  if (typeStart > data.length || typeLen > data.length - typeStart) throw err(`type section [${typeStart}, +${typeLen}) is past the end (${data.length} bytes)`, 8);
  if (strStart > data.length || strLen > data.length - strStart) throw err(`string section [${strStart}, +${strLen}) is past the end (${data.length} bytes)`, 16);
  const strs = data.subarray(strStart, strStart + strLen);
  const dec = new TextDecoder();
  const strings = (off: number): string => {
    if (off >= strs.length) throw err(`string offset ${off} is past the string section (${strs.length} bytes)`, strStart);
    const end = strs.indexOf(0, off);
    if (end < 0) throw err(`string at ${off} has no terminating NUL`, strStart + off);
    return dec.decode(strs.subarray(off, end));
  };
  const types: (BtfType | undefined)[] = [undefined];
  let p = typeStart;
  const end = typeStart + typeLen;
  while (p < end) {
    if (end - p < 12) throw err(`type ${types.length} is cut short`, p);
    const at = p;
    const nameOff = v.getUint32(p, true), info = v.getUint32(p + 4, true), sizeOrType = v.getUint32(p + 8, true);
    const kind = (info >>> 24) & 0x1f, vlen = info & 0xffff;
    p += 12;
    const need = (n: number) => { if (end - p < n) throw err(`type ${types.length} (kind ${kind}) is cut short`, at); };
    const members: BtfMember[] = [], sizes: number[] = [];
    let array: BtfType['array'];
    switch (kind) {
      case BtfKind.INT: case BtfKind.VAR: case BtfKind.DECL_TAG: need(4); p += 4; break;
      case BtfKind.ARRAY: need(12); array = { type: v.getUint32(p, true), nelems: v.getUint32(p + 8, true) }; p += 12; break;
      case BtfKind.STRUCT: case BtfKind.UNION:
        need(vlen * 12);
        for (let i = 0; i < vlen; i++, p += 12) members.push({ name: strings(v.getUint32(p, true)), type: v.getUint32(p + 4, true), offset: v.getUint32(p + 8, true) });
        break;
      case BtfKind.DATASEC:
        need(vlen * 12);
        for (let i = 0; i < vlen; i++, p += 12) { members.push({ name: '', type: v.getUint32(p, true), offset: v.getUint32(p + 4, true) }); sizes.push(v.getUint32(p + 8, true)); }
        break;
      case BtfKind.ENUM: case BtfKind.FUNC_PROTO: need(vlen * 8); p += vlen * 8; break;
      case BtfKind.ENUM64: need(vlen * 12); p += vlen * 12; break;
      case BtfKind.PTR: case BtfKind.FWD: case BtfKind.TYPEDEF: case BtfKind.VOLATILE: case BtfKind.CONST:
      case BtfKind.RESTRICT: case BtfKind.FUNC: case BtfKind.FLOAT: case BtfKind.TYPE_TAG: break;
      default: throw err(`type ${types.length} has unknown kind ${kind}`, at);
    }
    types.push({ id: types.length, kind, name: strings(nameOff), vlen, sizeOrType, at, members, sizes, ...(array ? { array } : {}) });
  }
  return { types, typeStart, strings };
}

function typeAt(btf: Btf, id: number, why: string): BtfType {
  const t = btf.types[id];
  if (!t) throw new ElfError(`${why} refers to type ${id}, which does not exist (${btf.types.length - 1} types)`, { section: SECTION });
  return t;
}

/** Skip typedefs and qualifiers. */
export function resolve(btf: Btf, id: number, why: string): BtfType {
  let t = typeAt(btf, id, why);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (t.kind !== BtfKind.TYPEDEF && t.kind !== BtfKind.VOLATILE && t.kind !== BtfKind.CONST && t.kind !== BtfKind.RESTRICT && t.kind !== BtfKind.TYPE_TAG) return t;
    t = typeAt(btf, t.sizeOrType, why);
  }
  throw new ElfError(`${why}: type ${id} is a chain of more than ${MAX_DEPTH} typedefs and qualifiers (a loop?)`, { section: SECTION, offset: t.at });
}

/** sizeof(type), as the kernel computes it. */
export function sizeOf(btf: Btf, id: number, why: string, depth = 0): number {
  if (depth > MAX_DEPTH) throw new ElfError(`${why}: type ${id} nests deeper than ${MAX_DEPTH} (a loop?)`, { section: SECTION });
  const t = resolve(btf, id, why);
  switch (t.kind) {
    case BtfKind.INT: case BtfKind.STRUCT: case BtfKind.UNION: case BtfKind.ENUM: case BtfKind.ENUM64:
    case BtfKind.FLOAT: case BtfKind.DATASEC: return t.sizeOrType;
    case BtfKind.PTR: return 8;
    case BtfKind.ARRAY: {
      const size = t.array!.nelems * sizeOf(btf, t.array!.type, why, depth + 1);
      // bpf(2) takes key and value sizes as u32; a bigger type is not a map value
      if (size > 0xffffffff) throw new ElfError(`${why}: type ${id} is ${size} bytes, more than the 4 GiB - 1 a map's key or value can be (bpf(2) sizes are u32)`, { section: SECTION, offset: t.at });
      return size;
    }
    default: throw new ElfError(`${why}: type ${id} (kind ${t.kind}) has no size`, { section: SECTION, offset: t.at });
  }
}

/** A map definition as the BTF struct spells it. */
export interface BtfMapDef {
  readonly name: string;
  /** Offset of the variable in the .maps section: how relocations find it. */
  readonly offset: number;
  readonly type?: number;
  readonly keySize?: number;
  readonly valueSize?: number;
  readonly maxEntries?: number;
  readonly flags?: number;
  readonly pinning?: number;
  readonly numaNode?: number;
  readonly mapExtra?: number;
  /** BTF ids of key and value, for MAP_CREATE's btf_key/value_type_id. */
  readonly keyTypeId?: number;
  readonly valueTypeId?: number;
}

/** `int (*name)[N]` → N */
function uintField(btf: Btf, member: BtfMember, map: string): number {
  const why = `map '${map}' field '${member.name}'`;
  const ptr = resolve(btf, member.type, why);
  if (ptr.kind !== BtfKind.PTR) throw new ElfError(`${why} is not a pointer to an array (__uint(${member.name}, N))`, { section: SECTION, offset: ptr.at });
  const arr = resolve(btf, ptr.sizeOrType, why);
  if (arr.kind !== BtfKind.ARRAY) throw new ElfError(`${why} is not a pointer to an array (__uint(${member.name}, N))`, { section: SECTION, offset: arr.at });
  return arr.array!.nelems;
}

/** Every map the DATASEC ".maps" declares. */
export function btfMapDefs(btf: Btf): BtfMapDef[] {
  const sec = btf.types.find((t) => t?.kind === BtfKind.DATASEC && t.name === '.maps');
  if (!sec) return [];
  return sec.members.map((entry) => {
    const v = typeAt(btf, entry.type, '.maps entry');
    if (v.kind !== BtfKind.VAR) throw new ElfError(`.maps entry ${entry.type} is not a variable (kind ${v.kind})`, { section: SECTION, offset: v.at });
    const def = resolve(btf, v.sizeOrType, `map '${v.name}'`);
    if (def.kind !== BtfKind.STRUCT) throw new ElfError(`map '${v.name}' is not a struct (kind ${def.kind})`, { section: SECTION, offset: def.at });
    const out: { -readonly [K in keyof BtfMapDef]: BtfMapDef[K] } = { name: v.name, offset: entry.offset };
    for (const m of def.members) {
      switch (m.name) {
        case 'type': out.type = uintField(btf, m, v.name); break;
        case 'max_entries': out.maxEntries = uintField(btf, m, v.name); break;
        case 'map_flags': out.flags = uintField(btf, m, v.name); break;
        case 'pinning': out.pinning = uintField(btf, m, v.name); break;
        case 'numa_node': out.numaNode = uintField(btf, m, v.name); break;
        case 'map_extra': out.mapExtra = uintField(btf, m, v.name); break;
        case 'key_size': out.keySize = uintField(btf, m, v.name); break;
        case 'value_size': out.valueSize = uintField(btf, m, v.name); break;
        case 'key': case 'value': {
          const why = `map '${v.name}' field '${m.name}'`;
          const ptr = resolve(btf, m.type, why);
          if (ptr.kind !== BtfKind.PTR) throw new ElfError(`${why} is not a pointer (__type(${m.name}, T))`, { section: SECTION, offset: ptr.at });
          const size = sizeOf(btf, ptr.sizeOrType, why);
          if (m.name === 'key') { out.keySize = size; out.keyTypeId = ptr.sizeOrType; } else { out.valueSize = size; out.valueTypeId = ptr.sizeOrType; }
          break;
        }
        case 'values':
          throw new ElfError(`map '${v.name}' declares inner maps ('values'): map-in-map definitions are not supported yet`, { section: SECTION, offset: def.at });
        default:
          throw new ElfError(`map '${v.name}' has an unknown field '${m.name}' (known: type, key, value, key_size, value_size, max_entries, map_flags, pinning, numa_node, map_extra)`, { section: SECTION, offset: def.at });
      }
    }
    return out;
  });
}

/**
 * A copy of .BTF with every DATASEC's size and its variables' offsets filled in from the ELF
 * (clang writes 0 for both; libbpf fixes them up the same way before BPF_BTF_LOAD).
 */
export function fixupDatasecs(data: Uint8Array, btf: Btf, sectionSize: (name: string) => number | undefined, symbolOffset: (section: string, name: string) => number | undefined): Uint8Array {
  const out = data.slice();
  const v = new DataView(out.buffer);
  for (const t of btf.types) {
    if (!t || t.kind !== BtfKind.DATASEC) continue;
    const size = sectionSize(t.name);
    if (size === undefined) continue;
    v.setUint32(t.at + 8, size, true);
    t.members.forEach((m, i) => {
      const name = btf.types[m.type]?.name;
      const off = name !== undefined ? symbolOffset(t.name, name) : undefined;
      if (off !== undefined) v.setUint32(t.at + 12 + i * 12 + 4, off, true);
    });
  }
  return out;
}
