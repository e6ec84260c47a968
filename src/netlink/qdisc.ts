/**
 * The clsact qdisc: the anchor for BPF filters on an interface's ingress and egress hooks.
 *
 * clsact has handle ffff:0 and sits in the ingress slot (parent ffff:fff1), the same slot as
 * the older `ingress` qdisc, so an interface has one or the other. clsact holds no packets; it
 * only gives filters two attach points, ffff:fff2 (ingress) and ffff:fff3 (egress).
 */
import {
  AF_UNSPEC, NLM_F_CREATE, NLM_F_EXCL, RTM_DELQDISC, RTM_GETQDISC, RTM_NEWQDISC, TC_H_CLSACT, TC_H_INGRESS,
  TC_H_MAJ_MASK, TCMSG_LEN,
} from './constants.ts';
import { NetlinkError } from './error.ts';
import { confirmIfindex, ifindexOf, noSuchLink, type Dev } from './link.ts';
import { decodeAttrs, decodeTcMsg, encodeAttrs, encodeTcMsg, payload, type Message, type Request } from './message.ts';
import { tcSchema } from './schema.ts';
import type { RouteSocket } from './socket.ts';

export interface Qdisc {
  readonly ifindex: number;
  readonly handle: number;
  readonly parent: number;
  readonly kind: string;
}

/** clsact's own handle, ffff:0: the major of TC_H_CLSACT. */
export const CLSACT_HANDLE = (TC_H_CLSACT & TC_H_MAJ_MASK) >>> 0;

const clsactMsg = (ifindex: number): Uint8Array =>
  payload(encodeTcMsg({ family: AF_UNSPEC, ifindex, handle: CLSACT_HANDLE, parent: TC_H_CLSACT }), encodeAttrs(tcSchema, { kind: 'clsact' }));

/** `tc qdisc add dev X clsact`: NLM_F_EXCL|NLM_F_CREATE, so an existing one is EEXIST, not replaced. */
export function clsactAddRequest(ifindex: number): Request {
  return { type: RTM_NEWQDISC, flags: NLM_F_EXCL | NLM_F_CREATE, payload: clsactMsg(ifindex) };
}

/** `tc qdisc del dev X clsact`; TCA_KIND makes the kernel refuse to delete an `ingress` qdisc by mistake. */
export function clsactDeleteRequest(ifindex: number): Request {
  return { type: RTM_DELQDISC, flags: 0, payload: clsactMsg(ifindex) };
}

/** Dump qdiscs; with strict checking the kernel keeps only `ifindex`'s. */
export function qdiscDumpRequest(ifindex = 0): Request {
  return { type: RTM_GETQDISC, flags: 0, payload: encodeTcMsg({ family: AF_UNSPEC, ifindex }) };
}

export function decodeQdisc(m: Message): Qdisc {
  const t = decodeTcMsg(m.payload);
  const a = decodeAttrs(tcSchema, m.payload.subarray(TCMSG_LEN));
  return { ifindex: t.ifindex, handle: t.handle, parent: t.parent, kind: a.kind ?? '' };
}

/** Map ENODEV from a tc request to the same message as a failed name lookup. */
export function rethrowNoDev(sock: RouteSocket, dev: Dev, e: unknown): never {
  if (e instanceof NetlinkError && e.code === 'ENODEV') throw noSuchLink(sock, dev, e.op, e.errno, e.extack);
  throw e;
}

/** Qdiscs of one interface (or of all, without `dev`). */
export function listQdiscs(sock: RouteSocket, dev?: Dev): Qdisc[] {
  const ifindex = dev === undefined ? 0 : ifindexOf(sock, dev);
  let replies: Message[];
  try {
    replies = sock.dump(`list qdiscs${dev === undefined ? '' : ` on ${dev}`}`, qdiscDumpRequest(ifindex));
  } catch (e) {
    rethrowNoDev(sock, dev ?? ifindex, e);
  }
  const out = replies.filter((m) => m.header.type === RTM_NEWQDISC).map(decodeQdisc).filter((q) => ifindex === 0 || q.ifindex === ifindex);
  if (out.length === 0 && dev !== undefined) confirmIfindex(sock, dev);
  return out;
}

/** Whatever sits in the ingress slot: clsact, ingress, or nothing. */
function ingressSlot(sock: RouteSocket, dev: Dev): Qdisc | undefined {
  return listQdiscs(sock, dev).find((q) => q.parent === TC_H_INGRESS);
}

/** The interface's clsact qdisc, or undefined when it has none. */
export function getClsact(sock: RouteSocket, dev: Dev): Qdisc | undefined {
  const q = ingressSlot(sock, dev);
  return q?.kind === 'clsact' ? q : undefined;
}

function ingressInTheWay(dev: Dev, op: string, errno: number, extack?: string, deleting = false): NetlinkError {
  return new NetlinkError({
    op, errno, extack,
    message: deleting
      ? `interface '${dev}' has an 'ingress' qdisc, not clsact`
      : `interface '${dev}' has an 'ingress' qdisc where clsact must go (they share the ingress slot)`,
    hint: deleting
      ? `tsbpf deletes only clsact; \`tc qdisc del dev ${dev} ingress\` removes the other one (and its filters)`
      : `remove it with \`tc qdisc del dev ${dev} ingress\` (this drops its filters), then retry`,
  });
}

export interface EnsureResult {
  readonly ifindex: number;
  /** true when this call added the qdisc: only then should the caller delete it later */
  readonly created: boolean;
}

/**
 * Make sure `dev` has a clsact qdisc. Adds one when absent; an existing clsact is fine; an
 * `ingress` qdisc in its slot is an error (replacing it would silently drop its filters).
 */
export function ensureClsact(sock: RouteSocket, dev: Dev): EnsureResult {
  const ifindex = ifindexOf(sock, dev);
  const op = `add clsact qdisc on ${dev}`;
  try {
    sock.request(op, clsactAddRequest(ifindex));
    return { ifindex, created: true };
  } catch (e) {
    if (!(e instanceof NetlinkError) || e.code !== 'EEXIST') rethrowNoDev(sock, dev, e);
    const slot = ingressSlot(sock, ifindex);
    if (slot?.kind === 'clsact') return { ifindex, created: false };
    if (slot?.kind === 'ingress') throw ingressInTheWay(dev, op, e.errno, e.extack);
    throw e;
  }
}

/**
 * Remove `dev`'s clsact qdisc, and with it every filter on both hooks. Call it only for a
 * qdisc you created (see EnsureResult.created): others' filters hang off the same one.
 */
export function deleteClsact(sock: RouteSocket, dev: Dev): void {
  const ifindex = ifindexOf(sock, dev);
  const op = `delete clsact qdisc on ${dev}`;
  try {
    sock.request(op, clsactDeleteRequest(ifindex));
  } catch (e) {
    if (!(e instanceof NetlinkError) || (e.code !== 'EINVAL' && e.code !== 'ENOENT')) rethrowNoDev(sock, dev, e);
    const slot = ingressSlot(sock, ifindex);
    if (slot?.kind === 'ingress') throw ingressInTheWay(dev, op, e.errno, e.extack, true);
    if (!slot) throw new NetlinkError({ op, errno: 2, extack: e.extack, message: `interface '${dev}' has no clsact qdisc`, hint: 'nothing to delete' });
    throw e;
  }
}
