/**
 * `mes_pkt show` as a library call: read the pins read-only and compute the figures, for
 * whichever mode is pinned. It loads the pin-dir helpers, the layouts and the readers, and
 * none of the DSL, netlink or attach code, so the command starts about as fast as Node does.
 */
import { openPinnedMap, type BpfMap } from '../../src/syscall/map.ts';
import { BpfError } from '../../src/syscall/errors.ts';
import type { MapSpec } from '../../src/asm/map-spec.ts';
import { openPinnedLink } from '../../src/syscall/link.ts';
import { existsSync } from 'node:fs';
import { MES_PORT, maps } from './layout.ts';
import { readV2 } from './reader-v2.ts';
import { DEFAULT_MAX_LATENCY_NS, computeStats, partition, summarize, type Stats } from './stats.ts';
import { describeAttachment, pinDirOf, pinPath, pinnedMode, readState, type Mode, type State, type Where } from './state.ts';
import { SELF } from './self.ts';

/**
 * Open a pinned map of the probe's, checking its layout; a stale pin of another layout gets an
 * error that names `detach`.
 */
export function openProbeMap(dir: string, spec: MapSpec, readonly: boolean): BpfMap<number, number | bigint> {
  try {
    return openPinnedMap<number, number | bigint>(pinPath(dir, spec), { expect: spec, readonly });
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT') throw e;
    const msg = (e as Error).message;
    throw new Error(`${msg}\nThe pin at ${pinPath(dir, spec)} is not the probe's map. Remove the stale pins with '${SELF} detach' (or rm ${pinPath(dir, spec)}) and attach again.`);
  }
}

/** The tutorial's three maps, opened (and checked) together; none stays open on failure. */
export function openTutorial(dir: string, readonly: boolean): { start: BpfMap<number, bigint>; end: BpfMap<number, bigint>; cnt: BpfMap<number, number> } {
  const got: BpfMap<number, number | bigint>[] = [];
  try {
    for (const m of [maps.start, maps.end, maps.cnt]) got.push(openProbeMap(dir, m, readonly));
  } catch (e) {
    for (const m of got) m.close();
    throw e;
  }
  return { start: got[0] as BpfMap<number, bigint>, end: got[1] as BpfMap<number, bigint>, cnt: got[2] as BpfMap<number, number> };
}

/** The tutorial mode's guard rails: its 512 slots, and index pairing after a loss. */
export function tutorialWarnings(s: Stats): string[] {
  const w: string[] = [];
  const slots = maps.start.maxEntries;
  if (s.start_count >= slots || s.end_count >= slots) {
    w.push(`the tutorial's ${slots} slots are full: packets after the ${slots}th were not recorded (reset to record again, or attach with --mode v2, which has no such limit)`);
  }
  if (s.start_count !== s.end_count) {
    w.push(`start and end counts differ by ${Math.abs(s.start_count - s.end_count)}: after the first packet lost between the hooks, index pairing drifted ` +
      `and later pairs join different packets (--mode v2 pairs by identity)`);
  }
  if ((s.end_before_start ?? 0) > 0) w.push(`${s.end_before_start} pair(s) ended before they started: index pairing drifted; they are left out of the figures`);
  if ((s.over_max ?? 0) > 0) w.push(`${s.over_max} pair(s) above --max-latency are counted apart and left out of the figures: most likely two different packets paired by index`);
  return w;
}

/**
 * What of the recorded attachment is gone, if anything: its namespace, a device (a tcx link
 * whose device went away reports ifindex 0), or a device of the root namespace. Null when all
 * we can see is still there.
 */
export function attachmentGone(state: State): string | null {
  if (state.netns && !existsSync(`/run/netns/${state.netns}`)) return `network namespace ${state.netns} is gone`;
  for (const h of state.hooks) {
    if (h.method === 'tcx' && h.linkPin) {
      if (!existsSync(h.linkPin)) return `the link pin ${h.linkPin} is gone`;
      try {
        const l = openPinnedLink(h.linkPin);
        try { if (!l.info().ifindex) return `device ${h.dev} is gone (its tcx link is detached)`; } finally { l.close(); }
      } catch { /* unreadable: say nothing we cannot back */ }
    } else if (!state.netns && !existsSync(`/sys/class/net/${h.dev}`)) {
      return `device ${h.dev} is gone`;
    }
  }
  return null;
}

/** The line `show` prints when no packet matched the filter: what the filter requires. */
export function nothingMatched(state: State | undefined): string {
  const proto = (state?.proto ?? 'udp').toUpperCase();
  const ports = (state?.ports ?? [MES_PORT]).map((p) => `:${p}`).join(',');
  const where = state ? ` at ${state.devs.ingress} ingress${state.netns ? ` (namespace ${state.netns})` : ''}` : '';
  const ends = state && state.match === 'reply' ? `; replies from ${ports} at ${state.devs.egress} egress` : state ? `; ends at ${state.devs.egress} egress` : '';
  return `no packets matched yet (${proto} to ${ports}, IPv4 without options${where}${ends}): is that traffic flowing?`;
}

/** Read the pins read-only and compute the reader's figures (for the mode that is pinned). */
export function show(w: Where & { mode?: Mode; maxLatencyNs?: bigint } = {}): Stats {
  const dir = pinDirOf(w);
  const mode = w.mode ?? pinnedMode(dir);
  const state = readState(dir);
  const measured = state?.measured;
  const gone = state ? attachmentGone(state) : null;
  const attached = state && !gone ? describeAttachment(state.hooks, dir) : undefined;
  const idle = (s: Stats): string[] => (s.start_count === 0 && s.end_count === 0 && !gone ? [nothingMatched(state)] : []);
  if (mode === 'v2') {
    const s = readV2(dir, { maxLatencyNs: w.maxLatencyNs }).stats;
    return { ...s, warnings: [...idle(s), ...(s.warnings ?? [])], ...(measured ? { measured } : {}), ...(attached ? { attached } : {}), ...(gone ? { gone } : {}) };
  }
  const m = openTutorial(dir, true);
  try {
    const startCount = m.cnt.get(0) ?? 0, endCount = m.cnt.get(1) ?? 0;
    const starts = m.start.batchRead().map(([, v]) => v);
    const ends = m.end.batchRead().map(([, v]) => v);
    const all = computeStats(starts, ends, Math.min(startCount, maps.start.maxEntries), Math.min(endCount, maps.end.maxEntries));
    const max = w.maxLatencyNs ?? DEFAULT_MAX_LATENCY_NS;
    const { ok, early, over } = partition(all.samples, max);
    const base: Stats = { mode, ...summarize(ok, startCount, endCount), end_before_start: early, over_max: over, max_latency_ns: max, ...(measured ? { measured } : {}), ...(attached ? { attached } : {}), ...(gone ? { gone } : {}) };
    return { ...base, warnings: [...idle(base), ...tutorialWarnings(base)] };
  } finally {
    m.start.close(); m.end.close(); m.cnt.close();
  }
}
