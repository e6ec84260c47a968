/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of the
 * data as big-endian 16-bit words, an odd last byte padded with a zero byte.
 *
 *   sum = Σ words (end-around carry)      checksum = ~sum & 0xffff
 *
 * IPv4 sums its header alone; UDP and TCP sum a pseudo-header (RFC 768, RFC 9293 §3.1,
 * RFC 8200 §8.1) followed by their header and payload:
 *
 *   IPv4: src(4) dst(4) 0(1) protocol(1) length(2)
 *   IPv6: src(16) dst(16) length(4) 0(3) next header(1)
 */

/** The ones' complement sum of the data, folded to 16 bits, starting from `initial`. */
export function onesComplementSum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const even = data.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum over the chunks, in order (each chunk but the last must be of even length). */
export function internetChecksum(...chunks: readonly Uint8Array[]): number {
  let sum = 0;
  for (const c of chunks) sum = onesComplementSum(c, sum);
  return ~sum & 0xffff;
}

/** The pseudo-header UDP and TCP checksums cover, for IPv4 (4-byte addresses) or IPv6 (16-byte). */
export function pseudoHeader(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): Uint8Array {
  if (src.length === 4 && dst.length === 4) {
    const p = new Uint8Array(12);
    p.set(src, 0);
    p.set(dst, 4);
    p[9] = protocol;
    new DataView(p.buffer).setUint16(10, length);
    return p;
  }
  const p = new Uint8Array(40);
  p.set(src, 0);
  p.set(dst, 16);
  new DataView(p.buffer).setUint32(32, length);
  p[39] = protocol;
  return p;
}
