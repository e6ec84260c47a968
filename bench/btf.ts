/**
 * Parsing the running kernel's BTF: `npx tsx bench/btf.ts` (no root needed). Prints figures,
 * asserts nothing; minima over several rounds (the machine is noisy), in one run beside
 * bpftool (libbpf's C parser + its raw dump) as the reference.
 *   1. tsbpf in-process: read + decodeBtf (the index pass; types decode on first use) — goal <= 150 ms;
 *      every type decoded to objects; the raw dump of every type (bpftool's format).
 *   2. `bpftool btf dump file /sys/kernel/btf/vmlinux > /dev/null` (process included), and
 *      `tsbpf btf dump file …` the same way (node + tsx start-up included).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeBtf, formatRawBytes } from '../src/btf/index.ts';
import { bestOf, timeMs as ms } from './support/timing.ts';

const FILE = process.env.BTF ?? '/sys/kernel/btf/vmlinux';
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const minOf = (fn: () => void, rounds = ROUNDS): number => bestOf(rounds, () => ms(fn));

const size = readFileSync(FILE).length;
let count = 0;
const first = ms(() => { count = decodeBtf(new Uint8Array(readFileSync(FILE))).count; });
const parse = minOf(() => { decodeBtf(new Uint8Array(readFileSync(FILE))); });
const bytes = new Uint8Array(readFileSync(FILE));
const all = minOf(() => { decodeBtf(bytes).types(); });
const raw = minOf(() => { formatRawBytes(decodeBtf(bytes)); }, 3);

function proc(cmd: string, args: string[]): number | null {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  if (r.status !== 0 && cmd !== process.execPath) return null;
  return minOf(() => {
    const p = spawnSync('sh', ['-c', `"$0" "$@" > /dev/null`, cmd, ...args], { cwd: root, stdio: 'inherit' });
    if (p.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
  }, 5);
}
const bpftool = proc('bpftool', ['btf', 'dump', 'file', FILE]);
const cli = proc(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), 'btf', 'dump', 'file', FILE]);

const f = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)} ms`);
console.log(`${FILE}: ${(size / 1e6).toFixed(2)} MB, ${count - 1} types (minimum of ${ROUNDS} rounds)`);
console.log(`  tsbpf decodeBtf, file read included   ${f(parse)}   (first, cold: ${f(first)})   goal <= 150 ms`);
console.log(`  tsbpf every type decoded to objects   ${f(all)}`);
console.log(`  tsbpf raw dump of every type (bytes)  ${f(raw)}`);
console.log(`  bpftool btf dump file > /dev/null     ${f(bpftool)}   (process: parse + raw dump + exit)`);
console.log(`  tsbpf btf dump file > /dev/null       ${f(cli)}   (process: node + tsx start-up, parse, dump)`);
