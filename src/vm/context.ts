/**
 * The context a program gets in r1, built from a frame: `struct __sk_buff` for tc and socket
 * filters (offsets from src/asm/skb.ts, the uapi mirror struct) and `struct xdp_md` for XDP.
 * data and data_end are 32-bit fields holding VM addresses of the packet, as the uapi declares
 * them; the kernel rewrites those loads to 64-bit pointers, the VM does not need to.
 */
import { skb } from '../asm/skb.ts';
import type { ProgramType } from '../asm/program.ts';
import { PACKET_BASE } from './memory.ts';

/** sizeof(struct __sk_buff) on this uapi: hwtstamp (u64) at 184. */
export const SKB_SIZE = 192;
/** struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex. */
export const xdpMd = { data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 } as const;
export const XDP_MD_SIZE = 24;

export type ContextKind = 'skb' | 'xdp' | 'mem';

/** Which context a program type runs with; other types get raw memory (r1 = mem, r2 = length). */
export function contextKind(type: ProgramType | 'raw'): ContextKind {
  switch (type) {
    case 'sched_cls': case 'sched_act': case 'socket_filter': case 'cgroup_skb':
    case 'lwt_in': case 'lwt_out': case 'lwt_xmit': case 'sk_skb':
      return 'skb';
    case 'xdp': return 'xdp';
    default: return 'mem';
  }
}

/** The __sk_buff fields a test may set (the rest are 0 or derived from the frame). */
export interface SkbFields {
  len?: number;
  pkt_type?: number;
  mark?: number;
  queue_mapping?: number;
  /** skb->protocol as the program reads it: big-endian EtherType (default: the frame's). */
  protocol?: number;
  vlan_present?: number;
  vlan_tci?: number;
  vlan_proto?: number;
  priority?: number;
  ingress_ifindex?: number;
  ifindex?: number;
  tc_index?: number;
  /** cb[0..4] */
  cb?: readonly number[];
  hash?: number;
  tc_classid?: number;
  napi_id?: number;
  tstamp?: bigint;
  wire_len?: number;
  gso_segs?: number;
  gso_size?: number;
}

/** The __sk_buff fields a program may write: tc may set these (socket filters only cb). */
const TC_WRITABLE: readonly [number, number][] = [
  [skb.mark, 4], [skb.queue_mapping, 4], [skb.priority, 4], [skb.tc_index, 4], [skb.cb, 20], [skb.tc_classid, 4], [skb.tstamp, 8],
];
const CB_ONLY: readonly [number, number][] = [[skb.cb, 20]];
const PTR_FIELDS = new Set<number>([skb.data, skb.data_end, skb.data_meta]);

const within = (ranges: readonly [number, number][], off: number, size: number): boolean =>
  ranges.some(([o, n]) => off >= o && off + size <= o + n);

/** The access rule of __sk_buff, the verifier's in short: why (off, size) is refused, or null. */
export function skbCheck(type: ProgramType | 'raw'): (off: number, size: number, write: boolean) => string | null {
  const writable = type === 'sched_cls' || type === 'sched_act' ? TC_WRITABLE : CB_ONLY;
  const noDirect = type === 'socket_filter';
  return (off, size, write) => {
    if (noDirect && PTR_FIELDS.has(off - (off % 4))) return `a ${type} program cannot read __sk_buff data/data_end/data_meta: use LD_ABS/LD_IND or bpf_skb_load_bytes`;
    if (write && !within(writable, off, size)) return `__sk_buff field at offset ${off} is not writable by a ${type} program`;
    if (PTR_FIELDS.has(off - (off % 4)) && (size !== 4 || off % 4 !== 0)) return `__sk_buff data/data_end/data_meta must be read as u32 (was ${size} bytes at ${off})`;
    return null;
  };
}

/** Fill a __sk_buff for a frame placed at PACKET_BASE (into a given buffer: no allocation per run). */
export function buildSkb(frame: Uint8Array, f: SkbFields = {}, into?: { bytes: Uint8Array; dv: DataView }): Uint8Array {
  const b = into?.bytes ?? new Uint8Array(SKB_SIZE), dv = into?.dv ?? new DataView(b.buffer);
  b.fill(0);
  // skb->protocol is __be16: the frame's EtherType as it lies in the frame, read little-endian
  const proto = frame.length >= 14 ? frame[12]! | (frame[13]! << 8) : 0;
  const L = true;
  dv.setUint32(skb.len, (f.len ?? frame.length) >>> 0, L);
  dv.setUint32(skb.protocol, (f.protocol ?? proto) >>> 0, L);
  dv.setUint32(skb.data, PACKET_BASE, L);
  dv.setUint32(skb.data_end, PACKET_BASE + frame.length, L);
  dv.setUint32(skb.data_meta, PACKET_BASE, L);
  dv.setUint32(skb.wire_len, (f.wire_len ?? frame.length) >>> 0, L);
  dv.setUint32(skb.gso_segs, (f.gso_segs ?? 1) >>> 0, L);
  if (f.pkt_type !== undefined) dv.setUint32(skb.pkt_type, f.pkt_type >>> 0, L);
  if (f.mark !== undefined) dv.setUint32(skb.mark, f.mark >>> 0, L);
  if (f.queue_mapping !== undefined) dv.setUint32(skb.queue_mapping, f.queue_mapping >>> 0, L);
  if (f.vlan_present !== undefined) dv.setUint32(skb.vlan_present, f.vlan_present >>> 0, L);
  if (f.vlan_tci !== undefined) dv.setUint32(skb.vlan_tci, f.vlan_tci >>> 0, L);
  if (f.vlan_proto !== undefined) dv.setUint32(skb.vlan_proto, f.vlan_proto >>> 0, L);
  if (f.priority !== undefined) dv.setUint32(skb.priority, f.priority >>> 0, L);
  if (f.ingress_ifindex !== undefined) dv.setUint32(skb.ingress_ifindex, f.ingress_ifindex >>> 0, L);
  if (f.ifindex !== undefined) dv.setUint32(skb.ifindex, f.ifindex >>> 0, L);
  if (f.tc_index !== undefined) dv.setUint32(skb.tc_index, f.tc_index >>> 0, L);
  if (f.cb !== undefined) for (let i = 0; i < 5 && i < f.cb.length; i++) dv.setUint32(skb.cb + 4 * i, f.cb[i]! >>> 0, L);
  if (f.hash !== undefined) dv.setUint32(skb.hash, f.hash >>> 0, L);
  if (f.tc_classid !== undefined) dv.setUint32(skb.tc_classid, f.tc_classid >>> 0, L);
  if (f.napi_id !== undefined) dv.setUint32(skb.napi_id, f.napi_id >>> 0, L);
  if (f.tstamp !== undefined) dv.setBigUint64(skb.tstamp, f.tstamp, L);
  if (f.gso_size !== undefined) dv.setUint32(skb.gso_size, f.gso_size >>> 0, L);
  return b;
}

export interface SkbOut {
  readonly mark: number;
  readonly priority: number;
  readonly tc_index: number;
  readonly tc_classid: number;
  readonly queue_mapping: number;
  readonly tstamp: bigint;
  readonly cb: readonly number[];
}

/** What the program left in the writable __sk_buff fields. */
export function readSkb(b: Uint8Array, view?: DataView): SkbOut {
  const dv = view ?? new DataView(b.buffer, b.byteOffset, b.byteLength), L = true;
  const cb = skb.cb;
  return {
    mark: dv.getUint32(skb.mark, L), priority: dv.getUint32(skb.priority, L), tc_index: dv.getUint32(skb.tc_index, L),
    tc_classid: dv.getUint32(skb.tc_classid, L), queue_mapping: dv.getUint32(skb.queue_mapping, L), tstamp: dv.getBigUint64(skb.tstamp, L),
    cb: [dv.getUint32(cb, L), dv.getUint32(cb + 4, L), dv.getUint32(cb + 8, L), dv.getUint32(cb + 12, L), dv.getUint32(cb + 16, L)],
  };
}

export interface XdpFields {
  ingress_ifindex?: number;
  rx_queue_index?: number;
  egress_ifindex?: number;
}

export function buildXdp(frame: Uint8Array, f: XdpFields = {}, into?: { bytes: Uint8Array; dv: DataView }): Uint8Array {
  const b = into?.bytes ?? new Uint8Array(XDP_MD_SIZE), dv = into?.dv ?? new DataView(b.buffer);
  dv.setUint32(xdpMd.data, PACKET_BASE, true);
  dv.setUint32(xdpMd.data_end, PACKET_BASE + frame.length, true);
  dv.setUint32(xdpMd.data_meta, PACKET_BASE, true);
  dv.setUint32(xdpMd.ingress_ifindex, f.ingress_ifindex ?? 0, true);
  dv.setUint32(xdpMd.rx_queue_index, f.rx_queue_index ?? 0, true);
  dv.setUint32(xdpMd.egress_ifindex, f.egress_ifindex ?? 0, true);
  return b;
}

export const xdpCheck = (off: number, size: number, write: boolean): string | null =>
  write ? 'xdp_md is read-only' : size !== 4 || off % 4 !== 0 ? `xdp_md fields are u32 (was ${size} bytes at ${off})` : null;

