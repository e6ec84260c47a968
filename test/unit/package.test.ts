/**
 * tsbpf as a user gets it: `npm pack`, install the tarball into an empty project, type-check a
 * strict TypeScript consumer that imports `tsbpf` and `tsbpf/asm`, and (as root) run it: the
 * README's library example, extracted from README.md as it stands, loads a program, attaches it
 * to tc in a namespace this test creates, counts a packet and detaches.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { kernelSuite, sh, uniqueName } from '../support/kernel.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>; exports: Record<string, unknown>; files: string[];
};
const work = mkdtempSync(path.join(tmpdir(), 'tsbpf-consumer-'));
const consumer = path.join(work, 'consumer');

/** The README's code block that follows the marker `<!-- example: consumer -->`. */
export function readmeExample(readme = readFileSync(path.join(root, 'README.md'), 'utf8')): string {
  const m = /<!-- example: consumer -->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no ```ts block after <!-- example: consumer -->');
  return m[1]!;
}

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

let installed = false;

test('npm pack ships the compiled package and no tests, benches or CI', () => {
  // prepare (the build) runs as part of pack, so the tarball has a fresh dist/.
  const out = npm(['pack', '--json', '--pack-destination', work], root);
  const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  assert.ok(info);
  const files = info.files.map((f) => f.path);
  for (const want of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/asm/index.js', 'dist/src/asm/index.d.ts', 'dist/src/cli.js', 'dist/programs/mes_pkt.js', 'bin/tsbpf.mjs', 'bin/tsbpf-mes-pkt.mjs', 'README.md']) {
    assert.ok(files.includes(want), `the tarball lacks ${want}`);
  }
  for (const f of files) assert.not.ok(/^(test|bench|\.ci|scripts)\//.test(f) || /\.test\.[jt]s$/.test(f), `the tarball ships ${f}`);
  assert.ok(files.some((f) => f.endsWith('.js.map')), 'source maps are shipped');

  mkdirSync(consumer);
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, info.filename),
    `typescript@${pkg.devDependencies['typescript']}`, `@types/node@${pkg.devDependencies['@types/node']}`], consumer);
  installed = true;
});

test('a strict TypeScript consumer type-checks against tsbpf and tsbpf/asm (the README example)', () => {
  assert.ok(installed, 'the install step failed');
  writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', lib: ['ES2023', 'ESNext.Disposable'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true, outDir: 'out', types: ['node'] },
    include: ['*.ts'],
  }));
  writeFileSync(path.join(consumer, 'example.ts'), readmeExample());
  // Every subpath a user can import resolves to types.
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
  writeFileSync(path.join(consumer, 'subpaths.ts'),
    subpaths.map((k, i) => `import * as m${i} from '${k === '.' ? 'tsbpf' : `tsbpf/${k.slice(2)}`}';\nexport const n${i}: number = Object.keys(m${i}).length;`).join('\n') + '\n');
  const r = spawnSync(process.execPath, [path.join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { encoding: 'utf8' });
  assert.is(r.status, 0, `tsc in the consumer failed:\n${r.stdout}${r.stderr}`);
  assert.ok(existsSync(path.join(consumer, 'out', 'example.js')));
});

test('the installed bins start from the compiled package', () => {
  assert.ok(installed, 'the install step failed');
  const bin = path.join(consumer, 'node_modules', '.bin');
  const help = execFileSync(path.join(bin, 'tsbpf'), ['--help'], { encoding: 'utf8' });
  assert.match(help, /usage: tsbpf <command>/);
  assert.is(execFileSync(path.join(bin, 'tsbpf'), ['--version'], { encoding: 'utf8' }).trim(), `tsbpf ${(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version}`);
  const probe = execFileSync(path.join(bin, 'tsbpf-mes-pkt'), ['--help'], { encoding: 'utf8' });
  assert.match(probe, /attach/);
  // No tsx in the consumer: the bins must not need it.
  assert.not.ok(readdirSync(path.join(consumer, 'node_modules')).includes('tsx'), 'tsx was installed into the consumer');
});

test.run();

const k = kernelSuite('package (root)');

k('the README example runs for real: load, attach in a namespace, count a packet, detach', () => {
  assert.ok(installed, 'the install step failed');
  const ns = uniqueName('tsbpfpk');
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, path.join(consumer, 'out', 'example.js')], { cwd: consumer, encoding: 'utf8', timeout: 30_000 });
    assert.is(r.status, 0, `the example failed:\n${r.stdout}${r.stderr}`);
    const m = /packets seen: (\d+)/.exec(r.stdout);
    assert.ok(m, `the example printed no count:\n${r.stdout}`);
    assert.is(Number(m[1]), 1, `one datagram, one packet on lo ingress:\n${r.stdout}`);
    // It cleaned up after itself: no clsact and no tcx link left on lo.
    assert.not.match(sh('tc', ['-n', ns, 'qdisc', 'show', 'dev', 'lo']), /clsact/);
    assert.not.match(sh('tc', ['-n', ns, 'filter', 'show', 'dev', 'lo', 'ingress']), /bpf/);
    assert.match(r.stdout, /attached as tcx/, 'this kernel has tcx: auto mode must pick it');
  } finally {
    sh('ip', ['netns', 'del', ns], { allowFail: true });
  }
});

process.on('exit', () => rmSync(work, { recursive: true, force: true }));
k.run();
