/**
 * Tracepoints: run a TRACEPOINT program at a static kernel trace event (syscalls/sys_enter_getpid,
 * sched/sched_switch…). The event's id is in tracefs (events/<category>/<name>/id); a perf event
 * of PERF_TYPE_TRACEPOINT with config = that id is what the program attaches to.
 *
 * The program runs for every process (the perf event's pid does not filter BPF): filter in the
 * program, e.g. on bpf_get_current_pid_tgid() >> 32.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { errnoName } from '../errno.ts';
import { parseMounts } from '../syscall/bpffs.ts';
import type { Program } from '../syscall/program.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import {
  PERF_TYPE_TRACEPOINT, ProbeError, attachToPerfEvent, expectProgramType, openPerfEvent, perfEventAttr,
  type PerfAttachMode, type PerfEventAttachment,
} from './perf-event.ts';

export const TRACEFS_DEFAULT = '/sys/kernel/tracing';

export interface TracefsOptions {
  readonly sys?: Sys;
  /** /proc/self/mounts text (tests). */
  readonly mountsText?: string;
  /** Mount tracefs when it is not mounted (default true). */
  readonly mount?: boolean;
}

/**
 * Where tracefs is: a tracefs mount, or debugfs's tracing/ directory, or tracefs mounted at
 * /sys/kernel/tracing now (as bpffs is mounted by ensureBpffs).
 */
export function ensureTracefs(opts: TracefsOptions = {}): string {
  const mounts = parseMounts(opts.mountsText ?? readFileSync('/proc/self/mounts', 'utf8'));
  const tracefs = mounts.find((m) => m.fstype === 'tracefs');
  if (tracefs) return tracefs.target;
  const debugfs = mounts.find((m) => m.fstype === 'debugfs');
  if (debugfs) {
    try { readFileSync(`${debugfs.target}/tracing/events/header_page`); return `${debugfs.target}/tracing`; } catch { /* not populated */ }
  }
  if (opts.mount === false) throw new Error(`tracefs is not mounted: mount it with 'mount -t tracefs tracefs ${TRACEFS_DEFAULT}'`);
  const sys = opts.sys ?? defaultSys;
  if (!opts.sys) mkdirSync(TRACEFS_DEFAULT, { recursive: true });
  const r = sys.mount ? sys.mount('tracefs', TRACEFS_DEFAULT, 'tracefs', 0, null) : -38;
  if (r < 0) {
    const code = errnoName(-r);
    throw new Error(`mounting tracefs at ${TRACEFS_DEFAULT} failed: ${code}${code === 'EPERM' ? ': mounting needs root (CAP_SYS_ADMIN)' : ''}`);
  }
  return TRACEFS_DEFAULT;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** The id of a tracepoint, from tracefs. */
export function tracepointId(category: string, name: string, tracefs = ensureTracefs()): number {
  const target = `${category}/${name}`;
  if (!NAME.test(category) || !NAME.test(name)) throw new ProbeError('tracepoint', target, 'category and name are words like syscalls and sys_enter_getpid');
  let text: string;
  try {
    text = readFileSync(`${tracefs}/events/${category}/${name}/id`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ProbeError('tracepoint', target, 'no such tracepoint',
        { hint: `list them with \`ls ${tracefs}/events/${category}\`${category === 'syscalls' ? ' (syscall tracepoints need CONFIG_FTRACE_SYSCALLS)' : ''}` });
    }
    throw new ProbeError('tracepoint', target, `cannot read its id: ${(e as Error).message}`);
  }
  const id = Number(text.trim());
  if (!Number.isInteger(id) || id <= 0) throw new ProbeError('tracepoint', target, `tracefs gave an unreadable id '${text.trim()}'`);
  return id;
}

export interface TracepointOptions {
  readonly mode?: PerfAttachMode;
  readonly cookie?: bigint;
  readonly sys?: Sys;
  /** tracefs mount point; found or mounted when absent. */
  readonly tracefs?: string;
}

/** Attach a TRACEPOINT program to category/name. On any failure nothing is left open. */
export function attachTracepoint(prog: Program, category: string, name: string, o: TracepointOptions = {}): PerfEventAttachment {
  const target = `${category}/${name}`;
  expectProgramType(prog, 'tracepoint', 'tracepoint', target);
  const sys = o.sys ?? prog.sys;
  const id = tracepointId(category, name, o.tracefs ?? ensureTracefs({ sys }));
  const attr = perfEventAttr({ type: PERF_TYPE_TRACEPOINT, config: BigInt(id), sample_period: 1n, wakeup_events: 1 });
  const fd = openPerfEvent(sys, attr, { pid: -1, cpu: 0 }, 'tracepoint', target);
  return attachToPerfEvent(prog, fd, 'tracepoint', target, { mode: o.mode, cookie: o.cookie, sys });
}
