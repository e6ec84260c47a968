/**
 * Opening and loading an object file: tsbpf in-process (readElf + loadObject) beside
 * `bpftool prog loadall` of the same object, in one run; and parse time alone (readElf) for a
 * 1 MB object. Run as root: `npx tsx bench/elf.ts [iterations]`.
 *
 * The object has 2 programs and 3 maps: the tutorial's mes_pkt.o (test/fixtures/elf, built by
 * clang 14) written back by toElf with BTF-defined maps, since libbpf 1.x (bpftool) refuses its
 * legacy `maps` section. Pins go to a private bpffs mount, removed at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readElf, toElf, type ElfCollection } from '../src/elf/index.ts';
import type { Instruction } from '../src/asm/instruction.ts';
import { loadObject } from '../src/attach/object.ts';
import { ensureBpffs } from '../src/syscall/bpffs.ts';
import { summary, timeMs as time } from './support/timing.ts';

const N = Number(process.argv[2] ?? 40);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const stats = (label: string, xs: number[]): void => console.log(summary(label, xs, 64));

const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-bench-elf-'));
const mnt = path.join(dir, 'bpffs');
execFileSync('mkdir', ['-p', mnt]);
try {
  const legacy = readElf(new Uint8Array(readFileSync(path.join(root, 'test/fixtures/elf/mes_pkt.seed.o'))), { defaultType: 'sched_cls' });
  // unpinned maps, so that neither loader shares state between iterations
  const unpinned: ElfCollection = { ...legacy, maps: legacy.maps.map(({ pin: _p, pinning: _q, ...m }) => m) };
  // written in one 'tc' section (libbpf does not know 'ingress'/'egress')
  const programs = unpinned.programs.map(({ section: _s, ...p }) => ({ ...p, insns: p.insns.map((i) => (i.map ? { ...i, map: unpinned.maps.find((m) => m.name === i.map!.name)! } : i)) }));
  const obj = path.join(dir, 'mes_pkt_btf.o');
  const bytes = toElf({ maps: unpinned.maps, programs }, { license: 'GPL' });
  writeFileSync(obj, bytes);
  const coll = readElf(bytes);
  console.log(`object: ${coll.programs.length} programs (${coll.programs.map((p) => p.name).join(', ')}), ${coll.maps.length} maps, ${bytes.length} bytes`);
  const bpffs = ensureBpffs({ path: mnt });

  // 1. tsbpf in-process: read the file's bytes, parse, create 3 maps, load 2 programs, close.
  const inproc: number[] = [], parseSmall: number[] = [];
  for (let i = 0; i < N + 5; i++) {
    const t = time(() => {
      const c = readElf(new Uint8Array(readFileSync(obj)));
      loadObject(c).close();
    });
    const p = time(() => readElf(bytes));
    if (i >= 5) { inproc.push(t); parseSmall.push(p); }
  }
  // 2. bpftool prog loadall, a process per load (its pins removed between runs, untimed).
  const bpftool: number[] = [];
  for (let i = 0; i < Math.min(N, 30); i++) {
    const at = path.join(bpffs, `b${i}`);
    bpftool.push(time(() => { const r = spawnSync('bpftool', ['prog', 'loadall', obj, at]); if (r.status !== 0) throw new Error(String(r.stderr)); }));
    rmSync(at, { recursive: true, force: true });
  }
  // 3. the same through tsbpf's CLI, a process per load (node + tsx startup included).
  const cli: number[] = [];
  for (let i = 0; i < 5; i++) {
    const at = path.join(bpffs, `t${i}`);
    cli.push(time(() => { const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli.ts'), 'prog', 'loadall', obj, at], { cwd: root }); if (r.status !== 0) throw new Error(String(r.stderr)); }));
    rmSync(at, { recursive: true, force: true });
  }
  stats('tsbpf in-process: readElf + loadObject (2 progs, 3 maps)', inproc);
  stats('bpftool prog loadall (a process)', bpftool);
  stats('tsbpf prog loadall (a process: node + tsx startup)', cli);
  stats(`readElf alone, this object (${bytes.length} B)`, parseSmall);

  // 4. parse alone: a 1 MB object (one program of 131,072 instructions plus the maps above)
  const insns: Instruction[] = Array.from({ length: 131_071 }, (_, i) => ({ op: 0xb7, dst: 0, src: 0, off: 0, imm: i & 0xff }));
  insns.push({ op: 0x95, dst: 0, src: 0, off: 0, imm: 0 });
  const big = toElf({ maps: unpinned.maps, programs: [...programs, { name: 'big', type: 'socket_filter', license: 'GPL', insns, labels: new Map(), maps: [] }] }, { license: 'GPL' });
  const parseBig: number[] = [];
  for (let i = 0; i < 12; i++) { const t = time(() => readElf(big)); if (i >= 2) parseBig.push(t); }
  stats(`readElf alone, ${(big.length / 1048576).toFixed(2)} MB object (${insns.length + 78} instructions)`, parseBig);
} finally {
  spawnSync('umount', [mnt]);
  rmSync(dir, { recursive: true, force: true });
}
