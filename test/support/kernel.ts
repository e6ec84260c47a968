/**
 * Gate for kernel tests. They need root and a kernel with bpf(2); without them they are
 * skipped on a developer's machine, but when CI=true or TSBPF_REQUIRE_KERNEL=1 a missing
 * kernel makes every such test fail instead of silently skipping.
 */
import { suite, type Test } from 'uvu';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const kernelRequired = process.env.CI === 'true' || process.env.TSBPF_REQUIRE_KERNEL === '1';

function why(): string | null {
  if (process.getuid?.() !== 0) return 'kernel tests need root (run as root, or with CAP_BPF+CAP_NET_ADMIN)';
  if (!existsSync('/proc/sys/kernel/unprivileged_bpf_disabled')) return 'this kernel has no bpf(2)';
  return null;
}
export const kernelUnavailable = why();

/** A uvu suite whose tests run only with a kernel; see the module comment for the rules. */
export function kernelSuite<T = Record<string, unknown>>(name: string, context?: T): Test<T> {
  const s = suite<T>(name, context);
  if (kernelUnavailable === null) return s;
  const gated = ((title: string, _fn: unknown) => {
    if (kernelRequired) s(title, () => { throw new Error(`${kernelUnavailable} (required: CI=true or TSBPF_REQUIRE_KERNEL=1)`); });
    else s.skip(title, () => {});
  }) as unknown as Test<T>;
  return Object.assign(gated, { run: s.run, skip: s.skip, only: s.only, before: s.before, after: s.after });
}

let counter = 0;
/** A name no other test run uses, short enough for an interface (IFNAMSIZ 16). */
export function uniqueName(prefix: string): string {
  return `${prefix}${(process.pid % 100000).toString(36)}${(counter++).toString(36)}`.slice(0, 15);
}

/** Run a command (tests only: ip, tc, bpftool are independent oracles). */
export function sh(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (opts.allowFail) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

/** Create a throwaway netns with a veth pair inside it; always torn down, even on failure. */
export async function withNetns<R>(fn: (ns: { name: string; a: string; b: string }) => Promise<R> | R): Promise<R> {
  const name = uniqueName('tsbpft');
  const a = uniqueName('va'), b = uniqueName('vb');
  sh('ip', ['netns', 'add', name]);
  try {
    sh('ip', ['-n', name, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    sh('ip', ['-n', name, 'link', 'set', a, 'up']);
    sh('ip', ['-n', name, 'link', 'set', b, 'up']);
    return await fn({ name, a, b });
  } finally {
    sh('ip', ['netns', 'del', name], { allowFail: true });
  }
}
