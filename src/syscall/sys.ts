/**
 * The injectable system-call surface of src/syscall. Everything above this file reaches the
 * kernel only through a Sys, so unit tests pass a fake that records attrs and plays the kernel.
 */
import { readlinkSync } from 'node:fs';
import * as ffi from '../ffi.ts';

/** What a bpf fd refers to; the kernel names its anon inodes bpf-prog, bpf-map, bpf_link. */
export type FdKind = 'prog' | 'map' | 'link' | 'other';

export interface Sys {
  /** bpf(cmd, attr, attr.length): the kernel's result, or -errno. */
  bpf(cmd: number, attr: Uint8Array): number;
  /** The address of a buffer, for pointer fields; the buffer must stay referenced during the call. */
  addressOf(buf: Uint8Array): bigint;
  close(fd: number): number;
  /** What an fd is (optional: fakes may leave it out, and then no kind check is made). */
  fdKind?(fd: number): FdKind;
  /** mmap(NULL, len, prot, MAP_SHARED, fd, 0) as memory: the mapping, or -errno. */
  mmap?(fd: number, len: number, writable: boolean): MappedMemory | number;
  /** mount(2): 0 or -errno. */
  mount?(source: string, target: string, fstype: string, flags: number, data: string | null): number;
  /** perf_event_open(attr, pid, cpu, group_fd, flags): the event fd, or -errno (src/attach/perf-event.ts). */
  perfEventOpen?(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number;
  /** ioctl(fd, request, arg) with an integer argument: 0 or -errno. */
  ioctl?(fd: number, request: number, arg: number): number;
  /** socket(2), setsockopt(2), bind(2): the fd or 0, or -errno (src/attach/socket-filter.ts). */
  socket?(domain: number, type: number, protocol: number): number;
  setsockopt?(fd: number, level: number, name: number, value: Uint8Array): number;
  bind?(fd: number, addr: Uint8Array): number;
  /** recvfrom(2): the frame's full length (may exceed buf), or -errno. */
  recvfrom?(fd: number, buf: Uint8Array, flags: number, addr: Uint8Array | null): number;
  /** poll(2) on one fd, off the main thread: revents, 0 on timeout, or -errno. */
  pollAsync?(fd: number, events: number, timeoutMs: number): Promise<number>;
}

/** A shared mapping of a bpf map: its bytes, and how to give them back. */
export interface MappedMemory {
  readonly bytes: Uint8Array;
  unmap(): void;
}

function mmapShared(fd: number, len: number, writable: boolean): MappedMemory | number {
  const prot = writable ? ffi.PROT_READ | ffi.PROT_WRITE : ffi.PROT_READ;
  const addr = ffi.mmap(len, prot, ffi.MAP_SHARED, fd, 0);
  if (typeof addr === 'number') return addr;
  return { bytes: new Uint8Array(ffi.view(addr, len)), unmap: () => { ffi.munmap(addr, len); } };
}

/** Read /proc/self/fd/N: anon_inode:bpf-prog, anon_inode:bpf-map, anon_inode:bpf_link. */
export function fdKind(fd: number): FdKind {
  let target: string;
  try { target = readlinkSync(`/proc/self/fd/${fd}`); } catch { return 'other'; }
  if (target === 'anon_inode:bpf-prog') return 'prog';
  if (target === 'anon_inode:bpf-map') return 'map';
  // The kernel names link inodes bpf-link (older kernels: bpf_link).
  if (target === 'anon_inode:bpf-link' || target === 'anon_inode:bpf_link') return 'link';
  return 'other';
}

export const defaultSys: Sys = {
  bpf: ffi.bpf,
  addressOf: ffi.addressOf,
  close: ffi.close,
  fdKind,
  mmap: mmapShared,
  mount: ffi.mount,
  perfEventOpen: ffi.perfEventOpen,
  ioctl: ffi.ioctl,
  socket: ffi.socket,
  setsockopt: ffi.setsockopt,
  bind: ffi.bind,
  recvfrom: ffi.recvfrom,
  pollAsync: ffi.pollAsync,
};

const KIND_WORD: Readonly<Record<FdKind, string>> = { prog: 'a program', map: 'a map', link: 'a link', other: 'not a bpf object' };

/** Throw when a pinned object is not the kind the caller opened it as (the caller closes fd). */
export function expectKind(sys: Sys, fd: number, want: FdKind, path: string): void {
  const got = sys.fdKind?.(fd);
  if (got === undefined || got === want) return;
  throw new Error(`the object pinned at ${path} is ${KIND_WORD[got]}, not ${KIND_WORD[want]}`);
}
