/**
 * The stage the attach benchmarks share: a throwaway network namespace holding a veth pair va <->
 * vb (both up), and a private bpffs mount under /tmp (visible inside `ip netns exec` too) where
 * programs are pinned for the tools that take no fd. Everything goes again when the run ends,
 * failed or not: the programs in `progs`, the mount, the namespace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import type { Program } from '../../src/syscall/program.ts';

export interface VethBench {
  readonly ns: string;
  readonly bpffs: string;
  /** Programs to close at the end. */
  readonly progs: Program[];
}

/** Build the stage (the namespace named prefix + pid), run fn on it, and always tear it down. */
export function withVethBench(prefix: string, fn: (stage: VethBench) => void): void {
  const ns = `${prefix}${process.pid}`;
  const ip = (...a: string[]) => execFileSync('ip', a);
  ip('netns', 'add', ns);
  const progs: Program[] = [];
  let bpffs: string | undefined;
  try {
    ip('-n', ns, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
    ip('-n', ns, 'link', 'set', 'va', 'up');
    ip('-n', ns, 'link', 'set', 'vb', 'up');
    bpffs = mkdtempSync(join(tmpdir(), 'tsbpf-bench-bpffs-'));
    ensureBpffs({ path: bpffs });
    fn({ ns, bpffs, progs });
  } finally {
    for (const p of progs) p.close();
    if (bpffs) {
      spawnSync('umount', [bpffs]);
      try { rmdirSync(bpffs); } catch { rmSync(bpffs, { recursive: true, force: true }); }
    }
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
