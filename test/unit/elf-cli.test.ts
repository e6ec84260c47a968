/**
 * The commands that need no kernel: `tsbpf build` writes a DSL module as an object,
 * `tsbpf elf show` describes one (text and --json), and bad objects are one line on stderr.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readElf } from '../../src/elf/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), ...args], { cwd: root, encoding: 'utf8' });
const seed = (n: string) => path.join(root, 'test', 'fixtures', 'elf', `${n}.seed.o`);

test('build: a DSL module becomes an object whose programs and maps read back', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-build-'));
  try {
    const out = path.join(dir, 'dsl.o');
    const r = cli('build', 'test/fixtures/elf/dsl.ts', '-o', out);
    assert.is(r.status, 0, r.stderr);
    const c = readElf(new Uint8Array(readFileSync(out)));
    assert.equal(c.programs.map((p) => p.name), ['count_a', 'count_b', 'xdp_pass']);
    assert.equal(c.maps.map((m) => m.name).sort(), ['.data.config', 'hits', 'last']);
    const none = cli('build', 'test/fixtures/elf/build.ts', '-o', out);
    assert.is(none.status, 1);
    assert.match(none.stderr, /exports no programs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('elf show --json: programs, maps, relocations of the tutorial-style object', () => {
  const r = cli('elf', 'show', seed('mes_pkt'), '--json');
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { programs: { name: string; section: string; type: string; type_from: string; maps: string[] }[]; maps: { name: string; declared: string; pin?: string }[]; relocations: { section: string; type: string; symbol: string }[] };
  assert.equal(j.programs.map((p) => [p.name, p.section, p.type, p.type_from]), [['mes_start', 'ingress', 'sched_cls', 'default'], ['mes_end', 'egress', 'sched_cls', 'default']]);
  assert.equal(j.maps.map((m) => [m.name, m.declared, m.pin]), [
    ['map_mes_start', 'bpf_elf_map', 'tc/globals/map_mes_start'], ['map_mes_end', 'bpf_elf_map', 'tc/globals/map_mes_end'], ['map_mes_cnt', 'bpf_elf_map', 'tc/globals/map_mes_cnt'],
  ]);
  assert.equal(j.relocations.map((x) => `${x.section} ${x.type} ${x.symbol}`), [
    'ingress R_BPF_64_64 map_mes_cnt', 'ingress R_BPF_64_64 map_mes_start', 'egress R_BPF_64_64 map_mes_cnt', 'egress R_BPF_64_64 map_mes_end',
  ]);
  const text = cli('elf', 'show', seed('btf_maps'));
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, /count_len\s+tc\s+sched_cls\s+-\s+\d+\s+btf_maps\.data,btf_maps\.bss,btf_maps\.rodata,counts\s+bump/);
});

test('a broken object is one line naming the section and offset', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-show-'));
  try {
    const bad = path.join(dir, 'bad.o');
    writeFileSync(bad, readFileSync(seed('btf_maps')).subarray(0, 1000));
    const r = cli('elf', 'show', bad);
    assert.is(r.status, 1);
    assert.match(r.stderr, /^error: ELF at file offset 0x2828: section headers at 0x2828 are past the end of the file \(1000 bytes\): the file is truncated\n$/);
    const usage = cli('prog', 'load', seed('btf_maps'));
    assert.is(usage.status, 2);
    assert.match(usage.stderr, /missing PATH/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
