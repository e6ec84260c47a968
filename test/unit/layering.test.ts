/**
 * The package's promises about what loads what: `tsbpf/asm` is pure (no koffi, no libc, no
 * kernel side), the other pure modules never import the kernel side, and even the kernel-side
 * entry points load koffi only on the first system call.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every relative import of a module, transitively: file -> the bare specifiers it imports. */
function importGraph(entry: string, opts: { dynamic?: boolean } = {}): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = [path.resolve(root, entry)];
  while (todo.length) {
    const file = todo.pop()!;
    if (graph.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    const bare: string[] = [];
    // Static imports and re-exports; `import type` is erased, so it cannot load anything.
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) todo.push(path.resolve(path.dirname(file), spec));
      else bare.push(spec);
    }
    for (const m of opts.dynamic === false ? [] : text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) todo.push(path.resolve(path.dirname(file), spec));
      else bare.push(spec);
    }
    graph.set(file, bare);
  }
  return graph;
}

const rel = (f: string): string => path.relative(root, f);

/**
 * The pure modules and what each may reach besides itself and node: builtins. Every file of a
 * directory is an entry (not only what its index reaches), and none may import dynamically.
 * src/attach/elf-symbols.ts: the uprobe symbol reader parses outside bytes and needs no kernel.
 * src/codec.ts: the map codecs both the kernel side and the VM use.
 * src/vm: the VM runs DSL programs (src/asm) with the map codecs, never the kernel side.
 * src/elf: the object reader/writer speaks instructions (src/asm) and BTF (src/btf).
 */
const PURE: readonly { readonly dir: string; readonly may: readonly string[]; readonly min: number }[] = [
  { dir: 'src/asm', may: [], min: 10 },
  { dir: 'src/frame', may: [], min: 1 },
  { dir: 'src/btf', may: [], min: 10 },
  { dir: 'src/errno.ts', may: [], min: 1 },
  { dir: 'src/codec.ts', may: [], min: 1 },
  { dir: 'src/attach/elf-symbols.ts', may: [], min: 1 },
  { dir: 'src/vm', may: ['src/asm/', 'src/codec.ts'], min: 8 },
  { dir: 'src/elf', may: ['src/asm/', 'src/btf/'], min: 10 },
];

for (const { dir, may, min } of PURE) {
  test(`${dir} imports nothing but itself${may.length ? `, ${may.join(', ')}` : ''} and node: builtins`, () => {
    const entries = dir.endsWith('.ts') ? [dir] : readdirSync(path.join(root, dir), { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => `${dir}/${f}`);
    const reached = new Set<string>();
    for (const entry of entries) {
      for (const [file, bare] of importGraph(entry)) {
        const r = rel(file);
        reached.add(r);
        assert.ok(r.startsWith(dir) || may.some((m) => r.startsWith(m)), `${r} is reached from ${entry}: ${dir} imports outside what it may`);
        for (const b of bare) assert.ok(b.startsWith('node:'), `${r} imports '${b}'`);
        if (r.startsWith(dir)) assert.not.match(readFileSync(file, 'utf8'), /\bimport\(/, `${r} has a dynamic import`);
      }
    }
    assert.ok([...reached].filter((r) => r.startsWith(dir)).length >= min, `${dir}: only ${reached.size} files reached`);
  });
}

test('only src/ffi.ts imports koffi', () => {
  const graph = importGraph('src/index.ts');
  for (const [file, bare] of graph) {
    if (bare.includes('koffi')) assert.is(rel(file), 'src/ffi.ts');
  }
  assert.ok([...graph.keys()].some((f) => rel(f) === 'src/ffi.ts'), 'the whole library reaches src/ffi.ts');
});

test('mes_pkt starts light: its command line and show load no DSL, netlink or attach code up front', () => {
  // The commands import their code when they run (bench/cold-start.ts: show at ~1.3x node's floor).
  for (const entry of ['programs/mes_pkt.ts', 'programs/mes_pkt/show.ts']) {
    const reached = [...importGraph(entry, { dynamic: false }).keys()].map(rel);
    for (const f of reached) {
      assert.not.ok(f === 'src/asm/program.ts' || f.startsWith('src/netlink/') || f.startsWith('src/attach/'), `${entry} statically reaches ${f}`);
    }
  }
});

/** Run a module body in a fresh Node and report whether koffi is in the require cache. */
function koffiLoadedAfter(body: string, entry: 'src' | 'dist'): { loaded: boolean; out: string } {
  const script = `
    import { createRequire } from 'node:module';
    ${body}
    const cache = Object.keys(createRequire(import.meta.url).cache);
    process.stdout.write(JSON.stringify(cache.some((k) => k.includes('/koffi/'))));`;
  const args = entry === 'src' ? ['--import', 'tsx', '--input-type=module', '-e', script] : ['--input-type=module', '-e', script];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return { loaded: JSON.parse(r.stdout) as boolean, out: r.stdout };
}

test('importing tsbpf/asm, or even the whole library, does not load koffi (sources)', () => {
  assert.is(koffiLoadedAfter(`await import('./src/asm/index.ts');`, 'src').loaded, false);
  assert.is(koffiLoadedAfter(`await import('./src/index.ts');`, 'src').loaded, false);
  // The probe can see koffi when it is there: the first system call loads it.
  assert.is(koffiLoadedAfter(`const f = await import('./src/ffi.ts'); f.close(-1);`, 'src').loaded, true);
});

test('the built package: import("tsbpf/asm") does not load koffi', () => {
  if (!existsSync(path.join(root, 'dist', 'src', 'asm', 'index.js'))) {
    assert.unreachable('dist/ is missing: `npm ci` builds it through prepare (or run `npm run build`)');
  }
  // Self-reference by package name goes through package.json "exports", as a consumer's import does.
  assert.is(koffiLoadedAfter(`const a = await import('tsbpf/asm'); if (typeof a.program !== 'function') throw new Error('no program()');`, 'dist').loaded, false);
  assert.is(koffiLoadedAfter(`const t = await import('tsbpf'); if (typeof t.loadProgram !== 'function') throw new Error('no loadProgram()');`, 'dist').loaded, false);
});

test.run();
