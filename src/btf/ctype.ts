/**
 * C types for map keys and values, written in TypeScript: `ctypes.struct('pair', { packets:
 * ctypes.u64, last_len: ctypes.u32 })`. A map spec that carries them is created with BTF, so
 * `bpftool map dump` (and `tsbpf map dump`) print its entries field by field. Layout follows C:
 * each field at a multiple of its alignment, the size rounded up to the largest alignment,
 * which is what clang gives the same struct.
 */
import { BtfError } from './errors.ts';
import type { BtfType } from './types.ts';

export type IntName = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64';

export interface IntCType { readonly kind: 'int'; readonly name: IntName; readonly size: number; readonly align: number; readonly signed: boolean }
export interface StructField { readonly name: string; readonly type: CType; readonly offset: number }
export interface StructCType { readonly kind: 'struct'; readonly name: string; readonly fields: readonly StructField[]; readonly size: number; readonly align: number }
export interface ArrayCType { readonly kind: 'array'; readonly elem: CType; readonly length: number; readonly size: number; readonly align: number }
export type CType = IntCType | StructCType | ArrayCType;

const int = (name: IntName, size: number, signed: boolean): IntCType => ({ kind: 'int', name, size, align: size, signed });

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const ctypes = {
  u8: int('u8', 1, false), u16: int('u16', 2, false), u32: int('u32', 4, false), u64: int('u64', 8, false),
  s8: int('s8', 1, true), s16: int('s16', 2, true), s32: int('s32', 4, true), s64: int('s64', 8, true),
  /**
   * A struct laid out as C lays it out; field order is the object's key order. `size` pads it
   * (a record with room to grow, as `struct { …; } __attribute__((aligned(32)))` would).
   */
  struct(name: string, fields: Readonly<Record<string, CType>>, opts: { readonly size?: number } = {}): StructCType {
    if (name && !IDENT.test(name)) throw new BtfError(`struct name ${JSON.stringify(name)} is not a C identifier`);
    let off = 0, align = 1;
    const out: StructField[] = [];
    for (const [f, type] of Object.entries(fields)) {
      if (!IDENT.test(f)) throw new BtfError(`field name ${JSON.stringify(f)} of struct ${name} is not a C identifier`);
      off = Math.ceil(off / type.align) * type.align;
      out.push({ name: f, type, offset: off });
      off += type.size;
      align = Math.max(align, type.align);
    }
    const natural = Math.ceil(off / align) * align;
    const size = opts.size ?? natural;
    if (!Number.isInteger(size) || size < natural || size % align) throw new BtfError(`struct ${name}: size ${size} is below its ${natural} bytes of fields or not a multiple of its alignment ${align}`);
    return { kind: 'struct', name, fields: out, size, align };
  },
  array(elem: CType, length: number): ArrayCType {
    if (!Number.isInteger(length) || length < 0) throw new BtfError(`array length ${length} is not a non-negative integer`);
    return { kind: 'array', elem, length, size: elem.size * length, align: elem.align };
  },
} as const;

const C_INT: Readonly<Record<IntName, string>> = {
  u8: 'unsigned char', u16: 'short unsigned int', u32: 'unsigned int', u64: 'long long unsigned int',
  s8: 'signed char', s16: 'short int', s32: 'int', s64: 'long long int',
};

/**
 * BTF for C types: appends to `types` (ids continue after it) and returns the id of each root.
 * Shared parts get one id (an int used twice is one INT and one typedef).
 */
export function ctypesToBtf(roots: readonly CType[], types: BtfType[] = []): { types: BtfType[]; ids: number[] } {
  const ids = new Map<CType, number>();
  const ints = new Map<IntName, number>();
  let index: number | undefined;
  const add = (t: BtfType) => { types.push(t); return types.length; };
  const idOf = (t: CType): number => {
    const known = ids.get(t);
    if (known !== undefined) return known;
    let id: number;
    if (t.kind === 'int') {
      id = ints.get(t.name) ?? 0;
      if (!id) {
        const base = add({ kind: 'INT', name: C_INT[t.name], size: t.size, encoding: t.signed ? 1 : 0, offset: 0, bits: t.size * 8 });
        id = add({ kind: 'TYPEDEF', name: `__${t.name}`, type: base });
        ints.set(t.name, id);
      }
    } else if (t.kind === 'array') {
      const elem = idOf(t.elem);
      index ??= add({ kind: 'INT', name: '__ARRAY_SIZE_TYPE__', size: 4, encoding: 0, offset: 0, bits: 32 });
      id = add({ kind: 'ARRAY', name: '', type: elem, indexType: index, nelems: t.length });
    } else {
      const members = t.fields.map((f) => ({ name: f.name, type: idOf(f.type), bitOffset: f.offset * 8, bitfieldSize: 0 }));
      id = add({ kind: 'STRUCT', name: t.name, size: t.size, kflag: false, members });
    }
    ids.set(t, id);
    return id;
  };
  return { types, ids: roots.map(idOf) };
}

/** The C type of a key or value of a size, when none is given: u32 / u64, else bytes. */
export function defaultCType(size: number): CType {
  return size === 4 ? ctypes.u32 : size === 8 ? ctypes.u64 : size === 2 ? ctypes.u16 : size === 1 ? ctypes.u8 : ctypes.array(ctypes.u8, size);
}
