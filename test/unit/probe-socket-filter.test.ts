/**
 * Socket filters without a kernel: the order of the system calls (the filter is on before the
 * socket is bound, so no frame is ever seen unfiltered), the bytes of sockaddr_ll, the rollback,
 * and how frames() drains, waits and stops. Plus the DSL filter itself, run by the VM-free
 * check of its listing, and the frame parser of programs/sockfilter.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AF_PACKET, ETH_P_ALL, MSG_DONTWAIT, MSG_TRUNC, SOL_SOCKET, SO_ATTACH_BPF, attachSocketFilter, sockaddrLl,
} from '../../src/attach/socket-filter.ts';
import { ProbeError } from '../../src/attach/perf-event.ts';
import { Program } from '../../src/syscall/program.ts';
import type { Sys } from '../../src/syscall/sys.ts';
import { disassemble } from '../../src/asm/index.ts';
import { parseUdp, udpPortFilter } from '../../programs/sockfilter.ts';

type Call = [string, ...unknown[]];

/** A Sys with a queue of frames to hand out; the socket is fd 30. */
function fakeSys(o: { frames?: Uint8Array[]; setsockopt?: number; bind?: number; socket?: number } = {}) {
  const calls: Call[] = [];
  const queue = [...(o.frames ?? [])];
  let polls = 0;
  const sys: Sys = {
    bpf: () => 0,
    addressOf: () => 0n,
    close: (fd) => { calls.push(['close', fd]); return 0; },
    socket: (d, t, p) => { calls.push(['socket', d, t, p]); return o.socket ?? 30; },
    setsockopt: (fd, level, name, v) => { calls.push(['setsockopt', fd, level, name, new DataView(v.buffer).getInt32(0, true)]); return o.setsockopt ?? 0; },
    bind: (fd, addr) => { calls.push(['bind', fd, Array.from(addr)]); return o.bind ?? 0; },
    recvfrom: (fd, buf, flags, addr) => {
      calls.push(['recvfrom', fd, flags]);
      const f = queue.shift();
      if (!f) return -11; // EAGAIN
      buf.set(f.subarray(0, buf.length));
      const v = new DataView(addr!.buffer);
      v.setUint16(0, AF_PACKET, true); v.setUint16(2, 0x0800, false); v.setInt32(4, 5, true); v.setUint8(10, 4);
      return f.length;
    },
    pollAsync: async () => { polls++; await new Promise((r) => setTimeout(r, 5)); return 0; },
  };
  return { sys, calls, polls: () => polls };
}

const prog = (sys: Sys, type = 'socket_filter') => new Program(9, { name: 'udp_port', type, sys });

test('sockaddr_ll: family, protocol in network order, ifindex', () => {
  assert.equal(Array.from(sockaddrLl(ETH_P_ALL, 7)), [17, 0, 0, 3, 7, 0, 0, 0, ...new Array(12).fill(0)]);
});

test('socket with protocol 0, then SO_ATTACH_BPF, then bind to ETH_P_ALL: nothing arrives before the filter is on', () => {
  const { sys, calls } = fakeSys();
  const s = attachSocketFilter(prog(sys), { sys });
  assert.equal(calls[0]!.slice(0, 2), ['socket', AF_PACKET]);
  assert.is(calls[0]![3], 0, 'protocol 0: hooked to nothing yet');
  assert.equal(calls[1], ['setsockopt', 30, SOL_SOCKET, SO_ATTACH_BPF, 9], 'the program fd');
  assert.equal(calls[2]![0], 'bind');
  assert.equal((calls[2]![2] as number[]).slice(0, 8), [17, 0, 0, 3, 0, 0, 0, 0], 'ETH_P_ALL on every interface');
  s.close();
  s.close();
  assert.equal(calls.slice(3), [['close', 30]], 'closed once');
});

test('a failure after the socket exists closes it; a wrong program type opens nothing', () => {
  for (const fail of [{ setsockopt: -22 }, { bind: -19 }]) {
    const { sys, calls } = fakeSys(fail);
    assert.throws(() => attachSocketFilter(prog(sys), { sys }), (e: Error) => e instanceof ProbeError && !e.message.includes('\n'));
    assert.equal(calls.at(-1), ['close', 30]);
  }
  const { sys, calls } = fakeSys();
  assert.throws(() => attachSocketFilter(prog(sys, 'kprobe'), { sys }), /is a kprobe program, and a socket_filter runs socket_filter programs/);
  const denied = fakeSys({ socket: -1 });
  assert.throws(() => attachSocketFilter(prog(denied.sys), { sys: denied.sys }), /socket\(AF_PACKET, SOCK_RAW\) failed \(EPERM\): raw packet sockets need root/);
  assert.is(calls.length, 0);
  assert.equal(denied.calls.map((c) => c[0]), ['socket']);
});

test('frames() drains what is queued without waiting, waits off-thread when empty, and stops at count or timeout', async () => {
  const f = (n: number) => new Uint8Array(60).fill(n);
  const { sys, calls, polls } = fakeSys({ frames: [f(1), f(2), f(3)] });
  using s = attachSocketFilter(prog(sys), { sys, snaplen: 32 });
  const got = await s.collect({ timeoutMs: 1000, count: 2 });
  assert.equal(got.map((x) => [x.data[0], x.data.length, x.length, x.ifindex, x.pktType, x.protocol]), [[1, 32, 60, 5, 'outgoing', 0x0800], [2, 32, 60, 5, 'outgoing', 0x0800]]);
  assert.is(polls(), 0, 'queued frames come without a poll');
  assert.ok(calls.filter((c) => c[0] === 'recvfrom').every((c) => c[2] === (MSG_DONTWAIT | MSG_TRUNC)), 'never a blocking read');
  const t0 = performance.now();
  const rest = await s.collect({ timeoutMs: 60 });
  assert.is(rest.length, 1);
  assert.ok(performance.now() - t0 >= 55, 'waited out the timeout');
  assert.ok(polls() >= 1, 'waited in poll');
  assert.is(s.received, 3);
});

test('the DSL filter: legacy packet loads from the Ethernet header, the port as an immediate', () => {
  const spec = udpPortFilter(5001);
  assert.is(spec.type, 'socket_filter');
  const text = disassemble(spec.insns);
  assert.match(text, /r0 = \*\(u16 \*\)skb\[12\]/);
  assert.match(text, /r0 = \*\(u16 \*\)skb\[r7 \+ 16\]/);
  assert.match(text, /if r0 != 5001 goto \+2 <drop>/);
  assert.throws(() => udpPortFilter(0), /port must be 1\.\.65535/);
});

test('parseUdp reads the addresses, ports and payload of a frame', () => {
  const frame = new Uint8Array(14 + 20 + 8 + 5);
  const v = new DataView(frame.buffer);
  v.setUint16(12, 0x0800); frame[14] = 0x45; frame[14 + 9] = 17;
  frame.set([10, 0, 0, 1], 14 + 12); frame.set([10, 0, 0, 2], 14 + 16);
  v.setUint16(34, 40000); v.setUint16(36, 5001); v.setUint16(38, 13);
  frame.set(new TextEncoder().encode('hello'), 42);
  const u = parseUdp(frame)!;
  assert.equal({ ...u, payload: new TextDecoder().decode(u.payload) }, { src: '10.0.0.1', sport: 40000, dst: '10.0.0.2', dport: 5001, length: 5, payload: 'hello' });
  frame[14 + 9] = 6;
  assert.is(parseUdp(frame), null);
});

test.run();
