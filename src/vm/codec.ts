/**
 * Map key and value codecs, the same shape as src/syscall/codec.ts (a value of that module
 * fits here too: the interface is structural), so a test written against a kernel BpfMap
 * reads a VmMap the same way: u32 keys as numbers, u64 values as bigints, other sizes as bytes.
 */
export interface Codec<T> {
  readonly size: number;
  readonly align: number;
  encode(value: T, dv: DataView, off: number): void;
  decode(dv: DataView, off: number): T;
}

export type Scalar = number | bigint | Uint8Array;

const u32: Codec<number> = {
  size: 4, align: 4,
  encode: (v, dv, off) => dv.setUint32(off, Number(v), true),
  decode: (dv, off) => dv.getUint32(off, true),
};
const u64: Codec<bigint> = {
  size: 8, align: 8,
  encode: (v, dv, off) => dv.setBigUint64(off, BigInt(v), true),
  decode: (dv, off) => dv.getBigUint64(off, true),
};
function bytes(size: number): Codec<Uint8Array> {
  return {
    size, align: 1,
    encode(v, dv, off) {
      if (v.length > size) throw new RangeError(`${v.length} bytes do not fit a ${size}-byte field`);
      const dst = new Uint8Array(dv.buffer, dv.byteOffset + off, size);
      dst.fill(0);
      dst.set(v);
    },
    decode: (dv, off) => new Uint8Array(dv.buffer.slice(dv.byteOffset + off, dv.byteOffset + off + size)),
  };
}

/** The codec BpfMap picks by default for a size (the same choice, so tests read alike). */
export function defaultCodec(size: number): Codec<Scalar> {
  return (size === 4 ? u32 : size === 8 ? u64 : bytes(size)) as Codec<Scalar>;
}
