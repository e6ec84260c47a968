#!/usr/bin/env node
// Runs the uvu suites (test/unit, then test/kernel) and prints one closing line
// "N passed, N failed[, N skipped]" summed over them: uvu prints per-run totals only.
// uvu colours its totals (it sets FORCE_COLOR itself), so they are read with the ANSI codes
// stripped: a coloured "Skipped:" once broke the count ("0 passed, NaN failed" without root).
// uvu's Total does not include skipped tests.
// Usage: node scripts/test.mjs [unit|kernel] [pattern]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const suites = process.argv[2] && !process.argv[2].includes('.') ? [process.argv[2]] : ['unit', 'kernel'];
const pattern = process.argv[3] ?? '\\.test\\.ts$';
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');

let passed = 0, failed = 0, skipped = 0, broken = false;
for (const s of suites) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', uvu, path.join('test', s), pattern],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  process.stdout.write(r.stdout);
  const plain = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  const num = (label) => Number((plain.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm')) ?? [])[1] ?? NaN);
  const total = num('Total'), ok = num('Passed'), skip = num('Skipped');
  if (Number.isNaN(total)) { broken = true; failed += 1; console.log(`[${s}] no uvu totals: the suite crashed (exit ${r.status})`); continue; }
  // uvu's Total counts the tests that ran; skipped ones are apart from it
  passed += ok; skipped += skip; failed += total - ok;
  if (r.status !== 0 && total - ok === 0) { broken = true; failed += 1; }
}
const requireKernel = process.env.CI === 'true' || process.env.TSBPF_REQUIRE_KERNEL === '1';
if (requireKernel && skipped > 0) { failed += skipped; console.log(`${skipped} skipped test(s) count as failures (CI=true / TSBPF_REQUIRE_KERNEL=1)`); }
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || broken ? 1 : 0);
