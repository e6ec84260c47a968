/**
 * Whether this process may do what mes_pkt does (bpf(2), rtnetlink, bpffs), and the one message
 * that says so when it may not. Without it, a non-root `show` could not see the pins and said
 * "nothing is attached", and `detach` printed a raw EACCES.
 */
import { readFileSync } from 'node:fs';
import { SELF } from './self.ts';

export const CAP_NET_ADMIN = 12;
export const CAP_SYS_ADMIN = 21;
export const CAP_PERFMON = 38;
export const CAP_BPF = 39;

/** The effective capability set, from /proc/self/status (a bigint bit mask), or null if unreadable. */
export function effectiveCaps(status?: string): bigint | null {
  try {
    const text = status ?? readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(text);
    return m ? BigInt(`0x${m[1]}`) : null;
  } catch {
    return null;
  }
}

/** Root, or CAP_BPF + CAP_NET_ADMIN (CAP_SYS_ADMIN stands in for CAP_BPF on any kernel). */
export function privileged(caps: bigint | null = effectiveCaps(), uid = process.geteuid?.() ?? 0): boolean {
  if (uid === 0) return true;
  if (caps === null) return false;
  const has = (c: number) => (caps & (1n << BigInt(c))) !== 0n;
  return (has(CAP_BPF) || has(CAP_SYS_ADMIN)) && has(CAP_NET_ADMIN);
}

/** Whether the effective set holds every one of caps (CAP_SYS_ADMIN stands in for each). */
export function hasCaps(...caps: number[]): boolean {
  const eff = effectiveCaps();
  if (eff === null) return false;
  const has = (c: number) => (eff & (1n << BigInt(c))) !== 0n;
  return has(CAP_SYS_ADMIN) || caps.every(has);
}

/** The one needs-root line of any program here, e.g. needsRootMessage('sockfilter'). */
export function needsRootMessage(what: string, caps = 'CAP_BPF + CAP_NET_ADMIN'): string {
  return `${what} needs root (or ${caps}): run it with sudo`;
}

export class NeedsRootError extends Error {
  override name = 'NeedsRootError';
  constructor(readonly command: string) {
    super(needsRootMessage(`${SELF} ${command}`));
  }
}

/** Throw NeedsRootError for `command` unless this process is privileged. */
export function needRoot(command: string): void {
  if (!privileged()) throw new NeedsRootError(command);
}

/** EPERM/EACCES from any layer, as the needs-root message; anything else unchanged. */
export function asNeedsRoot(command: string, e: unknown): unknown {
  const err = e as { code?: string; errnoName?: string; message?: string };
  const code = err?.code ?? err?.errnoName;
  if (code === 'EPERM' || code === 'EACCES' || /\b(EPERM|EACCES)\b/.test(err?.message ?? '')) return new NeedsRootError(command);
  return e;
}
