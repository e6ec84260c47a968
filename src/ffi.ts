/**
 * The one module that talks to libc. Everything that needs a system call goes through here;
 * nothing else in tsbpf imports koffi.
 *
 * Convention: every call returns what the kernel returns, and a failure comes back as a
 * negative errno (like the raw kernel ABI), so callers never consult a global errno and the
 * layers above can be faked by plain functions in unit tests.
 */
import koffi from 'koffi';
import { constants } from 'node:os';

const libc = koffi.load('libc.so.6');

/** x86-64 and arm64 syscall numbers for bpf(2); everything else uses glibc's wrappers. */
const NR_BPF = process.arch === 'arm64' ? 280 : 321;

const c = {
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
};

const fail = (): number => -koffi.errno();
const check = (r: number | bigint): number => (Number(r) < 0 ? fail() : Number(r));

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);
// Linux-only codes that Node's table lacks but the kernel returns from bpf(2) and netlink.
for (const [num, name] of [[524, 'ENOTSUPP'], [512, 'ERESTARTSYS'], [95, 'EOPNOTSUPP']] as const) {
  if (!errnoNames.has(num)) errnoNames.set(num, name);
}

/** The symbolic name of an errno value: 1 -> 'EPERM'. Unknown values print as 'E<n>'. */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** The errno value of a symbolic name: 'ENOENT' -> 2. */
export function errnoValue(name: string): number {
  const v = (constants.errno as Record<string, number>)[name];
  if (v === undefined) throw new Error(`unknown errno name ${name}`);
  return v;
}

/**
 * The address of a buffer's memory, for pointer fields inside bpf attrs and netlink/socket
 * structs. The caller must keep the buffer referenced until the syscall that uses the
 * address returns (V8 does not move an externalised backing store).
 */
export function addressOf(buf: Uint8Array | ArrayBuffer): bigint {
  return koffi.address(buf);
}

/** bpf(cmd, attr, attr.length): the fd or value the kernel returns, or -errno. */
export function bpf(cmd: number, attr: Uint8Array): number {
  return check(c.bpf(NR_BPF, cmd, attr, attr.length));
}

export function close(fd: number): number {
  return check(c.close(fd));
}

export function mount(source: string, target: string, fstype: string, flags = 0, data: string | null = null): number {
  return check(c.mount(source, target, fstype, flags, data));
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/** mmap(NULL, len, prot, flags, fd, offset): an address, or a negative errno as a number. */
export function mmap(len: number, prot: number, flags: number, fd: number, offset = 0): bigint | number {
  const p = c.mmap(null, len, prot, flags, fd, offset) as bigint | null;
  if (p === null || BigInt.asIntN(64, BigInt(p)) === -1n) return fail();
  return BigInt(p);
}

export function munmap(addr: bigint, len: number): number {
  return check(c.munmap(addr, len));
}

/** An ArrayBuffer over len bytes of unmanaged memory at addr (no copy). */
export function view(addr: bigint, len: number): ArrayBuffer {
  return koffi.view(addr, len);
}

export function socket(domain: number, type: number, protocol: number): number {
  return check(c.socket(domain, type, protocol));
}

export function bind(fd: number, addr: Uint8Array): number {
  return check(c.bind(fd, addr, addr.length));
}

export function setsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
  return check(c.setsockopt(fd, level, name, value, value.length));
}

/** getsockname into addr; returns the address length the kernel wrote, or -errno. */
export function getsockname(fd: number, addr: Uint8Array): number {
  const len = [addr.length];
  const r = check(c.getsockname(fd, addr, len));
  return r < 0 ? r : len[0]!;
}

export function sendto(fd: number, buf: Uint8Array, flags = 0, addr: Uint8Array | null = null): number {
  return check(c.sendto(fd, buf, buf.length, flags, addr, addr ? addr.length : 0));
}

export function recv(fd: number, buf: Uint8Array, flags = 0): number {
  return check(c.recv(fd, buf, buf.length, flags));
}

/** setns(fd, nstype) on the calling (main) thread. */
export function setns(fd: number, nstype: number): number {
  return check(c.setns(fd, nstype));
}

export const CLONE_NEWNET = 0x40000000;
