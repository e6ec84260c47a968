/**
 * The uprobe symbol reader: golden ELF files built here byte by byte (ELF32 and ELF64, both byte
 * orders), real files checked against readelf (an independent oracle), the errors a user sees,
 * and a fuzz run that holds the parser to throwing only ElfSymbolError.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ElfSymbolError, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC, STT_OBJECT, findFunction, readElfSymbols,
} from '../../src/attach/elf-symbols.ts';
import { resolveBinary, resolveUprobe } from '../../src/attach/uprobe.ts';
import { ProbeError } from '../../src/attach/perf-event.ts';
import { kernelRequired } from '../support/kernel.ts';

interface Sym { name: string; value: number; size?: number; type: number; bind: number; shndx: number }

/**
 * A minimal ELF: sections [null, .text, .symtab, .strtab, .shstrtab]; .text at file offset
 * 0x100 and virtual address textAddr (so file offset = value - textAddr + 0x100).
 */
function buildElf(o: { is64: boolean; le: boolean; textAddr: number; symbols: Sym[] }): Uint8Array {
  const TEXT_OFF = 0x100, TEXT_SIZE = 0x80;
  const strtab = [0], names = new Map<string, number>();
  for (const s of o.symbols) { names.set(s.name, strtab.length); strtab.push(...new TextEncoder().encode(s.name), 0); }
  const shNames = ['.text', '.symtab', '.strtab', '.shstrtab'];
  const shstr = [0], shOff = new Map<string, number>();
  for (const n of shNames) { shOff.set(n, shstr.length); shstr.push(...new TextEncoder().encode(n), 0); }
  const symsize = o.is64 ? 24 : 16, shsize = o.is64 ? 64 : 40;
  const symOff = TEXT_OFF + TEXT_SIZE, symLen = (o.symbols.length + 1) * symsize;
  const strOff = symOff + symLen, shstrOff = strOff + strtab.length;
  const shoff = (shstrOff + shstr.length + 7) & ~7;
  const buf = new Uint8Array(shoff + 5 * shsize);
  const v = new DataView(buf.buffer);
  const w16 = (p: number, x: number) => v.setUint16(p, x, o.le), w32 = (p: number, x: number) => v.setUint32(p, x, o.le);
  const wAddr = (p: number, x: number) => (o.is64 ? v.setBigUint64(p, BigInt(x), o.le) : v.setUint32(p, x, o.le));
  buf.set([0x7f, 0x45, 0x4c, 0x46, o.is64 ? 2 : 1, o.le ? 1 : 2, 1]);
  w16(16, 3); w16(18, o.is64 ? 62 : 3); w32(20, 1);
  if (o.is64) { v.setBigUint64(40, BigInt(shoff), o.le); w16(52, 64); w16(58, shsize); w16(60, 5); w16(62, 4); }
  else { w32(32, shoff); w16(40, 52); w16(46, shsize); w16(48, 5); w16(50, 4); }
  o.symbols.forEach((s, i) => {
    const p = symOff + (i + 1) * symsize, info = (s.bind << 4) | s.type;
    if (o.is64) { w32(p, names.get(s.name)!); buf[p + 4] = info; w16(p + 6, s.shndx); wAddr(p + 8, s.value); wAddr(p + 16, s.size ?? 8); }
    else { w32(p, names.get(s.name)!); w32(p + 4, s.value); w32(p + 8, s.size ?? 8); buf[p + 12] = info; w16(p + 14, s.shndx); }
  });
  buf.set(strtab, strOff);
  buf.set(shstr, shstrOff);
  const section = (i: number, name: string, type: number, addr: number, off: number, size: number, link: number, entsize: number) => {
    const p = shoff + i * shsize;
    w32(p, shOff.get(name)!); w32(p + 4, type);
    if (o.is64) { wAddr(p + 16, addr); wAddr(p + 24, off); wAddr(p + 32, size); w32(p + 40, link); wAddr(p + 56, entsize); }
    else { w32(p + 12, addr); w32(p + 16, off); w32(p + 20, size); w32(p + 24, link); w32(p + 36, entsize); }
  };
  section(1, '.text', 1, o.textAddr, TEXT_OFF, TEXT_SIZE, 0, 0);
  section(2, '.symtab', 2, 0, symOff, symLen, 3, symsize);
  section(3, '.strtab', 3, 0, strOff, strtab.length, 0, 0);
  section(4, '.shstrtab', 3, 0, shstrOff, shstr.length, 0, 0);
  return buf;
}

const SYMS = (base: number): Sym[] => [
  { name: 'foo', value: base + 0x10, type: STT_FUNC, bind: STB_GLOBAL, shndx: 1 },
  { name: 'weakfn', value: base + 0x20, type: STT_FUNC, bind: STB_WEAK, shndx: 1 },
  { name: 'weakfn', value: base + 0x20, type: STT_FUNC, bind: STB_LOCAL, shndx: 1 },
  { name: 'pick', value: base + 0x30, type: STT_FUNC, bind: STB_LOCAL, shndx: 1 },
  { name: 'pick', value: base + 0x38, type: STT_FUNC, bind: STB_GLOBAL, shndx: 1 },
  { name: 'dup', value: base + 0x40, type: STT_FUNC, bind: STB_GLOBAL, shndx: 1 },
  { name: 'dup', value: base + 0x48, type: STT_FUNC, bind: STB_GLOBAL, shndx: 1 },
  { name: 'ext', value: 0, type: STT_FUNC, bind: STB_GLOBAL, shndx: 0 },
  { name: 'memcpy', value: base + 0x50, type: STT_GNU_IFUNC, bind: STB_GLOBAL, shndx: 1 },
  { name: 'table', value: base + 0x60, type: STT_OBJECT, bind: STB_GLOBAL, shndx: 1 },
  { name: 'open@@GLIBC_2.2.5', value: base + 0x70, type: STT_FUNC, bind: STB_GLOBAL, shndx: 1 },
];

for (const is64 of [true, false]) {
  for (const le of [true, false]) {
    test(`ELF${is64 ? 64 : 32} ${le ? 'little' : 'big'}-endian: symbols and their file offsets`, () => {
      const elf = readElfSymbols(buildElf({ is64, le, textAddr: 0x401000, symbols: SYMS(0x401000) }));
      assert.is(elf.class, is64 ? 64 : 32);
      assert.is(elf.littleEndian, le);
      assert.is(elf.symbols.length, SYMS(0).length);
      const off = (n: string) => findFunction(elf, n).fileOffset;
      assert.is(off('foo'), 0x110, 'value - sh_addr + sh_offset');
      assert.is(off('weakfn'), 0x120);
      assert.is(off('pick'), 0x138, 'global beats local');
      assert.is(off('open'), 0x170, 'a versioned name matches its base');
      assert.is(off('open@@GLIBC_2.2.5'), 0x170);
      assert.is(findFunction(elf, 'foo').bind, STB_GLOBAL);
    });
  }
}

test('the errors a user sees, each one line with the next step', () => {
  const elf = readElfSymbols(buildElf({ is64: true, le: true, textAddr: 0x1000, symbols: SYMS(0x1000) }), '/x/prog');
  const cases: [string, RegExp][] = [
    ['nosuch', /^\/x\/prog: no symbol 'nosuch' in \.symtab: check the name with `nm --defined-only \/x\/prog \| grep nosuch`, or give the offset instead$/],
    ['ext', /'ext' is only referenced here \(undefined: it lives in a library this file links against\)/],
    ['dup', /'dup' is defined 2 times at different offsets \(0x140, 0x148\): give the offset instead/],
    ['memcpy', /'memcpy' is an IFUNC: .*probe the implementation/],
    ['table', /'table' is not a function/],
  ];
  for (const [name, re] of cases) {
    const e = (() => { try { findFunction(elf, name, '/x/prog'); } catch (x) { return x as ElfSymbolError; } })();
    assert.instance(e, ElfSymbolError, name);
    assert.match(e!.message, re);
    assert.not.match(e!.message, /\n/);
    assert.is(e!.symbol, name);
  }
  assert.throws(() => readElfSymbols(new TextEncoder().encode('#!/bin/sh\necho hi\n'), '/x/script'), (e: Error) => e instanceof ElfSymbolError && /not an ELF file/.test(e.message));
  const stripped = buildElf({ is64: true, le: true, textAddr: 0, symbols: [] });
  new DataView(stripped.buffer).setBigUint64(40, 0n, true);
  assert.throws(() => readElfSymbols(stripped), /no section headers.*give the offset instead/);
});

test('fuzz: truncated and corrupted files throw only ElfSymbolError', () => {
  const good = buildElf({ is64: true, le: true, textAddr: 0x401000, symbols: SYMS(0x401000) });
  const good32 = buildElf({ is64: false, le: false, textAddr: 0x8000, symbols: SYMS(0x8000) });
  let seed = 12345;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  let threw = 0, parsed = 0;
  for (let i = 0; i < 3000; i++) {
    const src = i % 2 ? good : good32;
    const b = src.slice(0, i % 7 === 0 ? rand(src.length) : src.length);
    for (let k = 0, n = 1 + rand(8); k < n && b.length; k++) b[rand(b.length)] = rand(256);
    try {
      const elf = readElfSymbols(b);
      for (const name of ['foo', 'pick', 'open', 'x']) { try { findFunction(elf, name); } catch (e) { if (!(e instanceof ElfSymbolError)) throw e; } }
      parsed++;
    } catch (e) {
      if (!(e instanceof ElfSymbolError)) throw new Error(`iteration ${i}: ${(e as Error).name}: ${(e as Error).message}`);
      threw++;
    }
  }
  assert.ok(threw > 100 && parsed > 100, `both outcomes happen (threw ${threw}, parsed ${parsed})`);
});

// ---- real files, against readelf -----------------------------------------------------------

function tool(cmd: string): boolean {
  try { execFileSync(cmd, ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}
const haveTools = tool('gcc') && tool('readelf');
const t = haveTools ? test : kernelRequired ? (n: string) => test(n, () => { throw new Error('gcc and readelf (binutils) are required (CI=true)'); }) : test.skip;

/** readelf's view: symbol value and its section's address and offset -> the expected file offset. */
function readelfOffset(file: string, name: string): number {
  const secs = new Map<number, { addr: number; off: number }>();
  for (const line of execFileSync('readelf', ['-SW', file], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+\S+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m) secs.set(Number(m[1]), { addr: parseInt(m[2]!, 16), off: parseInt(m[3]!, 16) });
  }
  for (const line of execFileSync('readelf', ['-sW', file], { encoding: 'utf8' }).split('\n')) {
    const f = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name
    if (f.length >= 8 && f[3] === 'FUNC' && f[7]!.replace(/@.*/, '') === name && /^\d+$/.test(f[6]!)) {
      const s = secs.get(Number(f[6]))!;
      return parseInt(f[1]!, 16) - s.addr + s.off;
    }
  }
  throw new Error(`readelf has no FUNC ${name} in ${file}`);
}

t('a non-PIE and a PIE executable built by gcc, and libc: our offsets are readelf\'s', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-elf-'));
  try {
    const src = path.join(dir, 'p.c');
    writeFileSync(src, 'int probe_me(int x) { return x * 3; }\nstatic int __attribute__((noinline)) local_fn(int x) { return x + 1; }\nint main(int c, char **v) { return probe_me(c) + local_fn(c); }\n');
    for (const pie of ['-no-pie', '-pie']) {
      const exe = path.join(dir, `p${pie}`);
      execFileSync('gcc', ['-O1', pie, '-o', exe, src]);
      const elf = readElfSymbols(readFileSync(exe), exe);
      for (const name of ['probe_me', 'local_fn', 'main']) {
        assert.is(findFunction(elf, name).fileOffset, readelfOffset(exe, name), `${pie} ${name}`);
      }
      if (pie === '-no-pie') assert.ok(findFunction(elf, 'main').value !== BigInt(findFunction(elf, 'main').fileOffset), 'non-PIE: address and offset differ, so the conversion is tested');
    }
    const libc = resolveBinary('libc');
    assert.ok(existsSync(libc));
    const sym = findFunction(readElfSymbols(readFileSync(libc), libc), 'getpid');
    const dyn = execFileSync('readelf', ['-W', '--dyn-syms', libc], { encoding: 'utf8' }).split('\n').find((l) => / getpid@/.test(l));
    assert.ok(dyn, 'readelf lists getpid');
    assert.is(sym.value, BigInt(`0x${dyn!.trim().split(/\s+/)[1]}`));
    assert.is(resolveUprobe({ binary: 'libc', symbol: 'getpid' }).offset, sym.fileOffset);
    // memcpy@GLIBC_2.2.5 is a plain FUNC kept for old binaries (hidden in .gnu.version); the
    // current memcpy@@GLIBC_2.14 is an IFUNC. The hidden one must not be picked in its place.
    assert.throws(() => findFunction(readElfSymbols(readFileSync(libc), libc), 'memcpy'), /'memcpy' is an IFUNC/);
    assert.throws(() => resolveUprobe({ binary: 'libc', symbol: 'tsbpf_no_such_fn' }),
      (e: Error) => e instanceof ProbeError && /no symbol 'tsbpf_no_such_fn' in/.test(e.message) && !e.message.includes('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('library names resolve to the ELF the processes map, not the linker script', () => {
  for (const name of ['libc', 'libc.so.6', 'c']) {
    const p = resolveBinary(name);
    assert.match(path.basename(p), /^libc\.so\.6$/, name);
  }
  const me = resolveBinary('libc', process.pid);
  assert.match(me, /libc\.so\.6$/, 'through /proc/PID/maps');
});

test.run();
