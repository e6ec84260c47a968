/**
 * The C dump: BTF as a header clang can compile (what `bpftool btf dump … format c` is for:
 * vmlinux.h). Definitions come after what they embed by value; a pointer needs only a forward
 * declaration, which also breaks cycles (struct a { struct b *b; } / struct b { struct a a; }).
 * Differences from bpftool's: no padding members or packed attributes are inferred, and
 * anonymous types are inlined where they are used; an anonymous enum no type uses is printed on
 * its own, in type-id order, as bpftool does.
 */
import type { Btf } from './decode.ts';
import { BtfError } from './errors.ts';
import type { BtfType } from './types.ts';

const enum State { None, Declared, Busy, Done }

/** Deeper than any real C declarator; a loop of modifiers in malformed BTF stops here. */
const MAX_DEPTH = 64;

export function formatC(btf: Btf): string {
  const out: string[] = ['#ifndef __VMLINUX_H__', '#define __VMLINUX_H__', '',
    '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX', '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)', '#endif', ''];
  const state = new Uint8Array(btf.count);
  const t = (id: number): BtfType => btf.type(id);
  // C has one namespace for struct/union/enum tags, one for typedefs and enumerators; BTF can
  // repeat a name (vmlinux does), so later ones get a ___N suffix as bpftool's btf_dump does.
  const tagNames = new Map<string, number>(), ordNames = new Map<string, number>(), given = new Map<number, string>();
  const unique = (space: Map<string, number>, name: string): string => {
    const n = (space.get(name) ?? 0) + 1;
    space.set(name, n);
    return n === 1 ? name : `${name}___${n}`;
  };
  const cname = (id: number, x: BtfType): string => {
    let n = given.get(id);
    if (n === undefined) { n = unique(x.kind === 'TYPEDEF' ? ordNames : tagNames, x.name); given.set(id, n); }
    return n;
  };
  const tag = (x: BtfType) => (x.kind === 'UNION' || (x.kind === 'FWD' && x.union) ? 'union' : x.kind === 'ENUM' || x.kind === 'ENUM64' ? 'enum' : 'struct');

  function need(id: number, strong: boolean, depth: number): void {
    if (id === 0) return;
    if (depth > MAX_DEPTH) throw new BtfError('type chain too deep (a loop?)', { typeId: id });
    const x = t(id);
    switch (x.kind) {
      case 'PTR': return need(x.type, false, depth + 1);
      case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': case 'ARRAY': return need(x.type, strong, depth + 1);
      case 'FUNC_PROTO':
        need(x.returnType, false, depth + 1);
        for (const p of x.params) need(p.type, false, depth + 1);
        return;
      case 'TYPEDEF':
        need(x.type, strong, depth + 1);
        // The compiler defines __builtin_va_list itself.
        if (state[id] === State.None && x.name !== '__builtin_va_list') { state[id] = State.Done; out.push(`typedef ${decl(x.type, cname(id, x), 0, depth)};`, ''); }
        return;
      case 'FWD':
        if (state[id] === State.None) { state[id] = State.Done; out.push(`${tag(x)} ${cname(id, x)};`, ''); }
        return;
      case 'ENUM': case 'ENUM64':
        if (!x.name) return;
        if (state[id] === State.None) { state[id] = State.Done; out.push(`${body(id, x, 0, depth)};`, ''); }
        return;
      case 'STRUCT': case 'UNION':
        if (!x.name) { for (const m of x.members) need(m.type, true, depth + 1); return; }
        if (!strong || state[id] === State.Busy) {
          if (state[id] === State.None || (state[id] === State.Busy && !declared.has(id))) { declared.add(id); out.push(`${tag(x)} ${cname(id, x)};`, ''); }
          if (state[id] === State.None) state[id] = State.Declared;
          return;
        }
        if (state[id] === State.Done) return;
        state[id] = State.Busy;
        for (const m of x.members) need(m.type, true, 0);
        state[id] = State.Done;
        out.push(`${body(id, x, 0, depth)};`, '');
        return;
      default: return;
    }
  }
  const declared = new Set<number>();

  function body(id: number, x: BtfType, indent: number, depth: number): string {
    const name = x.name ? ` ${cname(id, x)}` : '';
    const pad = '\t'.repeat(indent + 1);
    if (x.kind === 'ENUM' || x.kind === 'ENUM64') {
      const vals = x.kind === 'ENUM'
        ? x.values.map((e) => `${pad}${unique(ordNames, e.name)} = ${x.signed ? e.value | 0 : e.value >>> 0},`)
        : x.values.map((e) => `${pad}${unique(ordNames, e.name)} = ${e.value}${x.signed ? 'LL' : 'ULL'},`);
      return `enum${name} {\n${vals.join('\n')}\n${'\t'.repeat(indent)}}`;
    }
    if (x.kind !== 'STRUCT' && x.kind !== 'UNION') throw new BtfError(`${x.kind} has no body`);
    const ms = x.members.map((m) => `${pad}${decl(m.type, m.name, indent + 1, depth + 1)}${m.bitfieldSize ? `: ${m.bitfieldSize}` : ''};`);
    return `${tag(x)}${name} {\n${ms.join('\n')}${ms.length ? '\n' : ''}${'\t'.repeat(indent)}}`;
  }

  /** The C declarator for a type and a name: decl(PTR -> ARRAY 4 of int, 'p') = 'int (*p)[4]'. */
  function decl(id: number, inner: string, indent: number, depth: number): string {
    if (depth > MAX_DEPTH) throw new BtfError('type chain too deep (a loop?)', { typeId: id });
    const sp = (s: string) => (s ? (s.startsWith('[') || s.startsWith('(') && !s.startsWith('(*') ? s : ` ${s}`) : '');
    if (id === 0) return `void${sp(inner)}`;
    const x = t(id);
    switch (x.kind) {
      case 'INT': case 'FLOAT': return `${x.name}${sp(inner)}`;
      case 'TYPEDEF': return `${cname(id, x)}${sp(inner)}`;
      case 'FWD': return `${tag(x)} ${cname(id, x)}${sp(inner)}`;
      case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64':
        return (x.name ? `${tag(x)} ${cname(id, x)}` : body(id, x, indent, depth + 1)) + sp(inner);
      case 'PTR': {
        const target = btf.kindOf(x.type);
        const wrapped = target === 3 /* ARRAY */ || target === 13 /* FUNC_PROTO */ ? `(*${inner})` : `*${inner}`;
        return decl(x.type, wrapped, indent, depth + 1);
      }
      case 'CONST': case 'VOLATILE': case 'RESTRICT': {
        const q = x.kind === 'CONST' ? 'const' : x.kind === 'VOLATILE' ? 'volatile' : 'restrict';
        if (btf.kindOf(x.type) === btf.kindOf(id)) return decl(x.type, inner, indent, depth + 1);
        if (btf.kindOf(x.type) === 2 /* PTR */) return decl(x.type, `${q} ${inner}`.trimEnd(), indent, depth + 1);
        return `${q} ${decl(x.type, inner, indent, depth + 1)}`;
      }
      case 'TYPE_TAG': return decl(x.type, inner, indent, depth + 1);
      case 'ARRAY': return decl(x.type, `${inner}[${x.nelems}]`, indent, depth + 1);
      case 'FUNC_PROTO': {
        const ps = x.params.map((p, i) => (p.type === 0 && !p.name && i === x.params.length - 1 ? '...' : decl(p.type, p.name, indent, depth + 1)));
        return decl(x.returnType, `${inner}(${ps.length ? ps.join(', ') : 'void'})`, indent, depth + 1);
      }
      default: throw new BtfError(`a ${x.kind} is not a type a declaration can use`, { typeId: id });
    }
  }

  // An anonymous enum nothing refers to (`enum { BPF_ANY, … }`, `enum { false, true }`) exists
  // only for its enumerators, which programs use; bpftool prints each one, so do we.
  const referenced = new Set<number>();
  for (let id = btf.firstId; id < btf.count; id++) for (const r of refsOf(t(id))) referenced.add(r);
  for (let id = btf.firstId; id < btf.count; id++) {
    const k = btf.kindOf(id);
    // Named structs, unions, enums and typedefs are the header; the rest appear through them.
    if ((k === 4 || k === 5 || k === 6 || k === 19 || k === 8 || k === 7) && btf.nameOf(id)) need(id, true, 0);
    else if ((k === 6 || k === 19) && !referenced.has(id)) out.push(`${body(id, t(id), 0, 0)};`, '');
  }
  out.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX', '#pragma clang attribute pop', '#endif', '', '#endif /* __VMLINUX_H__ */', '');
  return out.join('\n');
}

/** The type ids a type refers to. */
function refsOf(x: BtfType): number[] {
  switch (x.kind) {
    case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
    case 'FUNC': case 'VAR': case 'DECL_TAG': return [x.type];
    case 'ARRAY': return [x.type, x.indexType];
    case 'STRUCT': case 'UNION': return x.members.map((m) => m.type);
    case 'FUNC_PROTO': return [x.returnType, ...x.params.map((p) => p.type)];
    case 'DATASEC': return x.vars.map((v) => v.type);
    default: return [];
  }
}
