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
import { routeSocket } from '../netlink/socket.ts';
import { getLink } from '../netlink/link.ts';
import { NetlinkError } from '../netlink/error.ts';
import { getXdp, setXdp, XDP_MODE_FLAG, type XdpMode, type XdpState } from '../netlink/xdp.ts';
import { attachTypeId } from '../syscall/constants.ts';
import { BpfError } from '../syscall/errors.ts';
import { progInfo } from '../syscall/info.ts';
import { BpfLink, linkCreate, listBpfLinks, openLinkById, openPinnedLink } from '../syscall/link.ts';
import { unpin } from '../syscall/pin.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import { pinnedLinkState } from './tc.ts';
import { AttachError, inNetns, programType, where, type Attachment, type AttachmentInfo, type ProgramLike } from './attachment.ts';

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
}

const EBUSY = 16, EEXIST = 17, EPERM = 1, EINVAL = 22;

function occupied(target: string, dev: string | number, s: XdpState, how: string): AttachError {
  const id = s.progId ?? s.skbProgId ?? s.drvProgId ?? s.hwProgId;
  return new AttachError(target, `${dev} already has an XDP program${id ? ` (id ${id}, ${s.attached} mode${how})` : ''}: ` +
    'pass replace to swap it, or detach it first (tsbpf xdp detach)', 'EBUSY');
}

/** The XDP link holding the program at a device, when it is attached through a link. */
function xdpLinkOf(ifindex: number, progId: number | undefined, sys: Sys): number | undefined {
  if (!progId) return undefined;
  // Link info names the ifindex, not the namespace; the program id makes it unambiguous.
  return listBpfLinks(sys).find((l) => l.type === 'xdp' && l.ifindex === ifindex && l.progId === progId)?.id;
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
    const link = openPinnedLink(opts.pin, sys);
    try {
      link.update(prog.fd);
    } catch (u) {
      link.close();
      throw u;
    }
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
      const linkId = xdpLinkOf(ifindex, now.progId ?? now.skbProgId ?? now.drvProgId, sys);
      if (!opts.replace) throw occupied(target, dev, now, linkId ? `, link ${linkId}` : ', attached over netlink');
      if (!linkId) {
        throw new AttachError(target, `${dev}'s XDP program (id ${now.progId}) was attached over netlink, and a link cannot take it over: ` +
          "replace it with mode 'netlink', or detach it first (tsbpf xdp detach)", 'EBUSY');
      }
      const link = openLinkById(linkId, sys);
      try {
        link.update(prog.fd);
      } catch (u) {
        link.close();
        throw u;
      }
      return linkHandle(link, dev, ifindex, opts.flags ?? modeOf(now), opts.netns, []);
    }
    if (e.errno === EPERM) throw new AttachError(target, `attaching ${target} needs root (CAP_NET_ADMIN and CAP_BPF): ${e.code}`, e.code);
    if (e.errno === EINVAL && opts.flags === 'hw') throw new AttachError(target, `${dev} cannot offload XDP (hw mode needs a NIC that does): ${e.code}`, e.code);
    throw new AttachError(target, `attaching ${target} failed: ${e.message}`, e.code);
  }
  const link = new BpfLink(fd, sys);
  if (opts.pin !== undefined) {
    try {
      link.pin(opts.pin);
    } catch (e) {
      link.detach();
      link.close();
      throw e;
    }
  }
  return linkHandle(link, dev, ifindex, opts.flags, opts.netns, ['xdp link'], opts.pin);
}

const modeOf = (s: XdpState): XdpMode | undefined => (s.attached === 'skb' || s.attached === 'drv' || s.attached === 'hw' ? s.attached : undefined);

function linkHandle(link: BpfLink, dev: string | number, ifindex: number, xdpMode: XdpMode | undefined, netns: string | undefined, created: string[], pinnedAt?: string): XdpAttachment {
  let pinned = pinnedAt;
  let done = false;
  const finish = (): void => { done = true; link.close(); };
  const h: XdpAttachment = {
    kind: 'xdp_link', ifindex, netns, link,
    info(): AttachmentInfo {
      const i = link.info();
      return {
        kind: 'xdp_link', dev, ifindex, netns, hook: 'xdp', progId: i.progId, linkId: i.id,
        ...(xdpMode ? { xdpMode } : {}), ...(pinned ? { pinned } : {}), created,
      };
    },
    detach() {
      if (done) return;
      link.detach();
      if (pinned) unpin(pinned);
      finish();
    },
    pin(path: string) { link.pin(path); pinned = path; },
    release() {
      if (done) return;
      if (!pinned && created.length) throw new AttachError(`XDP on ${where(dev, netns)}`, 'an unpinned XDP link ends with its last fd: pin it before release()');
      finish();
    },
    close() {
      if (done) return;
      try {
        if (!pinned && created.length) link.detach();
      } finally {
        finish();
      }
    },
    [Symbol.dispose]() { h.close(); },
  };
  return h;
}

function netlinkHandle(prog: ProgramLike, dev: string | number, ifindex: number, xdpMode: XdpMode | undefined, netns: string | undefined, sys: Sys, created: string[]): XdpAttachment {
  let progId: number | undefined;
  const ourId = (): number => (progId ??= progInfo(prog.fd, { sys }).id);
  // The id is needed to detach only ours: read it now, while our fd surely is the program's.
  ourId();
  let done = false;
  const remove = (): void => {
    if (done) return;
    done = true;
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
  const h: XdpAttachment = {
    kind: 'xdp_netlink', ifindex, netns, link: undefined,
    info: () => ({ kind: 'xdp_netlink', dev, ifindex, netns, hook: 'xdp', progId: ourId(), ...(xdpMode ? { xdpMode } : {}), created }),
    detach: remove,
    pin() {
      throw new AttachError(`XDP on ${where(dev, netns)}`, "a netlink XDP attachment is not a bpf object and cannot be pinned: it stays until detached; use mode 'link' to pin");
    },
    release() { done = true; },
    close() { if (created.length) remove(); else done = true; },
    [Symbol.dispose]() { h.close(); },
  };
  return h;
}
