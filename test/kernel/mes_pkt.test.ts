/**
 * mes_pkt against the real kernel: BPF_PROG_TEST_RUN on crafted frames, then end to end on a
 * private testbed (unique prefix and pin dir; always torn down).
 */
import * as assert from 'uvu/assert';
import { existsSync, rmSync, readdirSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { kernelSuite, uniqueName, sh } from '../support/kernel.ts';
import { createMap, loadProgram, type BpfMap } from '../../src/syscall/index.ts';
import { mesStart, mesEnd, maps } from '../../programs/mes_pkt/probe.ts';
import { attach, detach, show, reset, loadedPrograms, NotAttachedError, FILTER_NAMES } from '../../programs/mes_pkt/control.ts';
import { testbedUp, testbedDown, testbedNames } from '../../programs/mes_pkt/testbed.ts';
import { send } from '../../programs/mes_pkt/send.ts';
import { FRAMES } from '../support/frames.ts';

const run = kernelSuite('mes_pkt: BPF_PROG_TEST_RUN');

function withProbe(fn: (m: { start: BpfMap<number, bigint>; end: BpfMap<number, bigint>; cnt: BpfMap<number, number> }, progs: { start: ReturnType<typeof loadProgram>; end: ReturnType<typeof loadProgram> }) => void): void {
  const start = createMap<number, bigint>(maps.start), end = createMap<number, bigint>(maps.end), cnt = createMap<number, number>(maps.cnt);
  const bound = { map_mes_start: start, map_mes_end: end, map_mes_cnt: cnt };
  const ps = loadProgram(mesStart, { maps: bound }), pe = loadProgram(mesEnd, { maps: bound });
  try { fn({ start, end, cnt }, { start: ps, end: pe }); } finally { ps.close(); pe.close(); start.close(); end.close(); cnt.close(); }
}

run('a UDP frame to 5001 is stamped by mes_start and mes_end into their own maps', () => {
  withProbe((m, p) => {
    const frame = FRAMES.match;
    const before = process.hrtime.bigint();
    assert.is(p.start.testRun({ data: frame }).retval, 0); // TC_ACT_OK
    assert.is(m.cnt.get(0), 1);
    assert.is(m.cnt.get(1), 0);
    const t0 = m.start.get(0)!;
    assert.ok(t0 > 0n, 'a timestamp was stored');
    assert.is(p.end.testRun({ data: frame }).retval, 0);
    assert.is(m.cnt.get(1), 1);
    assert.ok(m.end.get(0)! >= t0);
    assert.ok(before > 0n);
  });
});

run('other ports, TCP, ARP and a frame cut inside the UDP header are not recorded', () => {
  withProbe((m, p) => {
    const match = FRAMES.match;
    const frames = {
      port: FRAMES.otherPort, tcp: FRAMES.tcp, arp: FRAMES.arp,
      truncated: match.slice(0, 14 + 20 + 7), // one byte short of the UDP header
    };
    for (const [what, f] of Object.entries(frames)) {
      assert.is(p.start.testRun({ data: f }).retval, 0, `${what} passes`);
      assert.is(m.cnt.get(0), 0, `${what} is not counted`);
    }
    assert.is(m.start.get(0), 0n);
  });
});

run('the counter stops at 512: later packets are passed and not recorded', () => {
  withProbe((m, p) => {
    m.cnt.set(0, 511);
    p.start.testRun({ data: FRAMES.match, repeat: 3 });
    assert.is(m.cnt.get(0), 512);
    assert.ok(m.start.get(511)! > 0n);
  });
});

run.run();

const e2e = kernelSuite('mes_pkt: end to end on the testbed');

function testbed<R>(fn: (t: ReturnType<typeof testbedNames>, pinDir: string) => R): R {
  const prefix = uniqueName('m').slice(0, 8);
  const pinDir = `/sys/fs/bpf/${uniqueName('tsbpf-mes')}`;
  const t = testbedUp(prefix);
  try {
    return fn(t, pinDir);
  } finally {
    try { detach([t.v1, t.v2], { pinDir }); } catch { /* the test's own assertions report failures */ }
    rmSync(pinDir, { recursive: true, force: true });
    testbedDown(prefix);
  }
}

const filtersOn = (dev: string, hook: 'ingress' | 'egress') => sh('tc', ['filter', 'show', 'dev', dev, hook]);
const prefixOf = (t: { ns1: string }) => t.ns1.slice(0, -3);

for (const mode of ['v2', 'tutorial'] as const) {
  e2e(`${mode}: N packets to 5001 and M to other ports: both counts are N, latencies are sane, detach leaves nothing`, () => {
    testbed((t, pinDir) => {
      const r = attach(t.v1, t.v2, { pinDir, mode, match: mode === 'v2' ? 'seq' : undefined, attach: 'tc' });
      assert.is(r.mode, mode);
      assert.is(r.programs.length, 2);
      assert.equal(r.qdiscsCreated.sort(), [t.v1, t.v2].sort());
      assert.match(filtersOn(t.v1, 'ingress'), /direct-action/);
      assert.match(filtersOn(t.v2, 'egress'), new RegExp(FILTER_NAMES.egress));
      // dump finds both loaded entries through the pinned maps they use
      const loaded = loadedPrograms({ pinDir });
      assert.equal(loaded.map((p) => p.name).sort(), ['mes_end', 'mes_start']);
      for (const p of loaded) { assert.match(p.xlatedListing(), /r1 = \*\(u64 \*\)\(r1 \+ \d+\)/, 'skb->data became a u64 load'); p.close(); }
      const N = 25, M = 7;
      send({ prefix: prefixOf(t), count: N, intervalUs: 200, port: 5001, size: 16 });
      send({ prefix: prefixOf(t), count: M, intervalUs: 0, port: 5002, size: 16 });
      send({ prefix: prefixOf(t), count: M, intervalUs: 0, port: 9, size: 16 });
      const s = show({ pinDir });
      assert.is(s.mode, mode);
      assert.is(s.start_count, N);
      assert.is(s.end_count, N);
      assert.is(s.pairs, N);
      for (const x of s.samples) assert.ok(x.latency_ns > 0n && x.latency_ns < 1_000_000_000n, `latency ${x.latency_ns}`);
      assert.ok(s.min_ns! <= s.p50_ns! && s.p50_ns! <= s.max_ns!);
      if (mode === 'v2') {
        assert.equal(s.samples.map((x) => x.id).sort((a, b) => a! - b!), Array.from({ length: N }, (_, i) => i), 'every sequence number once');
        assert.is(s.unmatched_starts, 0);
        assert.is(s.unmatched_ends, 0);
        assert.is(s.lost, 0);
        assert.is(s.kernel_histogram!.reduce((a, b) => a + b, 0), N, 'the in-kernel histogram counted every pair');
      }

      // the CLI reads the same pins
      const cli = spawnSync(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', 'show', '--json', '--samples', '--pin-dir', pinDir], { encoding: 'utf8' });
      assert.is(cli.status, 0, cli.stderr);
      const j = JSON.parse(cli.stdout);
      for (const k of ['start_count', 'end_count', 'pairs', 'total_ns', 'avg_ns', 'min_ns', 'max_ns', 'p50_ns', 'p90_ns', 'p99_ns', 'reverse', 'samples']) assert.ok(k in j, `--json has ${k}`);
      for (const k of ['index', 'start_ns', 'end_ns', 'latency_ns']) assert.ok(k in j.samples[0], `samples have ${k}`);

      reset({ pinDir });
      assert.is(show({ pinDir }).start_count, 0);

      const d = detach([t.v1, t.v2], { pinDir });
      assert.is(d.filters.length, 2);
      assert.is(d.qdiscs.length, 2);
      assert.is(d.pins.length, mode === 'v2' ? 4 : 3);
      assert.not.match(sh('tc', ['qdisc', 'show', 'dev', t.v1]), /clsact/);
      assert.not.match(sh('tc', ['qdisc', 'show', 'dev', t.v2]), /clsact/);
      // no pins left, and the directory attach created is gone too
      assert.not.ok(existsSync(pinDir), `${existsSync(pinDir) ? readdirSync(pinDir).join(', ') : ''} left in ${pinDir}`);
      // safe to run again when nothing is attached
      assert.equal(detach([t.v1, t.v2], { pinDir }).filters, []);
    });
  });
}

e2e('the CLI attaches inside a network namespace with --netns, and detaches there too', () => {
  testbed((t, pinDir) => {
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', ...args, '--pin-dir', pinDir], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      return r.stdout;
    };
    const r = JSON.parse(cli('attach', t.n2, '--netns', t.ns2, '--attach', 'tc', '--json'));
    assert.equal(r.qdiscsCreated, [t.n2]);
    assert.match(sh('tc', ['-n', t.ns2, 'filter', 'show', 'dev', t.n2, 'ingress']), new RegExp(`${FILTER_NAMES.ingress} direct-action`));
    send({ prefix: prefixOf(t), count: 5, intervalUs: 100, port: 5001, size: 16 });
    const s = JSON.parse(cli('show', '--json'));
    assert.is(s.start_count, 5, 'n2 ingress saw the five datagrams');
    assert.is(s.unmatched_starts, 5, 'and nothing left n2 towards 5001');
    assert.match(cli('detach', '--netns', t.ns2), /removed filter/);
    assert.not.match(sh('tc', ['-n', t.ns2, 'qdisc', 'show', 'dev', t.n2]), /clsact/);
  });
});

e2e('detach after the devices or their namespace are gone still removes the pins', () => {
  const prefix = uniqueName('g').slice(0, 8);
  const pinDir = `/sys/fs/bpf/${uniqueName('tsbpf-gone')}`;
  try {
    const t = testbedUp(prefix);
    attach(t.n2, t.n2, { pinDir, netns: t.ns2, mode: 'tutorial' });
    attach(t.v1, t.v2, { pinDir: `${pinDir}-root` });
    testbedDown(prefix); // takes ns2 (and n2) and v1/v2 with it
    const inNs = detach([], { pinDir, netns: t.ns2 });
    assert.is(inNs.pins.length, 5, 'three maps and the two tcx links');
    assert.match(inNs.notes.join('\n'), /is gone/);
    const inRoot = detach([], { pinDir: `${pinDir}-root` });
    assert.is(inRoot.pins.length, 6, 'four maps and the two tcx links');
    assert.match(inRoot.notes.join('\n'), new RegExp(`${t.v1} is gone`));
  } finally {
    testbedDown(prefix);
    rmSync(pinDir, { recursive: true, force: true });
    rmSync(`${pinDir}-root`, { recursive: true, force: true });
  }
});

e2e('testbed down leaves no namespace or link', () => {
  const prefix = uniqueName('d').slice(0, 8);
  const t = testbedUp(prefix);
  testbedDown(prefix);
  const ns = sh('ip', ['netns', 'list']);
  assert.not.match(ns, new RegExp(`^${t.ns1}\\b`, 'm'));
  assert.not.match(ns, new RegExp(`^${t.ns2}\\b`, 'm'));
  for (const l of [t.v1, t.v2, t.br]) assert.is(sh('ip', ['link', 'show', l], { allowFail: true }), '');
});

e2e('attaching twice leaves one filter per hook (--attach tc)', () => {
  testbed((t, pinDir) => {
    attach(t.v1, t.v2, { pinDir, attach: 'tc' });
    const again = attach(t.v1, t.v2, { pinDir });
    assert.ok(again.programs.every((p) => p.replaced));
    assert.ok(again.maps.every((m) => !m.created), 'pins are reused');
    // tc prints a 'filter … bpf chain 0' header line and one 'handle' line per filter
    const count = (s: string) => (s.match(/ handle /g) ?? []).length;
    assert.is(count(filtersOn(t.v1, 'ingress')), 1);
    assert.is(count(filtersOn(t.v2, 'egress')), 1);
  });
});

e2e('attach to a missing device fails clearly and leaves nothing behind', () => {
  testbed((t, pinDir) => {
    try {
      attach(t.v1, 'nosuchdev0', { pinDir, attach: 'tc' });
      assert.unreachable('attach should fail');
    } catch (e) {
      assert.match((e as Error).message, /no interface named 'nosuchdev0'/);
    }
    assert.not.match(sh('tc', ['qdisc', 'show', 'dev', t.v1]), /clsact/, 'the qdisc it added is removed');
    for (const m of Object.values(maps)) assert.not.ok(existsSync(`${pinDir}/${m.name}`), `no pin ${m.name}`);
  });
});

e2e('show with nothing attached says so; stale pins of another layout name detach', () => {
  testbed((t, pinDir) => {
    assert.throws(() => show({ pinDir }), (e: Error) => e instanceof NotAttachedError && /nothing is attached/.test(e.message));
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', 'show', '--pin-dir', pinDir], { encoding: 'utf8' });
    assert.is(cli.status, 1);
    assert.match(cli.stderr, /nothing is attached/);
    // the tutorial's map_mes_cnt pinned with 4 entries instead of 2
    mkdirSync(pinDir, { recursive: true });
    const wrong = createMap({ ...maps.cnt, maxEntries: 4 });
    wrong.pin(`${pinDir}/map_mes_cnt`);
    wrong.close();
    for (const m of [maps.start, maps.end]) { const x = createMap(m); x.pin(`${pinDir}/${m.name}`); x.close(); }
    assert.throws(() => show({ pinDir }), /detach/);
    assert.throws(() => attach(t.v1, t.v2, { pinDir, mode: 'tutorial', attach: 'tc' }), (e: Error) => /max.?entries/i.test(e.message) && /detach/.test(e.message));
    assert.not.match(sh('tc', ['qdisc', 'show', 'dev', t.v1]), /clsact/, 'attach failed before touching the device');
    // v2 pins with another capacity are refused the same way
    detach([], { pinDir });
    attach(t.v1, t.v2, { pinDir, capacity: 1024 });
    assert.throws(() => attach(t.v1, t.v2, { pinDir, capacity: 2048 }), /detach/);
  });
});

e2e.run();
