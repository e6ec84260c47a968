/**
 * Reading v2's maps by mmap: no syscall per sample. `show` reads the pair ring between tail
 * and head without consuming it; `watch` consumes it (zeroes what it read, then advances the
 * tail) so the ring never fills on an endless run, and the kernel's histogram keeps the
 * whole run's distribution in bounded memory.
 */
import path from 'node:path';
import { openPinnedMap, type BpfMap, type MapView } from '../../src/syscall/map.ts';
import { CFG, CTL, HIST_BUCKETS, PAIR, PCPU, SEEN, SEEN_SLOTS, configBytes, ctlCpus, readConfig, v2Maps } from './layout-v2.ts';
import type { Match, Proto } from './match.ts';
import { DEFAULT_MAX_LATENCY_NS, formatDuration, partition, summarize, type Sample, type Stats } from './stats.ts';
import { SELF } from './self.ts';

const MMAPABLE = 1 << 10;

interface Mapped {
  readonly map: BpfMap<number, Uint8Array>;
  readonly view: MapView<Uint8Array>;
  readonly dv: DataView;
}

function mapPin(dir: string, name: string, readonly: boolean, valueSize?: number | ((size: number) => boolean)): Mapped {
  const p = path.join(dir, name);
  // a BPF_F_RDONLY fd cannot be mmap()ed; read-only readers map it PROT_READ instead
  const map = openPinnedMap<number, Uint8Array>(p);
  try {
    const s = map.spec;
    const okSize = valueSize === undefined ? s.valueSize % PAIR.size === 0 : typeof valueSize === 'function' ? valueSize(s.valueSize) : s.valueSize === valueSize;
    if (s.type !== 'array' || s.keySize !== 4 || s.maxEntries !== 1 || !okSize || !((s.flags ?? 0) & MMAPABLE)) {
      throw new Error(`the map pinned at ${p} is not mes_pkt v2's ${name} (type ${s.type}, value size ${s.valueSize}, ${s.maxEntries} entries): ` +
        `remove the stale pins with '${SELF} detach' and attach again`);
    }
    const view = map.mmap({ readonly });
    return { map, view, dv: new DataView(view.bytes.buffer, view.bytes.byteOffset, view.bytes.byteLength) };
  } catch (e) {
    map.close();
    throw e;
  }
}

interface OpenV2 { ctl: Mapped; seen: Mapped; pairs: Mapped; cfg: Mapped; capacity: number; close(): void }
function openV2(dir: string, readonly: boolean): OpenV2 {
  const names = v2Maps(16);
  const opened: Mapped[] = [];
  try {
    const ctl = mapPin(dir, names.ctl.name, readonly, (n) => n > CTL.percpu && Number.isInteger(ctlCpus(n))); opened.push(ctl);
    const seen = mapPin(dir, names.seen.name, readonly, SEEN_SLOTS * SEEN.size); opened.push(seen);
    const pairs = mapPin(dir, names.pairs.name, readonly); opened.push(pairs);
    const cfg = mapPin(dir, names.cfg.name, readonly, CFG.size); opened.push(cfg);
    return { ctl, seen, pairs, cfg, capacity: pairs.map.spec.valueSize / PAIR.size, close: () => { for (const m of opened) m.map.close(); } };
  } catch (e) {
    for (const m of opened) m.map.close();
    throw e;
  }
}

export interface Counters {
  readonly head: bigint;
  readonly tail: bigint;
  readonly lost: number;
  readonly unmatchedEnds: number;
  readonly overwritten: number;
  readonly dupStarts: number;
  readonly endBeforeStart: number;
  /** sum of the histogram's latencies, ns */
  readonly sum: bigint;
  readonly hist: number[];
}

export function counters(ctl: DataView): Counters {
  const u64 = (off: number) => ctl.getBigUint64(off, true);
  // the histogram and its sum: one block per CPU, added up
  const hist: number[] = new Array<number>(HIST_BUCKETS).fill(0);
  let sum = 0n;
  for (let cpu = 0; cpu < ctlCpus(ctl.byteLength); cpu++) {
    const at = CTL.percpu + cpu * PCPU.size;
    sum += u64(at + PCPU.sum);
    for (let b = 0; b < HIST_BUCKETS; b++) hist[b]! += Number(u64(at + PCPU.hist + b * 8));
  }
  return {
    head: u64(CTL.head), tail: u64(CTL.tail), lost: Number(u64(CTL.lost)), unmatchedEnds: Number(u64(CTL.unmatchedEnd)),
    overwritten: Number(u64(CTL.overwritten)), dupStarts: Number(u64(CTL.dupStart)), endBeforeStart: Number(u64(CTL.endBeforeStart)),
    sum, hist,
  };
}

/** Flow names by (saddr, sport) then (daddr, dport): formatted once per flow, not per pair. */
type FlowNames = Map<number, Map<number, string>>;
function flowName(names: FlowNames, sa: number, sp: number, da: number, dp: number, reversed: boolean): string {
  let inner = names.get(sa * 65536 + sp);
  if (!inner) names.set(sa * 65536 + sp, (inner = new Map()));
  let name = inner.get(da * 65536 + dp);
  if (name === undefined) {
    // reply mode records the reply: its flow reversed is the request's
    name = reversed ? `${ip4(da)}:${port(dp)} → ${ip4(sa)}:${port(sp)}` : `${ip4(sa)}:${port(sp)} → ${ip4(da)}:${port(dp)}`;
    inner.set(da * 65536 + dp, name);
  }
  return name;
}

const ip4 = (v: number) => `${v & 0xff}.${(v >>> 8) & 0xff}.${(v >>> 16) & 0xff}.${v >>> 24}`;
const port = (v: number) => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

/**
 * Published pairs from `from` up to head. The ring only keeps the last `capacity` claims, so
 * reading starts at head - capacity at the earliest. A record counts when its seq is index + 1
 * both before and after it is read (the writer zeroes seq first and publishes it last); one
 * that a newer claim already overwrote is skipped, and the first one still being written
 * stops the read so a later pass picks it up.
 */
function pairsFrom(dv: DataView, capacity: number, from: bigint, head: bigint, reversed = false): { samples: Sample[]; next: bigint; skipped: number } {
  const cap = BigInt(capacity), mask = cap - 1n;
  // the layout in locals: hot loops, and an imported binding may be a getter once compiled
  const { size: P_SIZE, seq: P_SEQ, start: P_START, end: P_END, id: P_ID, addrs: P_ADDRS, ports: P_PORTS } = PAIR;
  const samples: Sample[] = [];
  const names: FlowNames = new Map();
  let i = head > from + cap ? head - cap : from;
  let skipped = 0;
  for (; i < head; i++) {
    const off = Number(i & mask) * P_SIZE;
    const want = Number((i + 1n) & 0xffffffffn);
    const seq = dv.getUint32(off + P_SEQ, true);
    if (seq !== want) {
      // lapped by a writer ahead of us (its seq is a later index with our slot): gone, skip
      if (seq !== 0 && ((seq - want) >>> 0) < 0x80000000) { skipped++; continue; }
      break; // claimed, not yet published
    }
    const start = dv.getBigUint64(off + P_START, true);
    const end = dv.getBigUint64(off + P_END, true);
    const id = dv.getUint32(off + P_ID, true);
    const sa = dv.getUint32(off + P_ADDRS, true), da = dv.getUint32(off + P_ADDRS + 4, true);
    const sp = dv.getUint16(off + P_PORTS, true), dp = dv.getUint16(off + P_PORTS + 2, true);
    if (dv.getUint32(off + P_SEQ, true) !== want) { skipped++; continue; } // overwritten while we read
    const flow = flowName(names, sa, sp, da, dp, reversed);
    samples.push({ index: Number(i), start_ns: start, end_ns: end, latency_ns: end - start, id, flow });
  }
  return { samples, next: i, skipped };
}

/** Starts in the seen table that no end has matched, by id. */
function seenCounts(dv: DataView): { unmatched: number; unmatchedIds: number[] } {
  const unmatchedIds: number[] = [];
  const { size, ts, matched, id } = SEEN;
  for (let j = 0, n = SEEN_SLOTS; j < n; j++) {
    const off = j * size;
    // ts is non-zero when either half is: two u32 reads, no BigInt per slot
    if (dv.getUint32(off + ts, true) === 0 && dv.getUint32(off + ts + 4, true) === 0) continue;
    if (dv.getUint32(off + matched, true) === 0) unmatchedIds.push(dv.getUint32(off + id, true));
  }
  return { unmatched: unmatchedIds.length, unmatchedIds };
}

export interface V2Reading {
  readonly stats: Stats;
  readonly capacity: number;
  readonly unmatchedIds: readonly number[];
  readonly config: { proto: Proto | null; ports: number[]; match: Match | null };
  readonly counters: Counters;
}

/** The guard rails: what makes figures doubtful, one line each (empty when all is well). */
export function v2Warnings(s: Stats, c: Counters): string[] {
  const w: string[] = [];
  if ((s.end_before_start ?? 0) > 0) w.push(`${s.end_before_start} pair(s) ended before they started: an identity was reused while its packet was in flight; they are left out of the figures`);
  if (c.dupStarts > 0) w.push(`${c.dupStarts} identit${c.dupStarts === 1 ? 'y was' : 'ies were'} seen twice at the start hook before an end: a later copy replaced the first (with --match seq, payloads that repeat their first 4 bytes; try --match headers)`);
  if ((s.over_max ?? 0) > 0) w.push(`${s.over_max} pair(s) above --max-latency ${formatDuration(s.max_latency_ns)} are counted apart and left out of the figures: most likely two different packets that share an identity`);
  if ((s.drained ?? 0) > 0) w.push(`'watch' consumed ${s.drained} pair(s) from the ring: the figures above cover the ${s.pairs} pair(s) recorded since; the counters and the in-kernel histogram cover the whole run`);
  if ((s.lost ?? 0) > 0) w.push(`${s.lost} pair(s) were overwritten in the ring before anyone read them: run 'watch' (or 'serve') to drain it, or attach with a larger --capacity`);
  return w;
}

/** Everything v2 has recorded and nobody consumed yet, read-only. */
export function readV2(dir: string, opts: { maxLatencyNs?: bigint } = {}): V2Reading {
  const m = openV2(dir, true);
  try {
    const c = counters(m.ctl.dv);
    const config = readConfig(m.cfg.view.bytes);
    const { samples } = pairsFrom(m.pairs.dv, m.capacity, c.tail, c.head, config.match === 'reply');
    const seen = seenCounts(m.seen.dv);
    const max = opts.maxLatencyNs ?? DEFAULT_MAX_LATENCY_NS;
    const { ok, early, over } = partition(samples, max);
    const head = Number(c.head);
    // Every start is matched (head, or ended too early), still waiting in the seen table, or
    // was overwritten there before its end; every end is matched, early, or unmatched.
    const starts = head + seen.unmatched + c.overwritten + c.endBeforeStart;
    const ends = head + c.unmatchedEnds + c.endBeforeStart;
    const base: Stats = {
      mode: 'v2',
      ...summarize(ok, starts, ends),
      unmatched_starts: seen.unmatched + c.overwritten,
      unmatched_ends: c.unmatchedEnds,
      lost: c.lost,
      kernel_histogram: c.hist,
      kernel_sum_ns: c.sum,
      matched: head,
      drained: Number(c.tail),
      overwritten_starts: c.overwritten,
      duplicate_starts: c.dupStarts,
      end_before_start: c.endBeforeStart + early,
      over_max: over,
      max_latency_ns: max,
    };
    const stats: Stats = { ...base, warnings: v2Warnings(base, c) };
    return { stats, capacity: m.capacity, unmatchedIds: seen.unmatchedIds, config, counters: c };
  } finally {
    m.close();
  }
}

/** The protocol, ports and match mode the pinned config holds. */
export function readV2Config(dir: string): V2Reading['config'] {
  const m = openV2(dir, true);
  try { return readConfig(m.cfg.view.bytes); } finally { m.close(); }
}

/** Write the protocol, ports and match mode into the pinned config: the programs see it on the next packet. */
export function writeV2Config(dir: string, c: { proto: Proto; ports: readonly number[]; match: Match }): void {
  const m = openV2(dir, false);
  try { m.cfg.view.bytes.set(configBytes(c)); } finally { m.close(); }
}

/** Counters and the config only (no ring, no seen scan beyond the count): what `serve` exports per scrape. */
export function readV2Counters(dir: string): { counters: Counters; inFlight: number; config: V2Reading['config'] } {
  const m = openV2(dir, true);
  try {
    return { counters: counters(m.ctl.dv), inFlight: seenCounts(m.seen.dv).unmatched, config: readConfig(m.cfg.view.bytes) };
  } finally {
    m.close();
  }
}

/** Zero every counter, the seen table and the ring (programs stay attached). */
export function resetV2(dir: string): void {
  const m = openV2(dir, false);
  try {
    // the config stays: reset zeroes what was measured, not what to measure
    m.pairs.view.bytes.fill(0);
    m.seen.view.bytes.fill(0);
    m.ctl.view.bytes.fill(0);
  } finally {
    m.close();
  }
}

export interface WatchTick {
  readonly elapsed_s: number;
  /** pairs consumed in this interval, per second */
  readonly rate: number;
  readonly pairs: number;
  readonly p50_ns: bigint | null;
  readonly p90_ns: bigint | null;
  readonly p99_ns: bigint | null;
  /** whole run so far */
  readonly total_pairs: number;
  readonly lost: number;
  readonly unmatched_ends: number;
  /** pairs in this interval above --max-latency or ended before they started: not in the percentiles */
  readonly over_max: number;
  readonly kernel_histogram: readonly number[];
}

/**
 * Consume the pair ring once per interval and report the live rate and percentiles. Stops after
 * `seconds` (or never), or when `signal` aborts.
 */
export async function watchV2(dir: string, onTick: (t: WatchTick) => void, opts: { intervalMs?: number; seconds?: number; signal?: AbortSignal; maxLatencyNs?: bigint } = {}): Promise<number> {
  const m = openV2(dir, false);
  const reversed = readConfig(m.cfg.view.bytes).match === 'reply';
  const interval = opts.intervalMs ?? 1000;
  const t0 = process.hrtime.bigint();
  let total = 0;
  try {
    for (let tick = 1; ; tick++) {
      const due = t0 + BigInt(tick * interval) * 1_000_000n;
      const wait = Number(due - process.hrtime.bigint()) / 1e6;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (opts.signal?.aborted) break;
      const c = counters(m.ctl.dv);
      const { samples, next } = pairsFrom(m.pairs.dv, m.capacity, c.tail, c.head, reversed);
      // hand the read slots back: the kernel counts a claim as lost only past tail + capacity
      m.ctl.dv.setBigUint64(CTL.tail, next, true);
      total += samples.length;
      const parts = partition(samples, opts.maxLatencyNs ?? DEFAULT_MAX_LATENCY_NS);
      const s = summarize(parts.ok, 0, 0);
      onTick({
        elapsed_s: (tick * interval) / 1000, rate: samples.length / (interval / 1000), pairs: samples.length,
        p50_ns: s.p50_ns, p90_ns: s.p90_ns, p99_ns: s.p99_ns, total_pairs: total,
        lost: c.lost, unmatched_ends: c.unmatchedEnds, over_max: parts.over + parts.early, kernel_histogram: c.hist,
      });
      if (opts.seconds !== undefined && (tick * interval) / 1000 >= opts.seconds) break;
    }
  } finally {
    m.close();
  }
  return total;
}
