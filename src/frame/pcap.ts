/**
 * The classic pcap file format (libpcap's savefile, LINKTYPE_ETHERNET), so frames can be
 * opened in tcpdump or Wireshark.
 *
 *   global header (24 bytes): magic a1b2c3d4, version 2.4, thiszone 0, sigfigs 0, snaplen, linktype 1
 *   per frame (16 bytes):     ts_sec, ts_usec, caplen, len; then the bytes
 *
 * All fields little-endian (the magic tells the reader which).
 */
export const LINKTYPE_ETHERNET = 1;

export function pcapFile(frames: readonly Uint8Array[], opts: { snaplen?: number; timeUs?: (i: number) => number } = {}): Uint8Array {
  const snaplen = opts.snaplen ?? 262144;
  const size = 24 + frames.reduce((n, f) => n + 16 + Math.min(f.length, snaplen), 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, snaplen, true);
  dv.setUint32(20, LINKTYPE_ETHERNET, true);
  let at = 24;
  frames.forEach((f, i) => {
    const us = opts.timeUs?.(i) ?? i;
    const cap = Math.min(f.length, snaplen);
    dv.setUint32(at, Math.floor(us / 1e6), true);
    dv.setUint32(at + 4, us % 1e6, true);
    dv.setUint32(at + 8, cap, true);
    dv.setUint32(at + 12, f.length, true);
    out.set(f.subarray(0, cap), at + 16);
    at += 16 + cap;
  });
  return out;
}
