/**
 * Bytes read through a BTF type, as bpftool's "formatted" output shows them: structs and
 * unions as objects by member name, arrays as arrays (char arrays as strings), integers as
 * numbers (bigints past 2^53), enums by name, bitfields extracted.
 */
import type { Btf } from './decode.ts';
import { BtfError } from './errors.ts';
import type { BtfType } from './types.ts';

export type Formatted = number | bigint | boolean | string | null | Formatted[] | { [k: string]: Formatted };

const MAX_DEPTH = 32;

function readInt(v: DataView, bitOff: number, bits: number, signed: boolean): bigint {
  // Little-endian: gather the bytes that hold the field, then shift and mask.
  const first = bitOff >> 3, last = (bitOff + bits - 1) >> 3;
  if (last >= v.byteLength) throw new BtfError(`a ${bits}-bit field at bit ${bitOff} runs past the ${v.byteLength}-byte value`);
  let raw = 0n;
  for (let i = last; i >= first; i--) raw = (raw << 8n) | BigInt(v.getUint8(i));
  raw = (raw >> BigInt(bitOff & 7)) & ((1n << BigInt(bits)) - 1n);
  return signed ? BigInt.asIntN(bits, raw) : raw;
}

const num = (x: bigint): number | bigint => (x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x);

/** Size in bytes of a type (following typedefs and qualifiers), bounded against loops. */
export function typeSize(btf: Btf, id: number, depth = 0): number {
  if (depth > MAX_DEPTH) throw new BtfError('type chain too deep (a loop?)', { typeId: id });
  if (id === 0) return 0;
  const t = btf.type(id);
  switch (t.kind) {
    case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'FLOAT': case 'DATASEC': return t.size;
    case 'PTR': return 8;
    case 'ARRAY': return typeSize(btf, t.type, depth + 1) * t.nelems;
    case 'TYPEDEF': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': case 'VAR': return typeSize(btf, t.type, depth + 1);
    default: return 0;
  }
}

/**
 * A char array that holds a string, as bpftool decides it: elements (under qualifiers, not
 * typedefs) are a 1-byte int with CHAR encoding or named `char`, and the bytes are printable
 * up to a NUL inside the array.
 */
function charArray(btf: Btf, elemId: number, n: number, bytes: Uint8Array, start: number): string | null {
  let e = elemId === 0 ? undefined : btf.type(elemId);
  for (let d = 0; e && (e.kind === 'CONST' || e.kind === 'VOLATILE' || e.kind === 'RESTRICT' || e.kind === 'TYPE_TAG') && d < MAX_DEPTH; d++) e = e.type ? btf.type(e.type) : undefined;
  if (!n || !e || e.kind !== 'INT' || e.size !== 1 || (!(e.encoding & 2) && e.name !== 'char')) return null;
  for (let i = 0; i < n && start + i < bytes.length; i++) {
    const c = bytes[start + i]!;
    if (c === 0) return new TextDecoder().decode(bytes.subarray(start, start + i));
    if (c <= 0x1f || c >= 0x7f) return null;
  }
  return null;
}

/** The value at byte `off` of `bytes`, read as type id. */
export function formatValue(btf: Btf, id: number, bytes: Uint8Array, off = 0): Formatted {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const go = (id: number, bitOff: number, depth: number, bitfield = 0): Formatted => {
    if (depth > MAX_DEPTH) throw new BtfError('type nesting too deep (a loop?)', { typeId: id });
    if (id === 0) return null;
    const t: BtfType = btf.type(id);
    switch (t.kind) {
      case 'INT': {
        const bits = bitfield || t.bits;
        const x = readInt(v, bitOff + t.offset, bits, (t.encoding & 1) === 1);
        if (t.encoding & 4) return x !== 0n;
        return num(x);
      }
      case 'ENUM': case 'ENUM64': {
        const x = readInt(v, bitOff, bitfield || t.size * 8, t.signed);
        const hit = t.values.find((e) => BigInt(e.value) === x);
        return hit ? hit.name : num(x);
      }
      case 'PTR': return num(readInt(v, bitOff, 64, false));
      case 'FLOAT':
        if (bitOff & 7) throw new BtfError('a float not on a byte boundary', { typeId: id });
        return t.size === 4 ? v.getFloat32(bitOff >> 3, true) : t.size === 8 ? v.getFloat64(bitOff >> 3, true) : null;
      case 'TYPEDEF': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': case 'VAR':
        return go(t.type, bitOff, depth + 1, bitfield);
      case 'ARRAY': {
        const size = typeSize(btf, t.type) * 8;
        const text = charArray(btf, t.type, t.nelems, bytes, bitOff >> 3);
        if (text !== null) return text;
        if (t.nelems * size > (v.byteLength * 8 - bitOff)) throw new BtfError(`array of ${t.nelems} runs past the value`, { typeId: id });
        const out: Formatted[] = [];
        for (let i = 0; i < t.nelems; i++) out.push(go(t.type, bitOff + i * size, depth + 1));
        return out;
      }
      case 'STRUCT': case 'UNION': {
        const out: { [k: string]: Formatted } = {};
        for (const m of t.members) {
          const value = go(m.type, bitOff + m.bitOffset, depth + 1, m.bitfieldSize);
          if (m.name) out[m.name] = value;
          else if (value && typeof value === 'object' && !Array.isArray(value)) Object.assign(out, value); // anonymous struct/union: its members inline
        }
        return out;
      }
      default:
        throw new BtfError(`a ${t.kind} is not a type a value can have`, { typeId: id });
    }
  };
  return go(id, off * 8, 0);
}
