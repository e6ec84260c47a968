/**
 * CO-RE: clang records, for every `__builtin_preserve_access_index` access and `bpf_core_*`
 * macro, what the instruction means in the program's own types (`.BTF.ext` core_relo: the
 * instruction, a root type, an access string like "0:6" and a kind). Before loading, the value
 * the instruction carries is recomputed against the running kernel's BTF, by libbpf's rules:
 *
 *   1. candidates: kernel types of the same kind whose name equals the local name without its
 *      `___flavor` suffix (`sk_buff___mine` looks for `sk_buff`);
 *   2. each candidate is walked along the access string by member name (through anonymous
 *      members), array indexes within bounds, and field types compatible (composites with
 *      composites, ints with ints, pointers with pointers, enums by name, arrays by element);
 *   3. the value: byte offset, byte size, existence, signedness or the shifts that extract a
 *      bitfield; type id, existence, size or a structural match; enumerator existence or value.
 *      All matching candidates must agree (else a BtfError: libbpf refuses such a load too);
 *   4. no candidate: the existence kinds become 0; anything else poisons the instruction as
 *      libbpf does (`call 0xbad2310`), so the verifier refuses it only if it can be reached.
 *
 * Pure: local and target are decoded Btf objects; the instruction bytes are patched in place by
 * applyCoreRelo().
 */
import type { Btf } from './decode.ts';
import { BtfError } from './errors.ts';
import type { CoreRelo } from './ext.ts';
import { CORE_RELO_KINDS } from './ext.ts';
import type { BtfType } from './types.ts';

export type CoreKind = (typeof CORE_RELO_KINDS)[number];

/** libbpf's poison: an instruction the verifier refuses with "invalid func unknown#195896080". */
export const CORE_POISON_IMM = 0xbad2310;

export interface CoreResult {
  readonly kind: CoreKind;
  /** The instruction (8-byte slot within its section). */
  readonly insn: number;
  /** The value in the program's own types (what clang put in the instruction). */
  readonly local: bigint;
  /** The value for the target kernel; absent when poisoned. */
  readonly target?: bigint;
  /** The target type id the value came from (0: none matched). */
  readonly targetId: number;
  /** Why the instruction is poisoned, when it is. */
  readonly poison?: string;
  /** For field offsets: the field's byte size locally and in the target (a load's size follows it). */
  readonly localSize?: number;
  readonly targetSize?: number;
}

const MAX_DEPTH = 32;
const essential = (name: string): string => { const i = name.indexOf('___'); return i < 0 ? name : name.slice(0, i); };

function skipMods(btf: Btf, id: number, typedefs = true): { id: number; t: BtfType | undefined } {
  for (let d = 0; d < MAX_DEPTH; d++) {
    if (id === 0) return { id, t: undefined };
    const t = btf.type(id);
    if (t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG' || (typedefs && t.kind === 'TYPEDEF')) { id = t.type; continue; }
    return { id, t };
  }
  throw new BtfError('type chain too deep (a loop?)', { typeId: id });
}

function sizeOf(btf: Btf, id: number, depth = 0): number {
  if (depth > MAX_DEPTH) throw new BtfError('type chain too deep (a loop?)', { typeId: id });
  const { t } = skipMods(btf, id);
  if (!t) return 0;
  switch (t.kind) {
    case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'FLOAT': case 'DATASEC': return t.size;
    case 'PTR': return 8;
    case 'ARRAY': return t.nelems * sizeOf(btf, t.type, depth + 1);
    case 'VAR': return sizeOf(btf, t.type, depth + 1);
    default: throw new BtfError(`${t.kind} has no size`, { typeId: id });
  }
}

const isComposite = (t: BtfType | undefined): t is Extract<BtfType, { kind: 'STRUCT' | 'UNION' }> => t?.kind === 'STRUCT' || t?.kind === 'UNION';
const isEnum = (t: BtfType | undefined): t is Extract<BtfType, { kind: 'ENUM' | 'ENUM64' }> => t?.kind === 'ENUM' || t?.kind === 'ENUM64';

/** One step of an access: a member (by index and name) or an array element. */
interface Step { readonly kind: 'member' | 'array'; readonly index: number; readonly name: string }

/** A field access resolved in one BTF: its steps, where it lands, and the field itself. */
interface FieldSpec {
  readonly rootId: number;
  readonly steps: readonly Step[];
  readonly bitOffset: number;
  /** Type of the accessed field (or element). */
  readonly fieldId: number;
  readonly bitfieldSize: number;
}

function parseAccess(access: string): number[] {
  if (!/^\d+(:\d+)*$/.test(access)) throw new BtfError(`bad CO-RE access string '${access}'`);
  return access.split(':').map(Number);
}

/** The local spec of a field access: walk the access string over the program's own types. */
function localField(btf: Btf, rootId: number, idx: readonly number[]): FieldSpec {
  let id = rootId, bitOffset = idx[0]! * sizeOf(btf, rootId) * 8, bitfieldSize = 0;
  const steps: Step[] = [];
  for (let i = 1; i < idx.length; i++) {
    const { t } = skipMods(btf, id);
    const k = idx[i]!;
    if (isComposite(t)) {
      const m = t.members[k];
      if (!m) throw new BtfError(`CO-RE access ${idx.join(':')}: member ${k} of ${t.name || '(anon)'} does not exist`, { typeId: id });
      bitOffset += m.bitOffset;
      bitfieldSize = m.bitfieldSize;
      steps.push({ kind: 'member', index: k, name: m.name });
      id = m.type;
    } else if (t?.kind === 'ARRAY') {
      bitOffset += k * sizeOf(btf, t.type) * 8;
      bitfieldSize = 0;
      steps.push({ kind: 'array', index: k, name: '' });
      id = t.type;
    } else {
      throw new BtfError(`CO-RE access ${idx.join(':')}: step ${i} goes into a ${t?.kind ?? 'void'}`, { typeId: id });
    }
  }
  return { rootId, steps, bitOffset, fieldId: id, bitfieldSize };
}

/** Are two field types compatible (libbpf's bpf_core_fields_are_compat)? */
function fieldsCompat(local: Btf, lid: number, target: Btf, tid: number, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  const l = skipMods(local, lid).t, t = skipMods(target, tid).t;
  if (isComposite(l) && isComposite(t)) return true;
  if (!l || !t) return !l && !t;
  if (isEnum(l) && isEnum(t)) return !l.name || !t.name || essential(l.name) === essential(t.name);
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case 'PTR': case 'FLOAT': return true;
    case 'FWD': return essential(l.name) === essential(t.name);
    case 'INT': return l.offset === 0 && t.kind === 'INT' && t.offset === 0;
    case 'ARRAY': return t.kind === 'ARRAY' && fieldsCompat(local, l.type, target, t.type, depth + 1);
    default: return false;
  }
}

/** Find a member by name in a composite, descending into anonymous members; its bit offset from the composite. */
function findMember(btf: Btf, id: number, name: string, depth = 0): { type: number; bitOffset: number; bitfieldSize: number } | null {
  if (depth > MAX_DEPTH) return null;
  const { t } = skipMods(btf, id);
  if (!isComposite(t)) return null;
  for (const m of t.members) {
    if (m.name === name) return { type: m.type, bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize };
    if (!m.name) {
      const inner = findMember(btf, m.type, name, depth + 1);
      if (inner) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    }
  }
  return null;
}

/** The same access in the target's types, or null when it does not fit there. */
function targetField(local: Btf, spec: FieldSpec, idx0: number, target: Btf, rootId: number): FieldSpec | null {
  let id = rootId, bitOffset = idx0 * sizeOf(target, rootId) * 8, bitfieldSize = 0;
  let lid = spec.rootId;
  for (const s of spec.steps) {
    const lt = skipMods(local, lid).t;
    const { t } = skipMods(target, id);
    if (s.kind === 'array') {
      if (t?.kind !== 'ARRAY' || lt?.kind !== 'ARRAY') return null;
      // A flexible array (0 elements) can be indexed past its end, as in C.
      if (t.nelems && s.index >= t.nelems) return null;
      bitOffset += s.index * sizeOf(target, t.type) * 8;
      bitfieldSize = 0;
      id = t.type; lid = lt.type;
      continue;
    }
    if (!isComposite(lt)) return null;
    if (!isComposite(t)) return null;
    const lm = lt.members[s.index]!;
    // An anonymous member locally is only a path: the next named member is looked up by name
    // in the target, through its own anonymous members, wherever it is.
    if (!s.name) { lid = lm.type; continue; }
    const tm = findMember(target, id, s.name);
    if (!tm || !fieldsCompat(local, lm.type, target, tm.type)) return null;
    bitOffset += tm.bitOffset; bitfieldSize = tm.bitfieldSize; id = tm.type; lid = lm.type;
  }
  return { rootId, steps: spec.steps, bitOffset, fieldId: id, bitfieldSize };
}

/** A field relocation's value in one BTF (libbpf's bpf_core_calc_field_relo). */
function fieldValue(btf: Btf, f: FieldSpec, kind: CoreKind): { value: bigint; size: number } {
  const bitfield = f.bitfieldSize > 0;
  const mt = skipMods(btf, f.fieldId).t;
  let byteSize: number, byteOff: number, bitSize: number;
  if (!bitfield) {
    byteSize = sizeOf(btf, f.fieldId);
    byteOff = f.bitOffset / 8;
    bitSize = byteSize * 8;
    if (!Number.isInteger(byteOff)) throw new BtfError(`a non-bitfield at bit ${f.bitOffset}`, { typeId: f.rootId });
  } else {
    bitSize = f.bitfieldSize;
    byteSize = mt && 'size' in mt ? (mt as { size: number }).size : 4;
    // The smallest naturally aligned load of the field's type size (or larger) that covers the bits.
    byteOff = Math.floor(f.bitOffset / 8 / byteSize) * byteSize;
    while (f.bitOffset + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new BtfError('a bitfield no 8-byte load covers', { typeId: f.rootId });
      byteSize *= 2;
      byteOff = Math.floor(f.bitOffset / 8 / byteSize) * byteSize;
    }
  }
  switch (kind) {
    case 'field_byte_offset': return { value: BigInt(byteOff), size: byteSize };
    case 'field_byte_size': return { value: BigInt(byteSize), size: byteSize };
    case 'field_exists': return { value: 1n, size: byteSize };
    case 'field_signed': {
      const signed = (isEnum(mt) && mt.signed) || (mt?.kind === 'INT' && (mt.encoding & 1) === 1);
      return { value: signed ? 1n : 0n, size: byteSize };
    }
    case 'field_lshift_u64': return { value: BigInt(64 - (f.bitOffset + bitSize - byteOff * 8)), size: byteSize };
    case 'field_rshift_u64': return { value: BigInt(64 - bitSize), size: byteSize };
    default: throw new BtfError(`${kind} is not a field relocation`);
  }
}

/** Types that match structurally (libbpf's bpf_core_types_match, for TYPE_MATCHES). */
function typesMatch(local: Btf, lid: number, target: Btf, tid: number, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  const l = skipMods(local, lid, false), t = skipMods(target, tid, false);
  if (!l.t || !t.t) return !l.t && !t.t;
  const a = l.t, b = t.t;
  if (a.name && b.name && essential(a.name) !== essential(b.name)) return false;
  if (isEnum(a) && isEnum(b)) return a.size === b.size && a.values.every((e) => (b.values as readonly { name: string }[]).some((x) => essential(x.name) === essential(e.name)));
  if (a.kind === 'FWD' || b.kind === 'FWD') return (a.kind === 'FWD' ? a.union : a.kind === 'UNION') === (b.kind === 'FWD' ? b.union : b.kind === 'UNION');
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'INT': return b.kind === 'INT' && a.size === b.size && (a.encoding & 1) === (b.encoding & 1);
    case 'FLOAT': return b.kind === 'FLOAT' && a.size === b.size;
    case 'PTR': case 'TYPEDEF': return typesMatch(local, a.type, target, (b as { type: number }).type, depth + 1);
    case 'ARRAY': return b.kind === 'ARRAY' && a.nelems === b.nelems && typesMatch(local, a.type, target, b.type, depth + 1);
    case 'STRUCT': case 'UNION':
      return isComposite(b) && a.members.every((m) => {
        const tm = b.members.find((x) => x.name === m.name);
        return tm !== undefined && tm.bitfieldSize === m.bitfieldSize && typesMatch(local, m.type, target, tm.type, depth + 1);
      });
    case 'FUNC_PROTO':
      return b.kind === 'FUNC_PROTO' && a.params.length === b.params.length && typesMatch(local, a.returnType, target, b.returnType, depth + 1) &&
        a.params.every((p, i) => typesMatch(local, p.type, target, b.params[i]!.type, depth + 1));
    default: return false;
  }
}

/** Kernel types a local type may relocate to: same kind, same name without the ___flavor. */
export function coreCandidates(local: Btf, localId: number, target: Btf): number[] {
  const t = local.type(localId);
  const name = essential(t.name);
  if (!name) throw new BtfError(`CO-RE relocation against an anonymous ${t.kind}`, { typeId: localId });
  const out: number[] = [];
  const kinds = t.kind === 'ENUM' || t.kind === 'ENUM64' ? ['ENUM', 'ENUM64'] : [t.kind];
  for (let id = 1; id < target.count; id++) {
    const n = target.nameOf(id);
    if (n.length < name.length || !n.startsWith(name) || essential(n) !== name) continue;
    if (kinds.includes(target.type(id).kind)) out.push(id);
  }
  return out;
}

/** Compute one relocation (insn is relo.insnOff / 8). Candidates may be passed in to share a search. */
export function resolveCoreRelo(local: Btf, relo: CoreRelo, target: Btf, candidates?: readonly number[]): CoreResult {
  const kind = CORE_RELO_KINDS[relo.kind];
  if (!kind) throw new BtfError(`unknown CO-RE relocation kind ${relo.kind}`);
  const insn = relo.insnOff / 8;
  const idx = parseAccess(relo.access);
  const rootId = relo.typeId;
  const exists = kind === 'field_exists' || kind === 'type_exists' || kind === 'enumval_exists' || kind === 'type_matches';

  if (kind === 'type_id_local') return { kind, insn, local: BigInt(rootId), target: BigInt(rootId), targetId: rootId };

  let localValue: bigint, localSize: number | undefined;
  let spec: FieldSpec | undefined;
  let enumName = '';
  if (kind.startsWith('field_')) {
    spec = localField(local, rootId, idx);
    const v = fieldValue(local, spec, kind);
    localValue = v.value; localSize = v.size;
  } else if (kind.startsWith('enumval_')) {
    const { t } = skipMods(local, rootId);
    if (!isEnum(t)) throw new BtfError(`${kind} on a ${t?.kind ?? 'void'}`, { typeId: rootId });
    const e = t.values[idx[0]!];
    if (!e) throw new BtfError(`${kind}: enumerator ${idx[0]} does not exist`, { typeId: rootId });
    enumName = e.name;
    localValue = kind === 'enumval_exists' ? 1n : BigInt(e.value);
  } else {
    localValue = kind === 'type_size' ? BigInt(sizeOf(local, rootId)) : kind === 'type_id_target' ? BigInt(rootId) : 1n;
  }

  const results: { value: bigint; id: number; size?: number }[] = [];
  for (const cand of candidates ?? coreCandidates(local, rootId, target)) {
    if (spec) {
      const tf = targetField(local, spec, idx[0]!, target, cand);
      if (!tf) continue;
      const v = fieldValue(target, tf, kind);
      results.push({ value: v.value, id: cand, size: v.size });
    } else if (kind.startsWith('enumval_')) {
      const { t } = skipMods(target, cand);
      if (!isEnum(t)) continue;
      const hit = (t.values as readonly { name: string; value: number | bigint }[]).find((x) => essential(x.name) === essential(enumName));
      if (!hit) continue;
      results.push({ value: kind === 'enumval_exists' ? 1n : BigInt(hit.value), id: cand });
    } else if (kind === 'type_matches') {
      if (typesMatch(local, rootId, target, cand)) results.push({ value: 1n, id: cand });
    } else {
      results.push({ value: kind === 'type_size' ? BigInt(sizeOf(target, cand)) : kind === 'type_id_target' ? BigInt(cand) : 1n, id: cand });
    }
  }
  if (!results.length) {
    if (exists) return { kind, insn, local: localValue, target: 0n, targetId: 0, ...(localSize !== undefined ? { localSize } : {}) };
    const what = local.type(rootId);
    const path = spec ? spec.steps.map((st) => (st.kind === 'array' ? `[${st.index}]` : st.name ? `.${st.name}` : '')).join('') : enumName ? `::${enumName}` : '';
    return {
      kind, insn, local: localValue, targetId: 0,
      poison: `${kind} of ${what.kind.toLowerCase()} ${what.name}${path} (access ${relo.access}): the running kernel's BTF has no ${essential(what.name)} with it; ` +
        'guard the access with bpf_core_field_exists() (or the type/enum exists checks), or build for this kernel',
    };
  }
  const first = results[0]!;
  const clash = results.find((r) => r.value !== first.value);
  // libbpf refuses the load here rather than poisoning: no answer is right.
  if (clash) throw new BtfError(`CO-RE relocation for instruction ${insn} (${kind}, access ${relo.access}) is ambiguous: kernel types [${first.id}] and [${clash.id}] give ${first.value} and ${clash.value}`, { typeId: rootId });
  return {
    kind, insn, local: localValue, target: first.value, targetId: first.id,
    ...(localSize !== undefined ? { localSize } : {}), ...(first.size !== undefined ? { targetSize: first.size } : {}),
  };
}

const SIZE_BITS: Readonly<Record<number, number>> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };

/**
 * Patch a section's instruction bytes with a result: ALU imm, a load/store's offset (and its
 * size when the field's size changed), or an LD_IMM64's 64-bit constant; a poisoned result
 * becomes `call 0xbad2310` (both slots of an LD_IMM64), as libbpf writes it.
 */
export function applyCoreRelo(insns: Uint8Array, r: CoreResult): void {
  const p = r.insn * 8;
  if (p + 8 > insns.length) throw new BtfError(`CO-RE relocation for instruction ${r.insn} outside the section`);
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const op = insns[p]!, cls = op & 7;
  const poison = (at: number) => { insns[at] = 0x85; insns[at + 1] = 0; v.setInt16(at + 2, 0, true); v.setInt32(at + 4, CORE_POISON_IMM, true); };
  if (r.poison !== undefined || r.target === undefined) {
    poison(p);
    if (op === 0x18 && p + 16 <= insns.length) poison(p + 8);
    return;
  }
  const val = r.target;
  if (op === 0x18) {
    const u = BigInt.asUintN(64, val);
    v.setUint32(p + 4, Number(u & 0xffffffffn), true);
    v.setUint32(p + 12, Number(u >> 32n), true);
  } else if ((cls === 4 || cls === 7) && (op & 0x08) === 0) { // ALU / ALU64, K source
    if (val > 0x7fffffffn || val < -0x80000000n) throw new BtfError(`CO-RE value ${val} does not fit instruction ${r.insn}'s imm`);
    v.setInt32(p + 4, Number(val), true);
  } else if (cls === 1 || cls === 2 || cls === 3) { // LDX, ST, STX
    if (r.kind !== 'field_byte_offset') throw new BtfError(`a ${r.kind} relocation on a memory instruction (${r.insn})`);
    if (val > 0x7fffn) throw new BtfError(`CO-RE offset ${val} does not fit instruction ${r.insn}'s 16-bit offset`);
    v.setInt16(p + 2, Number(val), true);
    if (r.targetSize !== undefined && r.targetSize !== r.localSize && cls === 1) {
      const bits = SIZE_BITS[r.targetSize];
      if (bits === undefined) throw new BtfError(`CO-RE field size ${r.targetSize} has no load of that size`);
      insns[p] = (op & ~0x18) | bits;
    }
  } else {
    throw new BtfError(`CO-RE relocation on instruction ${r.insn} (opcode 0x${op.toString(16)}), which carries no relocatable value`);
  }
}

export interface CoreRelocated {
  /** Copies of the sections that had relocations, patched; the others are not included. */
  readonly sections: ReadonlyMap<string, Uint8Array>;
  /** Every relocation's result, by section, in .BTF.ext order. */
  readonly results: ReadonlyMap<string, readonly CoreResult[]>;
}

/**
 * Apply every CO-RE relocation of an object: its .BTF and .BTF.ext (decoded), its executable
 * sections' bytes by name, and the target kernel's BTF. What an ELF loader calls before it
 * decodes functions; poisoned instructions are explained by corePoisonAt().
 */
export function coreRelocateSections(local: Btf, ext: { readonly coreRelo: readonly { readonly section: string; readonly records: readonly CoreRelo[] }[] },
  sections: ReadonlyMap<string, Uint8Array>, target: Btf): CoreRelocated {
  const out = new Map<string, Uint8Array>(), results = new Map<string, CoreResult[]>();
  const cands = new Map<number, number[]>();
  for (const sec of ext.coreRelo) {
    const bytes = sections.get(sec.section);
    if (!bytes) throw new BtfError(`CO-RE relocations for section '${sec.section}', which the object does not have`);
    const copy = bytes.slice();
    const list: CoreResult[] = [];
    for (const relo of sec.records) {
      let c = cands.get(relo.typeId);
      if (!c && relo.kind !== 6) { c = coreCandidates(local, relo.typeId, target); cands.set(relo.typeId, c); }
      const r = resolveCoreRelo(local, relo, target, c ?? []);
      applyCoreRelo(copy, r);
      list.push(r);
    }
    out.set(sec.section, copy);
    results.set(sec.section, list);
  }
  return { sections: out, results };
}

/** Why the instruction at a section's slot was poisoned, for the message when the verifier refuses it. */
export function corePoisonAt(results: CoreRelocated['results'], section: string, insn: number): string | undefined {
  return results.get(section)?.find((r) => r.insn === insn && r.poison !== undefined)?.poison;
}
