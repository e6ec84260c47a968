/**
 * attach, detach, show, reset and dump for the latency probe, as library calls that return
 * what they did; programs/mes_pkt.ts only parses flags and prints. None of these starts a
 * subprocess: maps and programs go through src/syscall, qdiscs and filters through
 * src/netlink.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BpfError, createMap, ensureBpffs, onBpffs, findBpffs, loadProgram, openPinnedMap, tcGlobals, unpin,
  listPrograms, openProgramById, type BpfMap, type MapSpec, type Program,
} from '../../src/syscall/index.ts';
import {
  deleteClsact, detachBpf, getClsact, listFilters, routeSocket, isNetlinkError, type Hook, type RouteSocket,
} from '../../src/netlink/index.ts';
import { attachTc, hasTcx, tcxQuery, type TcAttachment } from '../../src/attach/index.ts';
import { openLinkById, openPinnedLink } from '../../src/syscall/link.ts';
import { maps, mesEnd, mesStart } from './probe.ts';
import { DEFAULT_CAPACITY, configBytes, mesEndV2, mesStartV2, v2Maps } from './probe-v2.ts';
import { DEFAULT_MAX_LATENCY_NS, computeStats, partition, summarize, type Stats } from './stats.ts';
import { readV2, resetV2 } from './reader-v2.ts';
import { DEFAULT_PORTS, defaultMatch, describe, type Match, type Proto } from './match.ts';
import { signalPoint } from './signals.ts';
import type { ProgramSpec } from '../../src/asm/index.ts';

/** Filter names mark our filters, so detach and a second attach find them and nothing else. */
export const FILTER_NAMES = { ingress: 'mes_pkt_start', egress: 'mes_pkt_end' } as const;
export const DEFAULT_PRIORITY = 49152; // what `tc filter add` picks for the first filter of a hook

export interface Where {
  /** Directory holding the pins; default tc's /sys/fs/bpf/tc/globals. */
  readonly pinDir?: string;
  /** Network namespace the devices live in (detach and show find it in the state). */
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

export function probe(mode: Mode = 'v2', capacity = DEFAULT_CAPACITY, match: Match = 'seq'): Probe {
  if (mode === 'tutorial') return { mode, maps: [maps.start, maps.end, maps.cnt], programs: [mesStart, mesEnd] };
  if (mode !== 'v2') throw new Error(`unknown mode '${mode}': use ${MODES.join(' or ')}`);
  const m = v2Maps(capacity);
  return { mode, maps: [m.ctl, m.seen, m.pairs, m.cfg], programs: [mesStartV2(m, { match }), mesEndV2(m, { match })] };
}

/** tcx links are pinned beside the maps, so detach from any process finds them. */
export const LINK_PINS = { ingress: 'mes_pkt_start_link', egress: 'mes_pkt_end_link' } as const;
/** The programs' names, as the kernel lists them on a tcx hook. */
const PROG_NAMES = { ingress: 'mes_start', egress: 'mes_end' } as const;

/** How attach hooks the programs in: `tcx` links, `tc` (cls_bpf filters), or `auto` (tcx where the kernel has it). */
export type AttachMethod = 'auto' | 'tcx' | 'tc';
export const ATTACH_METHODS: readonly AttachMethod[] = ['auto', 'tcx', 'tc'];

/** The pins either mode may have left: detach removes them all. */
const MAP_PIN_NAMES = [...new Set([...probe('tutorial').maps, ...Object.values(v2Maps(16, 1))].map((m) => m.name))];
const ALL_PIN_NAMES = [...MAP_PIN_NAMES, ...Object.values(LINK_PINS)];

/** A path with `..`, `.` and symlinks resolved, for a directory that may not exist yet. */
export function canonicalDir(dir: string): string {
  let head = path.resolve(dir);
  const rest: string[] = [];
  while (!existsSync(head)) {
    const up = path.dirname(head);
    if (up === head) break;
    rest.unshift(path.basename(head));
    head = up;
  }
  try { head = realpathSync(head); } catch { /* unreadable: keep the resolved path */ }
  return path.join(head, ...rest);
}

/**
 * Where the pins live: tc's globals directory by default, as its realpath (so `a/../b` and `b`
 * are one probe). bpffs is mounted at /sys/fs/bpf first if nobody has (as tc does), so a
 * --pin-dir under it works on a fresh machine too.
 */
export function pinDirOf(w: Where): string {
  let bpffs: string;
  try {
    bpffs = ensureBpffs();
    if (w.pinDir === undefined) return canonicalDir(tcGlobals(bpffs));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || /EPERM|EACCES/.test((e as Error).message)) {
      throw new Error(`${(e as Error).message}\nmes_pkt needs root (or CAP_BPF + CAP_NET_ADMIN, and CAP_SYS_ADMIN to mount bpffs): run it with sudo`);
    }
    throw e;
  }
  const dir = canonicalDir(w.pinDir);
  if (!onBpffs(dir)) throw new Error(`--pin-dir ${w.pinDir} is not on a bpf filesystem (bpffs is mounted at ${findBpffs().join(', ')}): choose a directory under ${bpffs}`);
  return dir;
}

const pinPath = (dir: string, m: { name: string }): string => path.join(dir, m.name);

/**
 * The state of one probe, kept in /run/tsbpf (bpffs holds only BPF objects), keyed by the
 * realpath of its pin dir: where it is attached (namespace, devices, hooks), how, with which
 * programs, which qdiscs it created. detach and show read it; a second pin dir's attach reads
 * every state to refuse a device another probe owns.
 */
export const STATE_DIR = '/run/tsbpf';
export interface HookState {
  readonly dev: string;
  readonly hook: Hook;
  readonly method: 'cls_bpf' | 'tcx';
  readonly progId: number;
  readonly priority?: number;
  readonly handle?: number;
  readonly linkId?: number;
  readonly linkPin?: string;
}
export interface State {
  readonly version: 2;
  readonly pinDir: string;
  readonly netns?: string;
  readonly devs: { readonly ingress: string; readonly egress: string };
  readonly hooks: readonly HookState[];
  readonly createdQdiscs: readonly string[];
  readonly mode: Mode;
  readonly match?: Match;
  readonly proto?: Proto;
  readonly ports?: readonly number[];
  readonly measured?: string;
  readonly pid: number;
  readonly time: string;
}

export function stateFile(dir: string): string {
  return path.join(STATE_DIR, `mes_pkt-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.json`);
}
export function readState(dir: string): State | undefined {
  try {
    const s = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as State;
    return s.version === 2 && s.pinDir === dir ? s : undefined;
  } catch { return undefined; }
}
function writeState(s: State): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(stateFile(s.pinDir), JSON.stringify(s, null, 1));
}
/** Every probe's state on this machine whose pins still exist (a state without pins is stale). */
export function allStates(): State[] {
  let names: string[];
  try { names = readdirSync(STATE_DIR).filter((n) => /^mes_pkt-[0-9a-f]+\.json$/.test(n)); } catch { return []; }
  const out: State[] = [];
  for (const n of names) {
    try {
      const s = JSON.parse(readFileSync(path.join(STATE_DIR, n), 'utf8')) as State;
      if (s.version !== 2) continue;
      if (!MAP_PIN_NAMES.some((p) => existsSync(path.join(s.pinDir, p)))) continue;
      out.push(s);
    } catch { /* unreadable or half-written: not an owner */ }
  }
  return out;
}

/** A device already owned by another probe (another pin dir): nothing was changed. */
export class OwnedError extends Error {
  override name = 'OwnedError';
  constructor(readonly dev: string, readonly owner: State) {
    const ns = owner.netns ? ` --netns ${owner.netns}` : '';
    super(`${dev}${owner.netns ? ` (netns ${owner.netns})` : ''} is already probed by the mes_pkt whose pins are in ${owner.pinDir} ` +
      `(attached by pid ${owner.pid} at ${owner.time}): detach it first with 'mes_pkt detach --pin-dir ${owner.pinDir}${ns}', or use that --pin-dir`);
  }
}

/** A mes_pkt filter or tcx program on the device that no state here accounts for: nothing was changed. */
export class ForeignFilterError extends Error {
  override name = 'ForeignFilterError';
  constructor(readonly dev: string, readonly hook: Hook, readonly progId: number | undefined, netns?: string, kind = 'filter') {
    const ns = netns ? ` --netns ${netns}` : '';
    super(`${dev} ${hook} already has a mes_pkt ${kind} (prog id ${progId ?? '?'}) that no probe state claims ` +
      `(its state in ${STATE_DIR} was removed, or another tool attached it): remove it with 'mes_pkt detach ${dev}${ns}' and attach again`);
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
}

export interface AttachOptions extends Where {
  readonly attach?: AttachMethod;
  readonly mode?: Mode;
  readonly capacity?: number;
  readonly match?: Match;
  readonly ports?: readonly number[];
  readonly proto?: Proto;
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
  const mode = w.mode ?? 'v2';
  const match = w.match ?? defaultMatch(ingressDev, egressDev);
  const ports = w.ports ?? DEFAULT_PORTS;
  const proto = w.proto ?? 'udp';
  if (mode === 'tutorial' && (proto !== 'udp' || ports.length !== 1 || ports[0] !== 5001 || (w.match && w.match !== 'seq'))) {
    throw new RangeError('--mode tutorial is the tutorial\'s program: UDP to 5001, paired by index; --port, --proto and --match need --mode v2');
  }
  const kind = probe(mode, w.capacity, match);
  const dir = pinDirOf(w);
  const devs = [...new Set([ingressDev, egressDev])];
  checkOwnership(dir, devs, w.netns);
  const prior = readState(dir);
  if (prior && (prior.netns !== w.netns || prior.devs.ingress !== ingressDev || prior.devs.egress !== egressDev)) {
    const ns = prior.netns ? ` --netns ${prior.netns}` : '';
    throw new Error(`the probe pinned in ${dir} is attached to ${prior.devs.ingress} → ${prior.devs.egress}${prior.netns ? ` in netns ${prior.netns}` : ''}: ` +
      `detach it first ('mes_pkt detach --pin-dir ${dir}${ns}'), or use another --pin-dir`);
  }
  const measured = mode === 'tutorial'
    ? `${ingressDev} ingress → ${egressDev} egress${w.netns ? ` (netns ${w.netns})` : ''}: the tutorial's pairing: the i-th UDP :5001 packet at ingress with the i-th at egress`
    : describe({ ingressDev, egressDev, match, ports, proto, netns: w.netns });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const undo: (() => void)[] = [];
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
        opened.push(m);
        m.pin(p);
        created = true;
        undo.push(() => unpin(p));
      }
      if (!created) opened.push(m);
      live[spec.name] = m;
      mapReport.push({ name: spec.name, path: p, created });
    }
    if (mode === 'v2') {
      const view = live.mes2_cfg!.mmap();
      try { view.bytes.set(configBytes({ proto, ports, match })); } finally { view.close(); }
    }
    signalPoint('attach:maps');
    const progs: Program[] = [];
    for (const spec of kind.programs) {
      const p = loadProgram(spec, { maps: live });
      opened.push(p);
      progs.push(p);
    }
    signalPoint('attach:programs');

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
      mode, match: mode === 'v2' ? match : undefined, proto, ports: [...ports], measured, pid: process.pid, time: new Date().toISOString(),
    });
    // the attachments outlive this process: links through their pins, filters until deleted
    for (const h of handles.splice(0)) h.release();
    return { mode, pinDir: dir, maps: mapReport, programs: report, qdiscsCreated, match: mode === 'v2' ? match : undefined, measured, attached };
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

/** A program's name by id, or '' when it is gone. */
function programName(id: number): string {
  try {
    const p = openProgramById(id);
    try { return p.name; } finally { p.close(); }
  } catch {
    return '';
  }
}

/** How a probe is attached, in words: "tcx links 12 (ingress), 13 (egress), pinned in DIR" or "tc (cls_bpf) filters, priority 49152". */
export function describeAttachment(hooks: readonly HookState[], dir: string): string {
  if (!hooks.length) return 'not attached';
  if (hooks[0]!.method === 'tcx') return `tcx links ${hooks.map((h) => `${h.linkId} (${h.dev} ${h.hook})`).join(', ')}, pinned in ${dir}`;
  return `tc (cls_bpf) filters ${hooks.map((h) => `${FILTER_NAMES[h.hook]} (${h.dev} ${h.hook}, priority ${h.priority})`).join(', ')}, on clsact qdiscs`;
}

export interface DetachResult {
  /** What detach took off the hooks: "tcx link N on DEV HOOK (…)" or "filter NAME on DEV HOOK". */
  readonly filters: string[];
  readonly qdiscs: string[];
  readonly pins: string[];
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
  const out: DetachResult = { filters: [], qdiscs: [], pins: [], notes: [] };
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
  for (const name of ALL_PIN_NAMES) if (unpin(path.join(dir, name))) out.pins.push(path.join(dir, name));
  rmSync(stateFile(dir), { force: true });
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

/** Read the pins read-only and compute the reader's figures (for the mode that is pinned). */
export function show(w: Where & { mode?: Mode; maxLatencyNs?: bigint } = {}): Stats {
  const dir = pinDirOf(w);
  const mode = w.mode ?? pinnedMode(dir);
  const state = readState(dir);
  const measured = state?.measured;
  const attached = state ? describeAttachment(state.hooks, dir) : undefined;
  if (mode === 'v2') {
    const s = readV2(dir, { maxLatencyNs: w.maxLatencyNs }).stats;
    return { ...s, ...(measured ? { measured } : {}), ...(attached ? { attached } : {}) };
  }
  const m = openTutorial(dir, true);
  try {
    const startCount = m.cnt.get(0) ?? 0, endCount = m.cnt.get(1) ?? 0;
    const starts = m.start.batchRead().map(([, v]) => v);
    const ends = m.end.batchRead().map(([, v]) => v);
    const all = computeStats(starts, ends, Math.min(startCount, maps.start.maxEntries), Math.min(endCount, maps.end.maxEntries));
    const max = w.maxLatencyNs ?? DEFAULT_MAX_LATENCY_NS;
    const { ok, early, over } = partition(all.samples, max);
    const base: Stats = { mode, ...summarize(ok, startCount, endCount), end_before_start: early, over_max: over, max_latency_ns: max, ...(measured ? { measured } : {}), ...(attached ? { attached } : {}) };
    return { ...base, warnings: tutorialWarnings(base) };
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
