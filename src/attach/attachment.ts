/**
 * What every attach returns: a Disposable owner of one attachment. It remembers what it
 * created (a clsact qdisc, a cls_bpf filter, a link, an XDP program on a device, a perf event,
 * a packet socket) and removes only that; what it found there already, it leaves alone.
 *
 *   detach()          remove what this handle created, now
 *   pin(path)         links only: the attachment outlives the process (close() then keeps it)
 *   release()         stop owning: close fds, leave the attachment in place (links must be pinned;
 *                     a socket filter or an ioctl-attached probe ends with its fd, so it refuses)
 *   close() / using   detach() unless pinned or released
 */
import { withNetns } from '../netlink/netns.ts';
import { progInfo } from '../syscall/info.ts';
import type { Program } from '../syscall/program.ts';
import type { Sys } from '../syscall/sys.ts';

/** Attachments to a network device's hooks. */
export type NetAttachKind = 'tcx' | 'cls_bpf' | 'xdp_link' | 'xdp_netlink';
/** A program run at a perf event (perf-event.ts): a probe placed by a PMU, or a tracepoint. */
export type ProbeAttachKind = 'uprobe' | 'uretprobe' | 'kprobe' | 'kretprobe' | 'tracepoint';
export type AttachKind = NetAttachKind | ProbeAttachKind | 'socket_filter';

/** What an attachment to a device's tc or XDP hook is, for printing and JSON. */
export interface NetAttachmentInfo {
  readonly kind: NetAttachKind;
  readonly dev: string | number;
  readonly ifindex: number;
  readonly netns: string | undefined;
  /** tc: 'ingress' | 'egress'; XDP: 'xdp'. */
  readonly hook: 'ingress' | 'egress' | 'xdp';
  readonly progId: number;
  /** tcx and XDP links. */
  readonly linkId?: number;
  /** cls_bpf. */
  readonly priority?: number;
  readonly handle?: number;
  /** XDP: 'skb' | 'drv' | 'hw'. */
  readonly xdpMode?: string;
  /** The pin path, once pinned. */
  readonly pinned?: string;
  /** What this handle created and will remove. */
  readonly created: readonly string[];
}

/** What a uprobe, kprobe or tracepoint attachment is. */
export interface ProbeAttachmentInfo {
  readonly kind: ProbeAttachKind;
  /** 'libc.so.6:getpid', 'syscalls/sys_enter_getpid', 'do_sys_openat2+0x4'. */
  readonly target: string;
  /** A bpf link over the perf event, or the older ioctls (which leave no link to name). */
  readonly mode: 'link' | 'ioctl';
  /** The link's id (mode 'link', while open). */
  readonly linkId: number | undefined;
  /** The program the kernel runs there (mode 'link', while open). */
  readonly progId: number | undefined;
  /** The pin path, once pinned. */
  readonly pinned?: string;
  /** The same as pinned (the name this info had before it joined AttachmentInfo). */
  readonly pinnedAt: string | undefined;
  readonly created: readonly string[];
}

/** What a socket filter attachment is. */
export interface SocketFilterAttachmentInfo {
  readonly kind: 'socket_filter';
  /** 'veth0 in network namespace 'ns'', 'every interface'. */
  readonly target: string;
  readonly netns: string | undefined;
  /** 0 when bound to every interface. */
  readonly ifindex: number;
  /** The program's name. */
  readonly program: string;
  /** The program's id, while the socket and the Program are open. */
  readonly progId: number | undefined;
  readonly created: readonly string[];
}

/**
 * What an attachment is, for printing and JSON; `kind` tells which. Every kind has progId,
 * created, and (where it can have one) linkId and pinned.
 */
export type AttachmentInfo = NetAttachmentInfo | ProbeAttachmentInfo | SocketFilterAttachmentInfo;

export interface Attachment extends Disposable {
  readonly kind: AttachKind;
  info(): AttachmentInfo;
  /** Remove what this handle created; idempotent. */
  detach(): void;
  /** Links: pin at a bpffs path. Netlink attachments are not bpf objects and cannot be pinned. */
  pin(path: string): void;
  /** Leave the attachment in place and close our fds (a link must be pinned first). */
  release(): void;
  close(): void;
}

/** A program to attach: a loaded Program, or any program fd. */
export type ProgramLike = Pick<Program, 'fd'> & Partial<Pick<Program, 'name' | 'type'>>;

/** Run fn inside network namespace `netns` (synchronously), or here when it is undefined. */
export function inNetns<R>(netns: string | undefined, fn: () => R): R {
  return netns ? withNetns(netns, fn) : fn();
}

/** The program's type as the kernel has it: from the Program, or asked of the kernel. */
export function programType(prog: ProgramLike, sys: Sys): string {
  return prog.type ?? progInfo(prog.fd, { sys }).type;
}

/** A hook refused a program of another type. */
export class AttachError extends Error {
  override name = 'AttachError';
  /** What was being attached where, e.g. "tcx ingress on veth0". */
  readonly target: string;
  /** The errno name when the kernel refused, else undefined. */
  readonly code: string | undefined;

  constructor(target: string, message: string, code?: string) {
    super(message);
    this.target = target;
    this.code = code;
  }
}

/** "veth0", or "veth0 in network namespace 'ns'". */
export function where(dev: string | number, netns: string | undefined): string {
  const d = typeof dev === 'number' ? `interface #${dev}` : dev;
  return netns ? `${d} in network namespace '${netns}'` : d;
}
