/**
 * The frame builder against the kernel's own frames. In a namespace, with transmit checksum
 * offload off (ethtool -K … tx off: the stack then computes every checksum in software), a UDP
 * datagram over IPv4 and IPv6 and a TCP SYN leave a veth; a tc egress program copies each frame
 * into a map. Each captured frame must decode with every checksum verified, and our builder,
 * given the fields the kernel chose (IP id, flow label, TCP options, …), must give back the same
 * bytes: the kernel's checksums and ours agree. (TCP's is completed from the kernel's
 * pseudo-header sum, as the stack does after the hook.)
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import {
  TC_ACT_OK, program, r0, r1, r2, r3, r4, r6, r7, r8, r9, r10, skb,
} from '../../src/asm/index.ts';
import { attachBpf, ensureClsact, routeSocket } from '../../src/netlink/index.ts';
import { createMap, loadProgram, type MapSpec } from '../../src/syscall/index.ts';
import { decodeFrame, describeFrame, internetChecksum, tcpFrame, udpFrame, type DecodedFrame } from '../../src/frame/index.ts';
import { kernelSuite, sh, withNetns } from '../support/kernel.ts';

const SLOTS = 16, SNAP = 256;
const countSpec: MapSpec = { name: 'cap_count', type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 };
const framesSpec: MapSpec = { name: 'cap_frames', type: 'array', keySize: 4, valueSize: 8 + SNAP, maxEntries: SLOTS };

/** Copy each frame (up to SNAP bytes) into the next slot of cap_frames: u32 length, then the bytes at +8. */
const capture = program({ name: 'frame_capture', type: 'sched_cls' }, (b) => {
  b.mov(r6, r1);
  b.st('u32', r10, -4, 0);
  b.mov(r2, r10);
  b.add(r2, -4);
  b.ldMap(r1, countSpec);
  b.call('map_lookup_elem');
  b.jeq(r0, 0, 'out');
  b.mov(r9, 1);
  b.atomic('fetch_add', 'u64', r0, 0, r9); // r9 = this frame's slot
  b.jge(r9, SLOTS, 'out');
  b.stx('u32', r10, -8, r9);
  b.mov(r2, r10);
  b.add(r2, -8);
  b.ldMap(r1, framesSpec);
  b.call('map_lookup_elem');
  b.jeq(r0, 0, 'out');
  b.mov(r7, r0);
  b.ldx('u32', r8, r6, skb.len);
  b.jle(r8, SNAP, 'fits');
  b.mov(r8, SNAP);
  b.label('fits');
  b.jeq(r8, 0, 'out');
  b.stx('u32', r7, 0, r8);
  b.mov(r1, r6);
  b.mov(r2, 0);
  b.mov(r3, r7);
  b.add(r3, 8);
  b.mov(r4, r8);
  b.call('skb_load_bytes');
  b.label('out');
  b.mov(r0, TC_ACT_OK);
  b.exit();
});

function hasEthtool(): void {
  const r = spawnSync('ethtool', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error('ethtool is not installed: apt-get install -y ethtool');
}

/** Send what `script` sends from inside the namespace; return the frames that left `dev`. */
async function captured(script: string): Promise<Uint8Array[]> {
  hasEthtool();
  return withNetns(({ name, a }) => {
    sh('ip', ['netns', 'exec', name, 'ethtool', '-K', a, 'tx', 'off']);
    sh('ip', ['-n', name, 'addr', 'add', '10.77.0.1/24', 'dev', a]);
    sh('ip', ['-n', name, 'addr', 'add', 'fd77::1/64', 'dev', a, 'nodad']);
    // static neighbours: the frames leave at once, with no ARP or ND before them
    sh('ip', ['-n', name, 'neigh', 'replace', '10.77.0.2', 'lladdr', '02:00:00:00:77:02', 'dev', a, 'nud', 'permanent']);
    sh('ip', ['-n', name, 'neigh', 'replace', 'fd77::2', 'lladdr', '02:00:00:00:77:02', 'dev', a, 'nud', 'permanent']);
    using count = createMap<number, bigint>(countSpec);
    using frames = createMap(framesSpec);
    using prog = loadProgram(capture, { maps: [count, frames] });
    const sock = routeSocket({ netns: name });
    try {
      ensureClsact(sock, a);
      attachBpf(sock, a, 'egress', { fd: prog.fd, name: 'frame_capture', priority: 1 });
    } finally {
      sock.close();
    }
    const r = spawnSync('ip', ['netns', 'exec', name, process.execPath, '-e', script], { encoding: 'utf8', timeout: 10000 });
    assert.is(r.status, 0, r.stderr);
    const n = Math.min(Number(count.get(0) ?? 0n), SLOTS);
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const v = frames.get(i) as Uint8Array;
      const len = new DataView(v.buffer, v.byteOffset).getUint32(0, true);
      out.push(v.slice(8, 8 + len));
    }
    return out;
  });
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const listing = (frames: Uint8Array[]): string => frames.map(describeFrame).join('\n');

const s = kernelSuite('frame: checksums against frames the kernel built');

s('UDP over IPv4 and IPv6: the kernel\'s checksums verify, and the builder makes the same frames', async () => {
  const frames = await captured(`
    const dgram = require('node:dgram');
    const send = (type, host) => new Promise((res, rej) => {
      const sock = dgram.createSocket(type);
      sock.bind(type === 'udp4' ? 40000 : 40006, type === 'udp4' ? '10.77.0.1' : 'fd77::1', () =>
        sock.send(Buffer.from('tsbpf says hello, odd'), 5001, host, (e) => { sock.close(); e ? rej(e) : res(); }));
    });
    send('udp4', '10.77.0.2').then(() => send('udp6', 'fd77::2'));
  `);
  const udp = frames.filter((raw) => decodeFrame(raw).udp);
  assert.is(udp.length, 2, listing(frames));
  for (const raw of udp) {
    const f: DecodedFrame = decodeFrame(raw);
    assert.ok(f.udp!.checksumOk, `the kernel's UDP checksum verifies: ${JSON.stringify(f.udp)}`);
    if (f.ip!.version === 4) assert.ok(f.ip!.checksumOk, 'and its IPv4 header checksum');
    const rebuilt = udpFrame({
      src: f.ip!.src, dst: f.ip!.dst, srcMac: f.eth!.src, dstMac: f.eth!.dst, ttl: f.ip!.ttl, tos: f.ip!.tos,
      ...(f.ip!.version === 4 ? { id: f.ip!.id!, df: f.ip!.df! } : { flowLabel: f.ip!.flowLabel! }),
      sport: f.udp!.sport, dport: f.udp!.dport, payload: f.payload!, pad: false,
    });
    const again = decodeFrame(rebuilt);
    assert.is(again.udp!.checksum, f.udp!.checksum, `UDP checksum over IPv${f.ip!.version}`);
    if (f.ip!.version === 4) assert.is(again.ip!.checksum, f.ip!.checksum, 'IPv4 header checksum');
    assert.is(hex(rebuilt), hex(raw), 'byte for byte');
  }
});

s('a TCP SYN with the kernel\'s options: same checksum from the builder', async () => {
  const frames = await captured(`
    const net = require('node:net');
    const c = net.connect({ host: '10.77.0.2', port: 5001, localAddress: '10.77.0.1', localPort: 40001 });
    c.on('error', () => {});
    setTimeout(() => { c.destroy(); }, 300);
  `);
  const raw = frames.find((f) => decodeFrame(f).tcp?.flags === 0x02);
  assert.ok(raw, listing(frames));
  const l4 = 14 + decodeFrame(raw!).ip!.headerLength;
  // TCP leaves its checksum CHECKSUM_PARTIAL even with offload off: at tc egress the field holds
  // the kernel's pseudo-header sum, and skb_checksum_help() completes it after this hook, as
  // the Internet checksum of the segment from there. Complete it the same way here.
  const seg = raw!.subarray(l4);
  const completed = internetChecksum(seg);
  seg[16] = completed >> 8;
  seg[17] = completed & 0xff;
  const syn = decodeFrame(raw!);
  assert.ok(syn.tcp!.checksumOk, 'the kernel\'s TCP checksum, completed, verifies');
  assert.ok(syn.ip!.checksumOk);
  assert.ok(syn.tcp!.headerLength > 20, 'the SYN carries options (MSS, SACK, timestamps, window scale)');
  const bytes = tcpFrame({
    src: syn.ip!.src, dst: syn.ip!.dst, srcMac: syn.eth!.src, dstMac: syn.eth!.dst, ttl: syn.ip!.ttl, tos: syn.ip!.tos, id: syn.ip!.id!, df: syn.ip!.df!,
    sport: syn.tcp!.sport, dport: syn.tcp!.dport, seq: syn.tcp!.seq, ack: syn.tcp!.ack, flags: syn.tcp!.flags, window: syn.tcp!.window,
    options: raw!.slice(l4 + 20, l4 + syn.tcp!.headerLength), pad: false,
  });
  const rebuilt = decodeFrame(bytes);
  assert.is(rebuilt.tcp!.checksum, syn.tcp!.checksum);
  assert.is(rebuilt.ip!.checksum, syn.ip!.checksum);
  assert.is(hex(bytes), hex(raw!), 'byte for byte');
});

s.run();
