/**
 * `tsbpf run` and `tsbpf conformance --engine vm`, as a learner types them: no root needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FRAMES } from '../support/frames.ts';
import { PROJECT_VECTORS } from '../support/conformance.ts';
import { cli } from '../support/cli.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'tsbpf-vm-cli-'));
const frame = path.join(tmp, 'match.bin');
writeFileSync(frame, FRAMES.match);

test('run: mes_start on a matching frame, as JSON: r0, instructions, the maps it wrote', () => {
  const r = cli('run', 'programs/mes_pkt/probe.ts', '--entry', 'mesStart', '--data', frame, '--time', '4242', '--json');
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.r0, 0);
  assert.is(out.insns, 34);
  assert.equal(out.maps.find((m: { name: string }) => m.name === 'map_mes_cnt').entries, [[0, 1]]);
  assert.equal(out.maps.find((m: { name: string }) => m.name === 'map_mes_start').entries, [[0, 4242]]);
});

test('run --trace (the frame described, not a file): every instruction with the registers it changed, memory and the TS line', () => {
  const r = cli('run', 'programs/mes_pkt/probe.ts', '--entry', 'mesStart', '--data', 'udp:dport=5001,size=22', '--trace');
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.some((l) => /r7 \+= 1\s+r7 0x0 -> 0x1\s+programs\/mes_pkt\/probe\.ts:\d+/.test(l)), r.stdout);
  assert.ok(lines.some((l) => /load 2 @ 0x200000c packet data\.\.data_end = 0x8/.test(l)), 'the EtherType load');
  assert.match(r.stdout, /r0 = 0 \(0x0\)\s+retval 0\s+34 instructions/);
});

test('run: an object that does not read exits 1 (could not be loaded, as --help says), naming the file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-run-'));
  try {
    const bad = path.join(dir, 'bad.o');
    writeFileSync(bad, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
    const r = cli('run', bad);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: ${bad.replace(/[.]/g, '\\.')}: ELF `));
    assert.match(cli('run', '--help').stdout, /1 the program faulted .* or could not be loaded, 2 usage/s);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('run and elf show name an object\'s global-data maps alike (btf_maps.rodata, as libbpf)', () => {
  const obj = 'test/fixtures/elf/btf_maps.seed.o';
  const shown = JSON.parse(cli('elf', 'show', obj, '--json').stdout).maps.map((m: { name: string }) => m.name) as string[];
  const ran = JSON.parse(cli('run', obj, '--entry', 'count_len', '--json').stdout).maps.map((m: { name: string }) => m.name) as string[];
  assert.ok(shown.includes('btf_maps.data'), shown.join(', '));
  assert.equal([...ran].sort(), shown.filter((n) => ran.includes(n)).sort());
  assert.ok(ran.includes('btf_maps.data'), ran.join(', '));
});

test('run: a faulting program exits 1 naming the instruction, its TS line, address and region; a clang-built .o runs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-vm-'));
  try {
    const mod = path.join(dir, 'bad.ts');
    writeFileSync(mod, `import { program } from ${JSON.stringify(path.join(root, 'src/asm/index.ts'))};
export const bad = program({ name: 'bad', type: 'sched_cls' }, (b) => {
  b.ldx('u32', 'r2', 'r1', 76);
  b.ldx('u64', 'r0', 'r2', 100);
  b.exit();
});
`);
    const r = cli('run', mod, '--data', frame);
    assert.is(r.code, 1);
    assert.match(r.stdout, /fault: instruction 1 \(.*bad\.ts:4\): load of 8 bytes at 0x2000064: .*packet data\.\.data_end/);
    const o = cli('run', 'test/fixtures/elf/mes_pkt.seed.o', '--type', 'sched_cls', '--entry', 'mes_start', '--data', frame, '--json');
    assert.is(o.code, 0, o.stderr);
    assert.is(JSON.parse(o.stdout).insns, 37, 'the clang-built object runs too');
    const two = cli('run', 'test/fixtures/elf/mes_pkt.seed.o', '--type', 'sched_cls');
    assert.is(two.code, 2);
    assert.match(two.stderr, /has 2 programs: pick one with --entry NAME\n\s+mes_start\s+section ingress/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('conformance --engine vm runs the project\'s vectors without root', () => {
  const r = cli('conformance', PROJECT_VECTORS, '--engine', 'vm');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\n(\d{3}) passed, 0 failed\n$/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
