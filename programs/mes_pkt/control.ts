/**
 * attach, detach, reset and dump for the latency probe, as library calls that return what they
 * did; programs/mes_pkt.ts only parses flags and prints. None of these starts a subprocess:
 * maps and programs go through src/syscall, qdiscs and filters through src/netlink. show, and
 * the pin-dir and state helpers, live in show.ts and state.ts (so show loads none of this);
 * they are re-exported here for callers that know them from this module.
 */
import { existsSync, mkdirSync, realpathSync, rmdirSync, rmSync } from 'node:fs';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import path from 'node:path';
import {
  createMap, loadProgram, openPinnedMap, unpin, listPrograms, openProgramById, type BpfMap, type MapSpec, type Program,
} from '../../src/syscall/index.ts';
import {
  deleteClsact, detachBpf, getClsact, listFilters, routeSocket, isNetlinkError, type Hook, type RouteSocket,
} from '../../src/netlink/index.ts';
import { attachTc, hasTcx, tcxQuery, type TcAttachment } from '../../src/attach/index.ts';
import { openLinkById, openPinnedLink } from '../../src/syscall/link.ts';
import { maps, mesEnd, mesStart } from './probe.ts';
import { DEFAULT_CAPACITY, configBytes, mesEndV2, mesStartV2, v2Maps } from './probe-v2.ts';
import { resetV2 } from './reader-v2.ts';
import { DEFAULT_PORTS, defaultMatch, describe, type Match, type Proto } from './match.ts';
import { signalPoint } from './signals.ts';
import {
  FILTER_NAMES, LINK_PINS, MAP_PIN_NAMES, MODES, allStates, describeAttachment, pinDirOf, pinPath, pinnedMode,
  probeMaps, readState, stateFile, writeState, STATE_DIR, type HookState, type Mode, type State, type Where,
} from './state.ts';
import { openProbeMap, openTutorial } from './show.ts';
import { loadTutorialObject, readTutorialObject, type TutorialObject } from './object.ts';
import type { ProgramSpec } from '../../src/asm/index.ts';
import { SELF } from './self.ts';

export {
  FILTER_NAMES, LINK_PINS, MODES, NotAttachedError, STATE_DIR, allStates, canonicalDir, describeAttachment,
  pinDirOf, pinnedMode, readState, stateFile, type HookState, type Mode, type State, type Where,
} from './state.ts';
export { openProbeMap, show, tutorialWarnings } from './show.ts';

export const DEFAULT_PRIORITY = 49152; // what `tc filter add` picks for the first filter of a hook

/** What a mode pins and loads. */
export interface Probe {
  readonly mode: Mode;
  readonly maps: readonly MapSpec[];
  readonly programs: readonly [ProgramSpec, ProgramSpec];
}

export function probe(mode: Mode = 'v2', capacity = DEFAULT_CAPACITY, match: Match = 'seq'): Probe {
  if (mode === 'tutorial') return { mode, maps: [maps.start, maps.end, maps.cnt], programs: [mesStart, mesEnd] };
  if (mode !== 'v2') throw new Error(`unknown mode '${mode}': use ${MODES.join(' or ')}`);
  const m = v2Maps(capacity);
  return { mode, maps: [m.ctl, m.seen, m.pairs, m.cfg], programs: [mesStartV2(m, { match }), mesEndV2(m, { match })] };
}

/** The programs' names, as the kernel lists them on a tcx hook. */
const PROG_NAMES = { ingress: 'mes_start', egress: 'mes_end' } as const;

/** How attach hooks the programs in: `tcx` links, `tc` (cls_bpf filters), or `auto` (tcx where the kernel has it). */
export type AttachMethod = 'auto' | 'tcx' | 'tc';
export const ATTACH_METHODS: readonly AttachMethod[] = ['auto', 'tcx', 'tc'];

const ALL_PIN_NAMES = [...MAP_PIN_NAMES, ...Object.values(LINK_PINS)];

/** A device already owned by another probe (another pin dir): nothing was changed. */
export class OwnedError extends Error {
  override name = 'OwnedError';
  constructor(readonly dev: string, readonly owner: State) {
    const ns = owner.netns ? ` --netns ${owner.netns}` : '';
    super(`${dev}${owner.netns ? ` (netns ${owner.netns})` : ''} is already probed by the mes_pkt whose pins are in ${owner.pinDir} ` +
      `(attached by pid ${owner.pid} at ${owner.time}): detach it first with '${SELF} detach --pin-dir ${owner.pinDir}${ns}', or use that --pin-dir`);
  }
}

/** A mes_pkt filter or tcx program on the device that no state here accounts for: nothing was changed. */
export class ForeignFilterError extends Error {
  override name = 'ForeignFilterError';
  constructor(readonly dev: string, readonly hook: Hook, readonly progId: number | undefined, netns?: string, kind = 'filter') {
    const ns = netns ? ` --netns ${netns}` : '';
    super(`${dev} ${hook} already has a mes_pkt ${kind} (prog id ${progId ?? '?'}) that no probe state claims ` +
      `(its state in ${STATE_DIR} was removed, or another tool attached it): remove it with '${SELF} detach ${dev}${ns}' and attach again`);
  }
}

export interface AttachResult {
  readonly mode: Mode;
  readonly pinDir: string;
  readonly maps: { name: string; path: string; created: boolean }[];
  readonly programs: { name: string; id: number; hook: Hook; dev: string; replaced: boolean; method: 'cls_bpf' | 'tcx' }[];
  readonly qdiscsCreated: string[];
  readonly match?: Match;
  readonly measured: string;
  /** How it is attached, in words (show repeats it). */
  readonly attached: string;
  /** With --obj: the object whose programs run, absolute. */
  readonly object?: string;
}

export interface AttachOptions extends Where {
  readonly attach?: AttachMethod;
  readonly mode?: Mode;
  readonly capacity?: number;
  readonly match?: Match;
  readonly ports?: readonly number[];
  readonly proto?: Proto;
  /**
   * A clang-built object whose programs to run instead of the DSL's (the tutorial's own
   * mes_pkt.o): mode 'tutorial', its maps pinned in the pin dir (object.ts).
   */
  readonly obj?: string;
  /** With obj: the sections holding the ingress and the egress program (default: the tutorial's). */
  readonly sections?: { readonly ingress?: string; readonly egress?: string };
}

/** Refuse, before touching anything, a device another pin dir's probe owns. */
function checkOwnership(dir: string, devs: readonly string[], netns: string | undefined): void {
  for (const s of allStates()) {
    if (s.pinDir === dir || s.netns !== netns) continue;
    const theirs = new Set([s.devs.ingress, s.devs.egress]);
    const hit = devs.find((d) => theirs.has(d));
    if (hit) throw new OwnedError(hit, s);
  }
}

/**
 * Create (or reuse) the pinned maps, write the config, load both entries, ensure clsact on each
 * device and attach mes_start on ingress and mes_end on egress. A second attach from the same
 * pin dir replaces our filters in place; a device another pin dir's probe owns is refused.
 * On any failure, everything this call created is removed again before the error propagates.
 */
export function attach(ingressDev: string, egressDev: string = ingressDev, w: AttachOptions = {}): AttachResult {
  if (w.obj !== undefined && w.mode !== undefined && w.mode !== 'tutorial') {
    throw new RangeError(`--obj runs the tutorial's own programs, which record into the tutorial's maps: it takes no --mode ${w.mode}`);
  }
  if (w.obj === undefined && w.sections) throw new RangeError('--sec-ingress and --sec-egress name sections of an object: they need --obj');
  const mode = w.obj !== undefined ? 'tutorial' : w.mode ?? 'v2';
  const match = w.match ?? defaultMatch(ingressDev, egressDev);
  const ports = w.ports ?? DEFAULT_PORTS;
  const proto = w.proto ?? 'udp';
  if (mode === 'tutorial' && (proto !== 'udp' || ports.length !== 1 || ports[0] !== 5001 || (w.match && w.match !== 'seq'))) {
    throw new RangeError(w.obj !== undefined
      ? '--obj runs the tutorial\'s program: UDP to 5001, paired by index; --port, --proto and --match need the DSL probe (--mode v2, without --obj)'
      : '--mode tutorial is the tutorial\'s program: UDP to 5001, paired by index; --port, --proto and --match need --mode v2');
  }
  // the object is read and checked before anything is created: a wrong section is one line
  const obj = w.obj !== undefined ? readTutorialObject(w.obj, w.sections) : undefined;
  const kind = probe(mode, w.capacity, match);
  // the directories this attach creates (tc/globals on a fresh host, a new --pin-dir): detach removes them
  const missing = missingDirs(w.pinDir ?? path.join(ensureBpffs(), 'tc', 'globals'));
  const dir = pinDirOf(w);
  const devs = [...new Set([ingressDev, egressDev])];
  checkOwnership(dir, devs, w.netns);
  const prior = readState(dir);
  if (prior && (prior.netns !== w.netns || prior.devs.ingress !== ingressDev || prior.devs.egress !== egressDev)) {
    const ns = prior.netns ? ` --netns ${prior.netns}` : '';
    throw new Error(`the probe pinned in ${dir} is attached to ${prior.devs.ingress} → ${prior.devs.egress}${prior.netns ? ` in netns ${prior.netns}` : ''}: ` +
      `detach it first ('${SELF} detach --pin-dir ${dir}${ns}'), or use another --pin-dir`);
  }
  const measured = mode === 'tutorial'
    ? `${ingressDev} ingress → ${egressDev} egress${w.netns ? ` (netns ${w.netns})` : ''}: the tutorial's pairing: the i-th UDP :5001 packet at ingress with the i-th at egress` +
      (obj ? ` (programs from ${obj.file}: ${obj.ingress.symbol} in '${obj.ingress.section}', ${obj.egress.symbol} in '${obj.egress.section}')` : '')
    : describe({ ingressDev, egressDev, match, ports, proto, netns: w.netns });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const createdDirs = [...new Set([...(prior?.createdDirs ?? []), ...missing.flatMap((d) => { try { return [realpathSync(d)]; } catch { return []; } })])];
  const undo: (() => void)[] = [];
  undo.push(() => removeDirs(missing.map((d) => path.resolve(d))));
  const opened: { close(): void }[] = [];
  const handles: TcAttachment[] = [];
  let sock: RouteSocket | undefined;
  try {
    // the namespace and the devices first: a typo fails before anything is created
    sock = routeSocket({ netns: w.netns });
    const plan: [Hook, string][] = [['ingress', ingressDev], ['egress', egressDev]];
    // tcx where asked, or where the kernel has it (auto); a re-attach keeps the way it was attached
    const requested = w.attach ?? 'auto';
    if (!(ATTACH_METHODS as readonly string[]).includes(requested)) throw new RangeError(`--attach must be ${ATTACH_METHODS.join(', ')}, not '${requested}'`);
    const priorMethod = prior?.hooks[0]?.method;
    const method: 'tcx' | 'cls_bpf' = requested === 'tc' ? 'cls_bpf' : requested === 'tcx' ? 'tcx' : priorMethod ?? (hasTcx() ? 'tcx' : 'cls_bpf');
    if (priorMethod && priorMethod !== method) {
      throw new Error(`the probe pinned in ${dir} is attached with ${priorMethod === 'tcx' ? 'tcx links' : 'tc (cls_bpf) filters'}: detach it first to attach with --attach ${requested}`);
    }
    const was = new Map<Hook, HookState>();
    for (const [hook, dev] of plan) {
      const ours = prior?.hooks.find((h) => h.hook === hook && h.dev === dev);
      // anything of mes_pkt's on the hook that is not this probe's is refused, tcx or cls_bpf
      for (const f of listFilters(sock, dev, hook).filter((x) => x.bpf?.name === FILTER_NAMES[hook])) {
        if (f.bpf?.progId === undefined || f.bpf.progId !== ours?.progId || ours.method !== 'cls_bpf') throw new ForeignFilterError(dev, hook, f.bpf?.progId, w.netns);
      }
      if (hasTcx()) {
        const q = tcxQuery(dev, hook, { netns: w.netns });
        q.progIds.forEach((id, i) => {
          if (programName(id) !== PROG_NAMES[hook]) return;
          if (ours?.method !== 'tcx' || q.linkIds[i] !== ours.linkId) throw new ForeignFilterError(dev, hook, id, w.netns, 'tcx program');
        });
      }
      if (ours) was.set(hook, ours);
    }

    const loadedProbe = obj
      ? loadFromObject(obj, dir, kind, prior, { undo, opened })
      : loadFromDsl(kind, dir, { proto, ports, match }, { undo, opened });
    const { maps: mapReport, programs: progs, objectPins } = loadedProbe;

    const report: AttachResult['programs'] = [];
    const hooks: HookState[] = [];
    const qdiscsCreated: string[] = [];
    for (const [i, [hook, dev]] of plan.entries()) {
      const prog = progs[i]!;
      const old = was.get(hook);
      let h: TcAttachment;
      if (method === 'tcx') {
        const pin = path.join(dir, LINK_PINS[hook]);
        if (old && existsSync(pin)) {
          // the same link, the new program: LINK_UPDATE, nothing stacks
          h = attachTc(prog, dev, hook, { mode: 'tcx', netns: w.netns, replace: { pinned: pin } });
        } else {
          h = attachTc(prog, dev, hook, { mode: 'tcx', netns: w.netns });
          const created = h;
          undo.push(() => created.detach()); // LINK_DETACH and the pin
          h.pin(pin);
        }
      } else if (old?.priority !== undefined && old.handle !== undefined) {
        h = attachTc(prog, dev, hook, { mode: 'cls_bpf', netns: w.netns, name: FILTER_NAMES[hook], replace: { priority: old.priority, handle: old.handle } });
      } else {
        h = attachTc(prog, dev, hook, { mode: 'cls_bpf', netns: w.netns, name: FILTER_NAMES[hook], priority: DEFAULT_PRIORITY });
        const created = h;
        undo.push(() => created.detach()); // the filter, and the clsact qdisc if this one added it
      }
      handles.push(h);
      const info = h.info();
      if (info.created.includes('clsact qdisc')) qdiscsCreated.push(dev);
      report.push({ name: prog.name, id: prog.id, hook, dev, replaced: old !== undefined, method });
      hooks.push({
        dev, hook, method, progId: prog.id,
        ...(method === 'tcx' ? { linkId: info.linkId, linkPin: path.join(dir, LINK_PINS[hook]) } : { priority: info.priority, handle: info.handle }),
      });
      signalPoint(`attach:${hook}`);
    }
    const attached = describeAttachment(hooks, dir);
    writeState({
      version: 2, pinDir: dir, netns: w.netns, devs: { ingress: ingressDev, egress: egressDev }, hooks,
      createdQdiscs: [...new Set([...(prior?.createdQdiscs ?? []), ...qdiscsCreated])],
      ...(createdDirs.length ? { createdDirs } : {}),
      mode, match: mode === 'v2' ? match : undefined, proto, ports: [...ports], measured, pid: process.pid, time: new Date().toISOString(),
      ...(obj && objectPins ? { object: { file: obj.file, sections: { ingress: obj.ingress.section, egress: obj.egress.section }, pins: objectPins } } : {}),
    });
    // the attachments outlive this process: links through their pins, filters until deleted
    for (const h of handles.splice(0)) h.release();
    return {
      mode, pinDir: dir, maps: mapReport, programs: report, qdiscsCreated, match: mode === 'v2' ? match : undefined, measured, attached,
      ...(obj ? { object: obj.file } : {}),
    };
  } catch (e) {
    for (const u of undo.reverse()) {
      try { u(); } catch { /* best effort: the original error is what the user needs */ }
    }
    throw e;
  } finally {
    for (const h of handles) { try { h.release(); } catch { /* an unpinned link ends with its fd: that is the rollback */ } }
    sock?.close();
    // Programs stay alive through their attachments and maps through their pins: our fds can go.
    for (const o of opened) o.close();
  }
}

/** What attach rolls back on failure, and the fds it closes when done. */
interface Cleanup {
  readonly undo: (() => void)[];
  readonly opened: { close(): void }[];
}

interface LoadedProbe {
  readonly maps: AttachResult['maps'];
  /** The ingress and the egress program. */
  readonly programs: readonly Program[];
  /** With an object: the pins this probe owns (detach removes these and no others). */
  readonly objectPins?: string[];
}

/** The DSL probe: create (or reuse, checked) the pinned maps, write v2's config, load both entries. */
function loadFromDsl(kind: Probe, dir: string, cfg: { proto: Proto; ports: readonly number[]; match: Match }, c: Cleanup): LoadedProbe {
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
      c.opened.push(m);
      m.pin(p);
      created = true;
      c.undo.push(() => unpin(p));
    }
    if (!created) c.opened.push(m);
    live[spec.name] = m;
    mapReport.push({ name: spec.name, path: p, created });
  }
  if (kind.mode === 'v2') {
    const view = live.mes2_cfg!.mmap();
    try { view.bytes.set(configBytes(cfg)); } finally { view.close(); }
  }
  signalPoint('attach:maps');
  const programs: Program[] = [];
  for (const spec of kind.programs) {
    const p = loadProgram(spec, { maps: live });
    c.opened.push(p);
    programs.push(p);
  }
  signalPoint('attach:programs');
  return { maps: mapReport, programs };
}

/** A clang-built object's two programs, through loadObject, its maps pinned in dir (object.ts). */
function loadFromObject(obj: TutorialObject, dir: string, kind: Probe, prior: State | undefined, c: Cleanup): LoadedProbe {
  // the maps it will share: a stale pin of another layout gets the line that names detach
  for (const spec of kind.maps) if (existsSync(pinPath(dir, spec))) openProbeMap(dir, spec, true).close();
  // a prior attach's pins: the object's record, or a DSL attach's (all of them were its own)
  const priorOwned = prior ? prior.object?.pins ?? ALL_PIN_NAMES.map((n) => path.join(dir, n)).filter((p) => existsSync(p)) : [];
  const l = loadTutorialObject(obj, dir);
  c.opened.push(l.loaded);
  for (const p of l.pins) if (p.created) c.undo.push(() => unpin(p.path));
  signalPoint('attach:maps');
  signalPoint('attach:programs');
  return {
    maps: l.pins.map((p) => ({ name: p.name, path: p.path, created: p.created })),
    programs: l.programs,
    objectPins: [...new Set([...priorOwned, ...l.pins.filter((p) => p.created).map((p) => p.path)])],
  };
}

/** A program's name by id, or '' when it is gone. */
function programName(id: number): string {
  try {
    const p = openProgramById(id);
    try { return p.name; } finally { p.close(); }
  } catch {
    return '';
  }
}

/** The directories from d up that do not exist yet, deepest first. */
function missingDirs(d: string): string[] {
  const out: string[] = [];
  for (let cur = path.resolve(d); !existsSync(cur); cur = path.dirname(cur)) {
    out.push(cur);
    if (path.dirname(cur) === cur) break;
  }
  return out;
}

/** rmdir each (deepest first) while empty; the ones removed. */
function removeDirs(dirs: readonly string[]): string[] {
  const removed: string[] = [];
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try { rmdirSync(d); removed.push(d); } catch { /* not empty (someone else's pins), or gone */ }
  }
  return removed;
}

export interface DetachResult {
  /** What detach took off the hooks: "tcx link N on DEV HOOK (…)" or "filter NAME on DEV HOOK". */
  readonly filters: string[];
  readonly qdiscs: string[];
  readonly pins: string[];
  /** the empty directories attach created (the pin dir, tc/globals on a fresh host), removed */
  readonly dirs: string[];
  readonly notes: string[];
}

/**
 * Our tcx links and filters off both hooks of dev (those the state records, else ours by name),
 * then its clsact qdisc if attach created it and nothing else uses it.
 */
function detachDevice(sock: RouteSocket, dev: string, state: State | undefined, netns: string | undefined, out: DetachResult): void {
  const ids = state ? new Set(state.hooks.filter((h) => h.dev === dev).map((h) => h.progId)) : undefined;
  for (const hook of ['ingress', 'egress'] as const) {
    // tcx: the links on the hook running our program (recorded ones, or by name without a state)
    if (hasTcx()) {
      const q = tcxQuery(dev, hook, { netns });
      const mine = state?.hooks.find((h) => h.dev === dev && h.hook === hook && h.method === 'tcx');
      q.progIds.forEach((id, i) => {
        const linkId = q.linkIds[i]!;
        const ours = mine ? linkId === mine.linkId : programName(id) === PROG_NAMES[hook];
        if (!ours || !linkId) return;
        const link = openLinkById(linkId);
        try { link.detach(); } finally { link.close(); }
        out.filters.push(`tcx link ${linkId} on ${dev} ${hook} (${PROG_NAMES[hook]}, prog id ${id})`);
      });
    }
    for (const f of listFilters(sock, dev, hook).filter((x) => x.bpf?.name === FILTER_NAMES[hook])) {
      if (ids && !(f.bpf?.progId !== undefined && ids.has(f.bpf.progId))) {
        out.notes.push(`kept ${dev} ${hook} ${FILTER_NAMES[hook]} (prog id ${f.bpf?.progId}): not this probe's`);
        continue;
      }
      detachBpf(sock, dev, hook, { priority: f.priority, handle: f.handle });
      out.filters.push(`filter ${FILTER_NAMES[hook]} on ${dev} ${hook}`);
    }
  }
  if (!getClsact(sock, dev)) return;
  const ours = state?.createdQdiscs.includes(dev) ?? false;
  const others = listFilters(sock, dev).length;
  if (ours && others === 0) { deleteClsact(sock, dev); out.qdiscs.push(`${dev} clsact`); }
  else if (ours) out.notes.push(`kept clsact on ${dev}: ${others} other filter(s) use it`);
  else if (state) out.notes.push(`kept clsact on ${dev}: mes_pkt did not create it`);
}

/**
 * Remove our filters from the devices, the clsact qdiscs attach created where no other filter
 * uses them, and the pins. The namespace and the devices come from the state attach wrote
 * (named devices and --netns override it). Safe to run when nothing is attached.
 */
export function detach(devs: readonly string[] = [], w: Where = {}): DetachResult {
  const dir = pinDirOf(w);
  const state = readState(dir);
  const netns = w.netns ?? state?.netns;
  const targets = devs.length ? [...devs] : state ? [...new Set([state.devs.ingress, state.devs.egress])] : [];
  // a device named by hand is detached by filter name; the recorded ones by our prog ids
  const useState = state && state.netns === netns && targets.every((d) => d === state.devs.ingress || d === state.devs.egress) ? state : undefined;
  const out: DetachResult = { filters: [], qdiscs: [], pins: [], dirs: [], notes: [] };
  if (targets.length) {
    let sock: RouteSocket | undefined;
    try {
      sock = routeSocket({ netns });
    } catch (e) {
      // the namespace is gone, and its devices, filters and qdiscs with it: still remove the pins
      if (!(isNetlinkError(e) && e.code === 'ENOENT')) throw e;
      out.notes.push(`network namespace '${netns}' is gone, and its filters with it`);
    }
    try {
      for (const dev of sock ? targets : []) {
        try {
          detachDevice(sock!, dev, useState, netns, out);
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
  // a tcx link pinned here whose device is gone (or in another namespace now): end it by its pin
  for (const hook of ['ingress', 'egress'] as const) {
    const pin = path.join(dir, LINK_PINS[hook]);
    if (!existsSync(pin)) continue;
    try {
      const link = openPinnedLink(pin);
      try { link.detach(); } catch { /* defunct already: its device went */ } finally { link.close(); }
    } catch { /* not a link: the unpin below removes it */ }
  }
  // a probe from an object owns the pins it created (tc/globals may hold others'); the DSL's, all of its names
  const pins = state?.object ? [...Object.values(LINK_PINS).map((n) => path.join(dir, n)), ...state.object.pins] : ALL_PIN_NAMES.map((n) => path.join(dir, n));
  for (const p of pins) if (unpin(p)) out.pins.push(p);
  rmSync(stateFile(dir), { force: true });
  out.dirs.push(...removeDirs(state?.createdDirs ?? []));
  return out;
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
  // an object's programs may have any names: the ones its attach recorded
  const state = readState(dir);
  if (state?.object) {
    return [...new Set(state.hooks.map((h) => h.progId))].flatMap((id) => {
      try { return [openProgramById(id)]; } catch { return []; }
    });
  }
  const ours = new Set<number>();
  // ids only: the layouts were checked by whoever attached (and v2's ring size varies)
  for (const spec of probeMaps(mode, 16)) {
    const m = openPinnedMap(pinPath(dir, spec), { readonly: true });
    ours.add(m.id);
    m.close();
  }
  return listPrograms()
    .filter((p) => (p.name === mesStart.name || p.name === mesEnd.name) && p.mapIds.length > 0 && p.mapIds.every((id) => ours.has(id)))
    .map((p) => openProgramById(p.id));
}
