/**
 * sockfilter: a tiny tcpdump for UDP to one port, with the filter written in the DSL and run by
 * the kernel on a raw socket (a SOCKET_FILTER program, as tcpdump's `udp dst port 5001` runs as
 * classic BPF). Only the frames that pass ever reach user space.
 *
 *   npx tsx programs/sockfilter.ts --netns ns1 --dev veth1 --count 10
 *   14:02:11.482913 10.0.0.1:51234 > 10.0.0.2:5001 UDP length 5 (in)
 *
 * Needs root (a raw socket and a program load).
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { int, main, parse, UsageError } from '../src/command.ts';
import { program, r0, r1, r6, r7, skb, type ProgramSpec } from '../src/asm/index.ts';
import { loadProgram } from '../src/syscall/program.ts';
import { attachSocketFilter, type Frame } from '../src/attach/socket-filter.ts';
import { needsRootMessage, privileged } from './mes_pkt/privilege.ts';

export const DEFAULT_PORT = 5001;
const ETH_HLEN = 14, ETH_P_IP = 0x0800, IPPROTO_UDP = 17;

/**
 * Keep IPv4 UDP datagrams to `port` whole; drop everything else (return 0). A socket filter may
 * not read the packet directly (no data/data_end for this program type): it uses the legacy
 * packet loads, which take offsets from the Ethernet header, return the value in host order,
 * and end the program (returning 0) when the offset is past the end.
 */
export function udpPortFilter(port = DEFAULT_PORT): ProgramSpec {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port must be 1..65535, got ${port}`);
  return program({ name: 'udp_port', type: 'socket_filter', license: 'GPL' }, (b) => {
    b.mov(r6, r1).comment('the packet loads read the skb from r6');
    b.ldAbs('u16', 12).comment('EtherType');
    b.jne(r0, ETH_P_IP, 'drop');
    b.ldAbs('u8', ETH_HLEN + 9).comment('IPv4 protocol');
    b.jne(r0, IPPROTO_UDP, 'drop');
    b.ldAbs('u16', ETH_HLEN + 6).comment('flags and fragment offset');
    b.and(r0, 0x1fff);
    b.jne(r0, 0, 'drop').comment('a later fragment has no UDP header');
    b.ldAbs('u8', ETH_HLEN).comment('version and IHL');
    b.and(r0, 0xf);
    b.lsh(r0, 2);
    b.mov(r7, r0).comment('IPv4 header length in bytes');
    b.ldInd('u16', r7, ETH_HLEN + 2).comment('UDP destination port');
    b.jne(r0, port, 'drop');
    b.ldx('u32', r0, r6, skb.len).comment('keep the whole frame');
    b.exit();
    b.label('drop');
    b.mov(r0, 0);
    b.exit();
  });
}

export interface UdpDatagram {
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
  /** UDP payload bytes (as tcpdump's "length"). */
  readonly length: number;
  readonly payload: Uint8Array;
}

/** The IPv4/UDP fields of an Ethernet frame; null when it is not one (the filter already checked). */
export function parseUdp(frame: Uint8Array): UdpDatagram | null {
  if (frame.length < ETH_HLEN + 20 + 8) return null;
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (v.getUint16(12) !== ETH_P_IP || frame[ETH_HLEN + 9] !== IPPROTO_UDP) return null;
  const ihl = (frame[ETH_HLEN]! & 0xf) * 4;
  const u = ETH_HLEN + ihl;
  if (frame.length < u + 8) return null;
  const ip = (o: number) => Array.from(frame.subarray(o, o + 4)).join('.');
  const ulen = v.getUint16(u + 4);
  const length = Math.max(0, ulen - 8);
  return {
    src: ip(ETH_HLEN + 12), dst: ip(ETH_HLEN + 16), sport: v.getUint16(u), dport: v.getUint16(u + 2),
    length, payload: frame.slice(u + 8, Math.min(frame.length, u + 8 + length)),
  };
}

const clock = (ms: number): string => {
  const d = new Date(ms);
  const us = String(Math.floor((ms % 1000) * 1000)).padStart(6, '0');
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}.${us}`;
};

/** One tcpdump-like line. */
export function formatFrame(f: Frame): string {
  const u = parseUdp(f.data);
  const dir = f.pktType === 'outgoing' ? 'out' : 'in';
  if (!u) return `${clock(f.time)} non-UDP frame, ${f.length} bytes (${dir})`;
  return `${clock(f.time)} ${u.src}:${u.sport} > ${u.dst}:${u.dport} UDP length ${u.length} (${dir})`;
}

const USAGE = `usage: npx tsx programs/sockfilter.ts [--netns NS] [--dev IF] [--port N] [--count N] [--timeout S] [--json]

Prints UDP datagrams to one port (default ${DEFAULT_PORT}) as they pass, one line each, like a tiny tcpdump.
The filter is an eBPF SOCKET_FILTER program built with the DSL and attached to a raw
AF_PACKET socket (SO_ATTACH_BPF): the kernel drops everything else before it reaches us.

  --netns NS     capture in network namespace NS (the socket lives there)
  --dev IF       only interface IF (default: every interface, so a forwarded datagram shows twice)
  --port N       the UDP destination port (default ${DEFAULT_PORT})
  --count N      stop after N datagrams
  --timeout S    stop after S seconds
  --json         one JSON object per datagram: time, src, sport, dst, dport, length, ifindex, direction
`;

async function run(argv: string[]): Promise<number> {
  const a = parse(argv, {
    netns: { type: 'string' }, dev: { type: 'string' }, port: { type: 'string' }, count: { type: 'string' },
    timeout: { type: 'string' }, json: { type: 'boolean' },
  }, USAGE);
  if (!a) return 0;
  if (a.positionals.length) throw new UsageError(`unexpected argument '${a.positionals[0]}'\n\n${USAGE}`);
  const port = int(a.values.port, '--port', DEFAULT_PORT);
  if (port < 1 || port > 65535) throw new UsageError(`--port must be 1..65535, got ${port}`);
  const count = a.values.count === undefined ? undefined : int(a.values.count, '--count');
  if (count !== undefined && count < 1) throw new UsageError('--count must be at least 1');
  const timeout = a.values.timeout === undefined ? undefined : Number(a.values.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got '${a.values.timeout}'`);

  // without privilege the load fails with EPERM, which reads like a verifier rejection: say so first
  if (!privileged()) throw new Error(needsRootMessage('sockfilter'));
  using prog = loadProgram(udpPortFilter(port));
  using sock = attachSocketFilter(prog, { netns: a.values.netns, ifname: a.values.dev });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // On stderr even with --json: stdout stays one object per line, and callers can wait for it.
  process.stderr.write(`listening for UDP :${port} on ${a.values.dev ?? 'every interface'}${a.values.netns ? ` in ${a.values.netns}` : ''}\n`);
  try {
    for await (const f of sock.frames({ count, timeoutMs: timeout === undefined ? undefined : timeout * 1000, signal: stop.signal })) {
      if (a.values.json) {
        const u = parseUdp(f.data);
        process.stdout.write(JSON.stringify({ time: f.time / 1000, ...u, payload: undefined, ifindex: f.ifindex, direction: f.pktType, frame_length: f.length }) + '\n');
      } else {
        process.stdout.write(formatFrame(f) + '\n');
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!a.values.json) process.stderr.write(`${sock.received} datagram(s)\n`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(run);
}

