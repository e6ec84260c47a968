/**
 * The frame builder against values it did not compute: RFC 1071's worked example, the clang +
 * tc reference build's 64-byte frames (transcribed below), a naive checksum written out here,
 * and tcpdump reading our frames from a pcap file (its one-line text, and its checksum
 * verdicts with -vv). The decoder never throws, whatever the bytes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  FrameError, arpFrame, decodeFrame, describeFrame, formatIPv6, frameFromSpec, internetChecksum, ipv4Packet, isFrameSpec,
  onesComplementSum, parseIPv6, parseMac, pcapFile, tcpFrame, udpFrame,
} from '../../src/frame/index.ts';
import { kernelRequired } from '../support/kernel.ts';

const bytes = (hex: string): Uint8Array => Uint8Array.from(hex.trim().split(/\s+/), (h) => Number.parseInt(h, 16));
const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

// The reference build's pkt_match.bin: Ethernet/IPv4/UDP to 5001, 22 zero bytes of payload,
// IP header checksum 0x64ea, UDP checksum 0 (none). pkt_nomatch_tcp.bin differs in the
// protocol (6) and so in the IP checksum (0x64f5).
const PKT_MATCH = `
02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00 00 32 00 01 00 00 40 11 64 ea 0a e7 00 01 0a e7
00 02 9c 40 13 89 00 1e 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`;

/** The checksum the slow way, to compare with: 16-bit big-endian words summed as a BigInt, folded at the end. */
function naiveChecksum(...chunks: Uint8Array[]): number {
  const all = chunks.flatMap((c) => Array.from(c));
  if (all.length % 2) all.push(0);
  let sum = 0n;
  for (let i = 0; i < all.length; i += 2) sum += BigInt(all[i]! * 256 + all[i + 1]!);
  while (sum >> 16n) sum = (sum & 0xffffn) + (sum >> 16n);
  return Number(~sum & 0xffffn);
}

test('src/frame is pure: it imports only its own files (no ffi, no syscalls, not even node:)', () => {
  const dir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../src/frame');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const specs = [...readFileSync(path.join(dir, f), 'utf8').matchAll(/^(?:import|export)[^;]*?from '([^']+)'/gms)].map((m) => m[1]!);
    for (const spec of specs) assert.ok(/^\.\/[a-z0-9-]+\.ts$/.test(spec), `${f} imports ${spec}`);
  }
});

test('RFC 1071 §3: the worked example sums to 0xddf2', () => {
  const data = bytes('00 01 f2 03 f4 f5 f6 f7');
  assert.is(onesComplementSum(data), 0xddf2);
  assert.is(internetChecksum(data), ~0xddf2 & 0xffff);
  assert.is(internetChecksum(bytes('00 01 f2')), naiveChecksum(bytes('00 01 f2')), 'an odd byte is padded with zero');
});

test('the reference build\'s frames, byte for byte (IPv4 header checksums 0x64ea and 0x64f5)', () => {
  const payload = new Uint8Array(22);
  assert.is(hexOf(udpFrame({ payload, noChecksum: true })), hexOf(bytes(PKT_MATCH)));
  const tcpLike = ipv4Packet({ protocol: 6 }, new Uint8Array(30));
  assert.is(hexOf(tcpLike.subarray(10, 12)), '64 f5');
  const port = bytes(PKT_MATCH);
  port[37] = 0x8a; // pkt_nomatch_port.bin: port 5002
  assert.is(hexOf(udpFrame({ payload, noChecksum: true, dport: 5002 })), hexOf(port));
});

test('UDP and TCP checksums over IPv4 and IPv6 pseudo-headers equal the naive sum', () => {
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  for (let i = 0; i < 200; i++) {
    const payload = Uint8Array.from({ length: rnd(90) }, () => rnd(256));
    const v6 = i % 2 === 1;
    const src = v6 ? `fd00::${rnd(0xffff).toString(16)}` : `10.${rnd(256)}.${rnd(256)}.${rnd(256)}`;
    const dst = v6 ? `2001:db8::${rnd(0xffff).toString(16)}` : `192.168.${rnd(256)}.${rnd(256)}`;
    const opts = { src, dst, sport: rnd(65536), dport: rnd(65536), payload, pad: false };
    for (const f of [udpFrame(opts), tcpFrame({ ...opts, seq: rnd(2 ** 31), flags: ['psh', 'ack'] })]) {
      const l3 = v6 ? 14 + 40 : 14 + 20;
      const seg = f.slice(l3);
      const isUdp = f[v6 ? 14 + 6 : 14 + 9] === 17;
      const at = isUdp ? 6 : 16;
      const carried = (seg[at]! << 8) | seg[at + 1]!;
      seg[at] = 0; seg[at + 1] = 0;
      const ip = f.subarray(14);
      const s = v6 ? ip.subarray(8, 24) : ip.subarray(12, 16), d = v6 ? ip.subarray(24, 40) : ip.subarray(16, 20);
      const len = seg.length;
      const pseudo = v6
        ? Uint8Array.from([...s, ...d, 0, 0, len >> 8, len & 0xff, 0, 0, 0, isUdp ? 17 : 6])
        : Uint8Array.from([...s, ...d, 0, isUdp ? 17 : 6, len >> 8, len & 0xff]);
      let want = naiveChecksum(pseudo, seg);
      if (isUdp && want === 0) want = 0xffff;
      assert.is(carried, want, `${isUdp ? 'udp' : 'tcp'} ${src} -> ${dst}, ${payload.length} bytes`);
      if (!v6) assert.is(naiveChecksum(f.subarray(14, 34)), 0, 'the IPv4 header verifies');
      const dec = decodeFrame(f);
      assert.ok(dec.udp?.checksumOk ?? dec.tcp?.checksumOk, 'the decoder agrees');
    }
  }
});

test('lengths, padding and defaults', () => {
  const f = udpFrame();
  assert.is(f.length, 60, 'padded to the Ethernet minimum');
  const d = decodeFrame(f);
  assert.equal([d.eth?.src, d.eth?.dst, d.ip?.src, d.ip?.dst, d.udp?.sport, d.udp?.dport], ['02:00:00:00:00:01', '02:00:00:00:00:02', '10.231.0.1', '10.231.0.2', 40000, 5001]);
  assert.is(d.ip?.length, 28);
  assert.is(d.payload?.length, 0, 'padding is not payload');
  assert.is(udpFrame({ pad: false }).length, 42);
  assert.is(arpFrame({ pad: false }).length, 42);
  assert.is(tcpFrame({ options: bytes('02 04 05 b4 01') }).length, 14 + 20 + 28, 'five option bytes take 8');
  assert.is(decodeFrame(tcpFrame({ options: bytes('02 04 05 b4 01'), pad: false })).tcp?.headerLength, 28);
  const six = decodeFrame(udpFrame({ dst: 'fd00::9', payload: 'hi' }));
  assert.equal([six.ip?.version, six.ip?.src, six.ip?.dst], [6, 'fd00::1', 'fd00::9'], 'a v6 address makes the default v6 too');
});

test('IPv6 text: RFC 4291 input, RFC 5952 output', () => {
  const cases: [string, string][] = [
    ['fd00::1', 'fd00::1'], ['::', '::'], ['::1', '::1'], ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], ['::ffff:10.0.0.1', '::ffff:a00:1'], ['fe80::', 'fe80::'],
  ];
  for (const [input, out] of cases) assert.is(formatIPv6(parseIPv6(input)), out, input);
  for (const bad of ['1::2::3', '12345::', '1:2:3:4:5:6:7', 'fd00::g']) assert.throws(() => parseIPv6(bad), (e: unknown) => e instanceof FrameError, bad);
  assert.throws(() => parseMac('02:00:00'), (e: unknown) => e instanceof FrameError && /MAC/.test((e as Error).message));
});

test('frame descriptions for the command line', () => {
  assert.ok(isFrameSpec('udp:dport=5001') && isFrameSpec('arp') && !isFrameSpec('pkt.bin') && !isFrameSpec('./udp'));
  assert.is(describeFrame(frameFromSpec('udp:dport=5001')), 'IP 10.231.0.1.40000 > 10.231.0.2.5001: UDP, length 0');
  assert.is(describeFrame(frameFromSpec('udp:src=fd00::5,dport=53,payload=hex:01020304')), 'IP6 fd00::5.40000 > fd00::2.53: UDP, length 4');
  assert.is(describeFrame(frameFromSpec('tcp:dport=80,flags=syn+ack,ack=7,size=3')), 'IP 10.231.0.1.40000 > 10.231.0.2.80: Flags [S.], seq 1:4, ack 7, win 65535, length 3');
  assert.is(describeFrame(frameFromSpec('tcp:flags=P.,payload=hi')), 'IP 10.231.0.1.40000 > 10.231.0.2.5001: Flags [P.], seq 1:3, ack 0, win 65535, length 2');
  assert.is(describeFrame(frameFromSpec('arp:op=reply,senderip=10.0.0.2,sendermac=02:aa:00:00:00:02')), 'ARP, Reply 10.0.0.2 is-at 02:aa:00:00:00:02, length 46');
  assert.is(frameFromSpec('udp:size=100,pad=no').length, 142);
  assert.equal(frameFromSpec('udp:nocsum=yes').subarray(40, 42), new Uint8Array(2));
  const err = (spec: string, re: RegExp) => assert.throws(() => frameFromSpec(spec), (e: unknown) => e instanceof FrameError && re.test((e as Error).message), spec);
  err('udp:port=1', /^port: unknown key for udp \(one of src, dst/);
  err('udp:dport=70000', /^dport: 70000 is not an integer in \[0, 65535\]/);
  err('udp:dport=x', /^dport: 'x' is not a number/);
  err('tcp:flags=syn+bogus', /unknown TCP flag 'bogus'/);
  err('icmp', /not a frame description/);
  err('udp:src=10.0.0.1,dst=fd00::1', /both be IPv4 or both IPv6/);
  err('udp:src=fd00::1,nocsum=yes', /must carry a checksum/);
  err('udp:payload=hex:0', /not hex bytes/);
});

test('frame descriptions: any text gives a frame or a FrameError, nothing else', () => {
  let seed = 5;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const pieces = ['udp', 'tcp', 'arp', ':', ',', '=', 'dport', 'sport', 'src', 'dst', 'flags', 'payload', 'hex:', 'size', 'op', 'reply', 'syn+ack', 'S.',
    '10.0.0.1', 'fd00::1', '::', '65536', '0x10', '-1', '1e3', 'pad', 'no', 'srcmac', '02:00:00:00:00:01', 'zz', ' ', 'nocsum', 'yes', '999999', 'id', 'ttl'];
  for (let i = 0; i < 5000; i++) {
    const text = Array.from({ length: 1 + rnd(8) }, () => pieces[rnd(pieces.length)]).join('');
    try {
      const f = frameFromSpec(text);
      assert.ok(f instanceof Uint8Array && f.length >= 42, text);
    } catch (e) {
      if (!(e instanceof FrameError)) throw new Error(`'${text}' threw ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
});

test('the decoder flags what it cannot verify, and names what was cut', () => {
  const f = udpFrame({ payload: 'hello' });
  const badIp = f.slice(); badIp[24]! ^= 0xff;
  assert.match(describeFrame(badIp), /\[bad ip cksum 0x[0-9a-f]{4}\]$/);
  const badUdp = f.slice(); badUdp[42] = 0x48; // 'H'
  assert.match(describeFrame(badUdp), /UDP, length 5 \[bad udp cksum 0x[0-9a-f]{4}\]$/);
  assert.is(describeFrame(f.subarray(0, 38)), 'IP 10.231.0.1 > 10.231.0.2: udp, length 13 [|ipv4 payload]');
  assert.is(describeFrame(f.subarray(0, 10)), '[|ether] (10 bytes)');
  assert.is(describeFrame(frameFromSpec('udp').fill(0xcc, 12, 14)), '02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype 0xcccc, length 60');
});

test('the decoder never throws: random bytes, and every truncation and one-byte change of real frames', () => {
  let seed = 99;
  const rnd = (n: number) => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed % n; };
  const frames = [udpFrame({ payload: 'abc' }), tcpFrame({ options: bytes('02 04 05 b4') }), arpFrame(), udpFrame({ src: 'fd00::1', payload: 'x' }), tcpFrame({ dst: 'fd00::2' })];
  for (const f of frames) {
    for (let n = 0; n <= f.length; n++) describeFrame(f.subarray(0, n));
    for (let i = 0; i < f.length; i++) for (const v of [0, 0xff, rnd(256)]) { const g = f.slice(); g[i] = v; describeFrame(g); }
  }
  for (let i = 0; i < 2000; i++) {
    const g = Uint8Array.from({ length: rnd(100) }, () => rnd(256));
    if (g.length > 13) { g[12] = [0x08, 0x86, 0x08][rnd(3)]!; g[13] = [0x00, 0xdd, 0x06][rnd(3)]!; }
    if (g.length > 14) g[14] = [0x45, 0x60, 0x4f, 0x00][rnd(4)]!;
    describeFrame(g);
  }
});

test('tsbpf prog run --data: a file or a frame description; --help says how; a bad one is one usage line', () => {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, encoding: 'utf8' });
  const help = cli('prog', 'run', '--help');
  assert.is(help.status, 0);
  assert.match(help.stdout, /--data FILE\|FRAME/);
  assert.match(help.stdout, /udp\|tcp\|arp\[:key=value,\.\.\.\]/);
  const bad = cli('prog', 'run', '1', '--data', 'udp:port=1');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /^error: --data udp:port=1: port: unknown key for udp/);
  const missing = cli('prog', 'run', '1', '--data', 'no/such/file.bin');
  assert.is(missing.status, 2);
  assert.match(missing.stderr, /no such file, and not a frame description/);
});

// ---------------------------------------------------------------------------------------------
// tcpdump as the oracle (apt-get install tcpdump): its line for each frame (-S: absolute sequence
// numbers, as we print one frame alone), and its checksum verdicts.

const TCPDUMP = process.env.TCPDUMP ?? 'tcpdump';
const probe = spawnSync(TCPDUMP, ['--version'], { encoding: 'utf8' });
const missing = probe.error || probe.status !== 0 ? `${TCPDUMP} not found (apt-get install tcpdump)` : null;
function oracle(name: string, fn: () => void): void {
  if (!missing) test(name, fn);
  else if (kernelRequired) test(name, () => { throw new Error(`${missing} (required: CI=true or TSBPF_REQUIRE_KERNEL=1)`); });
  else { console.log(`skip: ${name}: ${missing}`); test.skip(name, fn); }
}

function tcpdump(frames: Uint8Array[], args: string[]): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-frame-'));
  try {
    const file = path.join(dir, 'f.pcap');
    writeFileSync(file, pcapFile(frames));
    const r = spawnSync(TCPDUMP, ['-n', '-t', '-S', '-r', file, ...args], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    return r.stdout.trimEnd().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ORACLE_FRAMES = [
  udpFrame({ payload: new Uint8Array(22) }), udpFrame({ src: '192.0.2.7', dst: '198.51.100.9', sport: 41000, dport: 33333, payload: 'odd' }),
  tcpFrame(), tcpFrame({ flags: ['syn', 'ack'], seq: 4000000000, ack: 12, window: 512, payload: 'hello' }),
  tcpFrame({ flags: ['fin', 'psh', 'ack'], payload: new Uint8Array(300) }), tcpFrame({ flags: ['rst'], seq: 0 }),
  arpFrame(), arpFrame({ op: 'reply', senderIp: '10.231.0.2', senderMac: '02:00:00:00:00:02', targetIp: '10.231.0.1', targetMac: '02:00:00:00:00:01' }),
  udpFrame({ src: 'fd00::1', dst: 'fd00::2', payload: 'abcd' }), tcpFrame({ src: '2001:db8::1', dst: '2001:db8::2', flags: ['psh', 'ack'], payload: 'x' }),
];

oracle('tcpdump prints the same line for each frame', () => {
  assert.equal(ORACLE_FRAMES.map(describeFrame), tcpdump(ORACLE_FRAMES, []));
});

oracle('tcpdump -vv finds every checksum correct, and the ones we break bad', () => {
  const out = tcpdump(ORACLE_FRAMES, ['-vv']).join('\n');
  assert.not.match(out, /bad|incorrect/);
  assert.is((out.match(/udp sum ok/g) ?? []).length, 3);
  assert.is((out.match(/cksum 0x[0-9a-f]{4} \(correct\)/g) ?? []).length, 5);
  const broken = ORACLE_FRAMES.filter((f) => f[12] === 0x08 && f[13] === 0x00).map((f) => { const g = f.slice(); g[g.length - 1]! ^= 1; g[15]! ^= 4; return g; });
  // IPv4 frames: a TOS bit breaks the header checksum; the last byte breaks UDP/TCP's unless it is padding
  const bad = tcpdump(broken, ['-vv']).join('\n');
  assert.is((bad.match(/bad cksum/g) ?? []).length, broken.length);
  for (const g of broken) assert.match(describeFrame(g), /bad ip cksum/);
});

test.run();
