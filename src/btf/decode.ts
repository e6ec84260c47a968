/**
 * decodeBtf(): a .BTF blob (or /sys/kernel/btf/*) as a Btf. Decoding is two-speed: one pass
 * over the type section records where each type starts and checks that its record fits (a few
 * ms for vmlinux's 5 MB); a type's fields and names are decoded on first use and cached. So
 * asking for one struct of vmlinux costs the pass plus that struct.
 *
 *   btf_header (24 bytes, little-endian):
 *   +--------+-----+-----+---------+----------+----------+---------+---------+
 *   | magic  | ver |flags| hdr_len | type_off | type_len | str_off | str_len |
 *   | eb9f   | 1   | 0   |   u32   |   u32    |   u32    |   u32   |   u32   |
 *   +--------+-----+-----+---------+----------+----------+---------+---------+
 *   Offsets are from the end of the header. The string section is NUL-separated names; offset 0
 *   is the empty name.
 *
 * Split BTF (kernel modules) continues a base: its ids start after the base's last, and string
 * offsets past the base's string section are its own.
 */
import { Buffer, isAscii } from 'node:buffer';
import { BtfError } from './errors.ts';
import {
  BTF_MAGIC, BTF_VERSION, HEADER_LEN, KIND_NAMES, Kind, MAX_TYPE, recordSize,
  type BtfType, type KindName, type Member, type Param, type EnumValue, type Enum64Value, type SecVar,
} from './types.ts';

export interface BtfHeader {
  readonly magic: number;
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

export interface DecodeOptions {
  /** The BTF this one extends (vmlinux, for a module's split BTF). */
  readonly base?: Btf;
}

export class Btf {
  readonly bytes: Uint8Array;
  readonly header: BtfHeader;
  readonly base: Btf | undefined;
  /** The first id this blob defines: 1, or the base's count for split BTF. */
  readonly firstId: number;
  /** One past the last id: ids 1 .. count-1 are types, 0 is void. */
  readonly count: number;
  private readonly view: DataView;
  /** Byte offset of each own type's record, by id - firstId. */
  private readonly offsets: Uint32Array;
  private readonly cache: (BtfType | undefined)[];
  private readonly strBuf: Buffer;
  /** String offsets below this are the base's. */
  private readonly strBase: number;
  private readonly strCache = new Map<number, string>();
  /** The whole string section as one JS string when it is ASCII (byte offset = char offset). */
  private readonly strText: string | undefined;

  constructor(bytes: Uint8Array, opts: DecodeOptions = {}) {
    this.bytes = bytes;
    this.base = opts.base;
    const len = bytes.length;
    if (len < HEADER_LEN) throw new BtfError(`${len} bytes is shorter than the ${HEADER_LEN}-byte header`, { offset: 0 });
    const v = (this.view = new DataView(bytes.buffer, bytes.byteOffset, len));
    const magic = v.getUint16(0, true);
    if (magic === 0x9feb) throw new BtfError('big-endian BTF is not supported (the magic reads 0x9feb)', { offset: 0 });
    if (magic !== BTF_MAGIC) throw new BtfError(`bad magic 0x${magic.toString(16)}, expected 0xeb9f: not a BTF blob`, { offset: 0 });
    const h: BtfHeader = {
      magic, version: v.getUint8(2), flags: v.getUint8(3), hdrLen: v.getUint32(4, true),
      typeOff: v.getUint32(8, true), typeLen: v.getUint32(12, true), strOff: v.getUint32(16, true), strLen: v.getUint32(20, true),
    };
    this.header = h;
    if (h.version !== BTF_VERSION) throw new BtfError(`version ${h.version}, only version 1 exists`, { offset: 2 });
    if (h.flags !== 0) throw new BtfError(`flags 0x${h.flags.toString(16)}: no flags are defined`, { offset: 3 });
    if (h.hdrLen < HEADER_LEN || h.hdrLen > len) throw new BtfError(`header length ${h.hdrLen} is outside 24..${len}`, { offset: 4 });
    const data = len - h.hdrLen;
    if (h.typeOff % 4) throw new BtfError(`type section offset ${h.typeOff} is not 4-byte aligned`, { offset: 8 });
    if (h.typeOff + h.typeLen > data) throw new BtfError(`type section ${h.typeOff}+${h.typeLen} runs past the data (${data} bytes)`, { offset: 8 });
    if (h.strOff + h.strLen > data) throw new BtfError(`string section ${h.strOff}+${h.strLen} runs past the data (${data} bytes)`, { offset: 16 });
    if (h.typeLen && h.strLen && h.typeOff < h.strOff + h.strLen && h.strOff < h.typeOff + h.typeLen) {
      throw new BtfError('the type and string sections overlap', { offset: 8 });
    }
    const s0 = h.hdrLen + h.strOff;
    if (!opts.base) {
      if (h.strLen === 0 || bytes[s0] !== 0) throw new BtfError('the string section must start with the empty name (a NUL byte)', { offset: s0 });
    }
    if (h.strLen && bytes[s0 + h.strLen - 1] !== 0) throw new BtfError('the string section does not end with a NUL byte', { offset: s0 + h.strLen - 1 });
    this.strBuf = Buffer.from(bytes.buffer, bytes.byteOffset + s0, h.strLen);
    this.strBase = opts.base ? opts.base.stringsEnd : 0;
    // Names are ASCII in practice: then one latin1 decode of the section, and each name is a
    // slice of it (V8 shares the characters), instead of a decode per name.
    this.strText = isAscii(this.strBuf) ? this.strBuf.toString('latin1') : undefined;
    this.firstId = opts.base ? opts.base.count : 1;

    // The index pass: where each record starts, and that it fits.
    const t0 = h.hdrLen + h.typeOff, tEnd = t0 + h.typeLen;
    let offsets = new Uint32Array(Math.max(16, h.typeLen >>> 4));
    let n = 0;
    for (let p = t0; p < tEnd;) {
      if (p + 12 > tEnd) throw new BtfError(`a type record needs 12 bytes, ${tEnd - p} are left`, { offset: p, typeId: this.firstId + n });
      const info = v.getUint32(p + 4, true);
      const kind = (info >>> 24) & 0x1f;
      if (kind === 0 || kind > 19) throw new BtfError(`unknown kind ${kind}`, { offset: p + 4, typeId: this.firstId + n });
      const size = recordSize(kind, info & 0xffff);
      if (p + size > tEnd) throw new BtfError(`the ${KIND_NAMES[kind]} record needs ${size} bytes, ${tEnd - p} are left`, { offset: p, typeId: this.firstId + n });
      if (n === offsets.length) { const grown = new Uint32Array(n * 2); grown.set(offsets); offsets = grown; }
      offsets[n++] = p;
      p += size;
    }
    this.offsets = offsets.subarray(0, n);
    this.count = this.firstId + n;
    if (this.count - 1 > MAX_TYPE) throw new BtfError(`${this.count - 1} types is more than BTF_MAX_TYPE (${MAX_TYPE})`, { offset: t0 });
    this.cache = new Array(n);
  }

  /** One past the last string offset (the base's strings come first in split BTF). */
  get stringsEnd(): number { return this.strBase + this.header.strLen; }

  /** The NUL-terminated string at a string-section offset. */
  string(off: number): string {
    if (off < this.strBase) return this.base!.string(off);
    const rel = off - this.strBase;
    if (rel >= this.header.strLen) throw new BtfError(`string offset ${off} is past the string section (${this.stringsEnd} bytes)`);
    const text = this.strText;
    if (text !== undefined) return text.slice(rel, text.indexOf('\0', rel));
    let s = this.strCache.get(off);
    if (s !== undefined) return s;
    const end = this.strBuf.indexOf(0, rel);
    s = this.strBuf.toString('utf8', rel, end);
    this.strCache.set(off, s);
    return s;
  }

  private own(id: number): number {
    const i = id - this.firstId;
    const p = this.offsets[i];
    if (p === undefined || i < 0) throw new BtfError(`type id ${id} is out of range (1..${this.count - 1})`, { typeId: id });
    return p;
  }

  /** The kind number of a type (0 for void), without decoding it. */
  kindOf(id: number): number {
    if (id === 0) return 0;
    if (id < this.firstId) return this.base!.kindOf(id);
    return (this.view.getUint32(this.own(id) + 4, true) >>> 24) & 0x1f;
  }

  /** A type's name, without decoding the rest of it. */
  nameOf(id: number): string {
    if (id === 0) return '';
    if (id < this.firstId) return this.base!.nameOf(id);
    const p = this.own(id);
    return this.stringAt(this.view.getUint32(p, true), p, id);
  }

  private stringAt(off: number, at: number, id: number): string {
    if (off >= this.stringsEnd) throw new BtfError(`name offset ${off} is past the string section (${this.stringsEnd} bytes)`, { offset: at, typeId: id });
    return this.string(off);
  }

  private ref(t: number, at: number, id: number): number {
    if (t >= this.count) throw new BtfError(`refers to type ${t}, but the last type is ${this.count - 1}`, { offset: at, typeId: id });
    return t;
  }

  /** The type with this id (1..count-1), decoded on first use. */
  type(id: number): BtfType {
    if (id < this.firstId) {
      if (id === 0) throw new BtfError('type 0 is void and has no record', { typeId: 0 });
      return this.base!.type(id);
    }
    const i = id - this.firstId;
    const cached = this.cache[i];
    if (cached) return cached;
    const t = this.decodeType(id);
    this.cache[i] = t;
    return t;
  }

  /**
   * The raw record offsets and sections, for formatters that read bytes directly (the raw dump
   * of vmlinux writes 300k lines; objects per type would be garbage).
   */
  raw(): { readonly view: DataView; readonly offsets: Uint32Array; readonly strings: Uint8Array; readonly stringsBase: number } {
    return { view: this.view, offsets: this.offsets, strings: new Uint8Array(this.strBuf.buffer, this.strBuf.byteOffset, this.strBuf.length), stringsBase: this.strBase };
  }

  /** The type, decoded afresh and not kept (for one pass over every type, like a dump). */
  peek(id: number): BtfType {
    if (id < this.firstId) return this.type(id);
    return this.cache[id - this.firstId] ?? this.decodeType(id);
  }

  // Hot: vmlinux has 126k types. No closures here (tsx's keepNames wraps each one in a call)
  // and kinds as literal numbers (imported consts become getter calls under tsx).
  private decodeType(id: number): BtfType {
    const v = this.view, p = this.own(id);
    const info = v.getUint32(p + 4, true);
    const kind = (info >>> 24) & 0x1f, vlen = info & 0xffff, kflag = info >>> 31 === 1;
    const name = this.stringAt(v.getUint32(p, true), p, id);
    const su = v.getUint32(p + 8, true);
    switch (kind) {
      case 1: { // INT
        const x = v.getUint32(p + 12, true);
        if (x & 0xf000ff00) throw new BtfError(`INT has reserved bits set (0x${x.toString(16)})`, { offset: p + 12, typeId: id });
        return { kind: 'INT', name, size: su, encoding: (x >>> 24) & 0x0f, offset: (x >>> 16) & 0xff, bits: x & 0xff };
      }
      case 2: case 8: case 9: case 10: case 11: case 18: { // PTR TYPEDEF VOLATILE CONST RESTRICT TYPE_TAG
        const k = KIND_NAMES[kind] as 'PTR';
        const t = this.ref(su, p + 8, id);
        return kflag ? { kind: k, name, type: t, kflag } : { kind: k, name, type: t };
      }
      case 3: // ARRAY
        return { kind: 'ARRAY', name, type: this.ref(v.getUint32(p + 12, true), p + 12, id), indexType: this.ref(v.getUint32(p + 16, true), p + 16, id), nelems: v.getUint32(p + 20, true) };
      case 4: case 5: { // STRUCT UNION
        const members: Member[] = [];
        for (let j = 0, o = p + 12; j < vlen; j++, o += 12) {
          const off = v.getUint32(o + 8, true);
          members.push({
            name: this.stringAt(v.getUint32(o, true), o, id), type: this.ref(v.getUint32(o + 4, true), o + 4, id),
            bitOffset: kflag ? off & 0xffffff : off, bitfieldSize: kflag ? off >>> 24 : 0,
          });
        }
        return { kind: kind === 4 ? 'STRUCT' : 'UNION', name, size: su, kflag, members };
      }
      case 6: { // ENUM
        const values: EnumValue[] = [];
        for (let j = 0, o = p + 12; j < vlen; j++, o += 8) {
          values.push({ name: this.stringAt(v.getUint32(o, true), o, id), value: kflag ? v.getInt32(o + 4, true) : v.getUint32(o + 4, true) });
        }
        return { kind: 'ENUM', name, size: su, signed: kflag, values };
      }
      case 19: { // ENUM64
        const values: Enum64Value[] = [];
        for (let j = 0, o = p + 12; j < vlen; j++, o += 12) {
          const raw = (BigInt(v.getUint32(o + 8, true)) << 32n) | BigInt(v.getUint32(o + 4, true));
          values.push({ name: this.stringAt(v.getUint32(o, true), o, id), value: kflag ? BigInt.asIntN(64, raw) : raw });
        }
        return { kind: 'ENUM64', name, size: su, signed: kflag, values };
      }
      case 7: // FWD
        return { kind: 'FWD', name, union: kflag };
      case 12: // FUNC
        return { kind: 'FUNC', name, type: this.ref(su, p + 8, id), linkage: vlen };
      case 13: { // FUNC_PROTO
        const params: Param[] = [];
        for (let j = 0, o = p + 12; j < vlen; j++, o += 8) {
          params.push({ name: this.stringAt(v.getUint32(o, true), o, id), type: this.ref(v.getUint32(o + 4, true), o + 4, id) });
        }
        return { kind: 'FUNC_PROTO', name, returnType: this.ref(su, p + 8, id), params };
      }
      case 14: // VAR
        return { kind: 'VAR', name, type: this.ref(su, p + 8, id), linkage: v.getUint32(p + 12, true) };
      case 15: { // DATASEC
        const vars: SecVar[] = [];
        for (let j = 0, o = p + 12; j < vlen; j++, o += 12) {
          vars.push({ type: this.ref(v.getUint32(o, true), o, id), offset: v.getUint32(o + 4, true), size: v.getUint32(o + 8, true) });
        }
        return { kind: 'DATASEC', name, size: su, vars };
      }
      case 16: // FLOAT
        return { kind: 'FLOAT', name, size: su };
      case 17: { // DECL_TAG
        const t = this.ref(su, p + 8, id), componentIdx = v.getInt32(p + 12, true);
        return kflag ? { kind: 'DECL_TAG', name, type: t, componentIdx, kflag } : { kind: 'DECL_TAG', name, type: t, componentIdx };
      }
      default:
        throw new BtfError(`unknown kind ${kind}`, { offset: p + 4, typeId: id });
    }
  }

  /** The raw info word's kflag (for dumps that print the flag as stored). */
  kflagOf(id: number): boolean {
    if (id < this.firstId) return this.base!.kflagOf(id);
    return this.view.getUint32(this.own(id) + 4, true) >>> 31 === 1;
  }

  /** This blob's own types, in id order (ids firstId..count-1). Decodes every one of them. */
  types(): BtfType[] {
    const out: BtfType[] = new Array(this.count - this.firstId);
    for (let id = this.firstId; id < this.count; id++) out[id - this.firstId] = this.type(id);
    return out;
  }

  /** Ids of types with this name (and kind, when given): a scan over names only. */
  find(name: string, kind?: KindName): number[] {
    const out: number[] = [];
    const k = kind ? Kind[kind] : -1;
    if (this.base) out.push(...this.base.find(name, kind));
    for (let id = this.firstId; id < this.count; id++) {
      if (k >= 0 && this.kindOf(id) !== k) continue;
      if (this.nameOf(id) === name) out.push(id);
    }
    return out;
  }
}

/** Decode a BTF blob; throws BtfError on anything malformed. */
export function decodeBtf(bytes: Uint8Array, opts: DecodeOptions = {}): Btf {
  return new Btf(bytes, opts);
}
