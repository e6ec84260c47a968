/**
 * attachXdp: an XDP program on a device, in one of two ways.
 *
 *   link     BPF_LINK_CREATE, attach type BPF_XDP, target = ifindex, flags = the mode bit
 *            (Linux 5.9). Owned by the link: it ends with the link's last fd or pin, and
 *            netlink cannot replace it behind our back (the kernel refuses with EBUSY).
 *   netlink  RTM_SETLINK with IFLA_XDP, as `ip link set dev X xdp… pinned P` (src/netlink/xdp.ts);
 *            it stays until someone detaches it.
 *
 * flags picks where it runs: 'skb' (generic: any device, after the skb is built), 'drv'
 * (native: the driver's hook, veth has one), 'hw' (offloaded NICs). Unset, the kernel picks drv
 * when the driver has it, else skb.
 *
 * A device has one XDP program per mode. Attaching where one is already attached fails with
 * one line naming it, unless `replace`: then netlink swaps it, and link mode updates the
 * existing XDP link (LINK_UPDATE) — a program attached over netlink cannot become a link's.
 */
import { routeSocket, type RouteSocket } from '../netlink/socket.ts';
import { getLink } from '../netlink/link.ts';
import { NetlinkError } from '../netlink/error.ts';
import { getXdp, setXdp, XDP_MODE_FLAG, type XdpMode, type XdpState } from '../netlink/xdp.ts';
import { attachTypeId } from '../syscall/constants.ts';
import { BpfError } from '../syscall/errors.ts';
import { progFdById, progInfo } from '../syscall/info.ts';
import { BpfLink, linkCreate, listBpfLinks, openLinkById, openPinnedLink } from '../syscall/link.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import { detachLinkById, pinnedLinkState } from './link.ts';
import { AttachError, inNetns, programType, where, type Attachment, type NetAttachmentInfo, type ProgramLike } from './attachment.ts';
import { linkOwner, netlinkOwner, pinNewLink, updateOpenedLink } from './owner.ts';
import { Errno } from '../errno.ts';

export type XdpAttachMode = 'link' | 'netlink';
export type { XdpMode };

export interface XdpOptions {
  /** 'link' (default) or 'netlink'. */
  readonly mode?: XdpAttachMode;
  /** Where the program runs: 'skb' (generic), 'drv' (native), 'hw' (offload); default: the kernel's pick. */
  readonly flags?: XdpMode;
  /** Swap out a program already attached instead of failing. */
  readonly replace?: boolean;
  /**
   * link mode: pin the link here. An XDP link for this device pinned there already is given the
   * program (LINK_UPDATE) instead: attaching twice replaces. A pin whose device is gone is renewed.
   */
  readonly pin?: string;
  readonly netns?: string;
  readonly sys?: Sys;
}

export interface XdpAttachment extends Attachment {
  readonly kind: 'xdp_link' | 'xdp_netlink';
  readonly ifindex: number;
  readonly netns: string | undefined;
  readonly link: BpfLink | undefined;
  info(): NetAttachmentInfo;
}

const { EBUSY, EEXIST, EPERM, EINVAL } = Errno;

function occupied(target: string, dev: string | number, s: XdpState, how: string): AttachError {
  const id = s.progId ?? s.skbProgId ?? s.drvProgId ?? s.hwProgId;
  return new AttachError(target, `${dev} already has an XDP program${id ? ` (id ${id}, ${s.attached} mode${how})` : ''}: ` +
    'pass replace (--replace) to swap it, or detach it first (tsbpf xdp detach)', 'EBUSY');
}

/** The program running in one mode, from a device's XDP state. */
const idIn = (s: XdpState, mode: XdpMode): number | undefined => (mode === 'skb' ? s.skbProgId : mode === 'drv' ? s.drvProgId : s.hwProgId);

/**
 * The XDP links on this ifindex running this program. Link info names an ifindex but no
 * namespace, so with the same ifindex in two namespaces the links of both can match: callers
 * use an id only when exactly one does, and refuse otherwise.
 */
function xdpLinksOf(ifindex: number, progId: number, sys: Sys): number[] {
  return listBpfLinks(sys).filter((l) => l.type === 'xdp' && l.ifindex === ifindex && l.progId === progId).map((l) => l.id);
}

/**
 * Whether a link in this namespace holds the program of `mode`, asked of the device itself:
 * netlink refuses to set a mode a link holds (EBUSY) before anything else, and setting the
 * program already running is a no-op the kernel does not pass to the driver.
 */
function heldByLink(sock: RouteSocket, ifindex: number, mode: XdpMode, progId: number, sys: Sys): boolean {
  const fd = progFdById(progId, sys);
  try {
    setXdp(sock, ifindex, fd, { mode, replace: true });
    return false;
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'EBUSY') return true;
    throw e;
  } finally {
    sys.close(fd);
  }
}

/** The one link holding a device's program, or an error naming the candidates. */
function theLink(target: string, dev: string | number, ifindex: number, progId: number, sys: Sys): number {
  const links = xdpLinksOf(ifindex, progId, sys);
  if (links.length === 1) return links[0]!;
  throw new AttachError(target, `${dev}'s XDP program (id ${progId}) is held by a link, but ${links.length ? `links ${links.join(', ')} all run it` : 'no link runs it'} ` +
    `on ifindex ${ifindex} (link info names no network namespace, and the same ifindex exists in several): ` +
    'detach the right one with `tsbpf link detach ID`', 'EBUSY');
}

export interface XdpDetached {
  readonly progId: number;
  readonly xdpMode: XdpMode;
  /** The link detached; absent when the program was attached over netlink. */
  readonly linkId?: number;
}

/**
 * Remove a device's XDP programs, every mode: over netlink first (fd -1), which the kernel
 * refuses with EBUSY when a link in this namespace holds the program; then that link is
 * detached (and tsbpf's pin of it removed).
 */
export function detachXdp(dev: string | number, opts: { netns?: string; sys?: Sys } = {}): XdpDetached[] {
  const sys = opts.sys ?? defaultSys;
  const target = `XDP on ${where(dev, opts.netns)}`;
  using sock = routeSocket({ netns: opts.netns });
  const ifindex = getLink(sock, dev).index;
  const now = getXdp(sock, ifindex);
  const out: XdpDetached[] = [];
  for (const mode of ['skb', 'drv', 'hw'] as const) {
    const progId = idIn(now, mode);
    if (!progId) continue;
    try {
      setXdp(sock, ifindex, -1, { mode });
      out.push({ progId, xdpMode: mode });
      continue;
    } catch (e) {
      if (!(e instanceof NetlinkError && e.code === 'EBUSY')) throw e;
    }
    const linkId = theLink(target, dev, ifindex, progId, sys);
    detachLinkById(linkId, sys);
    out.push({ progId, xdpMode: mode, linkId });
  }
  if (!out.length) throw new AttachError(target, `${dev} has no XDP program: nothing to detach (list them with \`tsbpf xdp list${opts.netns ? ` --netns ${opts.netns}` : ''}\`)`, 'ENOENT');
  return out;
}

/** Attach an XDP program to a device; see the module comment for the modes. */
export function attachXdp(prog: ProgramLike, dev: string | number, opts: XdpOptions = {}): XdpAttachment {
  const sys = opts.sys ?? defaultSys;
  const mode = opts.mode ?? 'link';
  if (mode !== 'link' && mode !== 'netlink') throw new AttachError(String(dev), `unknown XDP attach mode '${String(mode)}': expected link or netlink`);
  if (opts.flags !== undefined && !(opts.flags in XDP_MODE_FLAG)) {
    throw new AttachError(String(dev), `unknown XDP flags '${String(opts.flags)}': expected skb, drv or hw`);
  }
  const target = `XDP (${mode}${opts.flags ? `, ${opts.flags}` : ''}) on ${where(dev, opts.netns)}`;
  const type = programType(prog, sys);
  if (type !== 'xdp') {
    throw new AttachError(target, `program${prog.name ? ` '${prog.name}'` : ''} is of type ${type}, but the XDP hook runs xdp programs: ` +
      `load it with type 'xdp'${type === 'sched_cls' ? ', or attach it with attachTc' : ''}`);
  }
  using sock = routeSocket({ netns: opts.netns });
  const ifindex = getLink(sock, dev).index;

  if (mode === 'netlink') {
    if (opts.pin !== undefined) throw new AttachError(target, "a netlink XDP attachment is not a bpf object and cannot be pinned: use mode 'link' to pin");
    try {
      setXdp(sock, ifindex, prog.fd, { ...(opts.flags ? { mode: opts.flags } : {}), replace: opts.replace ?? false });
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EBUSY') throw occupied(target, dev, getXdp(sock, ifindex), '');
      if (e instanceof NetlinkError && e.code === 'EPERM') throw new AttachError(target, `attaching ${target} needs root (CAP_NET_ADMIN): ${e.message}`, e.code);
      throw e;
    }
    // Detaching must name the same mode; unset, ask the kernel which one it chose.
    const runsIn = opts.flags ?? modeOf(getXdp(sock, ifindex));
    // Ours now, replaced or not: detach removes it while it is still the one attached.
    return netlinkHandle(prog, dev, ifindex, runsIn, opts.netns, sys, ['xdp program']);
  }

  if (opts.pin !== undefined && pinnedLinkState(opts.pin, 'xdp', ifindex, target, sys) === 'ours') {
    const link = updateOpenedLink(openPinnedLink(opts.pin, sys), prog.fd);
    return linkHandle(link, dev, ifindex, opts.flags, opts.netns, [], opts.pin);
  }
  const flags = opts.flags ? XDP_MODE_FLAG[opts.flags] : 0;
  let fd: number;
  try {
    fd = inNetns(opts.netns, () => linkCreate(sys, { progFd: prog.fd, target: ifindex, attachType: attachTypeId('xdp'), flags }));
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    if (e.errno === EBUSY || e.errno === EEXIST) {
      const now = getXdp(sock, ifindex);
      const runs = opts.flags && idIn(now, opts.flags) ? opts.flags : modeOf(now);
      const progId = runs ? idIn(now, runs) : undefined;
      const held = runs !== undefined && progId !== undefined && heldByLink(sock, ifindex, runs, progId, sys);
      if (!opts.replace) {
        const links = held ? xdpLinksOf(ifindex, progId, sys) : [];
        throw occupied(target, dev, now, !held ? ', attached over netlink' : links.length === 1 ? `, link ${links[0]}` : ', held by a link');
      }
      const linkId = held ? theLink(target, dev, ifindex, progId, sys) : undefined;
      if (!linkId) {
        throw new AttachError(target, `${dev}'s XDP program (id ${now.progId}) was attached over netlink, and a link cannot take it over: ` +
          "replace it with mode 'netlink', or detach it first (tsbpf xdp detach)", 'EBUSY');
      }
      const link = updateOpenedLink(openLinkById(linkId, sys), prog.fd);
      return linkHandle(link, dev, ifindex, opts.flags ?? modeOf(now), opts.netns, []);
    }
    if (e.errno === EPERM) throw new AttachError(target, `attaching ${target} needs root (CAP_NET_ADMIN and CAP_BPF): ${e.code}`, e.code);
    if (e.errno === EINVAL && opts.flags === 'hw') throw new AttachError(target, `${dev} cannot offload XDP (hw mode needs a NIC that does): ${e.code}`, e.code);
    throw new AttachError(target, `attaching ${target} failed: ${e.message}`, e.code);
  }
  const link = new BpfLink(fd, sys);
  if (opts.pin !== undefined) pinNewLink(link, opts.pin);
  return linkHandle(link, dev, ifindex, opts.flags, opts.netns, ['xdp link'], opts.pin);
}

const modeOf = (s: XdpState): XdpMode | undefined => (s.attached === 'skb' || s.attached === 'drv' || s.attached === 'hw' ? s.attached : undefined);

function linkHandle(link: BpfLink, dev: string | number, ifindex: number, xdpMode: XdpMode | undefined, netns: string | undefined, created: string[], pinnedAt?: string): XdpAttachment {
  const own = linkOwner(link, { created, pinnedAt, ownsFd: true, target: `XDP on ${where(dev, netns)}`, what: 'XDP' });
  return {
    ...own.methods,
    kind: 'xdp_link', ifindex, netns, link,
    info(): NetAttachmentInfo {
      const i = link.info();
      const pinned = own.pinned();
      return {
        kind: 'xdp_link', dev, ifindex, netns, hook: 'xdp', progId: i.progId, linkId: i.id,
        ...(xdpMode ? { xdpMode } : {}), ...(pinned ? { pinned } : {}), created,
      };
    },
  };
}

function netlinkHandle(prog: ProgramLike, dev: string | number, ifindex: number, xdpMode: XdpMode | undefined, netns: string | undefined, sys: Sys, created: string[]): XdpAttachment {
  let progId: number | undefined;
  const ourId = (): number => (progId ??= progInfo(prog.fd, { sys }).id);
  // The id is needed to detach only ours: read it now, while our fd surely is the program's.
  ourId();
  const remove = (): void => {
    using sock = routeSocket({ netns });
    let now: XdpState;
    try {
      now = getXdp(sock, ifindex);
    } catch (e) {
      // The device is gone, and its program with it.
      if (e instanceof NetlinkError && e.code === 'ENODEV') return;
      throw e;
    }
    const running = xdpMode === 'skb' ? now.skbProgId : xdpMode === 'drv' ? now.drvProgId : xdpMode === 'hw' ? now.hwProgId : now.progId;
    // Someone replaced or removed it since: theirs now, not ours to remove.
    if (running !== ourId()) return;
    // fd -1 with the mode it runs in; UPDATE_IF_NOEXIST too, byte for byte what `ip link set dev X xdpgeneric off` sends.
    setXdp(sock, ifindex, -1, { ...(xdpMode ? { mode: xdpMode } : {}) });
  };
  return {
    ...netlinkOwner(remove, {
      created,
      pinRefusal: () => new AttachError(`XDP on ${where(dev, netns)}`, "a netlink XDP attachment is not a bpf object and cannot be pinned: it stays until detached; use mode 'link' to pin"),
    }),
    kind: 'xdp_netlink', ifindex, netns, link: undefined,
    info: () => ({ kind: 'xdp_netlink', dev, ifindex, netns, hook: 'xdp', progId: ourId(), ...(xdpMode ? { xdpMode } : {}), created }),
  };
}
