/**
 * Codecs turn map keys and values into the bytes the kernel stores, and back. A codec has a
 * fixed size (maps have fixed key and value sizes) and reads/writes at an offset of a DataView,
 * so the hot path never allocates. Multi-byte integers are little-endian: the host order of
 * every architecture tsbpf runs on, and what BPF programs see. Integer codecs accept a number or
 * a bigint on encode (Number()/BigInt() coerce), so a CLI can pass whatever it parsed.
 *
 * Pure (no FFI, no kernel): a kernel BpfMap (src/syscall) and a VmMap (src/vm) share these, so a
 * test written against one reads the other the same way.
 */

/** The scalar types the default codecs produce: u32 as number, u64 as bigint, else bytes. */
export type Scalar = number | bigint | Uint8Array;

export interface Codec<T> {
  readonly size: number;
  /** Alignment inside a struct (C rules). */
  readonly align: number;
  encode(value: T, dv: DataView, off: number): void;
  decode(dv: DataView, off: number): T;
}

export const u8: Codec<number> = {
  size: 1, align: 1,
  encode: (v, dv, off) => dv.setUint8(off, Number(v)),
  decode: (dv, off) => dv.getUint8(off),
};
export const u16: Codec<number> = {
  size: 2, align: 2,
  encode: (v, dv, off) => dv.setUint16(off, Number(v), true),
  decode: (dv, off) => dv.getUint16(off, true),
};
export const u32: Codec<number> = {
  size: 4, align: 4,
  encode: (v, dv, off) => dv.setUint32(off, Number(v), true),
  decode: (dv, off) => dv.getUint32(off, true),
};
export const s32: Codec<number> = {
  size: 4, align: 4,
  encode: (v, dv, off) => dv.setInt32(off, Number(v), true),
  decode: (dv, off) => dv.getInt32(off, true),
};
export const u64: Codec<bigint> = {
  size: 8, align: 8,
  encode: (v, dv, off) => dv.setBigUint64(off, BigInt(v), true),
  decode: (dv, off) => dv.getBigUint64(off, true),
};
export const s64: Codec<bigint> = {
  size: 8, align: 8,
  encode: (v, dv, off) => dv.setBigInt64(off, BigInt(v), true),
  decode: (dv, off) => dv.getBigInt64(off, true),
};

/** Raw bytes of a fixed size (a copy on decode; shorter input is zero-padded). */
export function bytes(size: number): Codec<Uint8Array> {
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

type StructValue<F extends Record<string, Codec<unknown>>> = { [K in keyof F]: F[K] extends Codec<infer T> ? T : never };

/**
 * A C struct of codecs, laid out with C's alignment rules (each field at a multiple of its
 * alignment, the size rounded up to the largest), so it matches what clang gives the program:
 * `struct({ packets: u64, last_ns: u64 })`. Missing fields encode as zero.
 */
export function struct<F extends Record<string, Codec<unknown>>>(fields: F): Codec<StructValue<F>> & { readonly offsets: Readonly<Record<keyof F, number>> } {
  let off = 0, align = 1;
  const offsets = {} as Record<keyof F, number>;
  for (const [k, c] of Object.entries(fields)) {
    off = Math.ceil(off / c.align) * c.align;
    offsets[k as keyof F] = off;
    off += c.size;
    align = Math.max(align, c.align);
  }
  const size = Math.ceil(off / align) * align;
  const entries = Object.entries(fields) as [keyof F & string, Codec<unknown>][];
  return {
    size, align, offsets,
    encode(v, dv, base) {
      new Uint8Array(dv.buffer, dv.byteOffset + base, size).fill(0);
      for (const [k, c] of entries) if (v[k] !== undefined) c.encode(v[k], dv, base + offsets[k]);
    },
    decode(dv, base) {
      const out = {} as StructValue<F>;
      for (const [k, c] of entries) (out as Record<string, unknown>)[k] = c.decode(dv, base + offsets[k]);
      return out;
    },
  };
}

/** The codec a map's key or value gets when none is given: u32 / u64 numbers, else bytes. */
export function defaultCodec(size: number): Codec<number> | Codec<bigint> | Codec<Uint8Array> {
  return size === 4 ? u32 : size === 8 ? u64 : bytes(size);
}
