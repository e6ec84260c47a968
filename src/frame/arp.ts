/**
 * ARP for IPv4 over Ethernet (RFC 826), 28 bytes.
 *
 *   0              16      24      31
 *   +--------------+-------+-------+
 *   | htype = 1    | ptype = 0x0800|
 *   | hlen=6|plen=4| operation     |
 *   | sender MAC (6) | sender IP (4)|
 *   | target MAC (6) | target IP (4)|
 *   +------------------------------+
 */
import { ETH_P_IP, macOf } from './ethernet.ts';
import { ipv4Of } from './ipv4.ts';

export const ARP_LEN = 28;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

export interface ArpOptions {
  /** 'request' (default) or 'reply'. */
  readonly op?: 'request' | 'reply';
  readonly senderMac?: string | Uint8Array;
  readonly senderIp?: string | Uint8Array;
  /** Default 00:00:00:00:00:00 for a request, 02:00:00:00:00:02 for a reply. */
  readonly targetMac?: string | Uint8Array;
  readonly targetIp?: string | Uint8Array;
}

export function arpPacket(opts: ArpOptions): Uint8Array {
  const out = new Uint8Array(ARP_LEN);
  const dv = new DataView(out.buffer);
  const reply = opts.op === 'reply';
  dv.setUint16(0, 1);
  dv.setUint16(2, ETH_P_IP);
  out[4] = 6;
  out[5] = 4;
  dv.setUint16(6, reply ? ARPOP_REPLY : ARPOP_REQUEST);
  out.set(macOf(opts.senderMac, '02:00:00:00:00:01', 'senderMac'), 8);
  out.set(ipv4Of(opts.senderIp, '10.231.0.1', 'senderIp'), 14);
  out.set(macOf(opts.targetMac, reply ? '02:00:00:00:00:02' : '00:00:00:00:00:00', 'targetMac'), 18);
  out.set(ipv4Of(opts.targetIp, '10.231.0.2', 'targetIp'), 24);
  return out;
}
