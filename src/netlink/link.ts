/**
 * Links (network interfaces) over RTM_GETLINK: by name, by index, or all of them.
 * tc addresses everything by ifindex, so every tc operation starts here when given a name.
 */
import {
  AF_UNSPEC, IFINFOMSG_LEN, IFNAMSIZ, NLM_F_DUMP, RTEXT_FILTER_SKIP_STATS, RTEXT_FILTER_VF, RTM_GETLINK, RTM_NEWLINK,
} from './constants.ts';
import { NetlinkError } from './error.ts';
import { decodeAttrs, decodeIfInfoMsg, encodeAttrs, encodeIfInfoMsg, payload, type Message, type Request } from './message.ts';
import { linkSchema } from './schema.ts';
import type { RouteSocket } from './socket.ts';

export interface Link {
  readonly index: number;
  readonly name: string;
  /** ARPHRD_* (1 = Ethernet, 772 = loopback) */
  readonly type: number;
  /** IFF_* flags */
  readonly flags: number;
  readonly up: boolean;
  readonly mtu: number | undefined;
  /** hardware address as aa:bb:cc:dd:ee:ff */
  readonly address: string | undefined;
  /** driver kind from IFLA_LINKINFO ("veth", "bridge", ...) */
  readonly kind: string | undefined;
  /** root qdisc kind */
  readonly qdisc: string | undefined;
}

/** An interface is named by its name or its ifindex. */
export type Dev = string | number;

const extMask = RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS;

/**
 * RTM_GETLINK for one link. Names longer than IFNAMSIZ-1 can only be alternative names, which
 * the kernel looks up under IFLA_ALT_IFNAME.
 */
export function getLinkRequest(dev: Dev): Request {
  if (typeof dev === 'number') {
    return { type: RTM_GETLINK, flags: 0, payload: payload(encodeIfInfoMsg({ family: AF_UNSPEC, index: dev }), encodeAttrs(linkSchema, { extMask })) };
  }
  const name = Buffer.byteLength(dev) < IFNAMSIZ ? { ifname: dev } : { altIfname: dev };
  return { type: RTM_GETLINK, flags: 0, payload: payload(encodeIfInfoMsg({ family: AF_UNSPEC }), encodeAttrs(linkSchema, { ...name, extMask })) };
}

/** RTM_GETLINK dump of every link (what `ip link` sends). */
export function listLinksRequest(): Request {
  return { type: RTM_GETLINK, flags: NLM_F_DUMP, payload: payload(encodeIfInfoMsg({ family: AF_UNSPEC }), encodeAttrs(linkSchema, { extMask })) };
}

export function decodeLink(m: Message): Link {
  const info = decodeIfInfoMsg(m.payload);
  const a = decodeAttrs(linkSchema, m.payload.subarray(IFINFOMSG_LEN));
  return {
    index: info.index,
    name: a.ifname ?? '',
    type: info.type,
    flags: info.flags,
    up: (info.flags & 1) !== 0,
    mtu: a.mtu,
    address: a.address && a.address.length ? Array.from(a.address, (x) => x.toString(16).padStart(2, '0')).join(':') : undefined,
    kind: a.linkinfo?.kind,
    qdisc: a.qdisc,
  };
}

/** The error for a link that is not there, naming where we looked and how to list what is. */
export function noSuchLink(sock: RouteSocket, dev: Dev, op: string, errno: number, extack?: string): NetlinkError {
  const where = sock.netns ? ` in network namespace '${sock.netns}'` : '';
  const what = typeof dev === 'number' ? `no interface with index ${dev}${where}` : `no interface named '${dev}'${where}`;
  return new NetlinkError({
    op, errno, extack,
    message: what,
    hint: sock.netns ? `list them with \`ip -n ${sock.netns} link\`` : 'list them with `ip link` (use --netns if it lives in another namespace)',
  });
}

/** Look a link up by name or index; a missing one is "no interface named 'eth9'". */
export function getLink(sock: RouteSocket, dev: Dev): Link {
  const op = `look up interface ${typeof dev === 'number' ? `#${dev}` : `'${dev}'`}`;
  if (typeof dev === 'string' && (dev === '' || dev.includes('/') || /\s/.test(dev))) throw noSuchLink(sock, dev, op, 19);
  let replies: Message[];
  try {
    replies = sock.request(op, getLinkRequest(dev));
  } catch (e) {
    // ENODEV: no such name or index. EINVAL: a name the kernel cannot hold (too long).
    if (e instanceof NetlinkError && (e.code === 'ENODEV' || (e.code === 'EINVAL' && typeof dev === 'string'))) {
      throw noSuchLink(sock, dev, op, e.errno, e.extack);
    }
    throw e;
  }
  const m = replies.find((r) => r.header.type === RTM_NEWLINK);
  if (!m) throw noSuchLink(sock, dev, op, 19);
  return decodeLink(m);
}

/** Every link in the socket's namespace, in ifindex order. */
export function listLinks(sock: RouteSocket): Link[] {
  return sock.dump('list interfaces', listLinksRequest())
    .filter((m) => m.header.type === RTM_NEWLINK)
    .map(decodeLink)
    .sort((x, y) => x.index - y.index);
}

/**
 * The ifindex of `dev`: a name is looked up; a number is taken as is, since requests that
 * change things fail with ENODEV by themselves (dumps do not: see confirmIfindex).
 */
export function ifindexOf(sock: RouteSocket, dev: Dev): number {
  if (typeof dev === 'number') {
    if (!Number.isInteger(dev) || dev <= 0) throw new TypeError(`ifindex must be a positive integer, got ${dev}`);
    return dev;
  }
  return getLink(sock, dev).index;
}

/**
 * A dump for an ifindex that does not exist comes back empty rather than failing, so an empty
 * dump for a caller-given number is checked with one RTM_GETLINK (throws "no interface ...").
 */
export function confirmIfindex(sock: RouteSocket, dev: Dev): void {
  if (typeof dev === 'number') getLink(sock, dev);
}
