/**
 * 64-bit arithmetic on int32 pairs (lo, hi), for the operations the compiled code does not
 * inline. Each returns the low half and leaves the high half in `A.hi`. Semantics are RFC 9669
 * section 4.1: unsigned division by 0 gives 0 and modulo by 0 leaves dst; signed division
 * truncates towards zero, INT64_MIN / -1 wraps to INT64_MIN and INT64_MIN % -1 is 0.
 */

const big = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo >>> 0);

/** High 32 bits of the unsigned 64-bit product of two u32 (exact: 16-bit partial products). */
function mulhiu(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

export const A = {
  hi: 0,
  /** Low 64 bits of the product (the same for signed and unsigned). */
  mul(al: number, ah: number, bl: number, bh: number): number {
    A.hi = (mulhiu(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
    return Math.imul(al, bl);
  },
  udiv(al: number, ah: number, bl: number, bh: number): number {
    if (bl === 0 && bh === 0) { A.hi = 0; return 0; }
    if (ah === 0 && bh === 0) { A.hi = 0; return ((al >>> 0) / (bl >>> 0)) | 0; }
    return A.split(BigInt.asUintN(64, big(al, ah)) / BigInt.asUintN(64, big(bl, bh)));
  },
  umod(al: number, ah: number, bl: number, bh: number): number {
    if (bl === 0 && bh === 0) { A.hi = ah; return al; }
    if (ah === 0 && bh === 0) { A.hi = 0; return ((al >>> 0) % (bl >>> 0)) | 0; }
    return A.split(BigInt.asUintN(64, big(al, ah)) % BigInt.asUintN(64, big(bl, bh)));
  },
  sdiv(al: number, ah: number, bl: number, bh: number): number {
    if (bl === 0 && bh === 0) { A.hi = 0; return 0; }
    // both fit in an int32 (hi is the sign of lo): Number division is exact
    if (ah === al >> 31 && bh === bl >> 31) {
      const q = Math.trunc(al / bl); // -2^31 / -1 = 2^31 still fits in the pair
      A.hi = q < 0 ? -1 : 0;
      return q | 0;
    }
    return A.split(BigInt.asIntN(64, big(al, ah)) / BigInt.asIntN(64, big(bl, bh))); // asIntN below wraps MIN / -1
  },
  smod(al: number, ah: number, bl: number, bh: number): number {
    if (bl === 0 && bh === 0) { A.hi = ah; return al; }
    if (ah === al >> 31 && bh === bl >> 31) {
      const r = al % bl; // sign of the dividend, as C; -0 becomes 0 below
      A.hi = r < 0 ? -1 : 0;
      return r | 0;
    }
    return A.split(BigInt.asIntN(64, big(al, ah)) % BigInt.asIntN(64, big(bl, bh)));
  },
  split(v: bigint): number {
    const u = BigInt.asUintN(64, v);
    A.hi = Number(BigInt.asIntN(32, u >> 32n));
    return Number(BigInt.asIntN(32, u & 0xffffffffn));
  },
  /** dst << (n & 63) */
  shl(l: number, h: number, n: number): number {
    const c = n & 63;
    if (c === 0) { A.hi = h; return l; }
    if (c < 32) { A.hi = (h << c) | (l >>> (32 - c)); return l << c; }
    A.hi = l << (c - 32);
    return 0;
  },
  /** dst >> (n & 63), logical */
  shr(l: number, h: number, n: number): number {
    const c = n & 63;
    if (c === 0) { A.hi = h; return l; }
    if (c < 32) { A.hi = (h >>> c) | 0; return (l >>> c) | (h << (32 - c)); }
    A.hi = 0;
    return (h >>> (c - 32)) | 0;
  },
  /** dst >> (n & 63), arithmetic */
  sar(l: number, h: number, n: number): number {
    const c = n & 63;
    if (c === 0) { A.hi = h; return l; }
    if (c < 32) { A.hi = h >> c; return (l >>> c) | (h << (32 - c)); }
    A.hi = h >> 31;
    return h >> (c - 32);
  },
  bswap32(v: number): number {
    return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
  },
  bswap16(v: number): number {
    return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
  },
};

/** A register pair as an unsigned bigint. */
export const pairToBig = (lo: number, hi: number): bigint => BigInt.asUintN(64, big(lo, hi));
/** An unsigned (or signed) bigint as a register pair [lo, hi] of int32s. */
export function bigToPair(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(BigInt.asIntN(32, u & 0xffffffffn)), Number(BigInt.asIntN(32, u >> 32n))];
}
