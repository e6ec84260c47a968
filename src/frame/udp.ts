/**
 * UDP header (RFC 768), 8 bytes.
 *
 *   0              16             31
 *   +--------------+--------------+
 *   | source port  |  dest port   |
 *   |   length     |  checksum    |
 *   +--------------+--------------+
 *
 * The checksum covers the IP pseudo-header, the header and the payload. A computed 0 is sent
 * as 0xffff, since 0 means "no checksum" over IPv4 (and is not allowed over IPv6, RFC 8200 §8.1).
 */
import { internetChecksum, pseudoHeader } from './checksum.ts';
import { FrameError } from './errors.ts';
import { uint } from './fields.ts';
import { IPPROTO_UDP } from './ipv4.ts';

export const UDP_HLEN = 8;
export const DEFAULT_SPORT = 40000;
export const DEFAULT_DPORT = 5001;

export interface UdpOptions {
  /** Default 40000. */
  readonly sport?: number;
  /** Default 5001. */
  readonly dport?: number;
  /** Leave the checksum 0 ("none", IPv4 only); default false. */
  readonly noChecksum?: boolean;
}

/** A UDP datagram; `src`/`dst` are the IP addresses (4 or 16 bytes) of its pseudo-header. */
export function udpDatagram(opts: UdpOptions, payload: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const len = UDP_HLEN + payload.length;
  if (len > 0xffff) throw new FrameError('payload', `a UDP datagram holds at most ${0xffff - UDP_HLEN} payload bytes, got ${payload.length}`);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, uint(opts.sport, DEFAULT_SPORT, 16, 'sport'));
  dv.setUint16(2, uint(opts.dport, DEFAULT_DPORT, 16, 'dport'));
  dv.setUint16(4, len);
  out.set(payload, UDP_HLEN);
  if (!opts.noChecksum) dv.setUint16(6, udpChecksum(out, src, dst));
  return out;
}

/** The checksum a UDP datagram (its checksum field zero) must carry; 0 becomes 0xffff. */
export function udpChecksum(datagram: Uint8Array, src: Uint8Array, dst: Uint8Array): number {
  return internetChecksum(pseudoHeader(src, dst, IPPROTO_UDP, datagram.length), datagram) || 0xffff;
}
