/**
 * Header layouts (offset and size of each field, from the start of that header) so programs
 * read like C without magic numbers: `b.ldField(r2, r1, ipv4.protocol, ETH_HLEN)` is
 * `ip->protocol`. Multi-byte fields are in network byte order in the packet; compare a loaded
 * u16 with `htons(5001)`, not 5001.
 */
import type { SizeName } from './opcode.ts';

export interface Field {
  readonly off: number;
  readonly size: SizeName;
}
const f = (off: number, size: SizeName): Field => ({ off, size });

export const ETH_HLEN = 14;
export const ETH_ALEN = 6;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;
/** struct ethhdr; h_dest and h_source are 6-byte arrays: only their offsets are loadable as a whole. */
export const eth = { h_dest: 0, h_source: 6, h_proto: f(12, 'u16') } as const;

export const IPV4_HLEN = 20;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
/** struct iphdr (ihl and version share byte 0). */
export const ipv4 = {
  ver_ihl: f(0, 'u8'), tos: f(1, 'u8'), tot_len: f(2, 'u16'), id: f(4, 'u16'), frag_off: f(6, 'u16'),
  ttl: f(8, 'u8'), protocol: f(9, 'u8'), check: f(10, 'u16'), saddr: f(12, 'u32'), daddr: f(16, 'u32'),
} as const;

export const IPV6_HLEN = 40;
/** struct ipv6hdr; saddr and daddr are 16 bytes: load them as four u32 (saddr.off + 4*i). */
export const ipv6 = {
  ver_tc_flow: f(0, 'u32'), payload_len: f(4, 'u16'), nexthdr: f(6, 'u8'), hop_limit: f(7, 'u8'),
  saddr: f(8, 'u32'), daddr: f(24, 'u32'),
} as const;

export const UDP_HLEN = 8;
/** struct udphdr */
export const udp = { source: f(0, 'u16'), dest: f(2, 'u16'), len: f(4, 'u16'), check: f(6, 'u16') } as const;

export const TCP_HLEN = 20;
/** struct tcphdr (doff and flags share bytes 12-13). */
export const tcp = {
  source: f(0, 'u16'), dest: f(2, 'u16'), seq: f(4, 'u32'), ack_seq: f(8, 'u32'), doff_flags: f(12, 'u16'),
  window: f(14, 'u16'), check: f(16, 'u16'), urg_ptr: f(18, 'u16'),
} as const;

/**
 * A 16-bit value in network order, as a little-endian u16 load of it reads: htons(5001) = 0x8913.
 * (BPF is little-endian on every architecture tsbpf runs on.)
 */
export function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/** A 32-bit value in network order, as a little-endian u32 load reads it (unsigned). */
export function htonl(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
