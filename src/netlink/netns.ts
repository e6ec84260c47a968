/**
 * Named network namespaces (`ip netns add NAME` makes /var/run/netns/NAME a bind mount of a
 * namespace inode). setns(2) switches only the calling thread, and all of tsbpf's JS runs on
 * Node's main thread, so we switch, do synchronous work, and switch back before returning:
 * nothing else on the event loop can run in between, and libuv's worker threads never move.
 *
 * For async code, open a socket in the namespace instead (`routeSocket({ netns })`): a netlink
 * socket stays bound to the namespace it was created in, whichever namespace the thread is in
 * later, so awaiting between requests is safe.
 */
import { Errno } from '../errno.ts';
import { closeSync, openSync } from 'node:fs';
import { CLONE_NEWNET, setns } from '../ffi.ts';
import { NetlinkError } from './error.ts';

export const NETNS_RUN_DIR = '/var/run/netns';

/** /var/run/netns/NAME, or NAME itself when it is a path (e.g. /proc/PID/ns/net). */
export function netnsPath(name: string): string {
  if (name.includes('/')) return name;
  if (name === '' || name === '.' || name === '..') throw new TypeError(`'${name}' is not a network namespace name`);
  return `${NETNS_RUN_DIR}/${name}`;
}

function openNs(path: string, op: string, what: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const errno = typeof err.errno === 'number' ? Math.abs(err.errno) : Errno.ENOENT;
    throw new NetlinkError({
      op, errno,
      message: err.code === 'ENOENT' ? `no network namespace ${what}` : `cannot open network namespace ${what}: ${err.message}`,
      hint: err.code === 'ENOENT' ? 'list them with `ip netns list`' : undefined,
    });
  }
}

/**
 * Run `fn` with the main thread in network namespace `name`, and always come back, even when
 * `fn` throws. `fn` must be synchronous: a returned promise is refused (after switching back),
 * because its continuation would run in the original namespace.
 */
export function withNetns<R>(name: string, fn: () => R): R {
  const op = `enter network namespace '${name}'`;
  const target = openNs(netnsPath(name), op, `'${name}'`);
  let saved = -1;
  try {
    // /proc/thread-self, not /proc/self: the namespace of this thread, which is the one setns moves.
    saved = openNs('/proc/thread-self/ns/net', op, 'of this thread');
    const r = setns(target, CLONE_NEWNET);
    if (r < 0) throw new NetlinkError({ op, errno: -r, hint: -r === Errno.EPERM ? 'entering a namespace needs CAP_SYS_ADMIN (run as root)' : undefined });
    let result: R;
    try {
      result = fn();
    } finally {
      const back = setns(saved, CLONE_NEWNET);
      // Staying in the wrong namespace would silently misdirect every later socket: stop hard.
      if (back < 0) throw new Error(`could not return to the original network namespace (errno ${-back}); aborting`);
    }
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      (result as unknown as Promise<unknown>).catch(() => {});
      throw new TypeError('withNetns runs its callback synchronously and cannot await; for async code use routeSocket({ netns })');
    }
    return result;
  } finally {
    if (saved >= 0) closeSync(saved);
    closeSync(target);
  }
}
