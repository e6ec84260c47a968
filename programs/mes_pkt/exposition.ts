/**
 * v2's counters and in-kernel histogram in the Prometheus text exposition format (version
 * 0.0.4), for `mes_pkt serve`. Pure: counters in, text out.
 *
 * Names follow Prometheus's rules: a `tsbpf_mes_pkt_` prefix, base units (seconds), `_total` on
 * counters. Every series says where it is counted: `device` and `hook` of the hook that counts
 * it (starts at the ingress device, ends, pairs and latencies at the egress device), and
 * `match`, the --match mode. Pair series also carry `ingress_device`, so a path reads whole.
 *
 * The histogram's buckets are the kernel's: bucket b holds latencies in (2^b, 2^(b+1)] ns, so
 * `le` is exactly 2^(b+1) ns, from 2 ns to 2^31 ns (2.1 s), then +Inf.
 */
import type { Counters } from './reader-v2.ts';
import { HIST_BUCKETS } from './probe-v2.ts';

export interface ExpositionLabels {
  readonly ingressDevice: string;
  readonly egressDevice: string;
  readonly match: string;
  readonly netns?: string;
}

/** A label value escaped as the format asks: backslash, double quote and newline. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(kv: Record<string, string | undefined>): string {
  const parts = Object.entries(kv).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}="${escapeLabel(v!)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** A float as Prometheus prints one: shortest round-trip form, +Inf for infinity. */
export function promFloat(x: number): string {
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (Number.isNaN(x)) return 'NaN';
  return String(x);
}

export function exposition(c: Counters, inFlight: number, l: ExpositionLabels): string {
  const base = { netns: l.netns, match: l.match };
  const atIn = labels({ device: l.ingressDevice, hook: 'ingress', ...base });
  const atOut = labels({ device: l.egressDevice, hook: 'egress', ingress_device: l.ingressDevice, ...base });
  const head = Number(c.head);
  const starts = head + inFlight + c.overwritten + c.endBeforeStart;
  const ends = head + c.unmatchedEnds + c.endBeforeStart;
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, lines: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  };
  metric('tsbpf_mes_pkt_starts_total', 'counter', 'Packets the probe stamped at the start hook.', [`tsbpf_mes_pkt_starts_total${atIn} ${starts}`]);
  metric('tsbpf_mes_pkt_ends_total', 'counter', 'Packets the probe stamped at the end hook.', [`tsbpf_mes_pkt_ends_total${atOut} ${ends}`]);
  metric('tsbpf_mes_pkt_pairs_total', 'counter', 'Ends matched to their start: latencies measured.', [`tsbpf_mes_pkt_pairs_total${atOut} ${head}`]);
  metric('tsbpf_mes_pkt_unmatched_total', 'counter',
    'Starts overwritten before any end matched them (hook ingress), and ends without a start (hook egress).', [
      `tsbpf_mes_pkt_unmatched_total${atIn} ${c.overwritten}`,
      `tsbpf_mes_pkt_unmatched_total${atOut} ${c.unmatchedEnds}`,
    ]);
  metric('tsbpf_mes_pkt_lost_total', 'counter', 'Pairs overwritten in the ring before a reader consumed them (the histogram still counts them).',
    [`tsbpf_mes_pkt_lost_total${atOut} ${c.lost}`]);
  metric('tsbpf_mes_pkt_end_before_start_total', 'counter', 'Ends stamped before the start they matched (an identity reused in flight); not in the histogram.',
    [`tsbpf_mes_pkt_end_before_start_total${atOut} ${c.endBeforeStart}`]);
  metric('tsbpf_mes_pkt_duplicate_starts_total', 'counter', 'Identities seen twice at the start hook before their end.',
    [`tsbpf_mes_pkt_duplicate_starts_total${atIn} ${c.dupStarts}`]);
  metric('tsbpf_mes_pkt_in_flight', 'gauge', 'Starts waiting for their end in the seen table.', [`tsbpf_mes_pkt_in_flight${atIn} ${inFlight}`]);
  const lines: string[] = [];
  const name = 'tsbpf_mes_pkt_latency_seconds';
  const lab = (le: string) => labels({ device: l.egressDevice, hook: 'egress', ingress_device: l.ingressDevice, ...base, le });
  let cum = 0;
  for (let b = 0; b < HIST_BUCKETS - 1; b++) {
    cum += c.hist[b] ?? 0;
    lines.push(`${name}_bucket${lab(promFloat(2 ** (b + 1) / 1e9))} ${cum}`);
  }
  cum += c.hist[HIST_BUCKETS - 1] ?? 0;
  lines.push(`${name}_bucket${lab('+Inf')} ${cum}`);
  lines.push(`${name}_sum${atOut} ${promFloat(Number(c.sum) / 1e9)}`);
  lines.push(`${name}_count${atOut} ${cum}`);
  metric(name, 'histogram', 'Time from the start hook to the end hook per matched packet (or from a request to its reply), in seconds.', lines);
  return out.join('\n') + '\n';
}
