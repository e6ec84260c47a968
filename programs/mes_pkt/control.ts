/**
 * attach, detach, show, reset and dump for the latency probe, as library calls that return
 * what they did; programs/mes_pkt.ts only parses flags and prints. None of these starts a
 * subprocess: maps and programs go through src/syscall, qdiscs and filters through
 * src/netlink.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BpfError, createMap, ensureBpffs, loadProgram, openPinnedMap, tcGlobals, unpin,
  listPrograms, openProgramById, type BpfMap, type MapSpec, type Program,
} from '../../src/syscall/index.ts';
import {
  attachBpf, deleteClsact, detachBpf, ensureClsact, getClsact, listFilters, replaceBpf, routeSocket,
  type Hook, type RouteSocket,
} from '../../src/netlink/index.ts';
import { maps, mesEnd, mesStart, type ProbeMapSpec } from './probe.ts';
import { computeStats, type Stats } from './stats.ts';

/** Filter names mark our filters, so detach and a second attach find them and nothing else. */
export const FILTER_NAMES = { ingress: 'mes_pkt_start', egress: 'mes_pkt_end' } as const;
export const DEFAULT_PRIORITY = 49152; // what `tc filter add` picks for the first filter of a hook

export interface Where {
  /** Directory holding the pins; default tc's /sys/fs/bpf/tc/globals. */
  readonly pinDir?: string;
  /** Network namespace the devices live in. */
  readonly netns?: string;
}

const MAP_LIST = [maps.start, maps.end, maps.cnt] as const;

export function pinDirOf(w: Where): string {
  return w.pinDir ?? tcGlobals(ensureBpffs());
}

const pinPath = (dir: string, m: ProbeMapSpec): string => path.join(dir, m.name);

/** Where attach records which clsact qdiscs it created (bpffs holds only BPF objects). */
function stateFile(dir: string): string {
  return path.join('/run/tsbpf', `mes_pkt${dir.replace(/[^A-Za-z0-9]+/g, '_')}.json`);
}
interface State { readonly createdQdiscs: { netns?: string; dev: string }[]; readonly devs: { netns?: string; ingress: string; egress: string } }
function readState(dir: string): State | undefined {
  try { return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as State; } catch { return undefined; }
}
function writeState(dir: string, s: State): void {
  mkdirSync('/run/tsbpf', { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(dir), JSON.stringify(s));
}

export interface AttachResult {
  readonly pinDir: string;
  readonly maps: { name: string; path: string; created: boolean }[];
  readonly programs: { name: string; id: number; hook: Hook; dev: string; replaced: boolean }[];
  readonly qdiscsCreated: string[];
}

/**
 * Open a pinned map of the probe's, checking its layout; a stale pin of another layout gets an
 * error that names `detach`.
 */
function openProbeMap(dir: string, spec: ProbeMapSpec, readonly: boolean): BpfMap<number, number | bigint> {
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
export function attach(ingressDev: string, egressDev: string = ingressDev, w: Where = {}): AttachResult {
  const dir = pinDirOf(w);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const undo: (() => void)[] = [];
  const opened: { close(): void }[] = [];
  let sock: RouteSocket | undefined;
  try {
    const live: Record<string, BpfMap<number, number | bigint>> = {};
    const mapReport: AttachResult['maps'] = [];
    for (const spec of MAP_LIST) {
      const p = pinPath(dir, spec);
      let m: BpfMap<number, number | bigint>;
      let created = false;
      if (existsSync(p)) {
        m = openProbeMap(dir, spec, false);
      } else {
        m = createMap<number, number | bigint>(spec as MapSpec);
        m.pin(p);
        created = true;
        undo.push(() => unpin(p));
      }
      opened.push(m);
      live[spec.name] = m;
      mapReport.push({ name: spec.name, path: p, created });
    }
    const progs: Program[] = [];
    for (const spec of [mesStart, mesEnd]) {
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
    writeState(dir, { createdQdiscs: [...(prior?.createdQdiscs ?? []).filter((q) => q.netns !== w.netns), ...createdQdiscs], devs: { netns: w.netns, ingress: ingressDev, egress: egressDev } });
    return { pinDir: dir, maps: mapReport, programs: report, qdiscsCreated };
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
    const sock = routeSocket({ netns: w.netns });
    try {
      for (const dev of targets) {
        for (const hook of ['ingress', 'egress'] as const) {
          const n = detachBpf(sock, dev, hook, { name: FILTER_NAMES[hook] });
          if (n) out.filters.push(`${dev} ${hook} ${FILTER_NAMES[hook]}`);
        }
        const ours = state?.createdQdiscs.some((q) => q.dev === dev && q.netns === w.netns);
        if (getClsact(sock, dev)) {
          const others = listFilters(sock, dev).length;
          if (ours && others === 0) { deleteClsact(sock, dev); out.qdiscs.push(`${dev} clsact`); }
          else if (ours) out.notes.push(`kept clsact on ${dev}: ${others} other filter(s) use it`);
          else out.notes.push(`kept clsact on ${dev}: mes_pkt did not create it`);
        }
      }
    } finally {
      sock.close();
    }
  } else if (!devs.length) {
    out.notes.push('no devices recorded by attach; name them to remove filters (detach <dev>...)');
  }
  for (const m of MAP_LIST) if (unpin(pinPath(dir, m))) out.pins.push(pinPath(dir, m));
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

function openAll(dir: string, readonly: boolean): { start: BpfMap<number, bigint>; end: BpfMap<number, bigint>; cnt: BpfMap<number, number> } {
  const missing = MAP_LIST.filter((m) => !existsSync(pinPath(dir, m)));
  if (missing.length) {
    throw new NotAttachedError(`nothing is attached: no ${missing.map((m) => m.name).join(', ')} under ${dir}. Run 'mes_pkt attach <dev>' first.`);
  }
  const got: BpfMap<number, number | bigint>[] = [];
  try {
    for (const m of MAP_LIST) got.push(openProbeMap(dir, m, readonly));
  } catch (e) {
    for (const m of got) m.close();
    throw e;
  }
  return { start: got[0] as BpfMap<number, bigint>, end: got[1] as BpfMap<number, bigint>, cnt: got[2] as BpfMap<number, number> };
}

/** Read the pins read-only and compute the tutorial reader's figures. */
export function show(w: Where = {}): Stats {
  const dir = pinDirOf(w);
  const m = openAll(dir, true);
  try {
    const startCount = m.cnt.get(0) ?? 0, endCount = m.cnt.get(1) ?? 0;
    const starts = m.start.batchRead().map(([, v]) => v);
    const ends = m.end.batchRead().map(([, v]) => v);
    return computeStats(starts, ends, Math.min(startCount, maps.start.maxEntries), Math.min(endCount, maps.end.maxEntries));
  } finally {
    m.start.close(); m.end.close(); m.cnt.close();
  }
}

/** Zero the counters and the timestamps; filters stay attached. */
export function reset(w: Where = {}): void {
  const dir = pinDirOf(w);
  const m = openAll(dir, false);
  try {
    m.cnt.set(0, 0); m.cnt.set(1, 0);
    for (let i = 0; i < maps.start.maxEntries; i++) { m.start.set(i, 0n); m.end.set(i, 0n); }
  } finally {
    m.start.close(); m.end.close(); m.cnt.close();
  }
}

/** The loaded instances of mes_start/mes_end: programs of those names that use our pinned counter map. */
export function loadedPrograms(w: Where = {}): Program[] {
  const dir = pinDirOf(w);
  if (!existsSync(pinPath(dir, maps.cnt))) return [];
  const cnt = openProbeMap(dir, maps.cnt, true);
  const cntId = cnt.id;
  cnt.close();
  return listPrograms()
    .filter((p) => (p.name === mesStart.name || p.name === mesEnd.name) && p.mapIds.includes(cntId))
    .map((p) => openProgramById(p.id));
}
