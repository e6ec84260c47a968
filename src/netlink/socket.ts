/**
 * A NETLINK_ROUTE socket and the request/reply protocol on top of it.
 *
 * Two layers, so the upper one can be tested without root:
 * - `Transport`: send one datagram, receive one datagram. `openTransport` is the real one,
 *   over src/ffi.ts; unit tests pass a fake that answers from recorded bytes.
 * - `RouteSocket`: stamps sequence numbers, checks that every reply carries our sequence
 *   number and port id, reads multi-part dumps to NLMSG_DONE and turns NLMSG_ERROR into a
 *   NetlinkError with the kernel's extack text.
 *
 * Everything is synchronous: a request is a send and a few blocking recvs bounded by
 * SO_RCVTIMEO, which keeps namespace switching simple and costs microseconds.
 */
import { Errno } from '../errno.ts';
import * as ffi from '../ffi.ts';
import {
  AF_NETLINK, MSG_TRUNC, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_ROUTE,
  NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP,
  NLMSG_OVERRUN, SOCK_CLOEXEC, SOCK_RAW, SOCKADDR_NL_LEN, SOL_NETLINK, SOL_SOCKET, SO_RCVTIMEO,
} from './constants.ts';
import { NetlinkError } from './error.ts';
import { decodeDone, decodeError, encodeMessage, parseMessages, type Message, type Request } from './message.ts';
import { withNetns } from './netns.ts';

/** One datagram out, one datagram in. */
export interface Transport {
  /** our netlink port id (nl_pid), which the kernel puts in every reply to us */
  readonly portId: number;
  send(datagram: Uint8Array): void;
  /** the next datagram; throws a NetlinkError (EAGAIN) when the receive timeout passes */
  receive(): Uint8Array;
  close(): void;
}

export interface TransportOptions {
  /** open the socket in this named network namespace (it stays there for its lifetime) */
  readonly netns?: string | undefined;
  /** give up on a reply after this long; default 5000 ms */
  readonly timeoutMs?: number | undefined;
}

export const DEFAULT_TIMEOUT_MS = 5000;
/** Dumps come in skbs of at most 32 KiB (netlink's dump allocation cap); leave headroom. */
const RECV_BUFFER = 64 * 1024;

function sockaddrNl(pid = 0): Uint8Array {
  const b = new Uint8Array(SOCKADDR_NL_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_NETLINK, true);
  v.setUint32(4, pid, true);
  return b;
}

const int32 = (x: number): Uint8Array => new Uint8Array(new Int32Array([x]).buffer);

/** The real transport: socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), bound to a kernel-chosen port. */
export function openTransport(opts: TransportOptions = {}): Transport {
  const op = 'open netlink socket';
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const create = (): number => ffi.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  const fd = opts.netns ? withNetns(opts.netns, create) : create();
  if (fd < 0) throw new NetlinkError({ op, errno: -fd });
  const fail = (what: string, r: number): never => {
    ffi.close(fd);
    throw new NetlinkError({ op: `${op} (${what})`, errno: -r });
  };

  // Errors carry the kernel's reason (extack) and only the request header, not its payload.
  let r = ffi.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, int32(1));
  if (r < 0) fail('NETLINK_EXT_ACK', r);
  r = ffi.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, int32(1));
  if (r < 0) fail('NETLINK_CAP_ACK', r);
  // Strict checking makes dumps honour the ifindex/parent in the request header (Linux >= 4.20);
  // older kernels lack the option, and our replies are filtered client-side anyway.
  ffi.setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, int32(1));
  const tv = new Uint8Array(16);
  const tvv = new DataView(tv.buffer);
  tvv.setBigInt64(0, BigInt(Math.floor(timeoutMs / 1000)), true);
  tvv.setBigInt64(8, BigInt((timeoutMs % 1000) * 1000), true);
  r = ffi.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv);
  if (r < 0) fail('SO_RCVTIMEO', r);

  r = ffi.bind(fd, sockaddrNl(0));
  if (r < 0) fail('bind', r);
  const addr = sockaddrNl(0);
  r = ffi.getsockname(fd, addr);
  if (r < 0) fail('getsockname', r);
  const portId = new DataView(addr.buffer).getUint32(4, true);

  const kernel = sockaddrNl(0);
  const buf = new Uint8Array(RECV_BUFFER);
  let open = true;
  return {
    portId,
    send(datagram) {
      const n = ffi.sendto(fd, datagram, 0, kernel);
      if (n < 0) throw new NetlinkError({ op: 'send netlink request', errno: -n });
    },
    receive() {
      // MSG_TRUNC makes recv return the datagram's real length, so a short buffer is detected.
      const n = ffi.recv(fd, buf, MSG_TRUNC);
      if (n < 0) {
        const timedOut = -n === Errno.EAGAIN;
        throw new NetlinkError({
          op: 'receive netlink reply', errno: -n,
          message: timedOut ? `no reply from the kernel within ${timeoutMs} ms` : undefined,
        });
      }
      if (n > buf.length) throw new NetlinkError({ op: 'receive netlink reply', errno: 90, message: `netlink reply of ${n} bytes exceeds the ${buf.length}-byte buffer` });
      return buf.slice(0, n);
    },
    close() {
      if (open) { open = false; ffi.close(fd); }
    },
  };
}

export interface RouteSocketOptions extends TransportOptions {
  /** use this transport instead of a real socket (unit tests) */
  readonly transport?: Transport | undefined;
  /** first sequence number; default derived from the clock like iproute2 */
  readonly seq?: number | undefined;
}

/** A NETLINK_ROUTE conversation: requests in, decoded replies out. */
export interface RouteSocket {
  readonly portId: number;
  /** the namespace the socket lives in, if not the caller's */
  readonly netns: string | undefined;
  /**
   * Send a request with NLM_F_ACK and return the messages that came before the ACK (a GET's
   * answer, or an NLM_F_ECHO copy). Throws NetlinkError on NLMSG_ERROR.
   */
  request(op: string, req: Request): Message[];
  /** Send a NLM_F_DUMP request and return every message up to NLMSG_DONE. */
  dump(op: string, req: Request): Message[];
  close(): void;
  [Symbol.dispose](): void;
}

/** Open a NETLINK_ROUTE socket (in `opts.netns` if given). Close it, or declare it with `using`. */
export function routeSocket(opts: RouteSocketOptions = {}): RouteSocket {
  const t = opts.transport ?? openTransport(opts);
  let seq = opts.seq ?? (Math.floor(Date.now() / 1000) >>> 0);

  // Replies for this seq until `last` says the conversation is over.
  const converse = (op: string, req: Request, isDump: boolean): Message[] => {
    const mySeq = (seq = (seq + 1) >>> 0);
    t.send(encodeMessage(req, mySeq));
    const out: Message[] = [];
    let interrupted = false;
    for (;;) {
      for (const m of parseMessages(t.receive())) {
        const h = m.header;
        // A reply to an earlier request that timed out: not ours any more.
        if (h.seq !== mySeq) continue;
        if (h.pid !== t.portId) {
          throw new NetlinkError({ op, errno: 71, message: `${op}: reply addressed to port ${h.pid}, not ours (${t.portId})`, hint: 'this is a bug in tsbpf or a confused socket; please report it' });
        }
        if (h.type === NLMSG_NOOP) continue;
        if (h.type === NLMSG_OVERRUN) throw new NetlinkError({ op, errno: 105, message: `${op}: netlink receive buffer overrun` });
        if (h.type === NLMSG_ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetlinkError({ op, errno: e.errno, extack: e.extack });
          if (!isDump) return out;
          continue;
        }
        if (h.type === NLMSG_DONE && (isDump || h.flags & NLM_F_MULTI)) {
          const d = decodeDone(m);
          if (d.errno !== 0) throw new NetlinkError({ op, errno: d.errno, extack: d.extack });
          if (interrupted) throw new NetlinkError({ op, errno: 4, message: `${op}: the dump changed while it was read (NLM_F_DUMP_INTR)`, hint: 'retry' });
          return out;
        }
        if (h.flags & NLM_F_DUMP_INTR) interrupted = true;
        out.push(m);
      }
    }
  };

  return {
    portId: t.portId,
    netns: opts.netns,
    request: (op, req) => converse(op, { ...req, flags: req.flags | NLM_F_REQUEST | NLM_F_ACK }, false),
    dump(op, req) {
      // The kernel may interrupt a dump when the table changes under it; one retry is enough
      // in practice, and a second interruption is reported.
      for (let attempt = 0; ; attempt++) {
        try {
          return converse(op, { ...req, flags: req.flags | NLM_F_REQUEST | NLM_F_DUMP }, true);
        } catch (e) {
          if (attempt < 2 && e instanceof NetlinkError && e.errno === Errno.EINTR) continue;
          throw e;
        }
      }
    },
    close: () => t.close(),
    [Symbol.dispose]: () => t.close(),
  };
}

/** Run `fn` with a fresh socket (in `opts.netns` if given) and always close it. */
export function withRouteSocket<R>(opts: RouteSocketOptions, fn: (sock: RouteSocket) => R): R {
  const sock = routeSocket(opts);
  try {
    return fn(sock);
  } finally {
    sock.close();
  }
}
