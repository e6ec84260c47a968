/**
 * What the tutorial's reader prints, computed from pairs of (start, end) timestamps: per-packet
 * latency, count, total, average, min, max, percentiles, a histogram, and the "reverse" count:
 * how often a packet's start comes before the previous packet's end (packets overlapping in
 * flight). The tutorial pairs start[i] with end[i]; v2 pairs them by packet identity.
 */

export interface Sample {
  readonly index: number;
  readonly start_ns: bigint;
  readonly end_ns: bigint;
  readonly latency_ns: bigint;
  /** v2: the packet's identity (--match: sequence number, header hash or flow hash) */
  readonly id?: number;
  /** v2: the flow, 'saddr:sport → daddr:dport' (reply mode: the request's direction) */
  readonly flow?: string;
}

export interface Stats {
  readonly mode?: 'v2' | 'tutorial';
  readonly start_count: number;
  readonly end_count: number;
  readonly pairs: number;
  readonly total_ns: bigint;
  readonly avg_ns: number;
  readonly min_ns: bigint | null;
  readonly max_ns: bigint | null;
  readonly p50_ns: bigint | null;
  readonly p90_ns: bigint | null;
  readonly p99_ns: bigint | null;
  readonly reverse: number;
  /** v2 only: starts no end matched, ends no start matched, pairs lost to a full ring */
  readonly unmatched_starts?: number;
  readonly unmatched_ends?: number;
  readonly lost?: number;
  /** v2 only: the in-kernel log2 histogram, bucket b = (2^b, 2^(b+1)] ns, and the sum of its latencies */
  readonly kernel_histogram?: readonly number[];
  readonly kernel_sum_ns?: bigint;
  /** v2 only: every matched end, including pairs no longer in the ring */
  readonly matched?: number;
  /** v2 only: pairs `watch` consumed from the ring (show no longer sees them) */
  readonly drained?: number;
  /** v2 only: starts overwritten before an end matched them; of those, by the same identity */
  readonly overwritten_starts?: number;
  readonly duplicate_starts?: number;
  /** pairs whose end was stamped before their start (never in the figures) */
  readonly end_before_start?: number;
  /** pairs above --max-latency: counted here, never in the figures */
  readonly over_max?: number;
  readonly max_latency_ns?: bigint;
  /** what a pair measures (match.ts describe()) */
  readonly measured?: string;
  /** how the probe is attached: tcx links or tc filters */
  readonly attached?: string;
  /** what of the recorded attachment is gone (its device or namespace): nothing measures any more */
  readonly gone?: string;
  /** guard-rail warnings, one line each */
  readonly warnings?: readonly string[];
  readonly samples: readonly Sample[];
}

/** --max-latency's default: a pair slower than a second is almost surely two packets, not one. */
export const DEFAULT_MAX_LATENCY_NS = 1_000_000_000n;

/** Samples split into those the figures use and those set apart: end before start, or above max. */
export function partition(samples: readonly Sample[], maxNs: bigint): { ok: Sample[]; early: number; over: number } {
  const ok: Sample[] = [];
  let early = 0, over = 0;
  for (const x of samples) {
    if (x.latency_ns < 0n) early++;
    else if (x.latency_ns > maxNs) over++;
    else ok.push(x);
  }
  return { ok, early, over };
}

/** A duration with a unit a person reads at a glance: 850 ns, 12.3 µs, 730 ms, 2.41 s. */
export function formatDuration(ns: bigint | number | null | undefined): string {
  if (ns === null || ns === undefined) return '-';
  const v = Number(ns);
  const abs = Math.abs(v);
  const sig = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
  if (abs < 1000) return `${Math.round(v)} ns`;
  if (abs < 1e6) return `${sig(v / 1e3)} µs`;
  if (abs < 1e9) return `${sig(v / 1e6)} ms`;
  return `${sig(v / 1e9)} s`;
}

export interface FlowStats {
  readonly flow: string;
  readonly count: number;
  readonly p50_ns: bigint | null;
  readonly p99_ns: bigint | null;
  readonly max_ns: bigint | null;
}

/** Per-flow count, p50, p99 and max, the busiest `top` flows first. */
export function byFlow(samples: readonly Sample[], top = 10): FlowStats[] {
  const groups = new Map<string, number[]>();
  for (const x of samples) {
    const k = x.flow ?? '(unknown)';
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(Number(x.latency_ns));
  }
  const out: FlowStats[] = [];
  for (const [flow, lat] of groups) {
    const sorted = Float64Array.from(lat).sort();
    out.push({ flow, count: lat.length, p50_ns: percentile(sorted, 50), p99_ns: percentile(sorted, 99), max_ns: percentile(sorted, 100) });
  }
  out.sort((a, b) => b.count - a.count || (a.flow < b.flow ? -1 : 1));
  return out.slice(0, top);
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: ArrayLike<bigint | number>, p: number): bigint | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return BigInt(sorted[rank - 1]!);
}

/** Tutorial pairing: start[i] with end[i], for i below both counts. */
export function pairByIndex(starts: readonly bigint[], ends: readonly bigint[], startCount: number, endCount: number): Sample[] {
  const n = Math.min(startCount, endCount, starts.length, ends.length);
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) out.push({ index: i, start_ns: starts[i]!, end_ns: ends[i]!, latency_ns: ends[i]! - starts[i]! });
  return out;
}

/** The figures for a list of samples. Latencies are sorted as doubles: exact below 2^53 ns (104 days). */
export function summarize(samples: readonly Sample[], startCount: number, endCount: number): Stats {
  const n = samples.length;
  const lat = new Float64Array(n);
  let total = 0n;
  for (let i = 0; i < n; i++) { const l = samples[i]!.latency_ns; total += l; lat[i] = Number(l); }
  // the tutorial's "逆転": a packet entered before the one before it (in start order) left
  let reverse = 0;
  const byStart = samples.every((s, i) => i === 0 || samples[i - 1]!.start_ns <= s.start_ns) ? samples : [...samples].sort((a, b) => (a.start_ns < b.start_ns ? -1 : a.start_ns > b.start_ns ? 1 : 0));
  for (let i = 1; i < byStart.length; i++) if (byStart[i]!.start_ns < byStart[i - 1]!.end_ns) reverse++;
  lat.sort();
  return {
    start_count: startCount,
    end_count: endCount,
    pairs: n,
    total_ns: total,
    avg_ns: n ? Number(total) / n : 0,
    min_ns: n ? BigInt(lat[0]!) : null,
    max_ns: n ? BigInt(lat[n - 1]!) : null,
    p50_ns: percentile(lat, 50),
    p90_ns: percentile(lat, 90),
    p99_ns: percentile(lat, 99),
    reverse,
    samples,
  };
}

/** The tutorial reader: pair by index, then summarize. */
export function computeStats(starts: readonly bigint[], ends: readonly bigint[], startCount: number, endCount: number): Stats {
  return summarize(pairByIndex(starts, ends, startCount, endCount), startCount, endCount);
}

/** Counts per log2 bucket of a list of latencies, as the kernel counts them: bucket b = (2^b, 2^(b+1)] ns (0..2 ns in 0). */
export function log2Buckets(samples: readonly Sample[]): number[] {
  const buckets: number[] = [];
  for (const s of samples) {
    const v = s.latency_ns > 2n ? s.latency_ns - 1n : 1n;
    const b = Math.min(v.toString(2).length - 1, 31);
    buckets[b] = (buckets[b] ?? 0) + 1;
  }
  return Array.from(buckets, (x) => x ?? 0);
}

/** A small terminal histogram: one row per power-of-two bucket from the first to the last used. */
export function histogram(samplesOrBuckets: readonly Sample[] | readonly number[], width = 40): string {
  const counts = samplesOrBuckets.length && typeof samplesOrBuckets[0] === 'number'
    ? (samplesOrBuckets as readonly number[]) : log2Buckets(samplesOrBuckets as readonly Sample[]);
  const used = counts.map((n, b) => (n ? b : -1)).filter((b) => b >= 0);
  if (!used.length) return '';
  const max = Math.max(...counts);
  const fmt = (ns: bigint) => (ns >= 1_000_000_000n ? `${ns / 1_000_000_000n}s` : ns >= 1_000_000n ? `${ns / 1_000_000n}ms` : ns >= 1000n ? `${ns / 1000n}us` : `${ns}ns`);
  const rows: string[] = [];
  for (let b = used[0]!; b <= used[used.length - 1]!; b++) {
    const n = counts[b] ?? 0;
    const lo = fmt(1n << BigInt(b)), hi = fmt(1n << BigInt(b + 1));
    const range = b === 31 ? `(${lo}, ∞)` : `(${lo}, ${hi}]`;
    rows.push(`${range.padStart(18)} ${String(n).padStart(8)} ${'#'.repeat(Math.ceil((n / max) * width))}`);
  }
  return rows.join('\n') + '\n';
}
