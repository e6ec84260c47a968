/**
 * What the tutorial's reader prints, computed from the two timestamp arrays: per-packet
 * latency (end[i] - start[i], paired by index as the tutorial pairs them), count, total,
 * average, min, max, percentiles, a histogram, and the "reverse" count: how often a packet's
 * start comes before the previous packet's end (packets overlapping in flight).
 */

export interface Sample {
  readonly index: number;
  readonly start_ns: bigint;
  readonly end_ns: bigint;
  readonly latency_ns: bigint;
}

export interface Stats {
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
  readonly samples: readonly Sample[];
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly bigint[], p: number): bigint | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function computeStats(starts: readonly bigint[], ends: readonly bigint[], startCount: number, endCount: number): Stats {
  const pairs = Math.min(startCount, endCount, starts.length, ends.length);
  const samples: Sample[] = [];
  let total = 0n, reverse = 0;
  for (let i = 0; i < pairs; i++) {
    const latency = ends[i]! - starts[i]!;
    samples.push({ index: i, start_ns: starts[i]!, end_ns: ends[i]!, latency_ns: latency });
    total += latency;
    // the tutorial's "逆転": this packet entered before the previous one left
    if (i > 0 && starts[i]! < ends[i - 1]!) reverse++;
  }
  const sorted = samples.map((s) => s.latency_ns).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    start_count: startCount,
    end_count: endCount,
    pairs,
    total_ns: total,
    avg_ns: pairs ? Number(total) / pairs : 0,
    min_ns: sorted[0] ?? null,
    max_ns: sorted[sorted.length - 1] ?? null,
    p50_ns: percentile(sorted, 50),
    p90_ns: percentile(sorted, 90),
    p99_ns: percentile(sorted, 99),
    reverse,
    samples,
  };
}

/** A small log2 histogram of latencies for the terminal: one row per power-of-two bucket. */
export function histogram(samples: readonly Sample[], width = 40): string {
  if (samples.length === 0) return '';
  const buckets = new Map<number, number>();
  for (const s of samples) {
    const v = s.latency_ns > 0n ? s.latency_ns : 1n;
    const b = v.toString(2).length - 1; // floor(log2)
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  const max = Math.max(...buckets.values());
  const fmt = (ns: bigint) => (ns >= 1_000_000n ? `${ns / 1_000_000n}ms` : ns >= 1000n ? `${ns / 1000n}us` : `${ns}ns`);
  const rows: string[] = [];
  for (let b = keys[0]!; b <= keys[keys.length - 1]!; b++) {
    const n = buckets.get(b) ?? 0;
    const lo = fmt(1n << BigInt(b)), hi = fmt(1n << BigInt(b + 1));
    rows.push(`${`[${lo}, ${hi})`.padStart(18)} ${String(n).padStart(6)} ${'#'.repeat(Math.ceil((n / max) * width))}`);
  }
  return rows.join('\n') + '\n';
}
