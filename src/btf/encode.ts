/**
 * encodeBtf(): types (id 1 first) to a BTF blob the kernel's BPF_BTF_LOAD accepts: the header,
 * the type section, then the string section. The inverse of decodeBtf(): for every valid list,
 * decodeBtf(encodeBtf(types)).types() equals types.
 */
import { BtfError } from './errors.ts';
import { StringTable } from './strings.ts';
import { BTF_MAGIC, BTF_VERSION, HEADER_LEN, Kind, MAX_TYPE, MAX_VLEN, recordSize, type BtfType } from './types.ts';

export interface EncodeOptions {
  /** For split BTF: the id of types[0] (the base's count); references below it are the base's. */
  readonly firstId?: number;
  /** For split BTF: the base's string section length; own strings are numbered after it. */
  readonly stringsStart?: number;
  /** A string table to continue (e.g. to add line text after the types' names). */
  readonly strings?: StringTable;
}

function vlenOf(t: BtfType): number {
  switch (t.kind) {
    case 'STRUCT': case 'UNION': return t.members.length;
    case 'ENUM': case 'ENUM64': return t.values.length;
    case 'FUNC_PROTO': return t.params.length;
    case 'DATASEC': return t.vars.length;
    case 'FUNC': return t.linkage;
    default: return 0;
  }
}

const u32ok = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** Encode types; `extra` strings (line text, file names) can be added to opts.strings first or after. */
export function encodeBtf(types: readonly BtfType[], opts: EncodeOptions = {}): Uint8Array {
  const firstId = opts.firstId ?? 1;
  const count = firstId + types.length;
  if (count - 1 > MAX_TYPE) throw new BtfError(`${count - 1} types is more than BTF_MAX_TYPE (${MAX_TYPE})`);
  const strings = opts.strings ?? new StringTable(opts.stringsStart ?? 0);
  let typeLen = 0;
  for (const t of types) typeLen += recordSize(Kind[t.kind], vlenOf(t));
  const typeBytes = new Uint8Array(typeLen);
  const v = new DataView(typeBytes.buffer);
  let p = 0;
  types.forEach((t, i) => {
    const id = firstId + i;
    const fail = (why: string): never => { throw new BtfError(why, { typeId: id }); };
    const ref = (r: number) => (Number.isInteger(r) && r >= 0 && r < count ? r : fail(`refers to type ${r}, but the last type is ${count - 1}`));
    const u32 = (n: number, what: string) => (u32ok(n) ? n : fail(`${what} ${n} is not a u32`));
    const vlen = vlenOf(t);
    if (vlen > MAX_VLEN) fail(`${vlen} entries is more than BTF_MAX_VLEN (${MAX_VLEN})`);
    const kflag = 'kflag' in t ? t.kflag === true
      : t.kind === 'ENUM' || t.kind === 'ENUM64' ? t.signed : t.kind === 'FWD' ? t.union : false;
    v.setUint32(p, strings.add(t.name), true);
    v.setUint32(p + 4, ((kflag ? 1 : 0) << 31 | Kind[t.kind] << 24 | vlen) >>> 0, true);
    const set = (o: number, n: number) => v.setUint32(p + o, n, true);
    switch (t.kind) {
      case 'INT':
        if (t.encoding > 0xf || t.offset > 0xff || t.bits > 0xff) fail('INT encoding, offset or bits out of range');
        set(8, u32(t.size, 'size'));
        set(12, ((t.encoding << 24) | (t.offset << 16) | t.bits) >>> 0);
        break;
      case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG': case 'FUNC':
        set(8, ref(t.type));
        break;
      case 'ARRAY':
        set(12, ref(t.type)); set(16, ref(t.indexType)); set(20, u32(t.nelems, 'nelems'));
        break;
      case 'STRUCT': case 'UNION':
        set(8, u32(t.size, 'size'));
        t.members.forEach((m, j) => {
          const o = 12 + 12 * j;
          set(o, strings.add(m.name)); set(o + 4, ref(m.type));
          if (t.kflag) {
            if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff) fail(`member '${m.name}': bit offset or bitfield size does not fit the kflag encoding`);
            set(o + 8, ((m.bitfieldSize << 24) | m.bitOffset) >>> 0);
          } else {
            if (m.bitfieldSize) fail(`member '${m.name}' is a bitfield, which needs kflag`);
            set(o + 8, u32(m.bitOffset, 'bit offset'));
          }
        });
        break;
      case 'ENUM':
        set(8, u32(t.size, 'size'));
        t.values.forEach((e, j) => {
          const ok = Number.isInteger(e.value) && (t.signed ? e.value >= -(2 ** 31) && e.value < 2 ** 31 : e.value >= 0 && e.value < 2 ** 32);
          if (!ok) fail(`enumerator '${e.name}' = ${e.value} does not fit a ${t.signed ? 'signed' : 'unsigned'} 32-bit ENUM (use ENUM64)`);
          set(12 + 8 * j, strings.add(e.name)); v.setInt32(p + 16 + 8 * j, e.value | 0, true);
        });
        break;
      case 'ENUM64':
        set(8, u32(t.size, 'size'));
        t.values.forEach((e, j) => {
          const u = BigInt.asUintN(64, e.value);
          set(12 + 12 * j, strings.add(e.name)); set(16 + 12 * j, Number(u & 0xffffffffn)); set(20 + 12 * j, Number(u >> 32n));
        });
        break;
      case 'FWD':
        break;
      case 'FUNC_PROTO':
        set(8, ref(t.returnType));
        t.params.forEach((a, j) => { set(12 + 8 * j, strings.add(a.name)); set(16 + 8 * j, ref(a.type)); });
        break;
      case 'VAR':
        set(8, ref(t.type)); set(12, u32(t.linkage, 'linkage'));
        break;
      case 'DATASEC':
        set(8, u32(t.size, 'size'));
        t.vars.forEach((s, j) => { set(12 + 12 * j, ref(s.type)); set(16 + 12 * j, u32(s.offset, 'offset')); set(20 + 12 * j, u32(s.size, 'size')); });
        break;
      case 'FLOAT':
        set(8, u32(t.size, 'size'));
        break;
      case 'DECL_TAG':
        set(8, ref(t.type)); v.setInt32(p + 12, t.componentIdx, true);
        break;
    }
    p += recordSize(Kind[t.kind], vlen);
  });
  return assemble(typeBytes, strings.bytes());
}

/** Header + types + strings. */
export function assemble(typeBytes: Uint8Array, strBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_LEN + typeBytes.length + strBytes.length);
  const h = new DataView(out.buffer);
  h.setUint16(0, BTF_MAGIC, true);
  h.setUint8(2, BTF_VERSION);
  h.setUint32(4, HEADER_LEN, true);
  h.setUint32(8, 0, true);
  h.setUint32(12, typeBytes.length, true);
  h.setUint32(16, typeBytes.length, true);
  h.setUint32(20, strBytes.length, true);
  out.set(typeBytes, HEADER_LEN);
  out.set(strBytes, HEADER_LEN + typeBytes.length);
  return out;
}
