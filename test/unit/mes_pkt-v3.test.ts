/**
 * mes_pkt's pure parts for real machines: --match/--port/--proto parsing and the line that says
 * what is measured, the config block, the guard rails, flows, durations, the Prometheus
 * exposition, the needs-root check, and loadProgram's log retry (a fake kernel).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { program, r0, disassemble } from '../../src/asm/index.ts';
import { PROG_LOAD, readU32, readU64, write } from '../../src/syscall/attr.ts';
import { BpfError, VerifierError, loadProgram, type Sys } from '../../src/syscall/index.ts';
import { CFG, CTL, PAIR, PCPU, ctlSize, configBytes, readConfig, mesEndV2, mesStartV2, v2Maps, PARTS } from '../../programs/mes_pkt/probe-v2.ts';
import { defaultMatch, describe, matchWarning, parseMatch, parsePorts, parseProto } from '../../programs/mes_pkt/match.ts';
import { byFlow, formatDuration, log2Buckets, partition, summarize, type Sample } from '../../programs/mes_pkt/stats.ts';
import { exposition, escapeLabel } from '../../programs/mes_pkt/exposition.ts';
import { v2Warnings, type Counters } from '../../programs/mes_pkt/reader-v2.ts';
import { tutorialWarnings, canonicalDir } from '../../programs/mes_pkt/control.ts';
import { effectiveCaps, privileged, NeedsRootError } from '../../programs/mes_pkt/privilege.ts';
import { parseListen } from '../../programs/mes_pkt/serve.ts';
import { durationNs } from '../../programs/mes_pkt.ts';

test('--match defaults: reply on one device, headers on two; bad values are one clear line', () => {
  assert.is(defaultMatch('eth0', 'eth0'), 'reply');
  assert.is(defaultMatch('eth0', 'eth1'), 'headers');
  assert.is(parseMatch(undefined, 'a', 'a'), 'reply');
  assert.is(parseMatch('seq', 'a', 'b'), 'seq');
  assert.throws(() => parseMatch('hash', 'a', 'b'), /--match must be seq, headers, reply, not 'hash'/);
  assert.equal(parsePorts(undefined), [5001]);
  assert.equal(parsePorts(['5001,53', '53', '8080']), [53, 5001, 8080]);
  assert.throws(() => parsePorts(['0']), /1\.\.65535/);
  assert.is(parseProto(undefined), 'udp');
  assert.throws(() => parseProto('sctp'), /udp or tcp/);
});

test('attach says in one line what is measured, and warns where the choice cannot mean much', () => {
  const one = { ingressDev: 'eth0', egressDev: 'eth0', ports: [5001], proto: 'udp' as const };
  assert.is(describe({ ...one, match: 'reply' }), 'eth0 ingress → eth0 egress: time from a request to :5001/udp to its reply (the flow reversed)');
  assert.match(describe({ ingressDev: 'v1', egressDev: 'v2', ports: [5001, 53], proto: 'udp', match: 'headers' }), /^v1 ingress → v2 egress: .*UDP to :5001,:53 .*invariant header fields/);
  assert.match(describe({ ...one, match: 'seq', proto: 'tcp', netns: 'n' }), /\(netns n\).*TCP sequence number/);
  assert.match(matchWarning({ ...one, match: 'seq' })!, /pairs packets arriving at eth0 with other packets leaving it/);
  assert.is(matchWarning({ ...one, match: 'reply' }), null);
  assert.is(matchWarning({ ...one, egressDev: 'eth1', match: 'headers' }), null);
});

test('the config block: protocol, match and a port bitmap in network order, read back the same', () => {
  const b = configBytes({ proto: 'tcp', ports: [5001, 53, 65535, 1], match: 'reply' });
  assert.is(b.length, CFG.size);
  assert.is(b[CFG.proto], 6);
  // 5001 = 0x1389 is on the wire as 13 89: a little-endian u16 load reads 0x8913
  const k = 0x8913;
  assert.ok(b[CFG.ports + (k >> 3)]! & (1 << (k & 7)));
  assert.equal(readConfig(b), { proto: 'tcp', match: 'reply', ports: [1, 53, 5001, 65535] });
  assert.equal(readConfig(new Uint8Array(CFG.size)), { proto: null, match: null, ports: [] });
});

test('v2 programs: one clock call and no map helper in any mode; end pairs with an atomic fetch-add', () => {
  const m = v2Maps(1024);
  const helperCalls = (p: { insns: readonly { op: number; src: number; imm: number }[] }) => p.insns.filter((i) => i.op === 0x85 && i.src === 0).map((i) => i.imm);
  for (const match of ['seq', 'headers', 'reply'] as const) {
    const s = mesStartV2(m, { match }), e = mesEndV2(m, { match });
    assert.equal(helperCalls(s), [5], `${match} start: only bpf_ktime_get_ns`);
    assert.equal(helperCalls(e), [5, 8], `${match} end: bpf_ktime_get_ns, and get_smp_processor_id (inlined) for its CPU's histogram`);
    assert.ok(e.insns.some((i) => i.op === 0xdb && i.imm === 0x01), `${match}: fetch-add claims the slot`);
    // the port test reads the config map, not a constant: ports change without a new program
    assert.ok(s.insns.some((i) => i.map?.name === 'mes2_cfg'));
    assert.not.match(disassemble(s.insns), /0x8913|35091/, 'no port constant in the program');
  }
  // reply's end tests the source port (offset 34), the others the destination port (36)
  const portLoad = (p: { insns: readonly { op: number; off: number; src: number }[] }) => p.insns.find((i) => i.op === 0x69 && (i.off === 34 || i.off === 36))!.off;
  assert.is(portLoad(mesEndV2(m, { match: 'reply' })), 34);
  assert.is(portLoad(mesEndV2(m, { match: 'headers' })), 36);
  assert.is(portLoad(mesStartV2(m, { match: 'reply' })), 36);
  // the benchmark's partial builds grow part by part
  const sizes = PARTS.map((upTo) => mesEndV2(m, { match: 'headers', upTo }).insns.length);
  for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! > sizes[i - 1]!, `${PARTS[i]} adds instructions`);
  assert.is(PAIR.size, 1 << PAIR.shift);
  assert.ok(PCPU.size >= PCPU.hist + 32 * 8 && PCPU.size % 64 === 0, 'one CPU block: sum and histogram, whole cache lines');
  assert.is(ctlSize(3), CTL.percpu + 3 * PCPU.size);
});

const S = (latency: bigint, flow = 'a', i = 0): Sample => ({ index: i, start_ns: 100n, end_ns: 100n + latency, latency_ns: latency, flow });

test('guard rails: pairs above --max-latency and ends before starts are set apart, never averaged', () => {
  const p = partition([S(1000n), S(2_000_000_000n), S(-5n), S(3000n)], 1_000_000_000n);
  assert.is(p.ok.length, 2);
  assert.is(p.over, 1);
  assert.is(p.early, 1);
  assert.is(summarize(p.ok, 4, 4).avg_ns, 2000);
  const c: Counters = { head: 10n, tail: 4n, lost: 2, unmatchedEnds: 0, overwritten: 3, dupStarts: 1, endBeforeStart: 0, sum: 0n, hist: [] };
  const w = v2Warnings({ ...summarize(p.ok, 0, 0), over_max: 1, end_before_start: 1, max_latency_ns: 1_000_000_000n, drained: 4, lost: 2 }, c);
  assert.equal(w.length, 5);
  assert.match(w.join('\n'), /ended before they started/);
  assert.match(w.join('\n'), /seen twice at the start hook/);
  assert.match(w.join('\n'), /above --max-latency 1\.00 s are counted apart/);
  assert.match(w.join('\n'), /'watch' consumed 4 pair\(s\)/);
  const t = tutorialWarnings({ ...summarize([], 512, 500) });
  assert.match(t[0]!, /512 slots are full/);
  assert.match(t[1]!, /differ by 12: .*index pairing drifted/);
  assert.equal(tutorialWarnings(summarize([], 20, 20)), []);
});

test('flows: count, p50, p99 and max per 5-tuple, busiest first, top N', () => {
  const xs = [...Array.from({ length: 100 }, (_, i) => S(BigInt(i + 1), 'x', i)), S(7n, 'y'), S(9n, 'y'), S(5n, 'z')];
  const f = byFlow(xs, 2);
  assert.equal(f.map((r) => [r.flow, r.count]), [['x', 100], ['y', 2]]);
  assert.equal([f[0]!.p50_ns, f[0]!.p99_ns, f[0]!.max_ns], [50n, 99n, 100n]);
});

test('durations print with a unit a person reads: 730 ms, not 729540.7us', () => {
  assert.is(formatDuration(729_540_700n), '730 ms');
  assert.is(formatDuration(850), '850 ns');
  assert.is(formatDuration(12_345), '12.3 µs');
  assert.is(formatDuration(1_500), '1.50 µs');
  assert.is(formatDuration(2_410_000_000), '2.41 s');
  assert.is(formatDuration(null), '-');
});

test('the user-space histogram buckets like the kernel: (2^b, 2^(b+1)] ns', () => {
  assert.equal(log2Buckets([S(2n), S(3n), S(4n), S(5n)]), [1, 2, 1]);
});

const counters = (over: Partial<Counters> = {}): Counters => {
  const hist = Array(32).fill(0);
  hist[9] = 3; hist[10] = 5; hist[31] = 1; // (512, 1024], (1024, 2048] ns and the overflow bucket
  return { head: 9n, tail: 0n, lost: 1, unmatchedEnds: 2, overwritten: 3, dupStarts: 1, endBeforeStart: 0, sum: 12_345_678n, hist, ...over };
};

test('exposition: a cumulative histogram in seconds with exact le, _sum and _count, and _total counters', () => {
  const text = exposition(counters(), 4, { ingressDevice: 'v1', egressDevice: 'v"2', match: 'headers' });
  const lines = text.split('\n');
  assert.ok(lines.includes('# TYPE tsbpf_mes_pkt_latency_seconds histogram'));
  assert.ok(lines.includes('tsbpf_mes_pkt_starts_total{device="v1",hook="ingress",match="headers"} 16'), '9 matched + 4 in flight + 3 overwritten');
  assert.ok(lines.includes('tsbpf_mes_pkt_ends_total{device="v\\"2",hook="egress",ingress_device="v1",match="headers"} 11'));
  const bucket = (le: string) => Number(lines.find((l) => l.startsWith('tsbpf_mes_pkt_latency_seconds_bucket') && l.includes(`le="${le}"`))!.split(' ').pop());
  assert.is(bucket('5.12e-7'), 0);
  assert.is(bucket('0.000001024'), 3);
  assert.is(bucket('0.000002048'), 8);
  assert.is(bucket('2.147483648'), 8);
  assert.is(bucket('+Inf'), 9);
  assert.ok(lines.some((l) => /^tsbpf_mes_pkt_latency_seconds_sum\{.*\} 0\.012345678$/.test(l)));
  assert.ok(lines.some((l) => /^tsbpf_mes_pkt_latency_seconds_count\{.*\} 9$/.test(l)));
  // every sample line's metric family was declared with HELP and TYPE first
  const declared = new Set(lines.filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ')[2]));
  for (const l of lines.filter((x) => x && !x.startsWith('#'))) {
    const name = l.split(/[{ ]/)[0]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(declared.has(name) || declared.has(l.split(/[{ ]/)[0]!), `${name} declared`);
  }
  assert.is(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

test('--max-latency takes a duration with a unit (a bare number is seconds)', () => {
  assert.is(durationNs(undefined, '--max-latency', 7n), 7n);
  assert.is(durationNs('1s', 'x', 0n), 1_000_000_000n);
  assert.is(durationNs('250ms', 'x', 0n), 250_000_000n);
  assert.is(durationNs('100us', 'x', 0n), 100_000n);
  assert.is(durationNs('1.5µs', 'x', 0n), 1_500n);
  assert.is(durationNs('2', 'x', 0n), 2_000_000_000n);
  assert.throws(() => durationNs('fast', '--max-latency', 0n), /--max-latency must be a duration such as 1s/);
});

test('--listen takes ADDR:PORT, [v6]:PORT or :PORT', () => {
  assert.equal(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.equal(parseListen('[::1]:80'), { host: '::1', port: 80 });
  assert.equal(parseListen(':9000'), { host: '0.0.0.0', port: 9000 });
  assert.throws(() => parseListen('localhost'), /ADDR:PORT/);
});

test('needs root: uid 0, or CAP_BPF (or CAP_SYS_ADMIN) with CAP_NET_ADMIN', () => {
  assert.is(effectiveCaps('Name:\tnode\nCapEff:\t000001ffffffffff\n'), 0x1ffffffffffn);
  assert.ok(privileged(null, 0));
  assert.not.ok(privileged(0n, 1000));
  assert.ok(privileged((1n << 39n) | (1n << 12n), 1000));
  assert.not.ok(privileged(1n << 39n, 1000), 'CAP_BPF alone cannot attach');
  assert.is(new NeedsRootError('show').message, 'npx tsx programs/mes_pkt.ts show needs root (or CAP_BPF + CAP_NET_ADMIN): run it with sudo');
});

test('pin dirs are one probe whatever the spelling: a/../b is b', () => {
  assert.is(canonicalDir('/tmp/x-not-there/a/../b/'), canonicalDir('/tmp/x-not-there/b'));
  assert.is(canonicalDir('/tmp/./x-not-there'), '/tmp/x-not-there');
});

/** A kernel that refuses every load with ENOTSUPP (524), and writes a log only when given a buffer. */
function notSupported(log: string | null): Sys & { levels: number[] } {
  const levels: number[] = [];
  const bufs = new Map<bigint, Uint8Array>();
  let next = 0x10000n;
  return {
    levels,
    addressOf(buf: Uint8Array) { const a = next; next += 0x10000n; bufs.set(a, buf); return a; },
    bpf(_cmd: number, attr: Uint8Array) {
      const size = readU32(PROG_LOAD, attr, 'log_size');
      levels.push(readU32(PROG_LOAD, attr, 'log_level'));
      if (size && log) {
        const text = new TextEncoder().encode(log);
        bufs.get(readU64(PROG_LOAD, attr, 'log_buf'))!.set(text.subarray(0, size - 1));
        write(PROG_LOAD, attr, { log_true_size: text.length + 1 });
      }
      return -524;
    },
    close() { return 0; },
  } as unknown as Sys & { levels: number[] };
}

test('loadProgram retries with a log on any error the kernel gave without one (ENOTSUPP here)', () => {
  const spec = program({ name: 'np', type: 'sched_cls' }, (b) => { b.mov(r0, 0); b.exit(); });
  const k = notSupported('0: (b7) r0 = 0\ncalling kernel functions is not supported\nprocessed 1 insns\n');
  let e: unknown;
  try { loadProgram(spec, { sys: k }); } catch (x) { e = x; }
  assert.instance(e, VerifierError);
  assert.equal(k.levels, [0, 1]);
  assert.match((e as VerifierError).log, /calling kernel functions is not supported/);
  // no log even then: the first error stands, a plain BpfError
  const quiet = notSupported(null);
  try { loadProgram(spec, { sys: quiet }); } catch (x) { e = x; }
  assert.instance(e, BpfError);
  assert.not.instance(e, VerifierError);
  assert.equal(quiet.levels, [0, 1]);
});

test.run();
