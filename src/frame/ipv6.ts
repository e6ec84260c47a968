/**
 * IPv6 header (RFC 8200), 40 bytes, no extension headers.
 *
 *   0       4              12                            31
 *   +-------+--------------+-----------------------------+
 *   |ver=6  | traffic class|         flow label          |
 *   |    payload length    | next header |  hop limit    |
 *   |              source address (16 bytes)             |
 *   |           destination address (16 bytes)           |
 *   +----------------------------------------------------+
 *
 * No header checksum: UDP and TCP cover the addresses through their pseudo-header.
 */
import { parseIPv6 } from './address.ts';
import { FrameError } from './errors.ts';
import { uint } from './fields.ts';

export const IPV6_HLEN = 40;
export const DEFAULT_SRC_IPV6 = 'fd00::1';
export const DEFAULT_DST_IPV6 = 'fd00::2';

export interface IPv6Options {
  readonly src?: string | Uint8Array;
  readonly dst?: string | Uint8Array;
  readonly nextHeader: number;
  /** Default 64. */
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
}

export function ipv6Of(v: string | Uint8Array | undefined, dflt: string, field: string): Uint8Array {
  if (v === undefined) return parseIPv6(dflt, field);
  if (typeof v === 'string') return parseIPv6(v, field);
  if (v.length !== 16) throw new FrameError(field, `an IPv6 address is 16 bytes, got ${v.length}`);
  return v;
}

/** An IPv6 packet around the payload. */
export function ipv6Packet(opts: IPv6Options, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (payload.length > 0xffff) throw new FrameError('payload', `an IPv6 payload is at most 65535 bytes (no jumbograms), got ${payload.length}`);
  const out = new Uint8Array(IPV6_HLEN + payload.length);
  const dv = new DataView(out.buffer);
  const tc = uint(opts.trafficClass, 0, 8, 'trafficClass'), fl = uint(opts.flowLabel, 0, 20, 'flowLabel');
  dv.setUint32(0, ((6 << 28) | (tc << 20) | fl) >>> 0);
  dv.setUint16(4, payload.length);
  out[6] = uint(opts.nextHeader, 0, 8, 'nextHeader');
  out[7] = uint(opts.hopLimit, 64, 8, 'hopLimit');
  out.set(ipv6Of(opts.src, DEFAULT_SRC_IPV6, 'src'), 8);
  out.set(ipv6Of(opts.dst, DEFAULT_DST_IPV6, 'dst'), 24);
  out.set(payload, IPV6_HLEN);
  return out;
}
