/**
 * attachTc: a SCHED_CLS program on a device's ingress or egress hook, in one of two ways.
 *
 *   tcx      BPF_LINK_CREATE, attach type BPF_TCX_INGRESS|EGRESS, target = ifindex (Linux 6.6).
 *            The attachment is a link: owned (gone when the link is), ordered (BPF_F_BEFORE /
 *            AFTER relative to a program or link, checked against the hook's revision), and
 *            safe from `tc qdisc del`. No qdisc is involved.
 *   cls_bpf  rtnetlink: a clsact qdisc (added when missing, and then ours) and a direct-action
 *            "bpf" filter on ffff:fff2 / ffff:fff3, as `tc filter add … bpf da` does.
 *   auto     tcx where the kernel has it, else cls_bpf; cls_bpf also when a cls_bpf setting
 *            (priority, name, a { priority, handle } replace) is given. The kernel is asked once
 *            per Sys with a PROG_QUERY for tcx on lo: without tcx it does not know the attach type.
 *
 * Both can sit on one hook; tcx runs first, and cls_bpf runs only when the tcx programs all
 * return TCX_NEXT (TC_ACT_UNSPEC, -1): see docs/attach.md.
 *
 * Link creation resolves the ifindex in the caller's network namespace, so with `netns` the
 * LINK_CREATE runs with the thread inside it (withNetns); netlink uses a socket opened there.
 */
import { getLink } from '../netlink/link.ts';
import { NetlinkError } from '../netlink/error.ts';
import { routeSocket, type RouteSocket } from '../netlink/socket.ts';
import { deleteClsact, ensureClsact } from '../netlink/qdisc.ts';
import { attachBpf, detachBpf, listFilters, replaceBpf, type Filter } from '../netlink/filter.ts';
import { AttachFlags, attachTypeId } from '../syscall/constants.ts';
import { BpfError } from '../syscall/errors.ts';
import { progInfo } from '../syscall/info.ts';
import { BpfLink, linkCreate, openLinkById, openPinnedLink, progQuery, type QueryResult } from '../syscall/link.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import { AttachError, inNetns, programType, where, type Attachment, type NetAttachmentInfo, type ProgramLike } from './attachment.ts';
import { pinnedLinkState } from './link.ts';
import { linkOwner, netlinkOwner, pinNewLink } from './owner.ts';
import { Errno, errnoValue } from '../errno.ts';

export type TcHook = 'ingress' | 'egress';
export type TcMode = 'auto' | 'tcx' | 'cls_bpf';

/**
 * Where a tcx program goes relative to others: true = first (before) / last (after) on the
 * hook; a program, a link, or their ids = right before / after that one.
 */
export type Anchor = true | TcAttachment | BpfLink | ProgramLike | { readonly progId: number } | { readonly linkId: number };

/** tcx: a link to give the new program (LINK_UPDATE). cls_bpf: a filter to replace in place. */
export type TcReplace =
  | TcAttachment | BpfLink | { readonly linkId: number } | { readonly pinned: string }
  | { readonly priority: number; readonly handle: number };

export interface TcOptions {
  readonly mode?: TcMode;
  /** A named network namespace (/var/run/netns/NAME) or a path (/proc/PID/ns/net). */
  readonly netns?: string;
  readonly before?: Anchor;
  readonly after?: Anchor;
  readonly replace?: TcReplace;
  /**
   * tcx: pin the link here. When a tcx link for this device and hook is pinned there already,
   * it is given the program (LINK_UPDATE) instead of adding another: attaching twice replaces,
   * never stacks. A pinned link whose device is gone is removed and made anew.
   */
  readonly pin?: string;
  /** tcx: refuse (ESTALE) unless the hook is still at this revision (from tcxQuery). */
  readonly expectedRevision?: bigint | number;
  /** cls_bpf: 1..65535, default: the kernel picks. */
  readonly priority?: number;
  /** cls_bpf: the filter's name, default the program's. */
  readonly name?: string;
  readonly sys?: Sys;
}

export interface TcAttachment extends Attachment {
  readonly kind: 'tcx' | 'cls_bpf';
  readonly hook: TcHook;
  readonly ifindex: number;
  readonly netns: string | undefined;
  /** tcx: the link. */
  readonly link: BpfLink | undefined;
  /** cls_bpf: the filter as the kernel echoed it. */
  readonly filter: Filter | undefined;
  info(): NetAttachmentInfo;
}

const { ENOENT, EINVAL, EEXIST, ERANGE, EPERM } = Errno;
const ESTALE = errnoValue('ESTALE');

const tcxKnown = new WeakMap<Sys, boolean>();

/**
 * Whether this kernel has tcx, asked once per Sys: BPF_PROG_QUERY for BPF_TCX_INGRESS on lo
 * (ifindex 1 in every namespace). A kernel before 6.6 refuses the attach type with EINVAL.
 */
export function hasTcx(sys: Sys = defaultSys): boolean {
  const known = tcxKnown.get(sys);
  if (known !== undefined) return known;
  let yes: boolean;
  try {
    progQuery(sys, 1, attachTypeId('tcx_ingress'));
    yes = true;
  } catch (e) {
    if (!(e instanceof BpfError) || e.errno !== EINVAL) throw e;
    yes = false;
  }
  tcxKnown.set(sys, yes);
  return yes;
}

/** hasTcx, with a refusal for lack of privilege said as what the attach needs. */
function tcxPresent(sys: Sys, target: string): boolean {
  try {
    return hasTcx(sys);
  } catch (e) {
    if (e instanceof BpfError && e.errno === EPERM) throw new AttachError(target, `attaching at ${target} needs root (CAP_NET_ADMIN and CAP_BPF): EPERM`, 'EPERM');
    throw e;
  }
}

const tcxType = (hook: TcHook): number => attachTypeId(hook === 'ingress' ? 'tcx_ingress' : 'tcx_egress');

/** What runs on a tcx hook, in order: program ids, their link ids (0: not a link), the revision. */
export function tcxQuery(dev: string | number, hook: TcHook, opts: { netns?: string; sys?: Sys } = {}): QueryResult & { ifindex: number } {
  const sys = opts.sys ?? defaultSys;
  const ifindex = resolveIfindex(dev, opts.netns);
  return { ...inNetns(opts.netns, () => progQuery(sys, ifindex, tcxType(hook))), ifindex };
}

function resolveIfindex(dev: string | number, netns: string | undefined, sock?: RouteSocket): number {
  if (sock) return getLink(sock, dev).index;
  using s = routeSocket({ netns });
  return getLink(s, dev).index;
}

function checkType(prog: ProgramLike, target: string, sys: Sys): void {
  const type = programType(prog, sys);
  if (type !== 'sched_cls') {
    throw new AttachError(target, `program${prog.name ? ` '${prog.name}'` : ''} is of type ${type}, but tc hooks run sched_cls programs: ` +
      `load it with type 'sched_cls'${type === 'xdp' ? ', or attach it with attachXdp' : ''}`);
  }
}

/** LINK_CREATE flags and relative fd/id for before/after. */
export function anchorFlags(before: Anchor | undefined, after: Anchor | undefined, target: string): { flags: number; relative: number | undefined } {
  if (before !== undefined && after !== undefined) {
    throw new AttachError(target, 'give before or after, not both (the kernel would have to satisfy both at once)');
  }
  const a = before ?? after;
  if (a === undefined) return { flags: 0, relative: undefined };
  const side = before !== undefined ? AttachFlags.BEFORE : AttachFlags.AFTER;
  if (a === true) return { flags: side, relative: undefined };
  if ('linkId' in a && typeof a.linkId === 'number') return { flags: side | AttachFlags.LINK | AttachFlags.ID, relative: a.linkId };
  if ('progId' in a && typeof a.progId === 'number') return { flags: side | AttachFlags.ID, relative: a.progId };
  if (a instanceof BpfLink) return { flags: side | AttachFlags.LINK, relative: a.fd };
  if ('kind' in a && (a.kind === 'tcx' || a.kind === 'cls_bpf')) {
    if (!a.link) throw new AttachError(target, 'a cls_bpf filter cannot anchor tcx ordering: tcx programs always run before cls_bpf filters');
    return { flags: side | AttachFlags.LINK, relative: a.link.fd };
  }
  return { flags: side, relative: (a as ProgramLike).fd };
}

/** Words for a LINK_CREATE refusal on a tcx hook. */
function tcxRefusal(e: BpfError, target: string, prog: ProgramLike, anchored: boolean, expected: bigint | undefined): AttachError {
  const what = prog.name ? `program '${prog.name}'` : 'the program';
  switch (e.errno) {
    case EEXIST: return new AttachError(target, `${what} is already attached at ${target} (tcx runs a program once per hook): detach it first, or replace its link`, e.code);
    case ESTALE: return new AttachError(target, `${target} changed since revision ${expected}: query it again (tsbpf net list) and retry with the new revision`, e.code);
    case ENOENT: if (anchored) return new AttachError(target, `the program or link given as before/after is not attached at ${target}: list the hook with \`tsbpf net list\``, e.code); break;
    case ERANGE: return new AttachError(target, `before/after cannot be satisfied at ${target} (the hook is full, or the position contradicts itself)`, e.code);
    case EPERM: return new AttachError(target, `attaching at ${target} needs root (CAP_NET_ADMIN and CAP_BPF): ${e.code}`, e.code);
    default: break;
  }
  return new AttachError(target, `attaching ${what} at ${target} failed: ${e.message}`, e.code);
}

/** Attach a SCHED_CLS program to a device's tc hook; see the module comment for the modes. */
export function attachTc(prog: ProgramLike, dev: string | number, hook: TcHook, opts: TcOptions = {}): TcAttachment {
  const sys = opts.sys ?? defaultSys;
  if (hook !== 'ingress' && hook !== 'egress') throw new AttachError(String(dev), `unknown tc hook '${String(hook)}': expected ingress or egress`);
  const requested = opts.mode ?? 'auto';
  if (requested !== 'auto' && requested !== 'tcx' && requested !== 'cls_bpf') {
    throw new AttachError(String(dev), `unknown tc mode '${String(requested)}': expected auto, tcx or cls_bpf`);
  }
  const ordered = opts.before !== undefined || opts.after !== undefined || opts.expectedRevision !== undefined;
  const clsSettings = opts.priority !== undefined || opts.name !== undefined ||
    (opts.replace !== undefined && 'priority' in opts.replace && 'handle' in opts.replace);
  const noTcx = (): AttachError => new AttachError(where(dev, opts.netns),
    `this kernel has no tcx (BPF_TCX_INGRESS/EGRESS need Linux 6.6)${ordered ? ', which before/after/expectedRevision need' : ''}: ` +
    "attach with mode 'cls_bpf' and order filters by priority instead");
  let mode: 'tcx' | 'cls_bpf';
  if (requested === 'cls_bpf' || (requested === 'auto' && clsSettings && !ordered)) mode = 'cls_bpf';
  // Asked for tcx: just try it (a kernel without it refuses LINK_CREATE with EINVAL, checked then).
  else if (requested === 'tcx') mode = 'tcx';
  else if (tcxPresent(sys, `tc ${hook} on ${where(dev, opts.netns)}`)) mode = 'tcx';
  else if (ordered) throw noTcx();
  else mode = 'cls_bpf';
  const target = `${mode === 'tcx' ? 'tcx' : 'cls_bpf'} ${hook} on ${where(dev, opts.netns)}`;
  checkType(prog, target, sys);
  if (mode === 'cls_bpf') return attachClsBpf(prog, dev, hook, opts, sys, target);
  try {
    return attachTcx(prog, dev, hook, opts, sys, target);
  } catch (e) {
    if (e instanceof AttachError && e.code === 'EINVAL' && !tcxPresent(sys, target)) throw noTcx();
    throw e;
  }
}

function attachTcx(prog: ProgramLike, dev: string | number, hook: TcHook, opts: TcOptions, sys: Sys, target: string): TcAttachment {
  if (opts.priority !== undefined || opts.name !== undefined) {
    throw new AttachError(target, 'priority and name are cls_bpf filter settings; tcx orders programs with before/after');
  }
  const ifindex = resolveIfindex(dev, opts.netns);
  const expected = opts.expectedRevision !== undefined ? BigInt(opts.expectedRevision) : undefined;
  let link: BpfLink;
  let created: string[];
  let pinnedAt: string | undefined;
  let replace = opts.replace;
  if (opts.pin !== undefined && replace === undefined && pinnedLinkState(opts.pin, `tcx_${hook}`, ifindex, target, sys) === 'ours') replace = { pinned: opts.pin };
  if (replace !== undefined) {
    link = replaceableLink(replace, target, sys);
    pinnedAt = 'pinned' in replace ? replace.pinned : undefined;
    try {
      const info = link.info();
      if (info.type !== 'tcx' || info.attachType !== `tcx_${hook}`) {
        throw new AttachError(target, `the link to replace is a ${info.type} link${info.attachType ? ` on ${info.attachType}` : ''}, not tcx ${hook}`);
      }
      link.update(prog.fd);
    } catch (e) {
      if (!('link' in replace) && !(replace instanceof BpfLink)) link.close();
      throw e instanceof BpfError ? tcxRefusal(e, target, prog, false, expected) : e;
    }
    created = [];
  } else {
    const { flags, relative } = anchorFlags(opts.before, opts.after, target);
    let fd: number;
    try {
      fd = inNetns(opts.netns, () => linkCreate(sys, {
        progFd: prog.fd, target: ifindex, attachType: tcxType(hook), flags, relative, expectedRevision: expected,
      }));
    } catch (e) {
      throw e instanceof BpfError ? tcxRefusal(e, target, prog, relative !== undefined, expected) : e;
    }
    link = new BpfLink(fd, sys);
    created = ['tcx link'];
    if (opts.pin !== undefined) {
      pinNewLink(link, opts.pin);
      pinnedAt = opts.pin;
    }
  }
  return tcxHandle(link, { dev, hook, ifindex, netns: opts.netns, created, pinnedAt, ownsFd: !isCallersLink(replace) });
}

const isCallersLink = (r: TcReplace | undefined): boolean => r instanceof BpfLink || (r !== undefined && 'link' in r && r.link !== undefined);

/** The link a replace names, opened (or the caller's own). */
function replaceableLink(r: TcReplace, target: string, sys: Sys): BpfLink {
  if (r instanceof BpfLink) return r;
  if ('linkId' in r) return openLinkById(r.linkId, sys);
  if ('pinned' in r) return openPinnedLink(r.pinned, sys);
  if ('kind' in r) {
    if (!r.link) throw new AttachError(target, 'the attachment to replace is a cls_bpf filter, not a tcx link: replace it in cls_bpf mode');
    return r.link;
  }
  throw new AttachError(target, 'a priority/handle pair names a cls_bpf filter: replace it in cls_bpf mode, or give a tcx link');
}

function tcxHandle(link: BpfLink, s: { dev: string | number; hook: TcHook; ifindex: number; netns: string | undefined; created: string[]; pinnedAt: string | undefined; ownsFd: boolean }): TcAttachment {
  const own = linkOwner(link, { created: s.created, pinnedAt: s.pinnedAt, ownsFd: s.ownsFd, target: `tcx ${s.hook} on ${where(s.dev, s.netns)}`, what: 'tcx' });
  return {
    ...own.methods,
    kind: 'tcx', hook: s.hook, ifindex: s.ifindex, netns: s.netns, link, filter: undefined,
    info(): NetAttachmentInfo {
      const i = link.info();
      const pinned = own.pinned();
      return {
        kind: 'tcx', dev: s.dev, ifindex: s.ifindex, netns: s.netns, hook: s.hook, progId: i.progId, linkId: i.id,
        ...(pinned ? { pinned } : {}), created: s.created,
      };
    },
  };
}

function attachClsBpf(prog: ProgramLike, dev: string | number, hook: TcHook, opts: TcOptions, sys: Sys, target: string): TcAttachment {
  if (opts.before !== undefined || opts.after !== undefined || opts.expectedRevision !== undefined) {
    throw new AttachError(target, 'before/after/expectedRevision order tcx programs; cls_bpf filters run in priority order: pass priority');
  }
  if (opts.pin !== undefined) throw new AttachError(target, 'a cls_bpf filter is not a bpf object and cannot be pinned: use tcx to pin');
  const r = opts.replace;
  if (r !== undefined && !('priority' in r && 'handle' in r) && !('kind' in r && r.kind === 'cls_bpf')) {
    throw new AttachError(target, 'in cls_bpf mode, replace names a filter: { priority, handle } or a cls_bpf attachment');
  }
  using sock = routeSocket({ netns: opts.netns });
  const ifindex = resolveIfindex(dev, opts.netns, sock);
  const name = opts.name ?? (prog.name || `prog_${progInfo(prog.fd, { sys }).id}`);
  const qdisc = ensureClsact(sock, ifindex);
  let f: Filter;
  try {
    if (r !== undefined) {
      const at = 'kind' in r ? { priority: r.filter!.priority, handle: r.filter!.handle } : r as { priority: number; handle: number };
      const existing = listFilters(sock, ifindex, hook).find((x) => x.priority === at.priority && x.handle === at.handle);
      if (!existing) throw new AttachError(target, `no filter with priority ${at.priority} handle 0x${at.handle.toString(16)} to replace at ${target}: list them with \`tsbpf tc list ${dev}${opts.netns ? ` --netns ${opts.netns}` : ''}\``);
      f = replaceBpf(sock, ifindex, hook, { fd: prog.fd, name, priority: at.priority, handle: at.handle });
    } else {
      f = attachBpf(sock, ifindex, hook, { fd: prog.fd, name, priority: opts.priority });
    }
  } catch (e) {
    if (qdisc.created) removeQdiscIfEmpty(sock, ifindex);
    throw e instanceof NetlinkError && e.code === 'EINVAL' && /type|prog/i.test(e.extack ?? '')
      ? new AttachError(target, `the kernel refused the program at ${target}: ${e.message}`, e.code)
      : e;
  }
  const created = [...(qdisc.created ? ['clsact qdisc'] : []), ...(r === undefined ? ['cls_bpf filter'] : [])];
  const remove = (): void => {
    using s = routeSocket({ netns: opts.netns });
    try {
      detachBpf(s, ifindex, hook, { priority: f.priority, handle: f.handle });
    } catch (e) {
      // Someone removed it (or its qdisc, or the device) already: what we wanted gone is gone.
      if (!(e instanceof NetlinkError) || !['ENOENT', 'EINVAL', 'ENODEV'].includes(e.code)) throw e;
      if (e.code === 'ENODEV') return;
    }
    if (qdisc.created) removeQdiscIfEmpty(s, ifindex);
  };
  return {
    ...netlinkOwner(remove, {
      created,
      pinRefusal: () => new AttachError(target, 'a cls_bpf filter is not a bpf object and cannot be pinned: it stays until deleted; use release() to leave it attached'),
    }),
    kind: 'cls_bpf', hook, ifindex, netns: opts.netns, link: undefined, filter: f,
    info: () => ({
      kind: 'cls_bpf', dev, ifindex, netns: opts.netns, hook, progId: f.bpf?.progId ?? 0, priority: f.priority, handle: f.handle, created,
    }),
  };
}

/** Delete a clsact qdisc we added, unless filters (ours or others') hang off it now. */
function removeQdiscIfEmpty(sock: RouteSocket, ifindex: number): void {
  try {
    if (listFilters(sock, ifindex).length === 0) deleteClsact(sock, ifindex);
  } catch { /* best effort: the caller's error, or the detach that worked, is what matters */ }
}
