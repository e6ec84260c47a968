/**
 * The raw dump: one line per type plus one indented line per member, parameter, enumerator or
 * section variable, in the exact words of `bpftool btf dump … format raw`, so the two can be
 * compared line for line.
 */
import type { Btf } from './decode.ts';
import { KIND_NAMES, type BtfType } from './types.ts';

const INT_ENC: Readonly<Record<number, string>> = { 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' };
const FUNC_LINKAGE = ['static', 'global', 'extern'];
const VAR_LINKAGE = ['static', 'global', 'extern'];

const q = (name: string) => `'${name || '(anon)'}'`;

/** One type as bpftool prints it (with its member lines, newline-separated, no trailing newline). */
export function formatRawType(btf: Btf, id: number, t: BtfType = btf.peek(id)): string {
  const head = `[${id}] ${t.kind} ${q(t.name)}`;
  switch (t.kind) {
    case 'INT':
      return `${head} size=${t.size} bits_offset=${t.offset} nr_bits=${t.bits} encoding=${INT_ENC[t.encoding] ?? 'UNKN'}`;
    case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
      return `${head} type_id=${t.type}`;
    case 'ARRAY':
      return `${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case 'STRUCT': case 'UNION': {
      let s = `${head} size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      return s;
    }
    case 'ENUM': {
      let s = `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const e of t.values) s += `\n\t${q(e.name)} val=${t.signed ? e.value | 0 : e.value >>> 0}`;
      return s;
    }
    case 'ENUM64': {
      let s = `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const e of t.values) s += `\n\t${q(e.name)} val=${t.signed ? `${BigInt.asIntN(64, e.value)}LL` : `${BigInt.asUintN(64, e.value)}ULL`}`;
      return s;
    }
    case 'FWD':
      return `${head} fwd_kind=${t.union ? 'union' : 'struct'}`;
    case 'FUNC':
      return `${head} type_id=${t.type} linkage=${FUNC_LINKAGE[t.linkage] ?? '(unknown)'}`;
    case 'FUNC_PROTO': {
      let s = `${head} ret_type_id=${t.returnType} vlen=${t.params.length}`;
      for (const a of t.params) s += `\n\t${q(a.name)} type_id=${a.type}`;
      return s;
    }
    case 'VAR':
      return `${head} type_id=${t.type}, linkage=${VAR_LINKAGE[t.linkage] ?? '(unknown)'}`;
    case 'DATASEC': {
      let s = `${head} size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        if (v.type > 0 && v.type < btf.count) s += ` (${KIND_NAMES[btf.kindOf(v.type)]} ${q(btf.nameOf(v.type))})`;
      }
      return s;
    }
    case 'FLOAT':
      return `${head} size=${t.size}`;
    case 'DECL_TAG':
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`;
  }
}

/** Every type of a BTF (its own, not a base's), as bpftool's raw dump: one string, newline-terminated. */
export function formatRaw(btf: Btf): string {
  const parts: string[] = new Array(btf.count - btf.firstId);
  for (let id = btf.firstId; id < btf.count; id++) parts[id - btf.firstId] = formatRawType(btf, id);
  return parts.length ? parts.join('\n') + '\n' : '';
}
