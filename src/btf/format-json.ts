/** The JSON dump: bpftool's `-j btf dump` field names, one object per type. */
import type { Btf } from './decode.ts';
import type { BtfType } from './types.ts';

const FUNC_LINKAGE = ['static', 'global', 'extern'];

export function typeJson(id: number, t: BtfType): Record<string, unknown> {
  const base = { id, kind: t.kind, name: t.name || '(anon)' };
  switch (t.kind) {
    case 'INT': return { ...base, size: t.size, bits_offset: t.offset, nr_bits: t.bits, encoding: ({ 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' } as Record<number, string>)[t.encoding] ?? 'UNKN' };
    case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG': return { ...base, type_id: t.type };
    case 'ARRAY': return { ...base, type_id: t.type, index_type_id: t.indexType, nr_elems: t.nelems };
    case 'STRUCT': case 'UNION': return { ...base, size: t.size, vlen: t.members.length, members: t.members.map((m) => ({ name: m.name || '(anon)', type_id: m.type, bits_offset: m.bitOffset, ...(m.bitfieldSize ? { bitfield_size: m.bitfieldSize } : {}) })) };
    case 'ENUM': return { ...base, encoding: t.signed ? 'SIGNED' : 'UNSIGNED', size: t.size, vlen: t.values.length, values: t.values.map((e) => ({ name: e.name, val: e.value })) };
    case 'ENUM64': return { ...base, encoding: t.signed ? 'SIGNED' : 'UNSIGNED', size: t.size, vlen: t.values.length, values: t.values.map((e) => ({ name: e.name, val: e.value })) };
    case 'FWD': return { ...base, fwd_kind: t.union ? 'union' : 'struct' };
    case 'FUNC': return { ...base, type_id: t.type, linkage: FUNC_LINKAGE[t.linkage] ?? '(unknown)' };
    case 'FUNC_PROTO': return { ...base, ret_type_id: t.returnType, vlen: t.params.length, params: t.params.map((p) => ({ name: p.name || '(anon)', type_id: p.type })) };
    case 'VAR': return { ...base, type_id: t.type, linkage: FUNC_LINKAGE[t.linkage] ?? '(unknown)' };
    case 'DATASEC': return { ...base, size: t.size, vlen: t.vars.length, vars: t.vars.map((v) => ({ type_id: v.type, offset: v.offset, size: v.size })) };
    case 'FLOAT': return { ...base, size: t.size };
    case 'DECL_TAG': return { ...base, type_id: t.type, component_idx: t.componentIdx };
  }
}

export function formatJson(btf: Btf): { types: Record<string, unknown>[] } {
  const types: Record<string, unknown>[] = [];
  for (let id = btf.firstId; id < btf.count; id++) types.push(typeJson(id, btf.type(id)));
  return { types };
}
