/**
 * Socket filters against the real kernel (root): two namespaces joined by a veth pair, the
 * capture socket in the receiver's namespace on its veth. The sender sends a known number of UDP
 * datagrams to :5001, others to :5002 and a TCP connection attempt to :5001; the filter written
 * in the DSL must pass exactly the UDP :5001 ones, with their contents, in order.
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachSocketFilter } from '../../src/attach/socket-filter.ts';
import { ProbeError } from '../../src/attach/perf-event.ts';
import { loadProgram } from '../../src/syscall/program.ts';
import { callCounter, callsSpec } from '../../programs/uprobe-count.ts';
import { createMap } from '../../src/syscall/map.ts';
import { parseUdp, udpPortFilter } from '../../programs/sockfilter.ts';
import { kernelSuite, sh } from '../support/kernel.ts';
import { withPair, type Pair } from '../support/attach-net.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const s = kernelSuite('socket filter');
const openFds = (): number => readdirSync('/proc/self/fd').length;

// withPair: sender nsA (a, 10.77.0.1) and receiver nsB (b, 10.77.0.2), always removed.

/** In the sender's namespace: n UDP datagrams to :5001 ("sf-1".."sf-n"), each followed by one to :5002, then a TCP SYN to :5001. */
function send(p: Pair, n: number): void {
  const script = `for i in $(seq 1 ${n}); do printf 'sf-%d' $i > /dev/udp/10.77.0.2/5001; printf 'other-%d' $i > /dev/udp/10.77.0.2/5002; done; ` +
    `(exec 3<>/dev/tcp/10.77.0.2/5001) 2>/dev/null; true`;
  sh('ip', ['netns', 'exec', p.nsA, 'bash', '-c', script]);
}

s('the filter passes exactly the UDP :5001 datagrams sent in its namespace, with their contents, in order', async () => {
  await withPair(async (p) => {
    const fds = openFds();
    {
      using prog = loadProgram(udpPortFilter(5001));
      using sock = attachSocketFilter(prog, { netns: p.nsB, ifname: p.b });
      assert.ok(sock.ifindex > 0);
      const N = 25;
      send(p, N);
      const frames = await sock.collect({ timeoutMs: 400 });
      const udp = frames.map((f) => parseUdp(f.data));
      assert.is(frames.length, N, `exactly ${N} frames, got ${frames.length}`);
      assert.equal(udp.map((u) => u && new TextDecoder().decode(u.payload)), Array.from({ length: N }, (_, i) => `sf-${i + 1}`));
      assert.ok(udp.every((u) => u!.dport === 5001 && u!.src === '10.77.0.1' && u!.dst === '10.77.0.2'));
      assert.ok(frames.every((f) => f.ifindex === sock.ifindex && f.pktType === 'host' && f.length === f.data.length));
    }
    assert.is(openFds(), fds, 'closing the handle (using) closed the socket');
  });
});

s('the same traffic with a filter for :5002 passes only those, so the filter (not the sender) decides', async () => {
  await withPair(async (p) => {
    using prog = loadProgram(udpPortFilter(5002));
    using sock = attachSocketFilter(prog, { netns: p.nsB, ifname: p.b });
    send(p, 5);
    const frames = await sock.collect({ timeoutMs: 300 });
    assert.equal(frames.map((f) => new TextDecoder().decode(parseUdp(f.data)!.payload)), ['other-1', 'other-2', 'other-3', 'other-4', 'other-5']);
  });
});

s('reading does not block the event loop: timers keep firing while frames() waits', async () => {
  await withPair(async (p) => {
    using prog = loadProgram(udpPortFilter(5001));
    using sock = attachSocketFilter(prog, { netns: p.nsB, ifname: p.b });
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 10);
    try {
      const frames = await sock.collect({ timeoutMs: 300 });
      assert.is(frames.length, 0);
    } finally {
      clearInterval(timer);
    }
    // Blocking reads would hold the loop for the whole 300 ms (0-1 ticks); 30 is ideal, a loaded CI machine gives fewer.
    assert.ok(ticks >= 5, `the 10 ms timer fired ${ticks} times in 300 ms`);
  });
});

s('programs/sockfilter.ts prints one tcpdump-like line per datagram, and JSON with --json', async () => {
  await withPair(async (p) => {
    for (const json of [false, true]) {
      const args = ['--import', 'tsx', path.join(ROOT, 'programs', 'sockfilter.ts'), '--netns', p.nsB, '--dev', p.b, '--count', '3', '--timeout', '20', ...(json ? ['--json'] : [])];
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '', stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d; });
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        // Send only once it listens: its socket exists from then on.
        await new Promise<void>((resolve, reject) => {
          child.stderr.on('data', (d: Buffer) => { stderr += d; if (stderr.includes('listening')) resolve(); });
          child.once('exit', () => reject(new Error(`sockfilter exited before listening: ${stderr}`)));
        });
        sh('ip', ['netns', 'exec', p.nsA, 'bash', '-c', 'for i in 1 2 3; do printf x$i > /dev/udp/10.77.0.2/5001; printf y > /dev/udp/10.77.0.2/5002; done']);
        assert.is(await exited, 0, stderr);
      } finally {
        if (child.exitCode === null) { child.kill('SIGKILL'); await exited; }
      }
      const lines = stdout.trim().split('\n');
      assert.is(lines.length, 3, stdout);
      if (json) {
        const rows = lines.map((l) => JSON.parse(l) as { src: string; dport: number; length: number; direction: string });
        assert.equal(rows.map((r) => [r.src, r.dport, r.length, r.direction]), [['10.77.0.1', 5001, 2, 'host'], ['10.77.0.1', 5001, 2, 'host'], ['10.77.0.1', 5001, 2, 'host']]);
      } else {
        for (const l of lines) assert.match(l, /^\d\d:\d\d:\d\d\.\d{6} 10\.77\.0\.1:\d+ > 10\.77\.0\.2:5001 UDP length 2 \(in\)$/);
      }
    }
  });
});

s('errors are one line and leave no socket open: missing device, missing namespace, wrong program type', async () => {
  await withPair(async (p) => {
    using prog = loadProgram(udpPortFilter());
    const map = createMap(callsSpec);
    using kprobe = loadProgram(callCounter(), { maps: [map] });
    const fds = openFds();
    for (const [fn, re] of [
      [() => attachSocketFilter(prog, { netns: p.nsB, ifname: 'nosuch0' }), new RegExp(`^cannot attach socket_filter nosuch0 in network namespace '${p.nsB}': no interface named 'nosuch0' in network namespace '${p.nsB}'.*ip -n ${p.nsB} link`)],
      [() => attachSocketFilter(prog, { netns: 'tsbpf-no-such-ns', ifname: 'lo' }), /^cannot attach socket_filter lo in network namespace 'tsbpf-no-such-ns': no network namespace 'tsbpf-no-such-ns'/],
      [() => attachSocketFilter(kprobe, { netns: p.nsB }), /program 'count_calls' is a kprobe program, and a socket_filter runs socket_filter programs: load it with type: 'socket_filter'/],
    ] as const) {
      let err: unknown;
      try { (fn as () => unknown)(); } catch (e) { err = e; }
      assert.instance(err, ProbeError, String(err));
      assert.match((err as Error).message, re);
      assert.not.match((err as Error).message, /\n/);
      assert.is(openFds(), fds, 'no fd left');
    }
    map.close();
  });
});

s.run();
