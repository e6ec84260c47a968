/**
 * Socket filters: a SOCKET_FILTER program on a raw AF_PACKET socket decides which frames the
 * socket receives, and how many bytes of each (its return value; 0 drops the frame). tcpdump
 * does the same with a classic BPF filter and SO_ATTACH_FILTER; SO_ATTACH_BPF takes an eBPF
 * program's fd instead.
 *
 * The order matters. A packet socket opened with ETH_P_ALL receives every frame from the moment
 * it exists, so one opened that way would queue frames before the filter is on. We open it with
 * protocol 0 (hooked to nothing: it receives nothing), attach the program, and only then bind
 * it to ETH_P_ALL (and an interface): the first frame it can see already passes the filter.
 *
 * Reading never blocks Node's event loop: the socket is non-blocking, and frames() drains it
 * with recvfrom(MSG_DONTWAIT), then waits for the next frame in poll(2) on a libuv worker
 * thread (koffi's async call) in slices of at most POLL_SLICE_MS. docs/probes.md has the
 * figures that chose this over polling recv on a timer.
 *
 *   struct sockaddr_ll (20 bytes): family u16 = 17, protocol be16, ifindex i32, hatype u16,
 *                                  pkttype u8, halen u8, addr[8]
 */
import { Errno } from '../errno.ts';
import { NetlinkError } from '../netlink/error.ts';
import { ifindexOf } from '../netlink/link.ts';
import { withNetns } from '../netlink/netns.ts';
import { withRouteSocket } from '../netlink/socket.ts';
import type { Program } from '../syscall/program.ts';
import type { Sys } from '../syscall/sys.ts';
import { ProbeError, expectProgramType } from './perf-event.ts';

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_ATTACH_BPF = 50;
export const ETH_P_ALL = 0x0003;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const POLLIN = 0x1;
/** How long one poll(2) may hold a libuv worker: close() and the caller's timeout are seen within this. */
export const POLL_SLICE_MS = 50;

/** sll_pkttype (linux/if_packet.h) */
export const PACKET_TYPES = ['host', 'broadcast', 'multicast', 'otherhost', 'outgoing', 'loopback', 'user', 'kernel'] as const;
export type PacketType = (typeof PACKET_TYPES)[number];

export interface SocketFilterOptions {
  /** Network namespace name (or /proc/PID/ns/net): the socket is created there and stays there. */
  readonly netns?: string;
  /** Only frames of this interface; default every interface of the namespace. */
  readonly ifname?: string;
  /** The EtherType to receive (host order); default ETH_P_ALL, every protocol. */
  readonly protocol?: number;
  /** Bytes kept per frame read (longer frames are cut; Frame.length has the full length). Default 65536. */
  readonly snaplen?: number;
  /** SO_RCVBUF, bytes: frames beyond it are dropped by the kernel while nobody reads. */
  readonly receiveBuffer?: number;
  readonly sys?: Sys;
}

export interface Frame {
  /** The frame as the socket got it, from the Ethernet header (cut to snaplen or the program's return value). */
  readonly data: Uint8Array;
  /** Its length before any cut. */
  readonly length: number;
  readonly ifindex: number;
  /** Received by this host, or sent ('outgoing'), as sll_pkttype says. */
  readonly pktType: PacketType | number;
  /** EtherType, host order. */
  readonly protocol: number;
  /** When we read it (ms since the epoch, fractional): the time in user space, not the kernel's stamp. */
  readonly time: number;
}

export interface FramesOptions {
  /** Stop after this long in total (ms). Default: no limit. */
  readonly timeoutMs?: number;
  /** Stop after this many frames. */
  readonly count?: number;
  readonly signal?: AbortSignal;
}

function need<K extends keyof Sys>(sys: Sys, k: K, target: string): NonNullable<Sys[K]> {
  const f = sys[k];
  if (!f) throw new ProbeError('socket_filter', target, `this Sys has no ${String(k)}`);
  return f as NonNullable<Sys[K]>;
}

/** sockaddr_ll for bind: the protocol (network order) and the interface (0: all). */
export function sockaddrLl(protocol: number, ifindex: number): Uint8Array {
  const b = new Uint8Array(new ArrayBuffer(20));
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, protocol, false);
  v.setInt32(4, ifindex, true);
  return b;
}

const intOpt = (n: number): Uint8Array => {
  const b = new Uint8Array(new ArrayBuffer(4));
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
};

/** A raw socket with a socket filter program on it. close() (or `using`) closes the socket, which detaches the program. */
export class SocketFilter implements Disposable {
  readonly fd: number;
  /** 0 when bound to every interface. */
  readonly ifindex: number;
  readonly netns: string | undefined;
  readonly program: string;
  private readonly sys: Sys;
  private readonly buf: Uint8Array;
  private readonly addr = new Uint8Array(new ArrayBuffer(20));
  private closed = false;
  /** Frames read so far. */
  received = 0;

  constructor(o: { fd: number; ifindex: number; netns?: string; program: string; snaplen: number; sys: Sys }) {
    this.fd = o.fd;
    this.ifindex = o.ifindex;
    this.netns = o.netns;
    this.program = o.program;
    this.sys = o.sys;
    this.buf = new Uint8Array(new ArrayBuffer(o.snaplen));
  }

  get attached(): boolean { return !this.closed; }

  /** One frame if one is queued, else null; never waits. */
  recv(): Frame | null {
    if (this.closed) throw new ProbeError('socket_filter', this.program, 'the socket is closed');
    const n = need(this.sys, 'recvfrom', this.program)(this.fd, this.buf, MSG_DONTWAIT | MSG_TRUNC, this.addr);
    if (n === -Errno.EAGAIN || n === -Errno.EINTR) return null;
    if (n < 0) throw new ProbeError('socket_filter', this.program, 'recvfrom failed', { errno: -n });
    const v = new DataView(this.addr.buffer);
    const t = v.getUint8(10);
    this.received++;
    return {
      data: this.buf.slice(0, Math.min(n, this.buf.length)), length: n, ifindex: v.getInt32(4, true),
      pktType: PACKET_TYPES[t] ?? t, protocol: v.getUint16(2, false), time: performance.timeOrigin + performance.now(),
    };
  }

  /**
   * The frames that pass the filter, as they come: drains what is queued, then waits in poll(2)
   * off the main thread. Ends at count, timeoutMs, the signal, or close().
   */
  async *frames(o: FramesOptions = {}): AsyncGenerator<Frame, void, undefined> {
    const deadline = o.timeoutMs === undefined ? Infinity : performance.now() + o.timeoutMs;
    let got = 0;
    const poll = need(this.sys, 'pollAsync', this.program);
    while (!this.closed && !o.signal?.aborted && got < (o.count ?? Infinity)) {
      const f = this.recv();
      if (f) { got++; yield f; continue; }
      const left = deadline - performance.now();
      if (left <= 0) return;
      const r = await poll(this.fd, POLLIN, Math.max(1, Math.min(POLL_SLICE_MS, Math.ceil(left))));
      if (r < 0 && r !== -Errno.EINTR) throw new ProbeError('socket_filter', this.program, 'poll failed', { errno: -r });
    }
  }

  /** Every frame that passes within timeoutMs (or until count): frames() collected. */
  async collect(o: FramesOptions & { timeoutMs: number }): Promise<Frame[]> {
    const out: Frame[] = [];
    for await (const f of this.frames(o)) out.push(f);
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sys.close(this.fd);
  }

  /** The same as close(): the socket is the only thing an attach created. */
  detach(): void { this.close(); }

  [Symbol.dispose](): void { this.close(); }
}

/**
 * Open a raw packet socket (in netns, bound to ifname if given) with `prog` as its filter. On
 * any failure the socket is closed again and nothing is left.
 */
export function attachSocketFilter(prog: Program, o: SocketFilterOptions = {}): SocketFilter {
  const target = `${o.ifname ?? 'every interface'}${o.netns ? ` in network namespace '${o.netns}'` : ''}`;
  expectProgramType(prog, 'socket_filter', 'socket_filter', target);
  const sys = o.sys ?? prog.sys;
  const protocol = o.protocol ?? ETH_P_ALL;
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xffff) throw new ProbeError('socket_filter', target, `protocol ${protocol} is not an EtherType (0..0xffff)`);
  const snaplen = o.snaplen ?? 65536;
  if (!Number.isInteger(snaplen) || snaplen < 14) throw new ProbeError('socket_filter', target, `snaplen ${snaplen} is shorter than an Ethernet header`);
  let ifindex = 0;
  if (o.ifname !== undefined) {
    try {
      ifindex = withRouteSocket({ netns: o.netns }, (s) => ifindexOf(s, o.ifname!));
    } catch (e) {
      if (e instanceof NetlinkError) throw new ProbeError('socket_filter', target, e.message.replace(/^.*?: (?=no )/, ''));
      throw e;
    }
  }
  // Protocol 0: the socket is hooked to nothing until bind, so no frame arrives unfiltered.
  const open = (): number => need(sys, 'socket', target)(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  let fd: number;
  try {
    fd = o.netns ? withNetns(o.netns, open) : open();
  } catch (e) {
    if (e instanceof NetlinkError) throw new ProbeError('socket_filter', target, e.message);
    throw e;
  }
  if (fd < 0) {
    throw new ProbeError('socket_filter', target, 'socket(AF_PACKET, SOCK_RAW) failed',
      { errno: -fd, hint: -fd === Errno.EPERM ? 'raw packet sockets need root (CAP_NET_RAW)' : undefined });
  }
  try {
    let r = need(sys, 'setsockopt', target)(fd, SOL_SOCKET, SO_ATTACH_BPF, intOpt(prog.fd));
    if (r < 0) {
      throw new ProbeError('socket_filter', target, `SO_ATTACH_BPF of program '${prog.name}' failed`,
        { errno: -r, hint: -r === Errno.EINVAL ? 'the kernel refused the program for a socket (is it a socket_filter program?)' : undefined });
    }
    if (o.receiveBuffer !== undefined) {
      r = sys.setsockopt!(fd, SOL_SOCKET, SO_RCVBUF, intOpt(o.receiveBuffer));
      if (r < 0) throw new ProbeError('socket_filter', target, 'SO_RCVBUF failed', { errno: -r });
    }
    r = need(sys, 'bind', target)(fd, sockaddrLl(protocol, ifindex));
    if (r < 0) throw new ProbeError('socket_filter', target, 'bind failed', { errno: -r, hint: -r === Errno.ENODEV ? 'the interface went away' : undefined });
    return new SocketFilter({ fd, ifindex, netns: o.netns, program: prog.name, snaplen, sys });
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}
