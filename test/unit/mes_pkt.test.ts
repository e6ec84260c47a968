import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { mesStart, mesEnd, maps, MES_SLOTS } from '../../programs/mes_pkt/probe.ts';
import { computeStats, histogram, percentile } from '../../programs/mes_pkt/stats.ts';
import { testbedNames } from '../../programs/mes_pkt/testbed.ts';
import { disassemble } from '../../src/asm/index.ts';
import { mesStartV2, mesEndV2, v2Maps, checkCapacity, DEFAULT_CAPACITY, PAIR, PCPU, HIST_BUCKETS } from '../../programs/mes_pkt/probe-v2.ts';
import { probe } from '../../programs/mes_pkt/control.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/mes_pkt/${name}.lst`, import.meta.url), 'utf8');

test('each entry is at most 37 instructions, what clang -O2 makes of the tutorial', () => {
  for (const p of [mesStart, mesEnd]) assert.ok(p.insns.length <= 37, `${p.name}: ${p.insns.length} instructions`);
});

test('listings equal the checked-in expected listings (diff them when the probe changes)', () => {
  for (const p of [mesStart, mesEnd]) {
    assert.fixture(disassemble(p.insns, { index: true, bytes: true, labels: p.labels }), fixture(p.name));
  }
});

test('the entries differ only in the counter index and the timestamp map', () => {
  const a = mesStart.insns, b = mesEnd.insns;
  const diff = a.map((x, i) => (x.imm !== b[i]!.imm || x.map !== b[i]!.map ? i : -1)).filter((i) => i >= 0);
  assert.equal(diff, [11, 27]);
  assert.is(a[11]!.imm, 0);
  assert.is(b[11]!.imm, 1);
  assert.is(a[27]!.map, maps.start);
  assert.is(b[27]!.map, maps.end);
});

test('the maps keep the tutorial names and layouts', () => {
  assert.equal(maps.start, { name: 'map_mes_start', type: 'array', keySize: 4, valueSize: 8, maxEntries: 512 });
  assert.equal(maps.end, { name: 'map_mes_end', type: 'array', keySize: 4, valueSize: 8, maxEntries: 512 });
  assert.equal(maps.cnt, { name: 'map_mes_cnt', type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 });
  assert.is(MES_SLOTS, 512);
  assert.equal(mesStart.maps, [maps.cnt, maps.start]);
  assert.equal(mesEnd.maps, [maps.cnt, maps.end]);
});

test('stats: pairs by index, totals, extremes, percentiles and reverse count', () => {
  // packet 1 starts (250) before packet 0 ends (300): one reversal
  const s = computeStats([100n, 250n, 400n], [300n, 350n, 450n, 999n], 3, 4);
  assert.is(s.pairs, 3);
  assert.is(s.start_count, 3);
  assert.is(s.end_count, 4);
  assert.equal(s.samples.map((x) => x.latency_ns), [200n, 100n, 50n]);
  assert.is(s.total_ns, 350n);
  assert.is(s.avg_ns, 350 / 3);
  assert.is(s.min_ns, 50n);
  assert.is(s.max_ns, 200n);
  assert.is(s.p50_ns, 100n);
  assert.is(s.p99_ns, 200n);
  assert.is(s.reverse, 1);
});

test('stats with nothing recorded', () => {
  const s = computeStats([], [], 0, 0);
  assert.is(s.pairs, 0);
  assert.is(s.min_ns, null);
  assert.is(s.avg_ns, 0);
  assert.is(histogram(s.samples), '');
});

test('percentile is nearest-rank', () => {
  const v = Array.from({ length: 100 }, (_, i) => BigInt(i + 1));
  assert.is(percentile(v, 50), 50n);
  assert.is(percentile(v, 90), 90n);
  assert.is(percentile(v, 99), 99n);
  assert.is(percentile([7n], 99), 7n);
});

test('histogram has one row per power of two, with counts', () => {
  const s = computeStats([0n, 0n, 0n], [1000n, 1500n, 5000n], 3, 3);
  const h = histogram(s.samples);
  // buckets as the kernel's: (2^b, 2^(b+1)] ns
  assert.match(h, /\(512ns, 1us\]\s+1 /);
  assert.match(h, /\(1us, 2us\]\s+1 /);
  assert.match(h, /\(4us, 8us\]\s+1 /);
});

test('testbed names take a prefix and a private /24 of their own', () => {
  const a = testbedNames(''), b = testbedNames('t1');
  assert.is(a.ns1, 'ns1');
  assert.is(b.br, 't1br1');
  assert.is.not(a.addr1, b.addr1);
  assert.match(a.addr1, /^10\.\d+\.\d+\.1$/);
  assert.throws(() => testbedNames('much-too-long-prefix'), /at most 10 characters/);
});

test('v2 listings (--match headers, the default for two devices; 2 CPUs) equal the checked-in expected listings', () => {
  const m = v2Maps(DEFAULT_CAPACITY, 2);
  for (const p of [mesStartV2(m, { match: 'headers' }), mesEndV2(m, { match: 'headers' })]) {
    assert.fixture(disassemble(p.insns, { index: true, bytes: true, labels: p.labels }), fixture(`${p.name}.v2`));
  }
});

test('v2 calls no map helper: only the clock', () => {
  const m = v2Maps();
  const s = mesStartV2(m), e = mesEndV2(m);
  const helperCalls = (p: typeof s) => p.insns.filter((i) => i.op === 0x85 && i.src === 0).map((i) => i.imm);
  assert.equal(helperCalls(s), [5], 'only bpf_ktime_get_ns');
  assert.equal(helperCalls(e), [5, 8], 'bpf_ktime_get_ns, and get_smp_processor_id (inlined) for its CPU\'s histogram');
  // the pair slot is claimed with an atomic fetch-add (STX|ATOMIC|DW, imm FETCH|ADD)
  assert.ok(e.insns.some((i) => i.op === 0xdb && i.imm === 0x01));
});

test('v2 layouts: the ring is a power of two of 64-byte pairs; the control block holds the histogram', () => {
  assert.is(PAIR.size, 1 << PAIR.shift);
  assert.ok(PCPU.size >= PCPU.hist + HIST_BUCKETS * 8);
  assert.is(v2Maps(1024).pairs.valueSize, 1024 * 64);
  assert.is(DEFAULT_CAPACITY, 1 << 19);
  assert.throws(() => checkCapacity(1000), /power of two/);
  assert.throws(() => checkCapacity(1 << 24), /power of two/);
  assert.throws(() => probe('v3' as never), /unknown mode 'v3'/);
  assert.equal(probe('tutorial').maps.map((x) => x.name), ['map_mes_start', 'map_mes_end', 'map_mes_cnt']);
  assert.equal(probe('v2').maps.map((x) => x.name), ['mes2_ctl', 'mes2_seen', 'mes2_pairs', 'mes2_cfg']);
});

test.run();
