/**
 * Frames described in one word, for command lines (`tsbpf prog run --data udp:dport=5001`):
 *
 *   udp[:key=value,…]   tcp[:key=value,…]   arp[:key=value,…]
 *
 *   any IP frame  src, dst (IPv4 or IPv6), srcmac, dstmac, ttl, id, tos,
 *                 payload (text, or hex:0a0b…), size (that many zero bytes), pad=no
 *   udp           sport, dport, nocsum=yes
 *   tcp           sport, dport, seq, ack, window, flags (syn+ack, or tcpdump letters S.)
 *   arp           op (request|reply), srcmac, dstmac, sendermac, senderip, targetmac, targetip, pad=no
 *
 * Numbers are decimal or 0x hex.
 */
import { arpFrame, tcpFrame, udpFrame, type ArpFrameOptions, type TcpFrameOptions, type UdpFrameOptions } from './build.ts';
import { FrameError } from './errors.ts';
import { TCP_FLAGS, type TcpFlag } from './tcp.ts';

export const FRAME_SPEC_HELP = `a frame: udp|tcp|arp[:key=value,...], e.g. udp:dport=5001 or tcp:dport=80,flags=syn+ack
  IP frames: src, dst (IPv4 or IPv6), srcmac, dstmac, ttl, id, tos, payload (text or hex:..), size, pad=no
  udp: sport, dport, nocsum=yes   tcp: sport, dport, seq, ack, window, flags
  arp: op=request|reply, sendermac, senderip, targetmac, targetip
  defaults: 02:00:00:00:00:01 -> 02:00:00:00:00:02, 10.231.0.1:40000 -> 10.231.0.2:5001`;

const KINDS = ['udp', 'tcp', 'arp'] as const;
export type FrameKind = (typeof KINDS)[number];

/** Does this text look like a frame description (rather than a file name)? */
export function isFrameSpec(text: string): boolean {
  return /^(udp|tcp|arp)(:|$)/.test(text);
}

function num(key: string, v: string): number {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(v)) throw new FrameError(key, `'${v}' is not a number (decimal or 0x hex)`);
  return Number(v);
}

function yes(key: string, v: string): boolean {
  if (/^(yes|true|1|on)$/i.test(v)) return true;
  if (/^(no|false|0|off)$/i.test(v)) return false;
  throw new FrameError(key, `'${v}' is not yes or no`);
}

function payloadOf(v: string): Uint8Array | string {
  if (!v.startsWith('hex:')) return v;
  const h = v.slice(4).replace(/[\s:]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(h)) throw new FrameError('payload', `'${v}' is not hex bytes (hex:0a0b0c)`);
  return Uint8Array.from(h.match(/../g) ?? [], (x) => Number.parseInt(x, 16));
}

function tcpFlags(v: string): TcpFlag[] {
  if (/^[FSRP.UEW]+$/.test(v)) {
    const letters: Record<string, TcpFlag> = { F: 'fin', S: 'syn', R: 'rst', P: 'psh', '.': 'ack', U: 'urg', E: 'ece', W: 'cwr' };
    return [...v].map((c) => letters[c]!);
  }
  return v.split(/[+|]/).map((f) => {
    const name = f.toLowerCase();
    if (!(name in TCP_FLAGS)) throw new FrameError('flags', `unknown TCP flag '${f}' (syn, ack, fin, rst, psh, urg, ece, cwr, joined by +)`);
    return name as TcpFlag;
  });
}

/** The frame a description names. */
export function frameFromSpec(text: string): Uint8Array {
  const m = /^([a-z]+)(?::(.*))?$/s.exec(text.trim());
  const kind = m?.[1];
  if (!m || !(KINDS as readonly string[]).includes(kind!)) throw new FrameError('frame', `'${text}' is not a frame description (${KINDS.join('|')}[:key=value,...])`);
  const pairs = (m[2] ?? '').split(',').filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new FrameError('frame', `'${p}' is not key=value`);
    return [p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim()] as const;
  });
  const o: Record<string, unknown> = {};
  const allowed: Record<FrameKind, readonly string[]> = {
    udp: ['src', 'dst', 'srcmac', 'dstmac', 'ttl', 'id', 'tos', 'payload', 'size', 'pad', 'sport', 'dport', 'nocsum'],
    tcp: ['src', 'dst', 'srcmac', 'dstmac', 'ttl', 'id', 'tos', 'payload', 'size', 'pad', 'sport', 'dport', 'seq', 'ack', 'window', 'flags'],
    arp: ['op', 'srcmac', 'dstmac', 'sendermac', 'senderip', 'targetmac', 'targetip', 'pad'],
  };
  const k = kind as FrameKind;
  for (const [key, v] of pairs) {
    if (!allowed[k].includes(key)) throw new FrameError(key, `unknown key for ${k} (one of ${allowed[k].join(', ')})`);
    switch (key) {
      case 'src': case 'dst': o[key] = v; break;
      case 'srcmac': o.srcMac = v; break;
      case 'dstmac': o.dstMac = v; break;
      case 'sendermac': o.senderMac = v; break;
      case 'senderip': o.senderIp = v; break;
      case 'targetmac': o.targetMac = v; break;
      case 'targetip': o.targetIp = v; break;
      case 'payload': o.payload = payloadOf(v); break;
      case 'size': o.payload = new Uint8Array(num(key, v)); break;
      case 'pad': o.pad = yes(key, v); break;
      case 'nocsum': o.noChecksum = yes(key, v); break;
      case 'flags': o.flags = tcpFlags(v); break;
      case 'op':
        if (v !== 'request' && v !== 'reply') throw new FrameError('op', `'${v}' is not request or reply`);
        o.op = v;
        break;
      default: o[key] = num(key, v);
    }
  }
  if (k === 'udp') return udpFrame(o as UdpFrameOptions);
  if (k === 'tcp') return tcpFrame(o as TcpFrameOptions);
  return arpFrame(o as ArpFrameOptions);
}
