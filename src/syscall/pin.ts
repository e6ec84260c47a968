/**
 * Pins: bpffs paths that keep an object alive after its last fd closes. Pinning and opening are
 * methods of BpfMap and Program (pin(), openPinnedMap(), openPinnedProgram()); these are the
 * generic pieces.
 */
import { rmSync, unlinkSync } from 'node:fs';
import { objGet, objPin } from './bpf.ts';
import { BPF_F_RDONLY, BPF_F_WRONLY } from './constants.ts';
import { defaultSys, expectKind, fdKind, type FdKind, type Sys } from './sys.ts';

/** Pin any bpf fd at path (BPF_OBJ_PIN). */
export function pinFd(fd: number, path: string, sys: Sys = defaultSys): void {
  objPin(sys, fd, path);
}

/** Open whatever is pinned at path (BPF_OBJ_GET); the caller owns the fd. */
export function openPinnedFd(path: string, opts: { readonly?: boolean; writeonly?: boolean; sys?: Sys } = {}): number {
  const flags = (opts.readonly ? BPF_F_RDONLY : 0) | (opts.writeonly ? BPF_F_WRONLY : 0);
  return objGet(opts.sys ?? defaultSys, path, flags);
}

/**
 * Open what is pinned at path as the kind the caller wants (BPF_OBJ_GET): anything else pinned
 * there is an error naming what it is, with its fd closed. The caller owns the fd it returns.
 */
export function openPinnedAs(path: string, kind: FdKind, opts: { readonly?: boolean; writeonly?: boolean; sys?: Sys } = {}): number {
  const sys = opts.sys ?? defaultSys;
  const fd = openPinnedFd(path, opts);
  try {
    expectKind(sys, fd, kind, path);
  } catch (e) {
    sys.close(fd);
    throw e;
  }
  return fd;
}

/** What is pinned at path: 'prog', 'map', 'link' (opens and closes an fd). */
export function pinnedKind(path: string, sys: Sys = defaultSys): FdKind {
  const fd = objGet(sys, path);
  try {
    return (sys.fdKind ?? fdKind)(fd);
  } finally {
    sys.close(fd);
  }
}

/** Remove a pin (the object lives on while fds or attachments hold it). Missing is not an error. */
export function unpin(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Remove a directory of pins recursively (tests and teardown). */
export function removePinDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
