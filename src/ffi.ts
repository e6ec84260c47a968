/**
 * The one module that talks to libc. Everything that needs a system call goes through here;
 * nothing else in tsbpf imports koffi.
 *
 * Convention: every call returns what the kernel returns, and a failure comes back as a
 * negative errno (like the raw kernel ABI), so callers never consult a global errno and the
 * layers above can be faked by plain functions in unit tests.
 */
import { createRequire } from 'node:module';

/** x86-64 and arm64 syscall numbers for bpf(2); everything else uses glibc's wrappers. */
const NR_BPF = process.arch === 'arm64' ? 280 : 321;

type Koffi = typeof import('koffi');

/**
 * koffi and libc load on the first system call, not on import: `tsbpf/asm`, `--help` and
 * errno names never pay for the native module (about 20 ms) or need it installed.
 */
let loaded: { koffi: Koffi; c: ReturnType<typeof bindLibc> } | undefined;

function bindLibc(koffi: Koffi) {
  const libc = koffi.load('libc.so.6');
  return {
    bpf: libc.func('long syscall(long nr, long cmd, void *attr, unsigned long size)'),
    close: libc.func('int close(int fd)'),
    mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
    munmap: libc.func('int munmap(void *addr, size_t len)'),
    socket: libc.func('int socket(int domain, int type, int protocol)'),
    bind: libc.func('int bind(int fd, void *addr, uint32_t addrlen)'),
    setsockopt: libc.func('int setsockopt(int fd, int level, int name, void *val, uint32_t len)'),
    getsockname: libc.func('int getsockname(int fd, void *addr, _Inout_ uint32_t *addrlen)'),
    sendto: libc.func('long sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t addrlen)'),
    recv: libc.func('long recv(int fd, void *buf, size_t len, int flags)'),
    setns: libc.func('int setns(int fd, int nstype)'),
    perf_event_open: libc.func('long syscall(long nr, void *attr, long pid, long cpu, long group_fd, unsigned long flags)'),
    ioctl: libc.func('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    recvfrom: libc.func('long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, _Inout_ uint32_t *addrlen)'),
    poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
  };
}

function lib(): { koffi: Koffi; c: ReturnType<typeof bindLibc> } {
  if (loaded) return loaded;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    throw new Error(`tsbpf could not load its FFI module koffi (${(e as Error).message.split('\n')[0]}): ` +
      'reinstall the package (npm ci) on this platform; koffi ships prebuilt binaries for Linux x64 and arm64');
  }
  loaded = { koffi, c: bindLibc(koffi) };
  return loaded;
}

/** Whether libc has been loaded yet (tests check that pure imports never load it). */
export function ffiLoaded(): boolean {
  return loaded !== undefined;
}

const fail = (): number => -lib().koffi.errno();
const check = (r: number | bigint): number => (Number(r) < 0 ? fail() : Number(r));

/**
 * The address of a buffer's memory, for pointer fields inside bpf attrs and netlink/socket
 * structs. The caller must keep the buffer referenced until the syscall that uses the
 * address returns (V8 does not move an externalised backing store).
 */
export function addressOf(buf: Uint8Array | ArrayBuffer): bigint {
  return lib().koffi.address(buf);
}

/** bpf(cmd, attr, attr.length): the fd or value the kernel returns, or -errno. */
export function bpf(cmd: number, attr: Uint8Array): number {
  return check(lib().c.bpf(NR_BPF, cmd, attr, attr.length));
}

export function close(fd: number): number {
  return check(lib().c.close(fd));
}

export function mount(source: string, target: string, fstype: string, flags = 0, data: string | null = null): number {
  return check(lib().c.mount(source, target, fstype, flags, data));
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/** mmap(NULL, len, prot, flags, fd, offset): an address, or a negative errno as a number. */
export function mmap(len: number, prot: number, flags: number, fd: number, offset = 0): bigint | number {
  const p = lib().c.mmap(null, len, prot, flags, fd, offset) as bigint | null;
  if (p === null || BigInt.asIntN(64, BigInt(p)) === -1n) return fail();
  return BigInt(p);
}

export function munmap(addr: bigint, len: number): number {
  return check(lib().c.munmap(addr, len));
}

/** An ArrayBuffer over len bytes of unmanaged memory at addr (no copy). */
export function view(addr: bigint, len: number): ArrayBuffer {
  return lib().koffi.view(addr, len);
}

export function socket(domain: number, type: number, protocol: number): number {
  return check(lib().c.socket(domain, type, protocol));
}

export function bind(fd: number, addr: Uint8Array): number {
  return check(lib().c.bind(fd, addr, addr.length));
}

export function setsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
  return check(lib().c.setsockopt(fd, level, name, value, value.length));
}

/** getsockname into addr; returns the address length the kernel wrote, or -errno. */
export function getsockname(fd: number, addr: Uint8Array): number {
  const len = [addr.length];
  const r = check(lib().c.getsockname(fd, addr, len));
  return r < 0 ? r : len[0]!;
}

export function sendto(fd: number, buf: Uint8Array, flags = 0, addr: Uint8Array | null = null): number {
  return check(lib().c.sendto(fd, buf, buf.length, flags, addr, addr ? addr.length : 0));
}

export function recv(fd: number, buf: Uint8Array, flags = 0): number {
  return check(lib().c.recv(fd, buf, buf.length, flags));
}

/** setns(fd, nstype) on the calling (main) thread. */
export function setns(fd: number, nstype: number): number {
  return check(lib().c.setns(fd, nstype));
}

export const CLONE_NEWNET = 0x40000000;

/** perf_event_open(2) has no glibc wrapper: x86-64 and arm64 syscall numbers. */
const NR_PERF_EVENT_OPEN = process.arch === 'arm64' ? 241 : 298;

/** perf_event_open(attr, pid, cpu, group_fd, flags): the event's fd, or -errno. */
export function perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number {
  return check(lib().c.perf_event_open(NR_PERF_EVENT_OPEN, attr, pid, cpu, groupFd, flags));
}

/** ioctl(fd, request, arg) with an integer argument (perf's ENABLE, DISABLE, SET_BPF): 0 or -errno. */
export function ioctl(fd: number, request: number, arg: number): number {
  return check(lib().c.ioctl(fd, request, arg));
}

/** recvfrom into buf, the sender's address into addr: the frame's full length, or -errno. */
export function recvfrom(fd: number, buf: Uint8Array, flags = 0, addr: Uint8Array | null = null): number {
  const len = [addr ? addr.length : 0];
  return check(lib().c.recvfrom(fd, buf, buf.length, flags, addr, addr ? len : null));
}

export const POLLIN = 0x1;

/** struct pollfd for one fd: int fd; short events; short revents. */
function pollfd(fd: number, events: number): Uint8Array {
  const b = new Uint8Array(new ArrayBuffer(8));
  const v = new DataView(b.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, events, true);
  return b;
}
const revents = (b: Uint8Array): number => new DataView(b.buffer).getUint16(6, true);

/** poll(2) on one fd: its revents (0 on timeout), or -errno. Blocks the calling thread up to timeoutMs. */
export function poll(fd: number, events: number, timeoutMs: number): number {
  const b = pollfd(fd, events);
  const r = check(lib().c.poll(b, 1, timeoutMs));
  return r < 0 ? r : revents(b);
}

/**
 * poll(2) on one fd on a libuv worker thread (koffi's async call): the event loop runs while
 * it waits. Resolves to revents (0 on timeout) or -errno. Keep timeoutMs short: the worker is
 * busy until poll returns, and closing the fd does not wake it.
 */
export function pollAsync(fd: number, events: number, timeoutMs: number): Promise<number> {
  const b = pollfd(fd, events);
  const { koffi, c } = lib();
  return new Promise((resolve, reject) => {
    // errno belongs to the worker thread; when koffi has none for it, report EINTR (callers poll again).
    c.poll.async(b, 1, timeoutMs, (err: unknown, r: number) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(r < 0 ? -(koffi.errno() || 4) : revents(b));
    });
  });
}
