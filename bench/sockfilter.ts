/**
 * How a socket filter's frames should reach JavaScript without blocking the event loop: the
 * delay from send to our read, and the CPU the reader burns, for three ways of waiting.
 *   poll-async   frames(): recv(MSG_DONTWAIT) until EAGAIN, then poll(2) on a libuv worker (koffi async)
 *   timer-1ms    recv(MSG_DONTWAIT) every 1 ms from setTimeout (what a naive loop does)
 *   immediate    recv(MSG_DONTWAIT) from setImmediate, as fast as the loop turns (a busy wait)
 * Run as root: `npx tsx bench/sockfilter.ts [datagrams]`. A sender in another namespace sends
 * UDP :5001 every 2 ms with its CLOCK_MONOTONIC time in the payload (the same clock Node's hrtime reads).
 */
import { execFileSync, spawn } from 'node:child_process';
import { attachSocketFilter, type Frame, type SocketFilter } from '../src/attach/socket-filter.ts';
import { loadProgram } from '../src/syscall/program.ts';
import { parseUdp, udpPortFilter } from '../programs/sockfilter.ts';

const N = Number(process.argv[2] ?? 300);
const tx = `tsbpfbsft${process.pid}`, rx = `tsbpfbsfr${process.pid}`;
const ip = (...a: string[]) => execFileSync('ip', a);

const SENDER = `
const s = require('dgram').createSocket('udp4');
let i = 0;
const t = setInterval(() => {
  const b = Buffer.alloc(8); b.writeBigUInt64BE(process.hrtime.bigint());
  s.send(b, 5001, '10.78.0.2');
  if (++i === ${N}) { clearInterval(t); setTimeout(() => s.close(), 50); }
}, 2);`;

type Strategy = (sock: SocketFilter, until: () => boolean, onFrame: (f: Frame) => void) => Promise<void>;

const strategies: Record<string, Strategy> = {
  'poll-async': async (sock, until, on) => {
    for await (const f of sock.frames({ timeoutMs: 10_000 })) { on(f); if (until()) return; }
  },
  'timer-1ms': (sock, until, on) => new Promise((resolve) => {
    const tick = () => {
      for (let f = sock.recv(); f; f = sock.recv()) on(f);
      if (until()) resolve(); else setTimeout(tick, 1);
    };
    tick();
  }),
  immediate: (sock, until, on) => new Promise((resolve) => {
    const tick = () => {
      for (let f = sock.recv(); f; f = sock.recv()) on(f);
      if (until()) resolve(); else setImmediate(tick);
    };
    tick();
  }),
};

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

ip('netns', 'add', tx);
ip('netns', 'add', rx);
try {
  ip('-n', tx, 'link', 'add', 'bsft', 'type', 'veth', 'peer', 'name', 'bsfr', 'netns', rx);
  ip('-n', tx, 'addr', 'add', '10.78.0.1/24', 'dev', 'bsft');
  ip('-n', rx, 'addr', 'add', '10.78.0.2/24', 'dev', 'bsfr');
  ip('-n', tx, 'link', 'set', 'bsft', 'up');
  ip('-n', rx, 'link', 'set', 'bsfr', 'up');
  using prog = loadProgram(udpPortFilter(5001));
  console.log(`${N} datagrams, one every 2 ms; delay = our read time - the sender's send time (CLOCK_MONOTONIC)`);
  for (const [name, run] of Object.entries(strategies)) {
    using sock = attachSocketFilter(prog, { netns: rx, ifname: 'bsfr' });
    const delays: number[] = [];
    const sender = spawn('ip', ['netns', 'exec', tx, process.execPath, '-e', SENDER], { stdio: 'ignore' });
    const done = new Promise((r) => sender.once('exit', r));
    const cpu0 = process.cpuUsage(), t0 = process.hrtime.bigint();
    await run(sock, () => delays.length >= N, (f) => {
      const u = parseUdp(f.data);
      if (u && u.payload.length === 8) delays.push(Number(process.hrtime.bigint() - new DataView(u.payload.buffer, u.payload.byteOffset).getBigUint64(0)) / 1000);
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e6, cpu = process.cpuUsage(cpu0);
    await done;
    delays.sort((a, b) => a - b);
    console.log(`${name.padEnd(12)} delay median ${pct(delays, 0.5).toFixed(0).padStart(6)} us   p99 ${pct(delays, 0.99).toFixed(0).padStart(6)} us   ` +
      `reader CPU ${(((cpu.user + cpu.system) / 1000) / wall * 100).toFixed(1).padStart(5)} % of ${wall.toFixed(0)} ms   (n=${delays.length})`);
  }
} finally {
  execFileSync('ip', ['netns', 'del', tx], { stdio: 'ignore' });
  execFileSync('ip', ['netns', 'del', rx], { stdio: 'ignore' });
}
