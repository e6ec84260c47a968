/**
 * The cost of bpf(2) from TypeScript: `npx tsx bench/syscall.ts` (root). Prints figures, asserts
 * nothing. Minima over several rounds (the machine is noisy).
 *   1. MAP_LOOKUP_ELEM per call: BpfMap.get vs a C loop making the same syscall (bench/lookup.c,
 *      built with gcc into a temp dir). Target: TS <= 1.3x C.
 *   2. Reading 512 u64 values: per-element get, one MAP_LOOKUP_BATCH read, an mmap view.
 *      Target: batch or mmap >= 10x faster than per-element.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BPF_F_MMAPABLE, createMap, u32, u64 } from '../src/syscall/index.ts';
import { bestOf as minOf, timeNs as time } from './support/timing.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ITERS = Number(process.env.ITERS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const N = 512;


function cBaseline(): number | null {
  try { execFileSync('gcc', ['--version'], { stdio: 'ignore' }); } catch { return null; }
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-bench-'));
  try {
    const exe = path.join(dir, 'lookup');
    execFileSync('gcc', ['-O2', '-o', exe, path.join(here, 'lookup.c')]);
    const out = execFileSync(exe, [String(ITERS), String(ROUNDS)], { encoding: 'utf8' });
    return Number(/ns_per_call ([\d.]+)/.exec(out)![1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

using map = createMap<number, bigint>(
  { name: 'bench_ts', type: 'array', keySize: 4, valueSize: 8, maxEntries: N, flags: BPF_F_MMAPABLE },
  { key: u32, value: u64 },
);
for (let i = 0; i < N; i++) map.set(i, BigInt(i) * 3n);

// 1. per-call cost
let sink = 0n;
for (let i = 0; i < 100_000; i++) sink += map.get(i & (N - 1))!; // warm up the JIT and koffi
const tsPerCall = minOf(ROUNDS, () => time(() => {
  for (let i = 0; i < ITERS; i++) sink += map.get(i & (N - 1))!;
}) / ITERS);
const cPerCall = cBaseline();

// 2. 512 values three ways
const READS = 2000;
const perElement = minOf(ROUNDS, () => time(() => {
  for (let r = 0; r < READS; r++) for (let i = 0; i < N; i++) sink += map.get(i)!;
}) / READS);
const batch = minOf(ROUNDS, () => time(() => {
  for (let r = 0; r < READS; r++) for (const [, v] of map.batchRead()) sink += v;
}) / READS);
using view = map.mmap();
const mmapped = minOf(ROUNDS, () => time(() => {
  for (let r = 0; r < READS; r++) for (let i = 0; i < N; i++) sink += view.get(i);
}) / READS);
if (sink === 42n) console.log('');

const f = (ns: number): string => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} us` : `${ns.toFixed(0)} ns`);
console.log(`bpf(2) MAP_LOOKUP_ELEM on an array, ${ITERS} calls, min of ${ROUNDS} rounds`);
console.log(`  TypeScript BpfMap.get      ${f(tsPerCall)} per call`);
if (cPerCall === null) console.log('  C loop                     (gcc not found: skipped)');
else {
  console.log(`  C loop (bench/lookup.c)    ${f(cPerCall)} per call`);
  console.log(`  ratio TS / C               ${(tsPerCall / cPerCall).toFixed(2)}x   (target <= 1.3x)`);
}
console.log(`reading ${N} u64 values, min of ${ROUNDS} rounds of ${READS} reads`);
console.log(`  per-element get            ${f(perElement)}`);
console.log(`  MAP_LOOKUP_BATCH           ${f(batch)}   ${(perElement / batch).toFixed(1)}x faster   (target >= 10x)`);
console.log(`  mmap view                  ${f(mmapped)}   ${(perElement / mmapped).toFixed(1)}x faster`);
