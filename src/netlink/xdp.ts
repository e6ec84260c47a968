/**
 * XDP over rtnetlink: what `ip link set dev X xdp{generic,drv,offload} pinned P` and
 * `… xdp off` send. One RTM_NEWLINK (RTM_SETLINK is the same message type) addressed by
 * ifindex, carrying an IFLA_XDP nest; the kernel replies with an ACK or an error + extack.
 *
 *   nlmsghdr  len=52 type=RTM_NEWLINK(16) flags=REQUEST|ACK
 *   ifinfomsg family=0 type=0 index=<ifindex> flags=0 change=0
 *   IFLA_XDP (43, len 20; not marked NLA_F_NESTED, as iproute2 sends it)
 *     IFLA_XDP_FD    (1, s32)  the program fd; -1 detaches
 *     IFLA_XDP_FLAGS (3, u32)  UPDATE_IF_NOEXIST (refuse to replace) | one of SKB/DRV/HW_MODE
 *    [IFLA_XDP_EXPECTED_FD (8, s32) with XDP_FLAGS_REPLACE: replace only this program]
 *
 * Checked byte for byte against strace of iproute2 (test/unit/attach-netlink.test.ts).
 * Reading back: RTM_GETLINK's IFLA_XDP nest says ATTACHED (NONE/DRV/SKB/HW/MULTI) and the
 * program id per mode.
 */
import {
  AF_UNSPEC, IFINFOMSG_LEN, IFLA_XDP, IFLA_XDP_ATTACHED, IFLA_XDP_DRV_PROG_ID, IFLA_XDP_EXPECTED_FD, IFLA_XDP_FD,
  IFLA_XDP_FLAGS, IFLA_XDP_HW_PROG_ID, IFLA_XDP_PROG_ID, IFLA_XDP_SKB_PROG_ID, RTM_NEWLINK, XDP_ATTACHED_DRV,
  XDP_ATTACHED_HW, XDP_ATTACHED_MULTI, XDP_ATTACHED_SKB, XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE,
  XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST,
} from './constants.ts';
import { NetlinkError } from './error.ts';
import { getLinkRequest, ifindexOf, noSuchLink, type Dev } from './link.ts';
import { decodeAttrs, encodeAttrs, encodeIfInfoMsg, nested, payload, s32, u32, u8, type Message, type Request } from './message.ts';
import type { RouteSocket } from './socket.ts';

/** The IFLA_XDP nest. */
export const xdpSchema = {
  fd: s32(IFLA_XDP_FD),
  expectedFd: s32(IFLA_XDP_EXPECTED_FD),
  flags: u32(IFLA_XDP_FLAGS),
  attached: u8(IFLA_XDP_ATTACHED),
  progId: u32(IFLA_XDP_PROG_ID),
  drvProgId: u32(IFLA_XDP_DRV_PROG_ID),
  skbProgId: u32(IFLA_XDP_SKB_PROG_ID),
  hwProgId: u32(IFLA_XDP_HW_PROG_ID),
} as const;

const setSchema = { xdp: nested(IFLA_XDP, xdpSchema) } as const;

/** skb = generic (any device, after the skb is built), drv = native (driver support), hw = offloaded. */
export type XdpMode = 'skb' | 'drv' | 'hw';

export const XDP_MODE_FLAG: Readonly<Record<XdpMode, number>> = { skb: XDP_FLAGS_SKB_MODE, drv: XDP_FLAGS_DRV_MODE, hw: XDP_FLAGS_HW_MODE };

export interface XdpSetOptions {
  readonly mode?: XdpMode;
  /** false (default): XDP_FLAGS_UPDATE_IF_NOEXIST, so an attached program is an error (EBUSY). */
  readonly replace?: boolean;
  /** With replace: only if this program fd is the one attached now (XDP_FLAGS_REPLACE). */
  readonly expectedFd?: number;
}

/** IFLA_XDP_FLAGS for a mode and replace policy. */
export function xdpFlags(o: XdpSetOptions): number {
  return (o.replace ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST) | (o.mode ? XDP_MODE_FLAG[o.mode] : 0) |
    (o.expectedFd !== undefined ? XDP_FLAGS_REPLACE : 0);
}

/** RTM_NEWLINK with IFLA_XDP: attach fd (or detach with fd -1), as iproute2 encodes it. */
export function xdpSetRequest(ifindex: number, fd: number, o: XdpSetOptions = {}): Request {
  const flags = xdpFlags(o);
  const nest = o.expectedFd !== undefined ? { fd, expectedFd: o.expectedFd, flags } : flags ? { fd, flags } : { fd };
  return {
    type: RTM_NEWLINK, flags: 0,
    payload: payload(encodeIfInfoMsg({ family: AF_UNSPEC, index: ifindex }), encodeAttrs(setSchema, { xdp: nest })),
  };
}

/** What runs at a device's XDP hook, per mode. */
export interface XdpState {
  readonly ifindex: number;
  /** 'none' | 'drv' | 'skb' | 'hw' | 'multi' */
  readonly attached: 'none' | XdpMode | 'multi';
  /** The program of the single attached mode (IFLA_XDP_PROG_ID). */
  readonly progId: number | undefined;
  readonly skbProgId: number | undefined;
  readonly drvProgId: number | undefined;
  readonly hwProgId: number | undefined;
}

const ATTACHED: Record<number, XdpState['attached']> = { [XDP_ATTACHED_DRV]: 'drv', [XDP_ATTACHED_SKB]: 'skb', [XDP_ATTACHED_HW]: 'hw', [XDP_ATTACHED_MULTI]: 'multi' };

/** The IFLA_XDP nest of an RTM_NEWLINK message (a GETLINK reply or a dump entry). */
export function decodeXdp(m: Message): XdpState {
  const index = new DataView(m.payload.buffer, m.payload.byteOffset + 4, 4).getInt32(0, true);
  const attrs = decodeAttrs({ xdp: nested(IFLA_XDP, xdpSchema) }, m.payload.subarray(IFINFOMSG_LEN));
  const x = attrs.xdp ?? {};
  const attached = ATTACHED[x.attached ?? 0] ?? 'none';
  // With one mode attached the kernel sends only PROG_ID; fill in that mode's id too.
  const one = attached !== 'none' && attached !== 'multi' ? x.progId : undefined;
  return {
    ifindex: index, attached, progId: x.progId,
    skbProgId: x.skbProgId ?? (attached === 'skb' ? one : undefined),
    drvProgId: x.drvProgId ?? (attached === 'drv' ? one : undefined),
    hwProgId: x.hwProgId ?? (attached === 'hw' ? one : undefined),
  };
}

/** The XDP state of one device. */
export function getXdp(sock: RouteSocket, dev: Dev): XdpState {
  const op = `read XDP state of ${dev}`;
  let replies: Message[];
  try {
    replies = sock.request(op, getLinkRequest(dev));
  } catch (e) {
    if (e instanceof NetlinkError && (e.code === 'ENODEV' || e.code === 'EINVAL')) throw noSuchLink(sock, dev, op, e.errno, e.extack);
    throw e;
  }
  const m = replies.find((r) => r.header.type === RTM_NEWLINK);
  if (!m) throw noSuchLink(sock, dev, op, 19);
  return decodeXdp(m);
}

/**
 * Attach (fd >= 0) or detach (fd -1) an XDP program over netlink. Without replace, a device
 * that already has a program (in any mode) is an error: one line, naming the program.
 */
export function setXdp(sock: RouteSocket, dev: Dev, fd: number, o: XdpSetOptions = {}): void {
  const ifindex = ifindexOf(sock, dev);
  const op = fd < 0 ? `detach XDP from ${dev}` : `attach XDP program to ${dev}`;
  try {
    sock.request(op, xdpSetRequest(ifindex, fd, o));
  } catch (e) {
    if (!(e instanceof NetlinkError)) throw e;
    if (e.code === 'ENODEV') throw noSuchLink(sock, dev, op, e.errno, e.extack);
    if (e.code === 'EBUSY' && fd >= 0) {
      const now = getXdp(sock, ifindex);
      throw new NetlinkError({
        op, errno: e.errno, extack: e.extack,
        message: `${dev} already has an XDP program${now.progId ? ` (id ${now.progId}, ${now.attached} mode)` : ''}`,
        hint: 'attach with replace to swap it, or detach it first (tsbpf xdp detach)',
      });
    }
    throw e;
  }
}
