/**
 * Ethernet II (IEEE 802.3 with an EtherType), as the kernel hands a frame to tc and XDP: no
 * preamble and no FCS.
 *
 *   0        6        12     14
 *   +--------+--------+------+---------
 *   |  dst   |  src   | type | payload …   (padded to 60 bytes on the wire)
 *   +--------+--------+------+---------
 */
import { parseMac } from './address.ts';
import { FrameError } from './errors.ts';

export const ETH_HLEN = 14;
/** The shortest frame without FCS (64 bytes on the wire less the 4-byte FCS). */
export const ETH_ZLEN = 60;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;

export const DEFAULT_SRC_MAC = '02:00:00:00:00:01';
export const DEFAULT_DST_MAC = '02:00:00:00:00:02';

export interface EthernetOptions {
  /** Destination MAC; default 02:00:00:00:00:02. */
  readonly dst?: string | Uint8Array;
  /** Source MAC; default 02:00:00:00:00:01. */
  readonly src?: string | Uint8Array;
  /** The EtherType. */
  readonly type: number;
  /** Pad the frame with zeros to 60 bytes, as a NIC does; default true. */
  readonly pad?: boolean;
}

export function macOf(v: string | Uint8Array | undefined, dflt: string, field: string): Uint8Array {
  if (v === undefined) return parseMac(dflt, field);
  if (typeof v === 'string') return parseMac(v, field);
  if (v.length !== 6) throw new FrameError(field, `a MAC address is 6 bytes, got ${v.length}`);
  return v;
}

/** An Ethernet frame around the payload. */
export function ethernetFrame(opts: EthernetOptions, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!Number.isInteger(opts.type) || opts.type < 0 || opts.type > 0xffff) throw new FrameError('type', `EtherType ${opts.type} is not a 16-bit number`);
  const len = ETH_HLEN + payload.length;
  const out = new Uint8Array(opts.pad === false ? len : Math.max(len, ETH_ZLEN));
  out.set(macOf(opts.dst, DEFAULT_DST_MAC, 'dst'), 0);
  out.set(macOf(opts.src, DEFAULT_SRC_MAC, 'src'), 6);
  new DataView(out.buffer).setUint16(12, opts.type);
  out.set(payload, ETH_HLEN);
  return out;
}
