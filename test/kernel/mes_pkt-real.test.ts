/**
 * mes_pkt on real machines (issue 16), against the kernel, on testbeds and namespaces the tests
 * create: each --match mode with exact counts, reply mode beside an echo server with unrelated
 * traffic the other way, headers mode with a stock client (iperf2), `serve` checked by the
 * official parser (`promtool check metrics`, Debian's prometheus package), the guard rails,
 * ownership, rollback on signals, and the needs-root messages.
 */
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { kernelSuite, uniqueName, sh } from '../support/kernel.ts';
import { createMap, loadProgram, ensureBpffs } from '../../src/syscall/index.ts';
import { attach, detach, show, canonicalDir, stateFile, readState } from '../../programs/mes_pkt/control.ts';
import { configBytes, mesEndV2, mesStartV2, v2Maps, SEEN } from '../../programs/mes_pkt/probe-v2.ts';
import { maps as tutMaps, mesStart, mesEnd } from '../../programs/mes_pkt/probe.ts';
import { writeV2Config } from '../../programs/mes_pkt/reader-v2.ts';
import { attachTc, tcxQuery } from '../../src/attach/index.ts';
import { program, r0 } from '../../src/asm/index.ts';
import { testbedDown, testbedUp, testbedNames, type Testbed } from '../../programs/mes_pkt/testbed.ts';
import { send } from '../../programs/mes_pkt/send.ts';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const NEEDS_ROOT = 'needs root (or CAP_BPF + CAP_NET_ADMIN)';

const t = kernelSuite('mes_pkt on real machines');

function cli(args: string[], o: { env?: Record<string, string>; asNobody?: boolean } = {}) {
  const node = [process.execPath, '--import', 'tsx', 'programs/mes_pkt.ts', ...args];
  const [cmd, ...argv] = o.asNobody ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', ...node] : node;
  return spawnSync(cmd!, argv, { cwd: root, encoding: 'utf8', env: { ...process.env, ...o.env }, timeout: 60_000 });
}

function nsRun(ns: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
}
const waitFor = (c: ChildProcess, text: string) => new Promise<void>((resolve, reject) => {
  let out = '';
  c.stdout!.on('data', (d) => { out += d; if (out.includes(text)) resolve(); });
  c.on('exit', (code) => reject(new Error(`exited (${code}) before printing '${text}': ${out}`)));
});
const exited = (c: ChildProcess) => new Promise<number | null>((resolve) => { if (c.exitCode !== null) resolve(c.exitCode); else c.on('exit', (code) => resolve(code)); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A testbed with a unique prefix and pin dir, torn down whatever happens. */
async function onTestbed<R>(fn: (tb: Testbed, pinDir: string, prefix: string) => Promise<R> | R): Promise<R> {
  const prefix = uniqueName('r').slice(0, 8);
  const pinDir = `/sys/fs/bpf/${uniqueName('tsbpf-real')}`;
  const tb = testbedUp(prefix);
  try {
    return await fn(tb, pinDir, prefix);
  } finally {
    try { detach([], { pinDir }); } catch { /* assertions report failures */ }
    rmSync(pinDir, { recursive: true, force: true });
    testbedDown(prefix);
  }
}

const tc = (args: string[]) => sh('tc', args, { allowFail: true });
/**
 * What runs on a device's tcx hooks, one line each: "tcx/ingress NAME prog_id N link_id M"
 * (PROG_QUERY through the attach layer for the ids, `bpftool prog show` for the names; Debian's
 * bpftool 7.1 does not list tcx in `net show`). A device that is gone has nothing on it.
 */
function netShow(dev: string, ns?: string): string {
  const out: string[] = [];
  for (const hook of ['ingress', 'egress'] as const) {
    let q;
    try { q = tcxQuery(dev, hook, { netns: ns }); } catch { continue; }
    q.progIds.forEach((id, i) => {
      const name = (JSON.parse(sh('bpftool', ['-j', 'prog', 'show', 'id', String(id)])) as { name: string }).name;
      out.push(`tcx/${hook} ${name} prog_id ${id} link_id ${q.linkIds[i]}`);
    });
  }
  return out.join('\n');
}
const filtersOf = (dev: string, hook: string, ns?: string) => tc([...(ns ? ['-n', ns] : []), 'filter', 'show', 'dev', dev, hook]);
const hasClsact = (dev: string, ns?: string) => /clsact/.test(tc([...(ns ? ['-n', ns] : []), 'qdisc', 'show', 'dev', dev]));
const pinsIn = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** Nothing of a probe left: no pins, no state, no mes_pkt filter, no clsact on the devices. */
function assertNothingLeft(pinDir: string, devs: string[], ns?: string): void {
  assert.equal(pinsIn(pinDir), [], `no pins left in ${pinDir}`);
  assert.not.ok(existsSync(stateFile(canonicalDir(pinDir))), 'no state file left');
  for (const d of devs) {
    assert.not.match(filtersOf(d, 'ingress', ns) + filtersOf(d, 'egress', ns), /mes_pkt/, `no mes_pkt filter on ${d}`);
    assert.not.match(netShow(d, ns), /mes_start|mes_end/, `no mes_pkt program on ${d}'s tcx hooks`);
    assert.not.ok(hasClsact(d, ns), `no clsact qdisc on ${d}`);
  }
}

/** Nothing of a testbed left: no namespace, no bridge, no veth. */
function assertNoTestbed(prefix: string): void {
  const n = testbedNames(prefix);
  const nss = sh('ip', ['netns', 'list']);
  for (const ns of [n.ns1, n.ns2]) assert.not.match(nss, new RegExp(`^${ns}\\b`, 'm'), `namespace ${ns} is gone`);
  for (const l of [n.br, n.v1, n.v2]) assert.is(sh('ip', ['link', 'show', l], { allowFail: true }), '', `link ${l} is gone`);
}

/** A counter of a namespace's /proc/net/snmp, e.g. snmp(ns, 'Tcp', 'InSegs'). */
function snmp(ns: string, proto: 'Udp' | 'Tcp', key: string): number {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith(`${proto}:`));
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  return Number(values![names!.indexOf(key)]);
}
/** UDP datagrams a namespace's stack received (delivered, to closed ports, or dropped on a full buffer). */
const udpIn = (ns: string): number => snmp(ns, 'Udp', 'InDatagrams') + snmp(ns, 'Udp', 'NoPorts') + snmp(ns, 'Udp', 'InErrors');

// ---- each --match mode, exact counts ---------------------------------------------------------

for (const match of ['seq', 'headers'] as const) {
  t(`--match ${match} on the testbed: exactly the datagrams to the configured ports pair, and nothing else`, async () => {
    await onTestbed((tb, pinDir, prefix) => {
      const r = attach(tb.v1, tb.v2, { pinDir, match, ports: [5001, 5003] });
      assert.is(r.match, match);
      assert.match(r.measured, new RegExp(`^${tb.v1} ingress → ${tb.v2} egress: .*UDP to :5001,:5003`));
      send({ prefix, count: 40, intervalUs: 100, port: 5001, size: 16 });
      send({ prefix, count: 10, intervalUs: 100, port: 5003, size: 16 });
      send({ prefix, count: 7, intervalUs: 0, port: 5002, size: 16 });
      const s = show({ pinDir });
      assert.equal([s.start_count, s.end_count, s.pairs, s.matched], [50, 50, 50, 50]);
      assert.equal([s.unmatched_starts, s.unmatched_ends, s.lost, s.duplicate_starts, s.end_before_start, s.over_max], [0, 0, 0, 0, 0, 0]);
      assert.is(s.kernel_histogram!.reduce((a, b) => a + b, 0), 50);
      assert.equal(s.warnings, []);
      assert.is(s.measured, r.measured, 'show repeats what is measured');
      // every pair is one flow's datagram, from n1 to n2
      assert.ok(s.samples.every((x) => new RegExp(`^${tb.addr1.replace(/\./g, '\\.')}:\\d+ → ${tb.addr2.replace(/\./g, '\\.')}:500[13]$`).test(x.flow!)), s.samples[0]?.flow);
      // the ports change through the config map: same programs, new packets
      const ids = readState(canonicalDir(pinDir))!.hooks.map((h) => h.progId);
      writeV2Config(canonicalDir(pinDir), { proto: 'udp', ports: [5002], match });
      send({ prefix, count: 5, intervalUs: 100, port: 5002, size: 16 });
      send({ prefix, count: 5, intervalUs: 100, port: 5001, size: 16 });
      const s2 = show({ pinDir });
      assert.is(s2.matched, 55, 'the 5 to 5002 count now, the 5 to 5001 do not');
      assert.match(netShow(tb.v1), new RegExp(`mes_start prog_id ${ids[0]} `), 'the same program still runs');
    });
  });
}

t('--match reply on one device: pairs = requests the echo server answered; unrelated same-payload traffic the other way never pairs', async () => {
  await onTestbed(async (tb, pinDir, prefix) => {
    const r = attach(tb.n2, tb.n2, { pinDir, netns: tb.ns2 });
    assert.is(r.match, 'reply', 'the default on one device');
    assert.is(r.measured, `${tb.n2} ingress → ${tb.n2} egress (netns ${tb.ns2}): time from a request to :5001/udp to its reply (the flow reversed)`);
    const echo = nsRun(tb.ns2, [process.execPath, '--import', 'tsx', 'test/fixtures/mes_pkt/echo.ts', '5001']);
    let echoOut = '';
    echo.stdout!.on('data', (d) => { echoOut += d; });
    try {
      await waitFor(echo, 'ready');
      const N = 30;
      // requests, ids 0..29, each after the reply to the one before: one outstanding per flow
      const pp = spawnSync('ip', ['netns', 'exec', tb.ns1, process.execPath, '--import', 'tsx', 'test/fixtures/mes_pkt/pingpong.ts', tb.addr2, '5001', String(N)], { cwd: root, encoding: 'utf8' });
      assert.is(pp.status, 0, pp.stderr);
      assert.is(JSON.parse(pp.stdout.trim()).replies, N);
      // from ns2 to ns1's port 5001, the same payloads: out of n2, to the port, not from it
      const other = spawnSync('ip', ['netns', 'exec', tb.ns2, process.execPath, '--import', 'tsx', 'programs/mes_pkt/sender.ts', tb.addr1, '5001', String(N), '500'], { cwd: root, encoding: 'utf8' });
      assert.is(other.status, 0, other.stderr);
      await sleep(100);
      echo.kill('SIGTERM');
      await exited(echo);
      const answered = (JSON.parse(echoOut.trim().split('\n').pop()!) as { answered: number }).answered;
      assert.is(answered, N, 'the echo server answered every request');
      const s = show({ pinDir });
      assert.equal([s.start_count, s.end_count, s.pairs], [N, answered, answered], JSON.stringify({ ...s, samples: undefined, kernel_histogram: undefined }, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
      assert.equal([s.unmatched_starts, s.unmatched_ends, s.duplicate_starts], [0, 0, 0]);
      // the flow is the request's: client → server:5001
      assert.ok(s.samples.every((x) => x.flow!.startsWith(`${tb.addr1}:`) && x.flow!.endsWith(`→ ${tb.addr2}:5001`)), s.samples[0]?.flow);
    } finally {
      if (echo.exitCode === null) echo.kill('SIGKILL');
    }
    // the contrast: --match seq on the same device pairs the requests with the unrelated traffic
    detach([], { pinDir });
    attach(tb.n2, tb.n2, { pinDir, netns: tb.ns2, match: 'seq' });
    send({ prefix, count: 10, intervalUs: 500, port: 5001, size: 16 });
    const other = spawnSync('ip', ['netns', 'exec', tb.ns2, process.execPath, '--import', 'tsx', 'programs/mes_pkt/sender.ts', tb.addr1, '5001', '10', '500'], { cwd: root, encoding: 'utf8' });
    assert.is(other.status, 0, other.stderr);
    assert.is(show({ pinDir }).pairs, 10, '--match seq on one device pairs unrelated packets that share an identity (why reply is the default there)');
  });
});

t('--match headers with a stock client (iperf2 -u): pairs = every datagram n2 received, none unmatched', async () => {
  await onTestbed(async (tb, pinDir) => {
    attach(tb.v1, tb.v2, { pinDir });
    const server = nsRun(tb.ns2, ['iperf', '-s', '-u', '-p', '5001']);
    try {
      await sleep(300);
      const before = udpIn(tb.ns2);
      const client = spawnSync('ip', ['netns', 'exec', tb.ns1, 'iperf', '-u', '-c', tb.addr2, '-p', '5001', '-l', '200', '-b', '2M', '-t', '1'], { encoding: 'utf8', timeout: 30_000 });
      assert.is(client.status, 0, client.stderr);
      await sleep(200);
      const received = udpIn(tb.ns2) - before;
      assert.ok(received > 500, `iperf sent ${received} datagrams`);
      const s = show({ pinDir });
      assert.equal([s.start_count, s.end_count, s.pairs], [received, received, received]);
      assert.equal([s.unmatched_starts, s.unmatched_ends, s.lost, s.end_before_start], [0, 0, 0, 0]);
    } finally {
      server.kill('SIGKILL');
      await exited(server);
    }
  });
});

t('--proto tcp --match headers with iperf2 over TCP: pairs = every segment n2 received', async () => {
  await onTestbed(async (tb, pinDir) => {
    const r = attach(tb.v1, tb.v2, { pinDir, proto: 'tcp' });
    assert.match(r.measured, /TCP to :5001/);
    const server = nsRun(tb.ns2, ['iperf', '-s', '-p', '5001']);
    try {
      await sleep(300);
      const before = snmp(tb.ns2, 'Tcp', 'InSegs');
      const client = spawnSync('ip', ['netns', 'exec', tb.ns1, 'iperf', '-c', tb.addr2, '-p', '5001', '-n', '1M'], { encoding: 'utf8', timeout: 30_000 });
      assert.is(client.status, 0, client.stderr);
      await sleep(200);
      const segs = snmp(tb.ns2, 'Tcp', 'InSegs') - before;
      const s = show({ pinDir });
      assert.ok(segs > 3, `${segs} segments`);
      assert.equal([s.start_count, s.end_count, s.pairs], [segs, segs, segs]);
      assert.equal([s.unmatched_starts, s.unmatched_ends, s.duplicate_starts], [0, 0, 0]);
    } finally {
      server.kill('SIGKILL');
      await exited(server);
    }
  });
});

// ---- serve, watch, show's output ---------------------------------------------------------------

t('serve: the exposition passes `promtool check metrics` (the official parser) and its counts equal show --json', async () => {
  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  assert.is(promtool.status, 0, 'promtool is missing: apt-get install prometheus (Debian\'s package ships promtool)');
  await onTestbed(async (tb, pinDir, prefix) => {
    attach(tb.v1, tb.v2, { pinDir });
    send({ prefix, count: 25, intervalUs: 200, port: 5001, size: 16 });
    const srv = spawn(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', 'serve', '--listen', '127.0.0.1:0', '--pin-dir', pinDir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        srv.stdout!.on('data', (d) => { out += d; const m = /serving (http:\/\/\S+\/metrics)/.exec(out); if (m) resolve(m[1]!); });
        srv.on('exit', (c) => reject(new Error(`serve exited ${c}`)));
      });
      const res = await fetch(url);
      assert.is(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const body = await res.text();
      const file = `/tmp/${uniqueName('mes-metrics')}.prom`;
      writeFileSync(file, body);
      try {
        const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
        assert.is(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
        assert.is((check.stdout + check.stderr).trim(), '', 'promtool has no lint complaint either');
      } finally {
        rmSync(file, { force: true });
      }
      const j = JSON.parse(cli(['show', '--json', '--pin-dir', pinDir]).stdout);
      const v = (re: RegExp) => Number(body.split('\n').find((l) => re.test(l))!.split(' ').pop());
      assert.is(v(/^tsbpf_mes_pkt_starts_total\{/), j.start_count);
      assert.is(v(/^tsbpf_mes_pkt_ends_total\{/), j.end_count);
      assert.is(v(/^tsbpf_mes_pkt_pairs_total\{/), j.matched);
      assert.is(v(/^tsbpf_mes_pkt_unmatched_total\{.*hook="egress"/), j.unmatched_ends);
      assert.is(v(/^tsbpf_mes_pkt_lost_total\{/), j.lost);
      assert.is(v(/^tsbpf_mes_pkt_latency_seconds_count\{/), j.kernel_histogram.reduce((a: number, b: number) => a + b, 0));
      assert.is(v(/^tsbpf_mes_pkt_latency_seconds_bucket\{.*le="\+Inf"/), 25);
      assert.ok(Math.abs(v(/^tsbpf_mes_pkt_latency_seconds_sum\{/) - j.total_ns / 1e9) < 1e-9, 'the in-kernel sum is the pairs\' total');
      assert.match(body, new RegExp(`device="${tb.v2}",hook="egress",ingress_device="${tb.v1}",match="headers"`));
      assert.ok(!('samples' in j), 'show --json leaves the samples out unless asked');
      srv.kill('SIGINT');
      assert.is(await exited(srv), 0, 'Ctrl-C stops serve cleanly');
    } finally {
      if (srv.exitCode === null) srv.kill('SIGKILL');
    }
  });
});

t('docs/fleet.md: its Prometheus config and recording rules pass promtool, its Grafana panel is JSON', () => {
  const doc = readFileSync(path.join(root, 'docs/fleet.md'), 'utf8');
  const yaml = [...doc.matchAll(/```yaml\n# (\S+)\n([\s\S]*?)```/g)].map((m) => ({ name: m[1]!, text: m[2]! }));
  assert.equal(yaml.map((y) => y.name), ['prometheus.yml', 'mes_pkt.rules.yml']);
  const dir = `/tmp/${uniqueName('mes-fleet')}`;
  mkdirSync(dir);
  try {
    for (const y of yaml) writeFileSync(path.join(dir, y.name), y.text);
    const rules = spawnSync('promtool', ['check', 'rules', path.join(dir, 'mes_pkt.rules.yml')], { encoding: 'utf8' });
    assert.is(rules.status, 0, rules.stdout + rules.stderr);
    const config = spawnSync('promtool', ['check', 'config', path.join(dir, 'prometheus.yml')], { cwd: dir, encoding: 'utf8' });
    assert.is(config.status, 0, config.stdout + config.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const panel = JSON.parse(/```json\n([\s\S]*?)```/.exec(doc)![1]!);
  assert.ok(panel.targets.some((x: { expr: string }) => x.expr === 'fleet:tsbpf_mes_pkt_latency_seconds:p99_5m'));
});

t('show after watch says watch drained the ring; --samples opts in; watch prints durations with units', async () => {
  await onTestbed(async (tb, pinDir, prefix) => {
    attach(tb.v1, tb.v2, { pinDir, match: 'seq' });
    send({ prefix, count: 10, intervalUs: 200, port: 5001, size: 16 });
    const withSamples = JSON.parse(cli(['show', '--json', '--samples', '--pin-dir', pinDir]).stdout);
    assert.is(withSamples.samples.length, 10);
    const w = spawn(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', 'watch', '--seconds', '2', '--pin-dir', pinDir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    w.stdout!.on('data', (d) => { out += d; });
    await sleep(1300);
    send({ prefix, count: 20, intervalUs: 200, port: 5001, size: 16 });
    assert.is(await exited(w), 0);
    assert.match(out, /p50 \d+(\.\d+)? (ns|µs|ms)  p90 \d+(\.\d+)? (ns|µs|ms)/, out);
    assert.not.match(out, /\d+\.\dus/, 'no 729540.7us style figures');
    const text = cli(['show', '--pin-dir', pinDir]).stdout;
    assert.match(text, /warning: 'watch' consumed 30 pair\(s\) from the ring/);
    assert.match(text, /^pairs\s+0$/m);
    const jl = spawnSync(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', 'watch', '--seconds', '1', '--jsonl', '--pin-dir', pinDir], { cwd: root, encoding: 'utf8' });
    const objs = jl.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(objs.length >= 1 && 'p99_ns' in objs[0], 'one JSON object per interval');
  });
});

t('show --by flow: per 5-tuple count, p50, p99 and max, busiest first', async () => {
  await onTestbed(async (tb, pinDir, prefix) => {
    attach(tb.v1, tb.v2, { pinDir });
    send({ prefix, count: 12, intervalUs: 200, port: 5001, size: 16 });
    send({ prefix, count: 5, intervalUs: 200, port: 5001, size: 16 });
    const j = JSON.parse(cli(['show', '--by', 'flow', '--json', '--pin-dir', pinDir]).stdout);
    assert.equal(j.flows.map((f: { count: number }) => f.count), [12, 5], 'two senders, two source ports');
    for (const f of j.flows) {
      assert.match(f.flow, new RegExp(`^${tb.addr1.replace(/\./g, '\\.')}:\\d+ → ${tb.addr2.replace(/\./g, '\\.')}:5001$`));
      assert.ok(f.p50_ns <= f.p99_ns && f.p99_ns <= f.max_ns);
    }
    const text = cli(['show', '--by', 'flow', '--top', '1', '--pin-dir', pinDir]).stdout;
    assert.match(text, /FLOW\s+COUNT\s+P50\s+P99\s+MAX/);
    assert.is(text.split('\n').filter((l) => l.includes('→') && !l.includes('ingress')).length, 1, '--top 1');
  });
});

// ---- guard rails, on BPF_PROG_TEST_RUN -----------------------------------------------------

/** Ethernet + IPv4 (20 bytes) + UDP to `port`, payload starting with the u32 `id`. */
function frame(id: number, port = 5001): Uint8Array {
  const b = new Uint8Array(14 + 20 + 8 + 16);
  const v = new DataView(b.buffer);
  v.setUint16(12, 0x0800);
  b[14] = 0x45; v.setUint16(16, 20 + 8 + 16); b[22] = 64; b[23] = 17;
  b.set([10, 0, 0, 1], 26); b.set([10, 0, 0, 2], 30);
  v.setUint16(34, 40000); v.setUint16(36, port); v.setUint16(38, 8 + 16);
  v.setUint32(42, id);
  return b;
}

t('guard rails: an identity seen twice, an end before its start, a pair above --max-latency, each with a warning', () => {
  const dir = path.join(ensureBpffs(), uniqueName('tsbpf-guard'));
  mkdirSync(dir);
  const spec = v2Maps(1024);
  const live = { mes2_ctl: createMap(spec.ctl), mes2_seen: createMap(spec.seen), mes2_pairs: createMap(spec.pairs), mes2_cfg: createMap(spec.cfg) };
  const start = loadProgram(mesStartV2(spec, { match: 'seq' }), { maps: live }), end = loadProgram(mesEndV2(spec, { match: 'seq' }), { maps: live });
  try {
    for (const m of Object.values(live)) m.pin(path.join(dir, m.name));
    const cfg = live.mes2_cfg.mmap(); cfg.bytes.set(configBytes({ proto: 'udp', ports: [5001], match: 'seq' })); cfg.close();
    const seen = live.mes2_seen.mmap();
    const sv = new DataView(seen.bytes.buffer, seen.bytes.byteOffset);
    try {
      // id 7 twice before its end
      start.testRun({ data: frame(7) }); start.testRun({ data: frame(7) });
      end.testRun({ data: frame(7) });
      // id 8's start stamped "in the future": its end comes first
      sv.setBigUint64(8 * SEEN.size + SEEN.ts, 1n << 62n, true); sv.setUint32(8 * SEEN.size + SEEN.id, 8, true);
      end.testRun({ data: frame(8) });
      // id 9's start stamped at boot: a 'latency' of the uptime
      sv.setBigUint64(9 * SEEN.size + SEEN.ts, 1n, true); sv.setUint32(9 * SEEN.size + SEEN.id, 9, true);
      end.testRun({ data: frame(9) });
      // a frame to another port is not looked at
      end.testRun({ data: frame(10, 5002) });
    } finally {
      seen.close();
    }
    const s = show({ pinDir: dir });
    assert.is(s.duplicate_starts, 1);
    assert.is(s.end_before_start, 1);
    assert.is(s.over_max, 1);
    assert.is(s.pairs, 1, 'only id 7 is in the figures');
    assert.ok(s.max_ns! < 1_000_000_000n, 'the uptime-long pair is not averaged in');
    const w = (s.warnings ?? []).join('\n');
    assert.match(w, /seen twice at the start hook/);
    assert.match(w, /ended before they started/);
    assert.match(w, /above --max-latency 1\.00 s are counted apart/);
    const text = cli(['show', '--pin-dir', dir]).stdout;
    assert.is(text.split('\n').filter((l) => l.startsWith('warning: ')).length, 3, text);
    // a larger --max-latency takes the long one in
    assert.is(show({ pinDir: dir, maxLatencyNs: 1n << 62n }).pairs, 2);
  } finally {
    start.close(); end.close();
    for (const m of Object.values(live)) m.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

t('tutorial mode says when its 512 slots are full and when index pairing drifted', () => {
  const dir = path.join(ensureBpffs(), uniqueName('tsbpf-tut'));
  mkdirSync(dir);
  const live = { map_mes_start: createMap<number, bigint>(tutMaps.start), map_mes_end: createMap<number, bigint>(tutMaps.end), map_mes_cnt: createMap<number, number>(tutMaps.cnt) };
  const ps = loadProgram(mesStart, { maps: live }), pe = loadProgram(mesEnd, { maps: live });
  try {
    for (const m of Object.values(live)) m.pin(path.join(dir, m.name));
    ps.testRun({ data: frame(1), repeat: 520 });
    pe.testRun({ data: frame(1), repeat: 500 });
    const w = (show({ pinDir: dir }).warnings ?? []).join('\n');
    assert.match(w, /512 slots are full: packets after the 512th were not recorded/);
    assert.match(w, /differ by 12: after the first packet lost between the hooks, index pairing drifted/);
  } finally {
    ps.close(); pe.close();
    for (const m of Object.values(live)) m.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- ownership -----------------------------------------------------------------------------

t('the state records namespace, devices, hooks, mode and program ids; detach finds the namespace by itself', async () => {
  await onTestbed((tb, pinDir) => {
    const a = cli(['attach', tb.n2, '--netns', tb.ns2, '--pin-dir', pinDir]);
    assert.is(a.status, 0, a.stderr);
    assert.match(a.stdout.split('\n')[0]!, /time from a request to :5001\/udp to its reply/);
    const st = readState(canonicalDir(pinDir))!;
    assert.is(st.netns, tb.ns2);
    assert.equal(st.devs, { ingress: tb.n2, egress: tb.n2 });
    assert.equal(st.hooks.map((h) => [h.dev, h.hook, h.method]), [[tb.n2, 'ingress', 'tcx'], [tb.n2, 'egress', 'tcx']]);
    assert.is(st.mode, 'v2');
    assert.is(st.match, 'reply');
    assert.ok(st.hooks.every((h) => h.linkId! > 0 && existsSync(h.linkPin!)), 'link ids recorded, links pinned beside the maps');
    assert.match(netShow(tb.n2, tb.ns2), new RegExp(`tcx/ingress mes_start prog_id ${st.hooks[0]!.progId} link_id ${st.hooks[0]!.linkId}`));
    const d = cli(['detach', '--pin-dir', pinDir]); // no --netns
    assert.is(d.status, 0, d.stderr);
    assert.match(d.stdout, /^removed tcx link \d+ on /m);
    assertNothingLeft(pinDir, [tb.n2], tb.ns2);
  });
});

t('a second pin dir on a device another probe owns is refused, naming the owner and how to detach it', async () => {
  await onTestbed((tb, pinDir) => {
    const other = `${pinDir}-b`;
    try {
      const r = attach(tb.v1, tb.v2, { pinDir });
      const b = cli(['attach', tb.v2, tb.v1, '--pin-dir', other]);
      assert.is(b.status, 1);
      const owner = canonicalDir(pinDir);
      assert.match(b.stderr, new RegExp(`already probed by the mes_pkt whose pins are in ${owner}`));
      assert.ok(b.stderr.includes(`'npx tsx programs/mes_pkt.ts detach --pin-dir ${owner}'`), b.stderr);
      assert.equal(pinsIn(other), [], 'nothing created for the refused probe');
      assert.not.ok(existsSync(stateFile(canonicalDir(other))));
      assert.match(netShow(tb.v1), new RegExp(`mes_start prog_id ${r.programs[0]!.id} `), 'the owner keeps its attachments');
      assert.is((netShow(tb.v2).match(/mes_end/g) ?? []).length, 1, 'nothing stacked');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

t('--pin-dir a/../b and b are one probe', async () => {
  await onTestbed((tb, pinDir) => {
    const crooked = `${pinDir}-x/../${path.basename(pinDir)}`;
    attach(tb.v1, tb.v2, { pinDir: crooked });
    assert.is(show({ pinDir }).start_count, 0, 'show through the straight path reads it');
    const again = attach(tb.v1, tb.v2, { pinDir });
    assert.ok(again.programs.every((p) => p.replaced), 're-attach through the straight path replaces, no refusal');
    detach([], { pinDir });
    assertNothingLeft(pinDir, [tb.v1, tb.v2]);
  });
});

// ---- on the attach layer: tcx links (issue 12, item 3) ----------------------------------------

t('--attach auto uses tcx links here: attaching twice replaces ours and never stacks; show says how it is attached', async () => {
  await onTestbed((tb, pinDir) => {
    const a = attach(tb.v1, tb.v2, { pinDir });
    assert.ok(a.programs.every((p) => p.method === 'tcx'));
    const links1 = readState(canonicalDir(pinDir))!.hooks.map((h) => h.linkId);
    const b = attach(tb.v1, tb.v2, { pinDir });
    assert.ok(b.programs.every((p) => p.replaced));
    const st = readState(canonicalDir(pinDir))!;
    assert.equal(st.hooks.map((h) => h.linkId), links1, 'the same links, updated in place');
    assert.equal(st.hooks.map((h) => h.progId), b.programs.map((p) => p.id), 'now running the new programs');
    assert.is(netShow(tb.v1), `tcx/ingress mes_start prog_id ${b.programs[0]!.id} link_id ${links1[0]}`, 'one program on v1, the new one');
    assert.is(netShow(tb.v2), `tcx/egress mes_end prog_id ${b.programs[1]!.id} link_id ${links1[1]}`);
    assert.not.ok(hasClsact(tb.v1) || hasClsact(tb.v2), 'tcx needs no qdisc');
    const text = cli(['show', '--pin-dir', pinDir]).stdout;
    assert.match(text, new RegExp(`^attached with tcx links ${links1[0]} \\(${tb.v1} ingress\\), ${links1[1]} \\(${tb.v2} egress\\), pinned in ${canonicalDir(pinDir)}$`, 'm'));
    assert.match(cli(['detach', '--pin-dir', pinDir]).stdout, /tcx link/);
    assertNothingLeft(pinDir, [tb.v1, tb.v2]);
    // and with --attach tc, filters, said so too
    attach(tb.v1, tb.v2, { pinDir, attach: 'tc' });
    assert.match(cli(['show', '--pin-dir', pinDir]).stdout, /^attached with tc \(cls_bpf\) filters mes_pkt_start/m);
    assert.throws(() => attach(tb.v1, tb.v2, { pinDir, attach: 'tcx' }), /attached with tc \(cls_bpf\) filters: detach it first/);
  });
});

t('detach removes only ours: another tcx program and another filter on the same hooks stay', async () => {
  await onTestbed((tb, pinDir) => {
    const other = loadProgram(program({ name: 'not_ours', type: 'sched_cls' }, (b) => { b.mov(r0, -1); b.exit(); }));
    const foreignLink = attachTc(other, tb.v1, 'ingress', { mode: 'tcx' });
    const foreignFilter = attachTc(other, tb.v2, 'egress', { mode: 'cls_bpf', priority: 7 });
    try {
      attach(tb.v1, tb.v2, { pinDir });
      assert.is(netShow(tb.v1).split('\n').length, 2, 'theirs and ours on v1 ingress');
      detach([], { pinDir });
      assert.is(netShow(tb.v1), `tcx/ingress not_ours prog_id ${other.id} link_id ${foreignLink.info().linkId}`, 'their link stays');
      assert.match(filtersOf(tb.v2, 'egress'), /not_ours/, 'their filter stays');
      assert.ok(hasClsact(tb.v2), 'and the qdisc under it');
      assert.equal(pinsIn(pinDir), []);
    } finally {
      foreignLink.detach();
      foreignFilter.detach();
      other.close();
    }
  });
});

t('a failed tcx attach leaves nothing: no link, no pin, no state', async () => {
  await onTestbed((tb, pinDir) => {
    assert.throws(() => attach(tb.v1, 'nosuchdev0', { pinDir, attach: 'tcx' }), /nosuchdev0/);
    assertNothingLeft(pinDir, [tb.v1]);
    // a mes_pkt program on the hook that no state claims is refused before anything is made
    const stray = loadProgram(mesStartV2(v2Maps(16, 1), { match: 'seq' }), { maps: { mes2_ctl: createMap(v2Maps(16, 1).ctl), mes2_seen: createMap(v2Maps(16, 1).seen), mes2_pairs: createMap(v2Maps(16, 1).pairs), mes2_cfg: createMap(v2Maps(16, 1).cfg) } });
    const l = attachTc(stray, tb.v1, 'ingress', { mode: 'tcx' });
    try {
      assert.throws(() => attach(tb.v1, tb.v2, { pinDir }), /already has a mes_pkt tcx program .* that no probe state claims.*'npx tsx programs\/mes_pkt\.ts detach/);
      assert.equal(pinsIn(pinDir), []);
      // detach by device name removes mes_pkt programs by name
      const d = detach([tb.v1], { pinDir });
      assert.match(d.filters.join('\n'), /tcx link/);
      assert.is(netShow(tb.v1), '');
    } finally {
      l.close();
      stray.close();
    }
  });
});

// ---- signals -------------------------------------------------------------------------------

t('SIGINT at each point of attach rolls everything back', async () => {
  await onTestbed((tb, pinDir) => {
    for (const at of ['attach:maps', 'attach:programs', 'attach:ingress', 'attach:egress']) {
      const r = cli(['attach', tb.v1, tb.v2, '--pin-dir', pinDir], { env: { TSBPF_MES_PKT_SIGNAL_AT: at } });
      assert.is(r.status, 130, `${at}: exit 128 + SIGINT (${r.stderr})`);
      assert.match(r.stderr, /interrupted by SIGINT: rolled back/);
      assertNothingLeft(pinDir, [tb.v1, tb.v2]);
    }
  });
});

/** The names demo gives its testbed and pins, from its pid. */
const demoNames = (pid: number) => ({ prefix: `d${(pid % 46656).toString(36)}`, pinDir: `/sys/fs/bpf/tsbpf-demo-${pid}` });

t('SIGINT at each point of demo and testbed up leaves no namespace, bridge, link, filter or pin', () => {
  for (const at of ['demo:testbed', 'demo:attach', 'demo:send', 'demo:show']) {
    const c = spawnSync(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', 'demo', '--count', '20'], { cwd: root, encoding: 'utf8', env: { ...process.env, TSBPF_MES_PKT_SIGNAL_AT: at } });
    const n = demoNames(c.pid!);
    try {
      assert.is(c.status, 130, `${at}: ${c.stderr}`);
      assert.match(c.stderr, /interrupted by SIGINT/);
      assertNoTestbed(n.prefix);
      assert.not.ok(existsSync(n.pinDir), `${at}: no pin dir`);
      assert.not.ok(existsSync(stateFile(n.pinDir)), `${at}: no state`);
    } finally {
      testbedDown(n.prefix);
      rmSync(n.pinDir, { recursive: true, force: true });
    }
  }
  for (const at of ['testbed:namespaces', 'testbed:bridge']) {
    const prefix = uniqueName('s').slice(0, 8);
    try {
      const r = cli(['testbed', 'up', '--prefix', prefix], { env: { TSBPF_MES_PKT_SIGNAL_AT: at } });
      assert.is(r.status, 130, `${at}: ${r.stderr}`);
      assertNoTestbed(prefix);
    } finally {
      testbedDown(prefix);
    }
  }
});

t('demo | head: a reader that goes away does not cut the cleanup short', () => {
  const c = spawnSync('bash', ['-c', `${process.execPath} --import tsx programs/mes_pkt.ts demo --count 20 | head -1`], { cwd: root, encoding: 'utf8' });
  assert.match(c.stdout, /^1\. testbed up \(prefix (d[0-9a-z]+)\)\n$/);
  const prefix = /prefix (d[0-9a-z]+)/.exec(c.stdout)![1]!;
  try {
    assertNoTestbed(prefix);
    assert.not.ok(readdirSync('/sys/fs/bpf').some((d) => d.startsWith('tsbpf-demo-') && demoNames(parseInt(d.slice(11), 10)).prefix === prefix), 'no demo pin dir');
  } finally {
    testbedDown(prefix);
  }
});

t('Ctrl-C (SIGINT to the process group) or SIGTERM during a running demo leaves nothing behind', async () => {
  // SIGTERM goes to the process alone, as `kill` or systemd sends it
  for (const [ms, sig] of [[250, 'SIGINT'], [700, 'SIGINT'], [1400, 'SIGINT'], [900, 'SIGTERM']] as const) {
    const c = spawn(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', 'demo', '--count', '400'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const n = demoNames(c.pid!);
    try {
      await sleep(ms);
      if (c.exitCode === null) process.kill(sig === 'SIGINT' ? -c.pid! : c.pid!, sig);
      const code = await exited(c);
      // 128 + signal: rolled back; 0: it had finished; killed by the signal: Node was still
      // starting, before any listener (and before anything was made)
      assert.ok(code === (sig === 'SIGINT' ? 130 : 143) || code === 0 || (code === null && c.signalCode === sig), `${sig} after ${ms} ms: exit ${code} ${c.signalCode}`);
      assertNoTestbed(n.prefix);
      assert.not.ok(existsSync(n.pinDir), `after ${ms} ms: no pin dir`);
      assert.not.ok(existsSync(stateFile(n.pinDir)), `after ${ms} ms: no state`);
    } finally {
      if (c.exitCode === null) c.kill('SIGKILL');
      testbedDown(n.prefix);
      rmSync(n.pinDir, { recursive: true, force: true });
    }
  }
});

// ---- without root --------------------------------------------------------------------------

t(`without root every command that needs it says "${NEEDS_ROOT}", even with a probe attached`, async () => {
  await onTestbed((tb, pinDir) => {
    attach(tb.v1, tb.v2, { pinDir });
    const cmds = [
      ['show', '--pin-dir', pinDir], ['detach', '--pin-dir', pinDir], ['attach', tb.v1, '--pin-dir', pinDir], ['reset', '--pin-dir', pinDir],
      ['watch', '--seconds', '1', '--pin-dir', pinDir], ['serve', '--pin-dir', pinDir], ['testbed', 'up', '--prefix', 'nr'], ['testbed', 'down', '--prefix', 'nr'],
      ['send', '--count', '1'], ['demo'],
    ];
    for (const c of cmds) {
      const r = cli(c, { asNobody: true });
      assert.is(r.status, 1, `${c.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(NEEDS_ROOT), `${c.join(' ')}: ${r.stderr}`);
      assert.not.match(r.stderr, /EACCES|EPERM|nothing is attached|mount --make-shared/);
    }
    assert.is(show({ pinDir }).start_count, 0, 'and the probe is untouched');
  });
});

t.run();
