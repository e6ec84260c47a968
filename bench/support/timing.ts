/**
 * What the benchmarks share: the wall time of one call, the best of several rounds, and one line
 * with the min and median of a set of samples (the median, not the mean: one slow run on a
 * shared 2-core machine should not move the figure).
 */

/** Milliseconds fn took (hrtime: monotonic, nanosecond resolution). */
export function timeMs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Nanoseconds fn took. */
export function timeNs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t);
}

/** The smallest of `rounds` measurements: the run least disturbed by the rest of the machine. */
export function bestOf(rounds: number, measure: () => number): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) best = Math.min(best, measure());
  return best;
}

/** `label  min X ms   median Y ms   (n=N)`, the label padded to labelWidth so rows line up. */
export function summary(label: string, xs: readonly number[], labelWidth = 60): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `${label.padEnd(labelWidth)} min ${s[0]!.toFixed(3).padStart(8)} ms   median ${med.toFixed(3).padStart(8)} ms   (n=${s.length})`;
}
