/**
 * Whole frames in one call: Ethernet + IPv4 or IPv6 + UDP or TCP, or Ethernet + ARP, every
 * length and checksum filled in.
 *
 *   udpFrame({ dport: 5001, payload: 'hello' })
 *   tcpFrame({ src: 'fd00::1', dst: 'fd00::2', dport: 80, flags: ['syn'] })
 *   arpFrame({ targetIp: '10.0.0.2' })
 *
 * Defaults: 02:00:00:00:00:01 -> 02:00:00:00:00:02, 10.231.0.1 -> 10.231.0.2 (fd00::1 -> fd00::2
 * when either address is IPv6), port 40000 -> 5001, an empty payload, padded to 60 bytes.
 */
import { parseIP } from './address.ts';
import { arpPacket, type ArpOptions } from './arp.ts';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ethernetFrame } from './ethernet.ts';
import { FrameError } from './errors.ts';
import { bytesOf } from './fields.ts';
import { DEFAULT_DST_IPV4, DEFAULT_SRC_IPV4, IPPROTO_TCP, IPPROTO_UDP, ipv4Packet } from './ipv4.ts';
import { DEFAULT_DST_IPV6, DEFAULT_SRC_IPV6, ipv6Packet } from './ipv6.ts';
import { tcpSegment, type TcpOptions } from './tcp.ts';
import { udpDatagram, type UdpOptions } from './udp.ts';

/** The link and network layers every IP frame shares. */
export interface IpFrameOptions {
  /** Source IP (IPv4 or IPv6 text, or 4/16 bytes). */
  readonly src?: string | Uint8Array;
  /** Destination IP. */
  readonly dst?: string | Uint8Array;
  readonly srcMac?: string | Uint8Array;
  readonly dstMac?: string | Uint8Array;
  /** TTL or hop limit; default 64. */
  readonly ttl?: number;
  /** IPv4 identification; default 1. */
  readonly id?: number;
  /** IPv4 DSCP/ECN byte, or IPv6 traffic class; default 0. */
  readonly tos?: number;
  /** IPv4 Don't Fragment; default false. */
  readonly df?: boolean;
  /** IPv6 flow label; default 0. */
  readonly flowLabel?: number;
  /** Bytes, or a string (UTF-8). */
  readonly payload?: Uint8Array | string;
  /** Pad to the 60-byte Ethernet minimum; default true. */
  readonly pad?: boolean;
}

export interface UdpFrameOptions extends IpFrameOptions, UdpOptions {}
export interface TcpFrameOptions extends IpFrameOptions, TcpOptions {}
export interface ArpFrameOptions extends ArpOptions {
  readonly srcMac?: string | Uint8Array;
  /** Default ff:ff:ff:ff:ff:ff for a request, the target MAC for a reply. */
  readonly dstMac?: string | Uint8Array;
  readonly pad?: boolean;
}

const addr = (v: string | Uint8Array | undefined, dflt: string, field: string): Uint8Array => {
  const b = v === undefined ? parseIP(dflt, field) : typeof v === 'string' ? parseIP(v, field) : v;
  if (b.length !== 4 && b.length !== 16) throw new FrameError(field, `an IP address is 4 or 16 bytes, got ${b.length}`);
  return b;
};

/** Resolve the two addresses: both IPv4 or both IPv6 (a default follows the other's family). */
function addresses(o: IpFrameOptions): { src: Uint8Array; dst: Uint8Array } {
  const v6 = [o.src, o.dst].some((a) => (typeof a === 'string' ? a.includes(':') : a?.length === 16));
  const src = addr(o.src, v6 ? DEFAULT_SRC_IPV6 : DEFAULT_SRC_IPV4, 'src');
  const dst = addr(o.dst, v6 ? DEFAULT_DST_IPV6 : DEFAULT_DST_IPV4, 'dst');
  if (src.length !== dst.length) throw new FrameError('dst', 'the source and destination must both be IPv4 or both IPv6');
  return { src, dst };
}

function ipFrame(o: IpFrameOptions, protocol: number, l4: (src: Uint8Array, dst: Uint8Array) => Uint8Array): Uint8Array {
  const { src, dst } = addresses(o);
  const segment = l4(src, dst);
  const eth = { ...(o.srcMac !== undefined ? { src: o.srcMac } : {}), ...(o.dstMac !== undefined ? { dst: o.dstMac } : {}), ...(o.pad !== undefined ? { pad: o.pad } : {}) };
  if (src.length === 4) {
    const ip = ipv4Packet({ src, dst, protocol, ...(o.ttl !== undefined ? { ttl: o.ttl } : {}), ...(o.id !== undefined ? { id: o.id } : {}), ...(o.tos !== undefined ? { tos: o.tos } : {}), ...(o.df !== undefined ? { df: o.df } : {}) }, segment);
    return ethernetFrame({ ...eth, type: ETH_P_IP }, ip);
  }
  const ip = ipv6Packet({ src, dst, nextHeader: protocol, ...(o.ttl !== undefined ? { hopLimit: o.ttl } : {}), ...(o.tos !== undefined ? { trafficClass: o.tos } : {}), ...(o.flowLabel !== undefined ? { flowLabel: o.flowLabel } : {}) }, segment);
  return ethernetFrame({ ...eth, type: ETH_P_IPV6 }, ip);
}

/** An Ethernet/IP/UDP frame. */
export function udpFrame(o: UdpFrameOptions = {}): Uint8Array {
  if (o.noChecksum && [o.src, o.dst].some((a) => (typeof a === 'string' ? a.includes(':') : a?.length === 16))) {
    throw new FrameError('noChecksum', 'UDP over IPv6 must carry a checksum (RFC 8200 §8.1)');
  }
  return ipFrame(o, IPPROTO_UDP, (src, dst) => udpDatagram(o, bytesOf(o.payload, 'payload'), src, dst));
}

/** An Ethernet/IP/TCP frame (a SYN unless `flags` says otherwise). */
export function tcpFrame(o: TcpFrameOptions = {}): Uint8Array {
  return ipFrame(o, IPPROTO_TCP, (src, dst) => tcpSegment(o, bytesOf(o.payload, 'payload'), src, dst));
}

/** An Ethernet/ARP frame: a broadcast request by default. */
export function arpFrame(o: ArpFrameOptions = {}): Uint8Array {
  const reply = o.op === 'reply';
  const arp = arpPacket(o);
  return ethernetFrame({
    type: ETH_P_ARP,
    src: o.srcMac ?? o.senderMac ?? '02:00:00:00:00:01',
    dst: o.dstMac ?? (reply ? o.targetMac ?? '02:00:00:00:00:02' : 'ff:ff:ff:ff:ff:ff'),
    ...(o.pad !== undefined ? { pad: o.pad } : {}),
  }, arp);
}
