/**
 * Where a probe's pins live and what its attach recorded: the pin directory (on bpffs), the
 * state file in /run/tsbpf, which mode is pinned, and how it is attached, in words. show needs
 * only this and the readers, so nothing here loads the DSL, netlink or the attach code.
 */
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureBpffs, findBpffs, onBpffs, tcGlobals } from '../../src/syscall/bpffs.ts';
import type { MapSpec } from '../../src/asm/map-spec.ts';
import type { Hook } from '../../src/netlink/filter.ts';
import { maps } from './layout.ts';
import { DEFAULT_CAPACITY, v2Maps } from './layout-v2.ts';
import type { Match, Proto } from './match.ts';
import { SELF } from './self.ts';

/** Filter names mark our filters, so detach and a second attach find them and nothing else. */
export const FILTER_NAMES = { ingress: 'mes_pkt_start', egress: 'mes_pkt_end' } as const;
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

/** The maps a mode pins (v2's ring holds `capacity` pairs). */
export function probeMaps(mode: Mode, capacity = DEFAULT_CAPACITY): readonly MapSpec[] {
  if (mode === 'tutorial') return [maps.start, maps.end, maps.cnt];
  if (mode !== 'v2') throw new Error(`unknown mode '${mode}': use ${MODES.join(' or ')}`);
  const m = v2Maps(capacity);
  return [m.ctl, m.seen, m.pairs, m.cfg];
}

/** tcx links are pinned beside the maps, so detach from any process finds them. */
export const LINK_PINS = { ingress: 'mes_pkt_start_link', egress: 'mes_pkt_end_link' } as const;
/** The pins either mode may have left: detach removes them all. */
export const MAP_PIN_NAMES = [...new Set([...probeMaps('tutorial'), ...Object.values(v2Maps(16, 1))].map((m) => m.name))];
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
      throw new Error(`${(e as Error).message}\n${SELF} needs root (or CAP_BPF + CAP_NET_ADMIN, and CAP_SYS_ADMIN to mount bpffs): run it with sudo`);
    }
    throw e;
  }
  const dir = canonicalDir(w.pinDir);
  if (!onBpffs(dir)) throw new Error(`--pin-dir ${w.pinDir} is not on a bpf filesystem (bpffs is mounted at ${findBpffs().join(', ')}): choose a directory under ${bpffs}`);
  return dir;
}

export const pinPath = (dir: string, m: { name: string }): string => path.join(dir, m.name);

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
  /** directories attach created for the pins (deepest first): detach removes them when empty */
  readonly createdDirs?: readonly string[];
  readonly mode: Mode;
  readonly match?: Match;
  readonly proto?: Proto;
  readonly ports?: readonly number[];
  readonly measured?: string;
  readonly pid: number;
  readonly time: string;
  /** Attached from a clang-built object (`attach --obj`): the file, its sections, and the pins this probe created. */
  readonly object?: ObjectState;
}
export interface ObjectState {
  readonly file: string;
  readonly sections: { readonly ingress: string; readonly egress: string };
  /** Absolute paths: detach removes these pins and no others. */
  readonly pins: readonly string[];
}

export function stateFile(dir: string): string {
  // node:crypto costs more to load than the rest of show together: load it when a name is needed
  const { createHash } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return path.join(STATE_DIR, `mes_pkt-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.json`);
}
export function readState(dir: string): State | undefined {
  try {
    const s = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as State;
    return s.version === 2 && s.pinDir === dir ? s : undefined;
  } catch { return undefined; }
}
export function writeState(s: State): void {
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

/** How a probe is attached, in words: "tcx links 12 (ingress), 13 (egress), pinned in DIR" or "tc (cls_bpf) filters, priority 49152". */
export function describeAttachment(hooks: readonly HookState[], dir: string): string {
  if (!hooks.length) return 'not attached';
  if (hooks[0]!.method === 'tcx') return `tcx links ${hooks.map((h) => `${h.linkId} (${h.dev} ${h.hook})`).join(', ')}, pinned in ${dir}`;
  return `tc (cls_bpf) filters ${hooks.map((h) => `${FILTER_NAMES[h.hook]} (${h.dev} ${h.hook}, priority ${h.priority})`).join(', ')}, on clsact qdiscs`;
}

/** Thrown by show/reset when there is nothing to read. */
export class NotAttachedError extends Error {
  override name = 'NotAttachedError';
}

/** Which mode's pins are in dir: the one attach recorded, else whichever are complete. */
export function pinnedMode(dir: string): Mode {
  const complete = MODES.filter((m) => probeMaps(m, 16).every((x) => existsSync(pinPath(dir, x))));
  if (!complete.length) throw new NotAttachedError(`nothing is attached: no probe maps under ${dir}. Run '${SELF} attach <dev>' first.`);
  // both complete (a mode's pins left beside the other's): the one attach recorded
  const recorded = complete.length > 1 ? readState(dir)?.mode : undefined;
  return recorded && complete.includes(recorded) ? recorded : complete[0]!;
}
