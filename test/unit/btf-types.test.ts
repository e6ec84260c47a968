/**
 * C types for maps (src/btf/ctype.ts) against clang: the same struct written in C and with
 * ctypes has the same size and member offsets; and formatValue reads bytes through BTF the way
 * bpftool's formatted output does (bitfields, enums by name, char arrays as strings).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ctypes, ctypesToBtf, decodeBtf, elfSections, encodeBtf, formatRaw, formatValue } from '../../src/btf/index.ts';
import { kernelRequired } from '../support/kernel.ts';

const clang = spawnSync('clang', ['--version'], { stdio: 'ignore' }).status === 0;
const t = clang ? test : kernelRequired ? (n: string) => test(n, () => { throw new Error('clang is required (CI=true)'); }) : test.skip;

const C = `
struct inner { unsigned char a; unsigned long long b; };
struct outer { unsigned short port; struct inner in; unsigned int arr[3]; signed char s; unsigned long long last; };
enum color { RED = 1, GREEN = 2 };
struct bits { unsigned int lo: 3, mid: 9; int neg: 4; enum color c; char name[6]; _Bool ok; };
struct outer o; struct bits b;
`;

function clangBtf() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-ctype-'));
  try {
    writeFileSync(path.join(dir, 'x.c'), C);
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-c', path.join(dir, 'x.c'), '-o', path.join(dir, 'x.o')]);
    return decodeBtf(elfSections(new Uint8Array(readFileSync(path.join(dir, 'x.o')))).get('.BTF')!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t('ctypes lays structs out as clang does (size and every member offset)', () => {
  const btf = clangBtf();
  const inner = ctypes.struct('inner', { a: ctypes.u8, b: ctypes.u64 });
  const outer = ctypes.struct('outer', { port: ctypes.u16, in: inner, arr: ctypes.array(ctypes.u32, 3), s: ctypes.s8, last: ctypes.u64 });
  const ours = decodeBtf(encodeBtf(ctypesToBtf([outer]).types));
  for (const name of ['inner', 'outer']) {
    const c = btf.type(btf.find(name, 'STRUCT')[0]!), o = ours.type(ours.find(name, 'STRUCT')[0]!);
    assert.ok(c.kind === 'STRUCT' && o.kind === 'STRUCT');
    if (c.kind !== 'STRUCT' || o.kind !== 'STRUCT') return;
    assert.is(o.size, c.size, `${name} size`);
    assert.equal(o.members.map((m) => [m.name, m.bitOffset]), c.members.map((m) => [m.name, m.bitOffset]), `${name} offsets`);
  }
});

t('formatValue reads bitfields, signed fields, enums by name and char arrays as strings', () => {
  const btf = clangBtf();
  const id = btf.find('bits', 'STRUCT')[0]!;
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, 5 | (300 << 3) | (0b1110 << 12), true); // lo=5, mid=300, neg=-2
  v.setUint32(4, 2, true); // GREEN
  b.set(new TextEncoder().encode('eth0'), 8);
  b[14] = 1;
  assert.equal(formatValue(btf, id, b), { lo: 5, mid: 300, neg: -2, c: 'GREEN', name: 'eth0', ok: true });
});

test('ctypesToBtf shares an int used twice and names it as C headers do', () => {
  const s = ctypes.struct('two', { a: ctypes.u32, b: ctypes.u32 });
  const { types, ids } = ctypesToBtf([ctypes.u32, s]);
  assert.is(formatRaw(decodeBtf(encodeBtf(types))), [
    "[1] INT 'unsigned int' size=4 bits_offset=0 nr_bits=32 encoding=(none)",
    "[2] TYPEDEF '__u32' type_id=1",
    "[3] STRUCT 'two' size=8 vlen=2",
    "\t'a' type_id=2 bits_offset=0",
    "\t'b' type_id=2 bits_offset=32",
    '',
  ].join('\n'));
  assert.equal(ids, [2, 3]);
  assert.throws(() => ctypes.struct('bad name', {}), /not a C identifier/);
});

test.run();
