/**
 * The BTF type model: one discriminated union member per kind, ids as numbers. Type id 0 is
 * void and is never stored; a Btf's id N is the N-th record of the type section.
 *
 *   struct btf_type (12 bytes), then a kind-specific tail:
 *   +-------------+--------------------------------------------+----------------+
 *   | name_off u32| info u32: kflag(31) kind(28..24) vlen(15..0)| size / type u32|
 *   +-------------+--------------------------------------------+----------------+
 *   INT      + u32 encoding(27..24) offset(23..16) bits(7..0)
 *   ARRAY    + { type, index_type, nelems }             VAR      + { linkage }
 *   STRUCT/UNION + vlen x { name_off, type, offset }     DECL_TAG + { component_idx s32 }
 *   ENUM     + vlen x { name_off, val s32 }              ENUM64   + vlen x { name_off, lo32, hi32 }
 *   FUNC_PROTO + vlen x { name_off, type }              DATASEC  + vlen x { type, offset, size }
 */

export const Kind = {
  UNKN: 0, INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9,
  CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17,
  TYPE_TAG: 18, ENUM64: 19,
} as const;
export type KindName = Exclude<keyof typeof Kind, 'UNKN'>;

/** Kind numbers to the names bpftool prints. */
export const KIND_NAMES: readonly string[] = Object.keys(Kind);

/** BTF_INT_ENCODING bits. */
export const IntEncoding = { SIGNED: 1, CHAR: 2, BOOL: 4 } as const;
/** btf_func_linkage (in a FUNC's vlen). */
export const FuncLinkage = { static: 0, global: 1, extern: 2 } as const;
/** btf_var linkage. */
export const VarLinkage = { static: 0, global: 1, extern: 2 } as const;

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const HEADER_LEN = 24;
/** The kernel's limits (include/uapi/linux/btf.h). */
export const MAX_TYPE = 0xfffff;
export const MAX_NAME_OFFSET = 0xffffff;
export const MAX_VLEN = 0xffff;

export interface Member { readonly name: string; readonly type: number; readonly bitOffset: number; readonly bitfieldSize: number }
export interface Param { readonly name: string; readonly type: number }
export interface EnumValue { readonly name: string; readonly value: number }
export interface Enum64Value { readonly name: string; readonly value: bigint }
export interface SecVar { readonly type: number; readonly offset: number; readonly size: number }

/** A type that only points at another (PTR, TYPEDEF, the qualifiers, TYPE_TAG). */
export interface RefType<K extends string> { readonly kind: K; readonly name: string; readonly type: number; readonly kflag?: boolean }

export type BtfType =
  | { readonly kind: 'INT'; readonly name: string; readonly size: number; readonly encoding: number; readonly offset: number; readonly bits: number }
  | RefType<'PTR'> | RefType<'TYPEDEF'> | RefType<'VOLATILE'> | RefType<'CONST'> | RefType<'RESTRICT'> | RefType<'TYPE_TAG'>
  | { readonly kind: 'ARRAY'; readonly name: string; readonly type: number; readonly indexType: number; readonly nelems: number }
  /** kflag: member offsets carry a bitfield size in their top 8 bits. */
  | { readonly kind: 'STRUCT' | 'UNION'; readonly name: string; readonly size: number; readonly kflag: boolean; readonly members: readonly Member[] }
  | { readonly kind: 'ENUM'; readonly name: string; readonly size: number; readonly signed: boolean; readonly values: readonly EnumValue[] }
  | { readonly kind: 'ENUM64'; readonly name: string; readonly size: number; readonly signed: boolean; readonly values: readonly Enum64Value[] }
  | { readonly kind: 'FWD'; readonly name: string; readonly union: boolean }
  | { readonly kind: 'FUNC'; readonly name: string; readonly type: number; readonly linkage: number }
  | { readonly kind: 'FUNC_PROTO'; readonly name: string; readonly returnType: number; readonly params: readonly Param[] }
  | { readonly kind: 'VAR'; readonly name: string; readonly type: number; readonly linkage: number }
  | { readonly kind: 'DATASEC'; readonly name: string; readonly size: number; readonly vars: readonly SecVar[] }
  | { readonly kind: 'FLOAT'; readonly name: string; readonly size: number }
  | { readonly kind: 'DECL_TAG'; readonly name: string; readonly type: number; readonly componentIdx: number; readonly kflag?: boolean };

export type TypeOfKind<K extends KindName> = Extract<BtfType, { kind: K }>;

/** Bytes of a type's record: the 12-byte btf_type and its tail. */
export function recordSize(kind: number, vlen: number): number {
  switch (kind) {
    case Kind.INT: case Kind.VAR: case Kind.DECL_TAG: return 16;
    case Kind.ARRAY: return 24;
    case Kind.STRUCT: case Kind.UNION: case Kind.DATASEC: case Kind.ENUM64: return 12 + 12 * vlen;
    case Kind.ENUM: case Kind.FUNC_PROTO: return 12 + 8 * vlen;
    default: return 12;
  }
}
