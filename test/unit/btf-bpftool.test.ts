/**
 * bpftool as the referee of the raw dump: ours and `bpftool btf dump file … format raw` agree
 * line for line on this kernel's vmlinux BTF and on clang-built objects. clang also checks the
 * C dump (it must compile) and .BTF.ext (each line_info's text is that line of the source).
 * Without bpftool/clang the suite skips, except under CI=true / TSBPF_REQUIRE_KERNEL=1.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeBtf, decodeBtfExt, elfSections, formatC, formatRaw } from '../../src/btf/index.ts';
import { kernelRequired } from '../support/kernel.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '..', 'fixtures', 'btf', 'kinds.c');
const have = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const missing = !have('bpftool') ? 'bpftool' : !have('clang') ? 'clang' : !existsSync('/sys/kernel/btf/vmlinux') ? '/sys/kernel/btf/vmlinux' : null;
const t = missing === null ? test : kernelRequired
  ? (name: string) => test(name, () => { throw new Error(`${missing} is required (CI=true): apt-get install -y bpftool clang`); })
  : test.skip;

const bpftoolRaw = (file: string) => execFileSync('bpftool', ['btf', 'dump', 'file', file, 'format', 'raw'], { encoding: 'utf8', maxBuffer: 1 << 28 });
const firstDiff = (a: string, b: string) => {
  const x = a.split('\n'), y = b.split('\n');
  const i = x.findIndex((l, j) => l !== y[j]);
  return i < 0 && x.length === y.length ? null : `line ${i + 1}: ours ${JSON.stringify(x[i])} bpftool ${JSON.stringify(y[i])}`;
};

t('vmlinux: our raw dump is bpftool\'s, line for line', () => {
  const ours = formatRaw(decodeBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'))));
  const theirs = bpftoolRaw('/sys/kernel/btf/vmlinux');
  assert.ok(theirs.split('\n').length > 100000, 'bpftool printed a full vmlinux dump');
  assert.is(firstDiff(ours, theirs), null);
});

const dir = missing === null ? mkdtempSync(path.join(tmpdir(), 'tsbpf-btf-')) : '';
const sources: Record<string, string> = {
  'kinds.c': readFileSync(fixture, 'utf8'),
  'maps.c': `
struct pair { unsigned long long packets; unsigned int last_len; unsigned short port; unsigned char flags[2]; };
struct { int (*type)[1]; int (*max_entries)[16]; unsigned int *key; struct pair *value; } counts __attribute__((section(".maps")));
static long (*lookup)(void *map, const void *key) = (void *)1;
__attribute__((section("tc"), used)) int count(struct __sk_buff *skb) { unsigned int k = 0; return lookup(&counts, &k) ? 1 : 0; }
char _license[] __attribute__((section("license"), used)) = "GPL";`,
};
const built: Record<string, Uint8Array> = {};
if (missing === null) {
  for (const [name, text] of Object.entries(sources)) {
    const src = path.join(dir, name), obj = src.replace(/\.c$/, '.o');
    writeFileSync(src, text);
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-c', src, '-o', obj], { stdio: ['ignore', 'ignore', 'pipe'] });
    built[name] = new Uint8Array(readFileSync(obj));
  }
}

for (const name of Object.keys(sources)) {
  t(`clang object ${name}: our raw dump of its .BTF is bpftool's, line for line`, () => {
    const btf = decodeBtf(elfSections(built[name]!).get('.BTF')!);
    assert.is(firstDiff(formatRaw(btf), bpftoolRaw(path.join(dir, name.replace(/\.c$/, '.o')))), null);
  });
}

t('.BTF.ext of a clang object: every line_info names the source file and holds that line\'s text', () => {
  const secs = elfSections(built['kinds.c']!);
  const btf = decodeBtf(secs.get('.BTF')!);
  const ext = decodeBtfExt(secs.get('.BTF.ext')!, btf);
  const lines = sources['kinds.c']!.split('\n');
  const records = ext.lineInfo.flatMap((s) => s.records);
  assert.ok(records.length > 5, `${records.length} line_info records`);
  for (const r of records) {
    assert.ok(r.file.endsWith('kinds.c'), r.file);
    if (r.lineNum === 0) { assert.is(r.line, ''); continue; } // code clang made up (no source line)
    assert.is(r.line, lines[r.lineNum - 1], `line ${r.lineNum}`);
  }
  const funcs = ext.funcInfo.flatMap((s) => s.records.map((f) => btf.type(f.typeId)));
  assert.equal(funcs.map((f) => f.kind), funcs.map(() => 'FUNC'));
  assert.ok(funcs.some((f) => f.name === 'prog') && funcs.some((f) => f.name === 'sub'));
});

t('C dump: clang compiles our header of vmlinux and of a clang object', () => {
  for (const [name, bytes] of [['vmlinux', new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'))], ['kinds', elfSections(built['kinds.c']!).get('.BTF')!]] as const) {
    const h = path.join(dir, `${name}.h`), c = path.join(dir, `${name}-use.c`);
    writeFileSync(h, formatC(decodeBtf(bytes)));
    writeFileSync(c, `#include "${h}"\nint use;\n`);
    const r = spawnSync('clang', ['-target', 'bpf', '-fsyntax-only', '-Wno-duplicate-decl-specifier', c], { encoding: 'utf8' });
    assert.is(r.status, 0, `${name}: ${r.stderr.split('\n').slice(0, 6).join('\n')}`);
  }
});

t('C dump of vmlinux: the anonymous enums (BPF_ANY, true) are there, as many as bpftool prints', () => {
  const ours = formatC(decodeBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'))));
  const theirs = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const top = (h: string) => (h.match(/^enum \{$/gm) ?? []).length;
  assert.ok(top(theirs) > 100, `bpftool printed ${top(theirs)} anonymous enums`);
  assert.is(top(ours), top(theirs));
  const h = path.join(dir, 'vmlinux-enums.h'), c = path.join(dir, 'vmlinux-enums.c');
  writeFileSync(h, ours);
  writeFileSync(c, `#include "${h}"\nint flags[] = { BPF_ANY, BPF_NOEXIST };\nunsigned long long cpu = BPF_F_CURRENT_CPU;\n_Bool yes = true, no = false;\n`);
  const r = spawnSync('clang', ['-target', 'bpf', '-fsyntax-only', '-Wno-duplicate-decl-specifier', c], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr.split('\n').slice(0, 6).join('\n'));
});

test.after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });
test.run();
