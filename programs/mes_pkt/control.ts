/**
 * attach, detach, show, reset and dump for the latency probe, as library calls that return
 * what they did; programs/mes_pkt.ts only parses flags and prints. None of these starts a
 * subprocess: maps and programs go through src/syscall, qdiscs and filters through
 * src/netlink.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BpfError, createMap, ensureBpffs, onBpffs, findBpffs, loadProgram, openPinnedMap, tcGlobals, unpin,
  listPrograms, openProgramById, type BpfMap, type MapSpec, type Program,
} from '../../src/syscall/index.ts';
import {
  attachBpf, deleteClsact, detachBpf, ensureClsact, getClsact, listFilters, replaceBpf, routeSocket,
  isNetlinkError, type Hook, type RouteSocket,
} from '../../src/netlink/index.ts';
import { maps, mesEnd, mesStart } from './probe.ts';
import { DEFAULT_CAPACITY, mesEndV2, mesStartV2, v2Maps } from './probe-v2.ts';
import { computeStats, type Stats } from './stats.ts';
import { readV2, resetV2 } from './reader-v2.ts';
import type { ProgramSpec } from '../../src/asm/index.ts';

/** Filter names mark our filters, so detach and a second attach find them and nothing else. */
export const FILTER_NAMES = { ingress: 'mes_pkt_start', egress: 'mes_pkt_end' } as const;
export const DEFAULT_PRIORITY = 49152; // what `tc filter add` picks for the first filter of a hook

export interface Where {
  /** Directory holding the pins; default tc's /sys/fs/bpf/tc/globals. */
  readonly pinDir?: string;
  /** Network namespace the devices live in. */
  readonly netns?: string;
}

/**
 * 'v2' (default): identity-matched, race-free, streaming (probe-v2.ts).
 * 'tutorial': the tutorial's maps and semantics, for readers written against it (probe.ts).
 */
export type Mode = 'v2' | 'tutorial';
export const MODES: readonly Mode[] = ['v2', 'tutorial'];

/** What a mode pins and loads. */
export interface Probe {
  readonly mode: Mode;
  readonly maps: readonly MapSpec[];
  readonly programs: readonly [ProgramSpec, ProgramSpec];
}

export function probe(mode: Mode = 'v2', capacity = DEFAULT_CAPACITY): Probe {
  if (mode === 'tutorial') return { mode, maps: [maps.start, maps.end, maps.cnt], programs: [mesStart, mesEnd] };
  if (mode !== 'v2') throw new Error(`unknown mode '${mode}': use ${MODES.join(' or ')}`);
  const m = v2Maps(capacity);
  return { mode, maps: [m.ctl, m.seen, m.pairs], programs: [mesStartV2(m), mesEndV2(m)] };
}

/** The pins either mode may have left: detach removes them all. */
const ALL_PIN_NAMES = [...new Set([...probe('tutorial').maps, ...Object.values(v2Maps(16))].map((m) => m.name))];

/**
 * Where the pins live: tc's globals directory by default. bpffs is mounted at /sys/fs/bpf
 * first if nobody has (as tc does), so a given --pin-dir under it works on a fresh machine too.
 */
export function pinDirOf(w: Where): string {
  let bpffs: string;
  try {
    bpffs = ensureBpffs();
    if (w.pinDir === undefined) return tcGlobals(bpffs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || /EPERM|EACCES/.test((e as Error).message)) {
      throw new Error(`${(e as Error).message}\nmes_pkt needs root (CAP_BPF and CAP_NET_ADMIN, and CAP_SYS_ADMIN to mount bpffs): run it with sudo`);
    }
    throw e;
  }
  if (!onBpffs(w.pinDir)) throw new Error(`--pin-dir ${w.pinDir} is not on a bpf filesystem (bpffs is mounted at ${findBpffs().join(', ')}): choose a directory under ${bpffs}`);
  return w.pinDir;
}

const pinPath = (dir: string, m: { name: string }): string => path.join(dir, m.name);

/** Where attach records which clsact qdiscs it created (bpffs holds only BPF objects). */
function stateFile(dir: string): string {
  return path.join('/run/tsbpf', `mes_pkt${dir.replace(/[^A-Za-z0-9]+/g, '_')}.json`);
}
interface State {
  readonly createdQdiscs: { netns?: string; dev: string }[];
  readonly devs: { netns?: string; ingress: string; egress: string };
  readonly mode?: Mode;
}
function readState(dir: string): State | undefined {
  try { return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as State; } catch { return undefined; }
}
function writeState(dir: string, s: State): void {
  mkdirSync('/run/tsbpf', { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(dir), JSON.stringify(s));
}

export interface AttachResult {
  readonly mode: Mode;
  readonly pinDir: string;
  readonly maps: { name: string; path: string; created: boolean }[];
  readonly programs: { name: string; id: number; hook: Hook; dev: string; replaced: boolean }[];
  readonly qdiscsCreated: string[];
}

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
    throw new Error(`${msg}\nThe pin at ${pinPath(dir, spec)} is not the probe's map. Remove the stale pins with 'mes_pkt detach' (or rm ${pinPath(dir, spec)}) and attach again.`);
  }
}

/**
 * Create (or reuse) the pinned maps, load both entries, ensure clsact on each device and attach
 * mes_start on ingress and mes_end on egress. A second attach replaces our filters in place.
 * On any failure, everything this call created is removed again before the error propagates.
 */
export function attach(ingressDev: string, egressDev: string = ingressDev, w: Where & { mode?: Mode; capacity?: number } = {}): AttachResult {
  const kind = probe(w.mode, w.capacity);
  const dir = pinDirOf(w);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const undo: (() => void)[] = [];
  const opened: { close(): void }[] = [];
  let sock: RouteSocket | undefined;
  try {
    const live: Record<string, BpfMap<number, number | bigint>> = {};
    const mapReport: AttachResult['maps'] = [];
    for (const spec of kind.maps) {
      const p = pinPath(dir, spec);
      let m: BpfMap<number, number | bigint>;
      let created = false;
      if (existsSync(p)) {
        m = openProbeMap(dir, spec, false);
      } else {
        m = createMap<number, number | bigint>(spec);
        m.pin(p);
        created = true;
        undo.push(() => unpin(p));
      }
      opened.push(m);
      live[spec.name] = m;
      mapReport.push({ name: spec.name, path: p, created });
    }
    const progs: Program[] = [];
    for (const spec of kind.programs) {
      const p = loadProgram(spec, { maps: live });
      opened.push(p);
      progs.push(p);
    }

    sock = routeSocket({ netns: w.netns });
    const qdiscsCreated: string[] = [];
    const prior = readState(dir);
    const createdQdiscs = (prior?.createdQdiscs ?? []).filter((q) => q.netns === w.netns);
    for (const dev of new Set([ingressDev, egressDev])) {
      const r = ensureClsact(sock, dev);
      if (r.created) {
        qdiscsCreated.push(dev);
        createdQdiscs.push({ netns: w.netns, dev });
        const s = sock;
        undo.push(() => deleteClsact(s, dev));
      }
    }
    const report: AttachResult['programs'] = [];
    const plan: [Hook, string, Program][] = [['ingress', ingressDev, progs[0]!], ['egress', egressDev, progs[1]!]];
    for (const [hook, dev, prog] of plan) {
      const name = FILTER_NAMES[hook];
      const existing = listFilters(sock, dev, hook).find((f) => f.bpf?.name === name);
      if (existing) {
        replaceBpf(sock, dev, hook, { fd: prog.fd, name, priority: existing.priority, handle: existing.handle });
      } else {
        attachBpf(sock, dev, hook, { fd: prog.fd, name, priority: DEFAULT_PRIORITY });
        const s = sock;
        undo.push(() => detachBpf(s, dev, hook, { name }));
      }
      report.push({ name: prog.name, id: prog.id, hook, dev, replaced: existing !== undefined });
    }
    writeState(dir, { createdQdiscs: [...(prior?.createdQdiscs ?? []).filter((q) => q.netns !== w.netns), ...createdQdiscs], devs: { netns: w.netns, ingress: ingressDev, egress: egressDev }, mode: kind.mode });
    return { mode: kind.mode, pinDir: dir, maps: mapReport, programs: report, qdiscsCreated };
  } catch (e) {
    for (const u of undo.reverse()) {
      try { u(); } catch { /* best effort: the original error is what the user needs */ }
    }
    throw e;
  } finally {
    sock?.close();
    // Programs stay alive through their filters and maps through their pins: our fds can go.
    for (const o of opened) o.close();
  }
}

export interface DetachResult {
  readonly filters: string[];
  readonly qdiscs: string[];
  readonly pins: string[];
  readonly notes: string[];
}

/** Our filters off both hooks of dev, then its clsact qdisc if attach created it and nothing else uses it. */
function detachDevice(sock: RouteSocket, dev: string, ours: boolean, out: DetachResult): void {
  for (const hook of ['ingress', 'egress'] as const) {
    const n = detachBpf(sock, dev, hook, { name: FILTER_NAMES[hook] });
    if (n) out.filters.push(`${dev} ${hook} ${FILTER_NAMES[hook]}`);
  }
  if (!getClsact(sock, dev)) return;
  const others = listFilters(sock, dev).length;
  if (ours && others === 0) { deleteClsact(sock, dev); out.qdiscs.push(`${dev} clsact`); }
  else if (ours) out.notes.push(`kept clsact on ${dev}: ${others} other filter(s) use it`);
  else out.notes.push(`kept clsact on ${dev}: mes_pkt did not create it`);
}

/**
 * Remove our filters (by name) from the devices, the clsact qdiscs attach created where no
 * other filter uses them, and the pins. Safe to run when nothing is attached.
 */
export function detach(devs: readonly string[] = [], w: Where = {}): DetachResult {
  const dir = pinDirOf(w);
  const state = readState(dir);
  const targets = devs.length ? [...devs] : state && state.devs.netns === w.netns ? [...new Set([state.devs.ingress, state.devs.egress])] : [];
  const out: DetachResult = { filters: [], qdiscs: [], pins: [], notes: [] };
  if (targets.length) {
    let sock: RouteSocket | undefined;
    try {
      sock = routeSocket({ netns: w.netns });
    } catch (e) {
      // the namespace is gone, and its devices, filters and qdiscs with it: still remove the pins
      if (!(isNetlinkError(e) && e.code === 'ENOENT')) throw e;
      out.notes.push(`network namespace '${w.netns}' is gone, and its filters with it`);
    }
    try {
      for (const dev of sock ? targets : []) {
        try {
          detachDevice(sock!, dev, state?.createdQdiscs.some((q) => q.dev === dev && q.netns === w.netns) ?? false, out);
        } catch (e) {
          if (!(isNetlinkError(e) && e.code === 'ENODEV')) throw e;
          out.notes.push(`${dev} is gone, and its filters with it`);
        }
      }
    } finally {
      sock?.close();
    }
  } else if (!devs.length) {
    out.notes.push('no devices recorded by attach; name them to remove filters (detach <dev>...)');
  }
  for (const name of ALL_PIN_NAMES) if (unpin(path.join(dir, name))) out.pins.push(path.join(dir, name));
  if (state) {
    const left = state.createdQdiscs.filter((q) => !(q.netns === w.netns && targets.includes(q.dev)));
    rmSync(stateFile(dir), { force: true });
    if (left.length) writeState(dir, { ...state, createdQdiscs: left });
  }
  return out;
}

/** Thrown by show/reset when there is nothing to read. */
export class NotAttachedError extends Error {
  override name = 'NotAttachedError';
}

/** Which mode's pins are in dir: the one attach recorded, else whichever are complete. */
export function pinnedMode(dir: string): Mode {
  const recorded = readState(dir)?.mode;
  const complete = (m: Mode) => probe(m, 16).maps.every((x) => existsSync(pinPath(dir, x)));
  if (recorded && complete(recorded)) return recorded;
  for (const m of MODES) if (complete(m)) return m;
  throw new NotAttachedError(`nothing is attached: no probe maps under ${dir}. Run 'mes_pkt attach <dev>' first.`);
}

function openTutorial(dir: string, readonly: boolean): { start: BpfMap<number, bigint>; end: BpfMap<number, bigint>; cnt: BpfMap<number, number> } {
  const got: BpfMap<number, number | bigint>[] = [];
  try {
    for (const m of [maps.start, maps.end, maps.cnt]) got.push(openProbeMap(dir, m, readonly));
  } catch (e) {
    for (const m of got) m.close();
    throw e;
  }
  return { start: got[0] as BpfMap<number, bigint>, end: got[1] as BpfMap<number, bigint>, cnt: got[2] as BpfMap<number, number> };
}

/** Read the pins read-only and compute the reader's figures (for the mode that is pinned). */
export function show(w: Where & { mode?: Mode } = {}): Stats {
  const dir = pinDirOf(w);
  const mode = w.mode ?? pinnedMode(dir);
  if (mode === 'v2') return readV2(dir).stats;
  const m = openTutorial(dir, true);
  try {
    const startCount = m.cnt.get(0) ?? 0, endCount = m.cnt.get(1) ?? 0;
    const starts = m.start.batchRead().map(([, v]) => v);
    const ends = m.end.batchRead().map(([, v]) => v);
    return { mode, ...computeStats(starts, ends, Math.min(startCount, maps.start.maxEntries), Math.min(endCount, maps.end.maxEntries)) };
  } finally {
    m.start.close(); m.end.close(); m.cnt.close();
  }
}

/** Zero the counters and the timestamps; filters stay attached. */
export function reset(w: Where & { mode?: Mode } = {}): Mode {
  const dir = pinDirOf(w);
  const mode = w.mode ?? pinnedMode(dir);
  if (mode === 'v2') { resetV2(dir); return mode; }
  const m = openTutorial(dir, false);
  try {
    m.cnt.set(0, 0); m.cnt.set(1, 0);
    for (let i = 0; i < maps.start.maxEntries; i++) { m.start.set(i, 0n); m.end.set(i, 0n); }
  } finally {
    m.start.close(); m.end.close(); m.cnt.close();
  }
  return mode;
}

/** The loaded instances of mes_start/mes_end: programs of those names whose maps are all our pins. */
export function loadedPrograms(w: Where = {}): Program[] {
  const dir = pinDirOf(w);
  let mode: Mode;
  try { mode = pinnedMode(dir); } catch { return []; }
  const ours = new Set<number>();
  // ids only: the layouts were checked by whoever attached (and v2's ring size varies)
  for (const spec of probe(mode, 16).maps) {
    const m = openPinnedMap(pinPath(dir, spec), { readonly: true });
    ours.add(m.id);
    m.close();
  }
  return listPrograms()
    .filter((p) => (p.name === mesStart.name || p.name === mesEnd.name) && p.mapIds.length > 0 && p.mapIds.every((id) => ours.has(id)))
    .map((p) => openProgramById(p.id));
}
