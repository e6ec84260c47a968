/**
 * The ELF reader against 12,000 mutations of real objects: anything but an ElfError is a
 * failure, and so is taking too long (the fuzzer runs in a child process that is killed after
 * 120 s). The seeds are our own C built by clang 14 and committed (a fresh clone may lack
 * clang), plus fresh builds when clang is installed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { FIXTURES, buildFixture, clangMissing } from '../fixtures/elf/build.ts';
import type { FuzzResult } from '../fixtures/elf/fuzz.ts';

const ITERATIONS = 12_000;
const LIMIT_MS = 120_000;

test(`${ITERATIONS} mutated objects: only ElfError, never a hang`, () => {
  const seeds = ['btf_maps', 'mes_pkt', 'map_def'].map((n) => path.join(FIXTURES, `${n}.seed.o`));
  if (!clangMissing) seeds.push(buildFixture('callback'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(FIXTURES, 'fuzz-main.ts'), String(ITERATIONS), String(0x5eed), ...seeds],
    { encoding: 'utf8', timeout: LIMIT_MS, maxBuffer: 64 << 20 });
  assert.ok(!(r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') && r.signal !== 'SIGTERM',
    `the fuzzer did not finish in ${LIMIT_MS / 1000} s: a mutation makes the reader hang`);
  assert.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as FuzzResult;
  const first = result.findings[0];
  assert.ok(!first, first && `${result.findings.length} findings; first: ${first.seed} case ${first.iteration} (${first.mutation}): ${first.error}`);
  assert.is(result.runs, ITERATIONS);
  // most mutations must be caught, and some must still read (a fuzzer that only ever hits the magic check tests nothing)
  assert.ok(result.elfErrors > ITERATIONS / 4, `only ${result.elfErrors} ElfErrors`);
  assert.ok(result.accepted > 100, `only ${result.accepted} mutated objects read`);
  console.log(`  fuzz: ${result.runs} runs, ${result.elfErrors} ElfError, ${result.accepted} read anyway, slowest ${result.slowestMs.toFixed(1)} ms`);
});

test.run();
