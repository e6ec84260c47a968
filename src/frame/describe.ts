/**
 * One line per frame, as `tcpdump -n -t` prints it (without -v), so a listing reads like the
 * tool everyone knows; checksums that do not verify are flagged at the end of the line.
 *
 *   IP 10.231.0.1.40000 > 10.231.0.2.5001: UDP, length 22
 *   IP 10.231.0.1.40000 > 10.231.0.2.5001: Flags [S], seq 1, win 65535, length 0
 *   IP6 fd00::1.40000 > fd00::2.5001: UDP, length 4
 *   ARP, Request who-has 10.231.0.2 tell 10.231.0.1, length 46
 */
import { decodeFrame, type DecodedFrame, type TcpLayer } from './decode.ts';
import { ETH_HLEN } from './ethernet.ts';
import { IPPROTO_TCP, IPPROTO_UDP } from './ipv4.ts';
import { ARPOP_REPLY, ARPOP_REQUEST } from './arp.ts';

/** tcpdump's flag letters, in its order (FIN SYN RST PSH ACK URG ECE CWR). */
const FLAG_CHARS: readonly (readonly [number, string])[] = [[0x01, 'F'], [0x02, 'S'], [0x04, 'R'], [0x08, 'P'], [0x10, '.'], [0x20, 'U'], [0x40, 'E'], [0x80, 'W']];

export function tcpFlagString(flags: number): string {
  const s = FLAG_CHARS.filter(([bit]) => flags & bit).map(([, c]) => c).join('');
  return s || 'none';
}

function tcpText(t: TcpLayer, payloadLength: number): string {
  const parts = [`Flags [${tcpFlagString(t.flags)}]`];
  parts.push(payloadLength > 0 ? `seq ${t.seq}:${(t.seq + payloadLength) >>> 0}` : `seq ${t.seq}`);
  if (t.flags & 0x10) parts.push(`ack ${t.ack}`);
  parts.push(`win ${t.window}`);
  if (t.flags & 0x20) parts.push(`urg ${t.urgent}`);
  if (t.headerLength > 20) parts.push(`options [${t.headerLength - 20} bytes]`);
  parts.push(`length ${payloadLength}`);
  return parts.join(', ');
}

/** The line for a decoded frame. */
export function describeDecoded(d: DecodedFrame): string {
  if (!d.eth) return `[|ether] (${d.length} bytes)`;
  const bad: string[] = [];
  let line: string;
  if (d.arp) {
    const a = d.arp;
    const what = a.op === ARPOP_REQUEST ? `Request who-has ${a.targetIp} tell ${a.senderIp}`
      : a.op === ARPOP_REPLY ? `Reply ${a.senderIp} is-at ${a.senderMac}` : `op ${a.op} ${a.senderIp} > ${a.targetIp}`;
    line = `ARP, ${what}, length ${d.length - ETH_HLEN}`;
  } else if (d.ip) {
    const ip = d.ip, tag = ip.version === 4 ? 'IP' : 'IP6';
    if (ip.checksumOk === false) bad.push(`bad ip cksum ${hex(ip.checksum!)}`);
    if (d.udp) {
      line = `${tag} ${ip.src}.${d.udp.sport} > ${ip.dst}.${d.udp.dport}: UDP, length ${d.udp.length - 8}`;
      if (!d.udp.checksumOk) bad.push(`bad udp cksum ${hex(d.udp.checksum)}`);
    } else if (d.tcp) {
      line = `${tag} ${ip.src}.${d.tcp.sport} > ${ip.dst}.${d.tcp.dport}: ${tcpText(d.tcp, d.payload?.length ?? 0)}`;
      if (!d.tcp.checksumOk) bad.push(`bad tcp cksum ${hex(d.tcp.checksum)}`);
    } else {
      const name = ip.protocol === IPPROTO_UDP ? 'udp' : ip.protocol === IPPROTO_TCP ? 'tcp' : `ip-proto-${ip.protocol}`;
      line = `${tag} ${ip.src} > ${ip.dst}: ${name}, length ${ip.length - ip.headerLength}`;
    }
  } else {
    line = `${d.eth.src} > ${d.eth.dst}, ethertype 0x${d.eth.type.toString(16).padStart(4, '0')}, length ${d.length}`;
  }
  if (d.truncated) line += ` [|${d.truncated}]`;
  if (bad.length) line += ` [${bad.join(', ')}]`;
  return line;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

/** One tcpdump-like line for the frame's bytes. */
export function describeFrame(frame: Uint8Array): string {
  return describeDecoded(decodeFrame(frame));
}
