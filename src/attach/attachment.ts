/**
 * What every attach returns: a Disposable owner of one attachment. It remembers what it
 * created (a clsact qdisc, a cls_bpf filter, a link, an XDP program on a device) and removes
 * only that; what it found there already, it leaves alone.
 *
 *   detach()          remove what this handle created, now
 *   pin(path)         links only: the attachment outlives the process (close() then keeps it)
 *   release()         stop owning: close fds, leave the attachment in place (links must be pinned)
 *   close() / using   detach() unless pinned or released
 */
import { withNetns } from '../netlink/netns.ts';
import { progInfo } from '../syscall/info.ts';
import type { Program } from '../syscall/program.ts';
import type { Sys } from '../syscall/sys.ts';

export type AttachKind = 'tcx' | 'cls_bpf' | 'xdp_link' | 'xdp_netlink';

/** What an attachment is, for printing and JSON. */
export interface AttachmentInfo {
  readonly kind: AttachKind;
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
