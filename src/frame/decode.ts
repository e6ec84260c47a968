/**
 * Reading a frame back: Ethernet, then IPv4/IPv6 and UDP/TCP, or ARP, with every checksum
 * verified. The decoder takes any bytes and never throws: what is cut short is named in
 * `truncated`, and the layers before it are kept.
 */
import { formatIP, formatMac } from './address.ts';
import { internetChecksum, pseudoHeader } from './checksum.ts';
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6 } from './ethernet.ts';
import { IPPROTO_TCP, IPPROTO_UDP, IPV4_HLEN } from './ipv4.ts';
import { IPV6_HLEN } from './ipv6.ts';
import { ARP_LEN } from './arp.ts';
import { TCP_HLEN } from './tcp.ts';
import { UDP_HLEN } from './udp.ts';

export interface EthernetLayer { readonly src: string; readonly dst: string; readonly type: number }
export interface IPLayer {
  readonly version: 4 | 6;
  readonly src: string;
  readonly dst: string;
  /** protocol (IPv4) or next header (IPv6). */
  readonly protocol: number;
  /** TTL or hop limit. */
  readonly ttl: number;
  /** IPv4 total length, or IPv6 header + payload length. */
  readonly length: number;
  readonly headerLength: number;
  /** IPv4: the identification. */
  readonly id?: number;
  /** IPv4: the header checksum as carried, and whether it verifies. */
  readonly checksum?: number;
  readonly checksumOk?: boolean;
  /** IPv4: a fragment other than the first (no L4 header to read). */
  readonly fragment?: boolean;
  /** IPv4: Don't Fragment. */
  readonly df?: boolean;
  /** The DSCP/ECN byte (IPv4) or traffic class (IPv6). */
  readonly tos: number;
  /** IPv6: the flow label. */
  readonly flowLabel?: number;
}
export interface UdpLayer { readonly sport: number; readonly dport: number; readonly length: number; readonly checksum: number; readonly checksumOk: boolean }
export interface TcpLayer {
  readonly sport: number; readonly dport: number; readonly seq: number; readonly ack: number; readonly flags: number;
  readonly window: number; readonly urgent: number; readonly headerLength: number; readonly checksum: number; readonly checksumOk: boolean;
}
export interface ArpLayer { readonly op: number; readonly senderMac: string; readonly senderIp: string; readonly targetMac: string; readonly targetIp: string }

export interface DecodedFrame {
  /** The whole frame's length. */
  readonly length: number;
  readonly eth?: EthernetLayer;
  readonly ip?: IPLayer;
  readonly udp?: UdpLayer;
  readonly tcp?: TcpLayer;
  readonly arp?: ArpLayer;
  /** The L4 payload (UDP/TCP), within the IP length (Ethernet padding excluded). */
  readonly payload?: Uint8Array;
  /** The layer that was cut short, e.g. 'udp header'. */
  readonly truncated?: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function decodeFrame(frame: Uint8Array): DecodedFrame {
  const out: Mutable<DecodedFrame> = { length: frame.length };
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < ETH_HLEN) return { ...out, truncated: 'ethernet header' };
  out.eth = { dst: formatMac(frame.subarray(0, 6)), src: formatMac(frame.subarray(6, 12)), type: dv.getUint16(12) };
  const type = out.eth.type;
  if (type === ETH_P_ARP) {
    if (frame.length < ETH_HLEN + ARP_LEN) return { ...out, truncated: 'arp' };
    const a = frame.subarray(ETH_HLEN);
    if (a[4] !== 6 || a[5] !== 4) return { ...out, truncated: 'arp (not IPv4 over Ethernet)' };
    out.arp = {
      op: dv.getUint16(ETH_HLEN + 6), senderMac: formatMac(a.subarray(8, 14)), senderIp: formatIP(a.subarray(14, 18)),
      targetMac: formatMac(a.subarray(18, 24)), targetIp: formatIP(a.subarray(24, 28)),
    };
    return out;
  }
  let l4: Uint8Array, src: Uint8Array, dst: Uint8Array, proto: number;
  if (type === ETH_P_IP) {
    const ip = frame.subarray(ETH_HLEN);
    if (ip.length < IPV4_HLEN || ip[0]! >> 4 !== 4) return { ...out, truncated: 'ipv4 header' };
    const hl = (ip[0]! & 0x0f) * 4;
    const total = dv.getUint16(ETH_HLEN + 2);
    if (hl < IPV4_HLEN || ip.length < hl) return { ...out, truncated: 'ipv4 header' };
    src = ip.slice(12, 16); dst = ip.slice(16, 20); proto = ip[9]!;
    const frag = dv.getUint16(ETH_HLEN + 6) & 0x1fff;
    out.ip = {
      version: 4, src: formatIP(src), dst: formatIP(dst), protocol: proto, ttl: ip[8]!, length: total, headerLength: hl,
      id: dv.getUint16(ETH_HLEN + 4), checksum: dv.getUint16(ETH_HLEN + 10), checksumOk: internetChecksum(ip.subarray(0, hl)) === 0,
      df: (dv.getUint16(ETH_HLEN + 6) & 0x4000) !== 0, tos: ip[1]!,
      ...(frag ? { fragment: true } : {}),
    };
    if (total < hl || ip.length < total) return { ...out, truncated: 'ipv4 payload' };
    if (frag) return out;
    l4 = ip.subarray(hl, total);
  } else if (type === ETH_P_IPV6) {
    const ip = frame.subarray(ETH_HLEN);
    if (ip.length < IPV6_HLEN || ip[0]! >> 4 !== 6) return { ...out, truncated: 'ipv6 header' };
    const plen = dv.getUint16(ETH_HLEN + 4);
    src = ip.slice(8, 24); dst = ip.slice(24, 40); proto = ip[6]!;
    const vtf = dv.getUint32(ETH_HLEN);
    out.ip = {
      version: 6, src: formatIP(src), dst: formatIP(dst), protocol: proto, ttl: ip[7]!, length: IPV6_HLEN + plen, headerLength: IPV6_HLEN,
      tos: (vtf >>> 20) & 0xff, flowLabel: vtf & 0xfffff,
    };
    if (ip.length < IPV6_HLEN + plen) return { ...out, truncated: 'ipv6 payload' };
    l4 = ip.subarray(IPV6_HLEN, IPV6_HLEN + plen);
  } else {
    return out;
  }
  const l4dv = new DataView(l4.buffer, l4.byteOffset, l4.byteLength);
  if (proto === IPPROTO_UDP) {
    if (l4.length < UDP_HLEN) return { ...out, truncated: 'udp header' };
    const len = l4dv.getUint16(4), sum = l4dv.getUint16(6);
    // IPv4 may send 0 for "no checksum"; otherwise the sum over pseudo-header + datagram is 0.
    const ok = (sum === 0 && src.length === 4) || internetChecksum(pseudoHeader(src, dst, proto, l4.length), l4) === 0;
    out.udp = { sport: l4dv.getUint16(0), dport: l4dv.getUint16(2), length: len, checksum: sum, checksumOk: ok };
    if (len < UDP_HLEN || len > l4.length) return { ...out, truncated: 'udp payload' };
    out.payload = l4.subarray(UDP_HLEN, len);
  } else if (proto === IPPROTO_TCP) {
    if (l4.length < TCP_HLEN) return { ...out, truncated: 'tcp header' };
    const hl = (l4[12]! >> 4) * 4;
    out.tcp = {
      sport: l4dv.getUint16(0), dport: l4dv.getUint16(2), seq: l4dv.getUint32(4), ack: l4dv.getUint32(8), flags: l4[13]!,
      window: l4dv.getUint16(14), urgent: l4dv.getUint16(18), headerLength: hl, checksum: l4dv.getUint16(16),
      checksumOk: internetChecksum(pseudoHeader(src, dst, proto, l4.length), l4) === 0,
    };
    if (hl < TCP_HLEN || hl > l4.length) return { ...out, truncated: 'tcp options' };
    out.payload = l4.subarray(hl);
  }
  return out;
}
