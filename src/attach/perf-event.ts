/**
 * The perf-event plumbing under uprobes, kprobes and tracepoints: a probe is a perf event
 * (perf_event_open with the uprobe/kprobe PMU, or PERF_TYPE_TRACEPOINT), and a KPROBE or
 * TRACEPOINT program runs at it once attached to that event, by a bpf link
 * (BPF_LINK_CREATE, attach type BPF_PERF_EVENT, Linux 5.15) or by the older ioctls
 * (PERF_EVENT_IOC_SET_BPF, then PERF_EVENT_IOC_ENABLE).
 *
 *   struct perf_event_attr (linux/perf_event.h), the bytes this file writes:
 *     0 type     u32   PMU: 2 tracepoint, or /sys/bus/event_source/devices/<pmu>/type
 *     4 size     u32   sizeof as we know it (the kernel zero-extends or checks the tail)
 *     8 config   u64   tracepoint id; for the probe PMUs bit <format/retprobe> = return probe
 *    16 sample_period u64, 40 flag bits u64, 48 wakeup_events u32
 *    56 config1  u64   uprobe: pointer to the binary's path; kprobe: pointer to the symbol
 *    64 config2  u64   uprobe: file offset; kprobe: offset from the symbol
 *
 * The layout is checked against the installed header by gcc (test/unit/probe-perf-event.test.ts).
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { Errno, errnoName } from '../errno.ts';
import { alloc, readU32, write, type Field, type Layout, type Values } from '../syscall/attr.ts';
import { objGetInfoByFd, objPin } from '../syscall/bpf.ts';
import { Cmd, attachTypeId } from '../syscall/constants.ts';
import type { Program } from '../syscall/program.ts';
import type { Sys } from '../syscall/sys.ts';

const u32 = (off: number): Field => ({ off, size: 4 });
const u64 = (off: number): Field => ({ off, size: 8 });

/** struct perf_event_attr up to sig_data: 128 bytes, PERF_ATTR_SIZE_VER7 (the installed 6.1 header's sizeof). */
export const PERF_EVENT_ATTR: Layout<
  'type' | 'size' | 'config' | 'sample_period' | 'sample_type' | 'read_format' | 'flags' | 'wakeup_events' |
  'bp_type' | 'config1' | 'config2' | 'branch_sample_type' | 'sample_regs_user' | 'sample_stack_user' |
  'clockid' | 'sample_regs_intr' | 'aux_watermark' | 'aux_sample_size' | 'sig_data'
> = {
  name: 'perf_event_attr', size: 128,
  fields: {
    type: u32(0), size: u32(4), config: u64(8), sample_period: u64(16), sample_type: u64(24), read_format: u64(32),
    flags: u64(40), wakeup_events: u32(48), bp_type: u32(52), config1: u64(56), config2: u64(64),
    branch_sample_type: u64(72), sample_regs_user: u64(80), sample_stack_user: u32(88), clockid: u32(92),
    sample_regs_intr: u64(96), aux_watermark: u32(104), aux_sample_size: u32(112), sig_data: u64(120),
  },
};

/**
 * union bpf_attr's link_create member, as far as a perf-event link needs it. The attach layer's
 * own BPF_LINK_CREATE (tcx, XDP) may replace this with a shared one; the bytes are the same.
 */
export const LINK_CREATE_PERF: Layout<'prog_fd' | 'target_fd' | 'attach_type' | 'flags' | 'bpf_cookie'> = {
  name: 'LINK_CREATE', size: 24,
  fields: { prog_fd: u32(0), target_fd: u32(4), attach_type: u32(8), flags: u32(12), bpf_cookie: u64(16) },
};

/** struct bpf_link_info: the head every link type shares. */
export const LINK_INFO_HEAD: Layout<'type' | 'id' | 'prog_id'> = {
  name: 'bpf_link_info', size: 16,
  fields: { type: u32(0), id: u32(4), prog_id: u32(8) },
};

export const PERF_TYPE_TRACEPOINT = 2;
export const PERF_FLAG_FD_CLOEXEC = 8;
/** _IO('$', 0), _IO('$', 1), _IOW('$', 8, __u32) */
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;

export const PMU_DIR = '/sys/bus/event_source/devices';

export type ProbeKind = 'uprobe' | 'uretprobe' | 'kprobe' | 'kretprobe' | 'tracepoint' | 'socket_filter';

/**
 * An attach of a probe or socket filter failed. One line: what, where, why, and what to do.
 * No half-state is left behind when it is thrown.
 */
export class ProbeError extends Error {
  override name = 'ProbeError';
  readonly kind: ProbeKind;
  /** 'libc.so.6:getpid', 'syscalls/sys_enter_getpid', 'eth0'. */
  readonly target: string;
  /** The positive errno, when a system call failed. */
  readonly errno: number | undefined;
  /** 'ENOENT' */
  readonly code: string | undefined;
  readonly hint: string | undefined;

  constructor(kind: ProbeKind, target: string, reason: string, opts: { errno?: number; hint?: string } = {}) {
    const code = opts.errno !== undefined ? errnoName(opts.errno) : undefined;
    super(`cannot attach ${kind} ${target}: ${reason}${code ? ` (${code})` : ''}${opts.hint ? `: ${opts.hint}` : ''}`);
    this.kind = kind;
    this.target = target;
    this.errno = opts.errno;
    this.code = code;
    this.hint = opts.hint;
  }
}

/** A perf_event_attr with the named fields set and size filled in. */
export function perfEventAttr(values: Values<keyof typeof PERF_EVENT_ATTR.fields>): Uint8Array {
  const a = alloc(PERF_EVENT_ATTR);
  write(PERF_EVENT_ATTR, a, { size: PERF_EVENT_ATTR.size, ...values });
  return a;
}

/** A dynamic PMU (uprobe, kprobe): its type number and the config bit that makes a return probe. */
export interface Pmu {
  readonly name: string;
  readonly type: number;
  /** The bit of config that asks for a return probe (format/retprobe says "config:0"). */
  readonly retprobeBit: number;
}

/** Read a PMU from sysfs; null when the kernel does not have it. */
export function readPmu(name: string, dir = PMU_DIR): Pmu | null {
  const base = `${dir}/${name}`;
  if (!existsSync(`${base}/type`)) return null;
  const type = Number(readFileSync(`${base}/type`, 'utf8').trim());
  let retprobeBit = 0;
  try {
    const m = /^config:(\d+)$/.exec(readFileSync(`${base}/format/retprobe`, 'utf8').trim());
    if (m) retprobeBit = Number(m[1]);
  } catch { /* older kernels: bit 0, as the kernel has always used */ }
  if (!Number.isInteger(type)) return null;
  return { name, type, retprobeBit };
}

/** The hint for a perf_event_open errno. */
function openHint(errno: number, kind: ProbeKind): string | undefined {
  switch (errno) {
    case Errno.EPERM: case Errno.EACCES:
      return 'perf events with BPF need root, or CAP_PERFMON + CAP_BPF (and kernel.perf_event_paranoid allowing it)';
    case Errno.ENOENT:
      return kind.startsWith('u') ? 'the binary does not exist (or is not visible in this mount namespace)' : 'no such probe point';
    case Errno.EINVAL:
      return kind.startsWith('u') ? 'the offset is not inside the file\'s code, or not on an instruction boundary' : undefined;
    case Errno.ESRCH:
      return 'no process has that pid';
    case Errno.ENOSYS:
      return 'this kernel has no perf_event_open (CONFIG_PERF_EVENTS is off)';
    default:
      return undefined;
  }
}

/** perf_event_open through the Sys seam; a failure is a ProbeError. */
export function openPerfEvent(sys: Sys, attr: Uint8Array, where: { pid: number; cpu: number }, kind: ProbeKind, target: string): number {
  if (!sys.perfEventOpen) throw new ProbeError(kind, target, 'this Sys has no perfEventOpen (a fake without perf events?)');
  const r = sys.perfEventOpen(attr, where.pid, where.cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (r < 0) throw new ProbeError(kind, target, 'perf_event_open failed', { errno: -r, hint: openHint(-r, kind) });
  return r;
}

export type PerfAttachMode = 'auto' | 'link' | 'ioctl';

export interface PerfAttachOptions {
  /** 'link' (BPF_LINK_CREATE), 'ioctl' (SET_BPF + ENABLE), or 'auto': a link where the kernel has them. */
  readonly mode?: PerfAttachMode;
  /** bpf_get_attach_cookie() returns this inside the program (links only). */
  readonly cookie?: bigint;
}

export interface PerfEventInfo {
  readonly kind: ProbeKind;
  readonly target: string;
  readonly mode: 'link' | 'ioctl';
  /** The bpf link's id (mode 'link'). */
  readonly linkId: number | undefined;
  /** The program the kernel runs there. */
  readonly progId: number | undefined;
  readonly pinnedAt: string | undefined;
}

/**
 * An attached probe: a perf event fd and, in link mode, the bpf link over it. close() (and
 * `using`) gives back our fds, which detaches unless the link was pinned; detach() also removes
 * the pin this handle made; release() lets go of a pinned one. Each is safe to call twice.
 */
export class PerfEventAttachment implements Disposable {
  readonly kind: ProbeKind;
  readonly target: string;
  readonly mode: 'link' | 'ioctl';
  readonly perfFd: number;
  readonly linkFd: number | undefined;
  private readonly sys: Sys;
  private pinned: string | undefined;
  private closed = false;

  constructor(o: { kind: ProbeKind; target: string; mode: 'link' | 'ioctl'; perfFd: number; linkFd?: number; sys: Sys }) {
    this.kind = o.kind;
    this.target = o.target;
    this.mode = o.mode;
    this.perfFd = o.perfFd;
    this.linkFd = o.linkFd;
    this.sys = o.sys;
  }

  get attached(): boolean { return !this.closed; }

  info(): PerfEventInfo {
    let linkId: number | undefined, progId: number | undefined;
    if (!this.closed && this.linkFd !== undefined) {
      const buf = alloc(LINK_INFO_HEAD, 64);
      objGetInfoByFd(this.sys, this.linkFd, buf);
      linkId = readU32(LINK_INFO_HEAD, buf, 'id');
      progId = readU32(LINK_INFO_HEAD, buf, 'prog_id');
    }
    return { kind: this.kind, target: this.target, mode: this.mode, linkId, progId, pinnedAt: this.pinned };
  }

  /** Pin the link in bpffs: the probe stays attached after this process exits, until the pin is removed. */
  pin(path: string): void {
    if (this.closed) throw new ProbeError(this.kind, this.target, 'the attachment is closed');
    if (this.linkFd === undefined) {
      throw new ProbeError(this.kind, this.target, 'only a bpf link can be pinned, and this one is attached by ioctl', { hint: "attach with { mode: 'link' } (Linux 5.15+)" });
    }
    objPin(this.sys, this.linkFd, path);
    this.pinned = path;
  }

  /** Give back our fds: the probe detaches unless a pin holds the link. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.linkFd !== undefined) this.sys.close(this.linkFd);
    else this.sys.ioctl?.(this.perfFd, PERF_EVENT_IOC_DISABLE, 0);
    this.sys.close(this.perfFd);
  }

  /**
   * Stop owning a pinned link: close our fds and leave the probe attached (the attach layer's
   * release()). An unpinned probe would detach with its fds, so that is refused.
   */
  release(): void {
    if (this.closed) return;
    if (!this.pinned) throw new ProbeError(this.kind, this.target, 'releasing would detach it: pin it first (pin(path)), or close() to detach');
    this.close();
  }

  /** close(), and remove the pin this handle made (nothing else). */
  detach(): void {
    this.close();
    if (this.pinned) {
      try { unlinkSync(this.pinned); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
      this.pinned = undefined;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Run `prog` at the perf event `perfFd`. Takes ownership of perfFd: on failure it is closed, so
 * the caller never has to clean up after a throw.
 */
export function attachToPerfEvent(prog: Program, perfFd: number, kind: ProbeKind, target: string, opts: PerfAttachOptions & { sys?: Sys } = {}): PerfEventAttachment {
  const sys = opts.sys ?? prog.sys;
  const mode = opts.mode ?? 'auto';
  try {
    if (mode !== 'ioctl') {
      const a = alloc(LINK_CREATE_PERF);
      write(LINK_CREATE_PERF, a, { prog_fd: prog.fd, target_fd: perfFd, attach_type: attachTypeId('perf_event'), bpf_cookie: opts.cookie ?? 0n });
      const r = sys.bpf(Cmd.LINK_CREATE, a);
      if (r >= 0) return new PerfEventAttachment({ kind, target, mode: 'link', perfFd, linkFd: r, sys });
      // Before 5.15 a perf event takes no link (EINVAL for the attach type): the ioctls still work.
      if (mode === 'link' || -r !== Errno.EINVAL) throw linkError(-r, prog, kind, target);
    }
    if (opts.cookie) throw new ProbeError(kind, target, 'a bpf cookie needs a bpf link', { hint: "use { mode: 'link' } on Linux 5.15+" });
    if (!sys.ioctl) throw new ProbeError(kind, target, 'this Sys has no ioctl');
    let r = sys.ioctl(perfFd, PERF_EVENT_IOC_SET_BPF, prog.fd);
    if (r < 0) throw linkError(-r, prog, kind, target);
    r = sys.ioctl(perfFd, PERF_EVENT_IOC_ENABLE, 0);
    if (r < 0) throw new ProbeError(kind, target, 'PERF_EVENT_IOC_ENABLE failed', { errno: -r });
    return new PerfEventAttachment({ kind, target, mode: 'ioctl', perfFd, sys });
  } catch (e) {
    sys.close(perfFd);
    throw e;
  }
}

function linkError(errno: number, prog: Program, kind: ProbeKind, target: string): ProbeError {
  const want = kind === 'tracepoint' ? 'tracepoint' : 'kprobe';
  const hint = errno === Errno.EINVAL ? `the kernel refused program '${prog.name}' (type ${prog.type}) here: a ${kind} runs ${want}-type programs`
    : errno === Errno.EEXIST ? 'a program is already attached to this perf event'
    : errno === Errno.EPERM || errno === Errno.EACCES ? 'attaching needs root, or CAP_PERFMON + CAP_BPF' : undefined;
  return new ProbeError(kind, target, `attaching program '${prog.name}' failed`, { errno, hint });
}

/** Refuse a program of the wrong type before any system call, so nothing is created. */
export function expectProgramType(prog: Program, want: string, kind: ProbeKind, target: string): void {
  if (prog.type !== want) {
    throw new ProbeError(kind, target, `program '${prog.name}' is a ${prog.type} program, and a ${kind} runs ${want} programs`,
      { hint: `load it with type: '${want}'` });
  }
}
