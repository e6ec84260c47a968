/**
 * TCP header (RFC 9293 §3.1), 20 bytes plus options.
 *
 *   0              16             31
 *   +--------------+--------------+
 *   | source port  |  dest port   |
 *   |       sequence number       |
 *   |    acknowledgment number    |
 *   |off|rsv|flags |   window     |
 *   |  checksum    | urgent ptr   |
 *   |  options (padded to 4) …    |
 *   +-----------------------------+
 *
 * The checksum covers the IP pseudo-header, the header and the payload.
 */
import { internetChecksum, pseudoHeader } from './checksum.ts';
import { FrameError } from './errors.ts';
import { uint } from './fields.ts';
import { IPPROTO_TCP } from './ipv4.ts';
import { DEFAULT_DPORT, DEFAULT_SPORT } from './udp.ts';

export const TCP_HLEN = 20;

/** The flag bits, in the order tcpdump prints them. */
export const TCP_FLAGS = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20, ece: 0x40, cwr: 0x80 } as const;
export type TcpFlag = keyof typeof TCP_FLAGS;

export interface TcpOptions {
  readonly sport?: number;
  readonly dport?: number;
  /** Default 1. */
  readonly seq?: number;
  /** Default 0. */
  readonly ack?: number;
  /** Flag names ('syn', 'ack', …) or the byte; default ['syn']. */
  readonly flags?: readonly TcpFlag[] | number;
  /** Default 65535. */
  readonly window?: number;
  readonly urgent?: number;
  /** Raw option bytes (MSS, SACK, …), padded with zeros (EOL) to a multiple of 4. */
  readonly options?: Uint8Array;
}

export function tcpFlagsOf(flags: readonly TcpFlag[] | number | undefined): number {
  if (flags === undefined) return TCP_FLAGS.syn;
  if (typeof flags === 'number') return uint(flags, 0, 8, 'flags');
  let v = 0;
  for (const f of flags) {
    const bit = TCP_FLAGS[f];
    if (bit === undefined) throw new FrameError('flags', `unknown TCP flag '${f}' (one of ${Object.keys(TCP_FLAGS).join(', ')})`);
    v |= bit;
  }
  return v;
}

/** A TCP segment; `src`/`dst` are the IP addresses (4 or 16 bytes) of its pseudo-header. */
export function tcpSegment(opts: TcpOptions, payload: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const options = opts.options ?? new Uint8Array(0);
  const optLen = (options.length + 3) & ~3;
  if (optLen > 40) throw new FrameError('options', `TCP options take at most 40 bytes, got ${options.length}`);
  const hlen = TCP_HLEN + optLen;
  const out = new Uint8Array(hlen + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, uint(opts.sport, DEFAULT_SPORT, 16, 'sport'));
  dv.setUint16(2, uint(opts.dport, DEFAULT_DPORT, 16, 'dport'));
  dv.setUint32(4, uint(opts.seq, 1, 32, 'seq'));
  dv.setUint32(8, uint(opts.ack, 0, 32, 'ack'));
  out[12] = (hlen / 4) << 4;
  out[13] = tcpFlagsOf(opts.flags);
  dv.setUint16(14, uint(opts.window, 65535, 16, 'window'));
  dv.setUint16(18, uint(opts.urgent, 0, 16, 'urgent'));
  out.set(options, TCP_HLEN);
  out.set(payload, hlen);
  dv.setUint16(16, tcpChecksum(out, src, dst));
  return out;
}

/** The checksum a TCP segment (its checksum field zero) must carry. */
export function tcpChecksum(segment: Uint8Array, src: Uint8Array, dst: Uint8Array): number {
  return internetChecksum(pseudoHeader(src, dst, IPPROTO_TCP, segment.length), segment);
}
