/**
 * Cold start of the compiled commands, as whole processes, beside Node's own floor
 * (`node -e ''`) in the same run. The commands are interleaved round by round, so drift in the
 * machine's speed hits all of them alike; medians of RUNS rounds are printed with the ratio to
 * the floor. No asserts: targets are ≤ 1.6× for `tsbpf --help` and ≤ 2× for the other two.
 *
 * `show`'s empty pin dir is a fresh directory on bpffs when we are root (so show takes its real
 * path: pin dir checked, no maps, "nothing is attached"), removed afterwards; without root it is
 * a plain temp dir, and show stops earlier, at "not on a bpf filesystem". The row says which.
 *
 *   npm run build && npx tsx bench/cold-start.ts [runs=15]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Builder, encode, r0, r1, r2 } from '../src/asm/index.ts';
import { ensureBpffs } from '../src/syscall/bpffs.ts';

const RUNS = Number(process.argv[2] ?? 15);
const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(path.join(root, 'dist', 'src', 'cli.js'))) {
  console.error('bench/cold-start: run `npm run build` first (the bins run dist/)');
  process.exit(1);
}

/** An empty directory on bpffs (root), else undefined: the caller falls back to a temp dir. */
function emptyBpffsDir(): string | undefined {
  if (process.geteuid?.() !== 0) return undefined;
  try {
    return mkdtempSync(path.join(ensureBpffs(), 'tsbpf-cold-'));
  } catch (e) {
    console.error(`bench/cold-start: no directory on bpffs (${(e as Error).message}); show gets a plain temp dir`);
    return undefined;
  }
}

const work = mkdtempSync(path.join(tmpdir(), 'tsbpf-cold-'));
const bpffsPins = emptyBpffsDir();
try {
  // A 4096-instruction file: ALU, memory and jump forms, so disasm does real work.
  const b = new Builder({ trackSource: false });
  while (b.insns.length < 4090) {
    b.mov(r0, b.insns.length); b.add(r1, r0); b.ldx('u32', r2, r1, 4); b.jgt(r2, 7, 'end');
  }
  while (b.insns.length < 4094) b.mov(r0, 1);
  b.label('end'); b.mov(r0, 0); b.exit();
  const bin = path.join(work, 'prog.bin');
  writeFileSync(bin, encode(b.insns));
  const emptyPins = bpffsPins ?? mkdtempSync(path.join(work, 'pins-'));
  const where = bpffsPins ? 'empty pin dir on bpffs' : 'plain temp dir, no root';

  const cmds: [string, string[]][] = [
    ["node -e ''", ['-e', '']],
    ['tsbpf --help', [path.join(root, 'bin', 'tsbpf.mjs'), '--help']],
    [`tsbpf disasm (${b.insns.length} insns)`, [path.join(root, 'bin', 'tsbpf.mjs'), 'disasm', bin]],
    [`tsbpf-mes-pkt show (${where})`, [path.join(root, 'bin', 'tsbpf-mes-pkt.mjs'), 'show', '--pin-dir', emptyPins]],
  ];
  const times = cmds.map(() => [] as number[]);
  for (let round = 0; round <= RUNS; round++) {
    cmds.forEach(([, args], i) => {
      const t0 = performance.now();
      spawnSync(process.execPath, args, { stdio: 'ignore' });
      if (round > 0) times[i]!.push(performance.now() - t0); // round 0 warms the page cache
    });
  }
  const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
  const floor = median(times[0]!);
  console.log(`cold start, median of ${RUNS} interleaved runs (wall ms)`);
  console.log(`${'command'.padEnd(48)}${'min'.padStart(8)}${'median'.padStart(8)}${'x floor'.padStart(9)}`);
  cmds.forEach(([name], i) => {
    const t = times[i]!;
    console.log(`${name.padEnd(48)}${Math.min(...t).toFixed(1).padStart(8)}${median(t).toFixed(1).padStart(8)}${(median(t) / floor).toFixed(2).padStart(9)}`);
  });
} finally {
  rmSync(work, { recursive: true, force: true });
  if (bpffsPins) rmSync(bpffsPins, { recursive: true, force: true });
}
