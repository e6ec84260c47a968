/**
 * errno names and numbers, pure: naming an errno loads no FFI and no libc. The kernel returns
 * -errno from bpf(2), and netlink carries errno in NLMSG_ERROR; both are named through here.
 */
import { constants } from 'node:os';

/** The errno values tsbpf's code compares against, by name (Linux, x86-64 and arm64 agree). */
export const Errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, EBADF: 9, EAGAIN: 11,
  ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EINVAL: 22,
  ENOSPC: 28, ERANGE: 34, ENOSYS: 38, ENOTEMPTY: 39, ENODATA: 61, EPROTO: 71, EOPNOTSUPP: 95,
  EADDRINUSE: 98, ENOBUFS: 105, ETIMEDOUT: 110, ERESTARTSYS: 512, ENOTSUPP: 524,
} as const;
export type ErrnoName = keyof typeof Errno;

const names = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) if (!names.has(num)) names.set(num, name);
// Kernel-internal codes that Node's table lacks but bpf(2) and netlink return to user space.
for (const [name, num] of Object.entries(Errno)) if (!names.has(num)) names.set(num, name);

/** The symbolic name of an errno value: 1 -> 'EPERM'. Unknown values print as 'E<n>'. */
export function errnoName(errno: number): string {
  return names.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** The errno value of a symbolic name: 'ENOENT' -> 2. */
export function errnoValue(name: string): number {
  const v = (constants.errno as Record<string, number>)[name] ?? (Errno as Record<string, number>)[name];
  if (v === undefined) throw new Error(`unknown errno name ${name}: use a name from errno(3), such as ENOENT`);
  return v;
}
