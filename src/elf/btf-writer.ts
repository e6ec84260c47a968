/**
 * The minimal .BTF a written object needs, written by hand here (src/btf's encodeBtf can
 * write the same types; this writer predates it and is to move onto it): map definitions in
 * libbpf's BTF form, so that libbpf 1.x (bpftool, Debian 12's tc) reads the maps of `.maps`.
 * Every attribute is an `int (*name)[value]` member of an anonymous struct, as libbpf's
 * __uint() macro writes them; key and value are given by size (key_size/value_size), which
 * libbpf accepts in place of key and value types.
 *
 *   [1] INT 'int' size 4 signed    [2] INT '__ARRAY_SIZE_TYPE__' size 4
 *   per distinct value N: ARRAY(int, N) and PTR to it
 *   per map: STRUCT { type, max_entries, key_size, value_size[, map_flags][, pinning] }, VAR name
 *   DATASEC '.maps' listing the VARs at their offsets
 */
import { BTF_MAGIC, BtfKind } from './btf-maps.ts';

export interface BtfMapEntry {
  readonly name: string;
  /** Section offset of the map's symbol. */
  readonly offset: number;
  /** Struct members in order: name and value. */
  readonly fields: readonly (readonly [string, number])[];
}

const info = (kind: number, vlen = 0) => ((kind & 0x1f) << 24) | (vlen & 0xffff);

/** .BTF bytes declaring the maps of a `.maps` section of `sectionSize` bytes. */
export function btfForMaps(maps: readonly BtfMapEntry[], sectionSize: number): Uint8Array {
  const strs: string[] = [''];
  const strOff = new Map<string, number>([['', 0]]);
  let strLen = 1;
  const str = (s: string): number => {
    let o = strOff.get(s);
    if (o === undefined) { o = strLen; strOff.set(s, o); strs.push(s); strLen += Buffer.byteLength(s) + 1; }
    return o;
  };
  const words: number[] = [];
  let next = 1;
  const type = (...w: number[]): number => { words.push(...w); return next++; };

  const int = type(str('int'), info(BtfKind.INT), 4, (1 << 24) | 32);
  const idx = type(str('__ARRAY_SIZE_TYPE__'), info(BtfKind.INT), 4, 32);
  const ptrTo = new Map<number, number>();
  const ptr = (n: number): number => {
    let id = ptrTo.get(n);
    if (id === undefined) {
      const arr = type(0, info(BtfKind.ARRAY), 0, int, idx, n);
      id = type(0, info(BtfKind.PTR), arr);
      ptrTo.set(n, id);
    }
    return id;
  };
  const vars: { id: number; offset: number; size: number }[] = [];
  for (const m of maps) {
    const members = m.fields.map(([name, value]) => [str(name), ptr(value)] as const);
    const struct = type(0, info(BtfKind.STRUCT, members.length), members.length * 8, ...members.flatMap(([n, t], i) => [n, t, i * 64]));
    const v = type(str(m.name), info(BtfKind.VAR), struct, 1 /* BTF_VAR_GLOBAL_ALLOCATED */);
    vars.push({ id: v, offset: m.offset, size: members.length * 8 });
  }
  type(str('.maps'), info(BtfKind.DATASEC, vars.length), sectionSize, ...vars.flatMap((v) => [v.id, v.offset, v.size]));

  const typeBytes = words.length * 4;
  const strBytes = Buffer.from(strs.join('\0') + '\0');
  const out = new Uint8Array(24 + typeBytes + strBytes.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, BTF_MAGIC, true); v.setUint8(2, 1); v.setUint8(3, 0);
  v.setUint32(4, 24, true); v.setUint32(8, 0, true); v.setUint32(12, typeBytes, true);
  v.setUint32(16, typeBytes, true); v.setUint32(20, strBytes.length, true);
  words.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
  out.set(strBytes, 24 + typeBytes);
  return out;
}
