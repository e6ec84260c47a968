/**
 * IPv4 header (RFC 791), 20 bytes, no options.
 *
 *   0       4       8              16    19             31
 *   +-------+-------+--------------+-----+--------------+
 *   |ver=4  |IHL=5  |  DSCP/ECN    |   total length     |
 *   |          identification      |flags| frag offset  |
 *   |  TTL          |  protocol    |  header checksum   |
 *   |                     source address                |
 *   |                  destination address              |
 *   +---------------------------------------------------+
 *
 * The header checksum is the Internet checksum of the header with the checksum field zero.
 */
import { parseIPv4 } from './address.ts';
import { internetChecksum } from './checksum.ts';
import { FrameError } from './errors.ts';
import { uint } from './fields.ts';

export const IPV4_HLEN = 20;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export const DEFAULT_SRC_IPV4 = '10.231.0.1';
export const DEFAULT_DST_IPV4 = '10.231.0.2';

export interface IPv4Options {
  readonly src?: string | Uint8Array;
  readonly dst?: string | Uint8Array;
  readonly protocol: number;
  /** Default 64. */
  readonly ttl?: number;
  /** Identification; default 1. */
  readonly id?: number;
  /** DSCP and ECN byte; default 0. */
  readonly tos?: number;
  /** Don't Fragment; default false. */
  readonly df?: boolean;
}

export function ipv4Of(v: string | Uint8Array | undefined, dflt: string, field: string): Uint8Array {
  if (v === undefined) return parseIPv4(dflt, field);
  if (typeof v === 'string') return parseIPv4(v, field);
  if (v.length !== 4) throw new FrameError(field, `an IPv4 address is 4 bytes, got ${v.length}`);
  return v;
}

/** An IPv4 packet around the payload, its header checksum computed. */
export function ipv4Packet(opts: IPv4Options, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const total = IPV4_HLEN + payload.length;
  if (total > 0xffff) throw new FrameError('payload', `an IPv4 packet holds at most ${0xffff - IPV4_HLEN} payload bytes, got ${payload.length}`);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out[0] = 0x45;
  out[1] = uint(opts.tos, 0, 8, 'tos');
  dv.setUint16(2, total);
  dv.setUint16(4, uint(opts.id, 1, 16, 'id'));
  dv.setUint16(6, opts.df ? 0x4000 : 0);
  out[8] = uint(opts.ttl, 64, 8, 'ttl');
  out[9] = uint(opts.protocol, 0, 8, 'protocol');
  out.set(ipv4Of(opts.src, DEFAULT_SRC_IPV4, 'src'), 12);
  out.set(ipv4Of(opts.dst, DEFAULT_DST_IPV4, 'dst'), 16);
  dv.setUint16(10, internetChecksum(out.subarray(0, IPV4_HLEN)));
  out.set(payload, IPV4_HLEN);
  return out;
}
