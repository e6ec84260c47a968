/**
 * Reading v2's maps by mmap: no syscall per sample. `show` reads the pair ring between tail
 * and head without consuming it; `watch` consumes it (zeroes what it read, then advances the
 * tail) so the ring never fills on an endless run, and the kernel's histogram keeps the
 * whole run's distribution in bounded memory.
 */
import path from 'node:path';
import { openPinnedMap, type BpfMap, type MapView } from '../../src/syscall/index.ts';
import { CTL, HIST_BUCKETS, PAIR, SEEN, SEEN_SLOTS, v2Maps } from './probe-v2.ts';
import { summarize, type Sample, type Stats } from './stats.ts';

const MMAPABLE = 1 << 10;

interface Mapped {
  readonly map: BpfMap<number, Uint8Array>;
  readonly view: MapView<Uint8Array>;
  readonly dv: DataView;
}

function mapPin(dir: string, name: string, readonly: boolean, valueSize?: number): Mapped {
  const p = path.join(dir, name);
  // a BPF_F_RDONLY fd cannot be mmap()ed; read-only readers map it PROT_READ instead
  const map = openPinnedMap<number, Uint8Array>(p);
  try {
    const s = map.spec;
    const okSize = valueSize === undefined ? s.valueSize % PAIR.size === 0 : s.valueSize === valueSize;
    if (s.type !== 'array' || s.keySize !== 4 || s.maxEntries !== 1 || !okSize || !((s.flags ?? 0) & MMAPABLE)) {
      throw new Error(`the map pinned at ${p} is not mes_pkt v2's ${name} (type ${s.type}, value size ${s.valueSize}, ${s.maxEntries} entries): ` +
        `remove the stale pins with 'mes_pkt detach' and attach again`);
    }
    const view = map.mmap({ readonly });
    return { map, view, dv: new DataView(view.bytes.buffer, view.bytes.byteOffset, view.bytes.byteLength) };
  } catch (e) {
    map.close();
    throw e;
  }
}

function openV2(dir: string, readonly: boolean): { ctl: Mapped; seen: Mapped; pairs: Mapped; capacity: number; close(): void } {
  const names = v2Maps(16);
  const opened: Mapped[] = [];
  try {
    const ctl = mapPin(dir, names.ctl.name, readonly, CTL.size); opened.push(ctl);
    const seen = mapPin(dir, names.seen.name, readonly, SEEN_SLOTS * SEEN.size); opened.push(seen);
    const pairs = mapPin(dir, names.pairs.name, readonly); opened.push(pairs);
    return { ctl, seen, pairs, capacity: pairs.map.spec.valueSize / PAIR.size, close: () => { for (const m of opened) m.map.close(); } };
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
  readonly hist: number[];
}

function counters(ctl: DataView): Counters {
  const u64 = (off: number) => ctl.getBigUint64(off, true);
  const hist: number[] = [];
  for (let b = 0; b < HIST_BUCKETS; b++) hist.push(Number(u64(CTL.hist + b * 8)));
  return { head: u64(CTL.head), tail: u64(CTL.tail), lost: Number(u64(CTL.lost)), unmatchedEnds: Number(u64(CTL.unmatchedEnd)), hist };
}

/**
 * Published pairs from `from` up to head. The ring only keeps the last `capacity` claims, so
 * reading starts at head - capacity at the earliest. A record counts when its seq is index + 1
 * both before and after it is read (the writer zeroes seq first and publishes it last); one
 * that a newer claim already overwrote is skipped, and the first one still being written
 * stops the read so a later pass picks it up.
 */
function pairsFrom(dv: DataView, capacity: number, from: bigint, head: bigint): { samples: Sample[]; next: bigint; skipped: number } {
  const cap = BigInt(capacity), mask = cap - 1n;
  const samples: Sample[] = [];
  let i = head > from + cap ? head - cap : from;
  let skipped = 0;
  for (; i < head; i++) {
    const off = Number(i & mask) * PAIR.size;
    const want = Number((i + 1n) & 0xffffffffn);
    const seq = dv.getUint32(off + PAIR.seq, true);
    if (seq !== want) {
      // lapped by a writer ahead of us (its seq is a later index with our slot): gone, skip
      if (seq !== 0 && ((seq - want) >>> 0) < 0x80000000) { skipped++; continue; }
      break; // claimed, not yet published
    }
    const start = dv.getBigUint64(off + PAIR.start, true);
    const end = dv.getBigUint64(off + PAIR.end, true);
    const id = dv.getUint32(off + PAIR.id, true);
    if (dv.getUint32(off + PAIR.seq, true) !== want) { skipped++; continue; } // overwritten while we read
    samples.push({ index: Number(i), start_ns: start, end_ns: end, latency_ns: end - start, id });
  }
  return { samples, next: i, skipped };
}

/** Starts in the seen table that no end has matched, by id. */
function seenCounts(dv: DataView): { unmatched: number; unmatchedIds: number[] } {
  const unmatchedIds: number[] = [];
  for (let j = 0; j < SEEN_SLOTS; j++) {
    const off = j * SEEN.size;
    if (dv.getBigUint64(off + SEEN.ts, true) === 0n) continue;
    if (dv.getUint32(off + SEEN.matched, true) === 0) unmatchedIds.push(dv.getUint32(off + SEEN.id, true));
  }
  return { unmatched: unmatchedIds.length, unmatchedIds };
}

export interface V2Reading {
  readonly stats: Stats;
  readonly capacity: number;
  readonly unmatchedIds: readonly number[];
}

/** Everything v2 has recorded and nobody consumed yet, read-only. */
export function readV2(dir: string): V2Reading {
  const m = openV2(dir, true);
  try {
    const c = counters(m.ctl.dv);
    const { samples } = pairsFrom(m.pairs.dv, m.capacity, c.tail, c.head);
    const seen = seenCounts(m.seen.dv);
    const stats: Stats = {
      mode: 'v2',
      // every matched end claimed one ring index (head); the starts are those plus the ones
      // still unmatched (the seen table holds only the last 65536, so count, don't scan)
      ...summarize(samples, Number(c.head) + seen.unmatched, Number(c.head) + c.unmatchedEnds),
      unmatched_starts: seen.unmatched,
      unmatched_ends: c.unmatchedEnds,
      lost: c.lost,
      kernel_histogram: c.hist,
    };
    return { stats, capacity: m.capacity, unmatchedIds: seen.unmatchedIds };
  } finally {
    m.close();
  }
}

/** Zero every counter, the seen table and the ring (programs stay attached). */
export function resetV2(dir: string): void {
  const m = openV2(dir, false);
  try {
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
  readonly kernel_histogram: readonly number[];
}

/**
 * Consume the pair ring once per interval and report the live rate and percentiles. Stops after
 * `seconds` (or never), or when `signal` aborts.
 */
export async function watchV2(dir: string, onTick: (t: WatchTick) => void, opts: { intervalMs?: number; seconds?: number; signal?: AbortSignal } = {}): Promise<number> {
  const m = openV2(dir, false);
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
      const { samples, next } = pairsFrom(m.pairs.dv, m.capacity, c.tail, c.head);
      // hand the read slots back: the kernel counts a claim as lost only past tail + capacity
      m.ctl.dv.setBigUint64(CTL.tail, next, true);
      total += samples.length;
      const s = summarize(samples, 0, 0);
      onTick({
        elapsed_s: (tick * interval) / 1000, rate: samples.length / (interval / 1000), pairs: samples.length,
        p50_ns: s.p50_ns, p90_ns: s.p90_ns, p99_ns: s.p99_ns, total_pairs: total,
        lost: c.lost, unmatched_ends: c.unmatchedEnds, kernel_histogram: c.hist,
      });
      if (opts.seconds !== undefined && (tick * interval) / 1000 >= opts.seconds) break;
    }
  } finally {
    m.close();
  }
  return total;
}
