/**
 * Runs every benchmark in bench/ (or the ones named: `npm run bench -- asm netlink`), one
 * process each so they do not disturb each other's JIT and GC state. Benchmarks print figures;
 * none of them asserts a timing.
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const dir = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const all = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3)).sort();
const pick = wanted.length ? wanted : all;
let failed = 0;
for (const name of pick) {
  if (!all.includes(name)) { console.error(`no benchmark bench/${name}.ts (have: ${all.join(', ')})`); failed++; continue; }
  console.log(`\n== bench/${name}.ts ==`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, `${name}.ts`)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
