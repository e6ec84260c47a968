/**
 * `tsbpf prog load` that fails leaves no pin behind, map pins included (the object's own
 * tc/globals pins and --pinmaps pins). Each case runs the CLI in a private mount namespace
 * with a fresh bpffs on /sys/fs/bpf, so what it leaves is exactly what `find` lists there,
 * and everything goes with the namespace.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFixture, clangMissing } from '../fixtures/elf/build.ts';
import { kernelSuite } from '../support/kernel.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const test = kernelSuite('prog load failures leave no map pins');
const object = (name: string): string => (clangMissing ? path.join(root, 'test', 'fixtures', 'elf', `${name}.seed.o`) : buildFixture(name));
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run shell lines in a private mount namespace with a fresh bpffs; `tsbpf` is the CLI there. */
function privateBpffs(lines: string[]): { code: number | null; stdout: string; stderr: string } {
  const cli = `${q(process.execPath)} --import tsx ${q(path.join(root, 'src', 'cli.ts'))}`;
  const script = ['set -e', 'mount -t bpf bpf /sys/fs/bpf', `tsbpf() { ${cli} "$@"; }`, ...lines].join('\n');
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const leftovers = "find /sys/fs/bpf -mindepth 1 -not -type d -not -name '*.debug' | sort";

test('prog load onto a taken pin path: refused, and no map pin appears in tc/globals', () => {
  const r = privateBpffs([
    `tsbpf prog load ${q(object('map_def'))} /sys/fs/bpf/p --section classifier >/dev/null`,
    `if tsbpf prog load ${q(object('mes_pkt'))} /sys/fs/bpf/p --type sched_cls 2>/tmp/fixa-err-$$; then echo LOADED; fi`,
    'echo "ERR $(cat /tmp/fixa-err-$$)"; rm -f /tmp/fixa-err-$$',
    leftovers,
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stdout, /LOADED/);
  assert.match(r.stdout, /ERR error: \/sys\/fs\/bpf\/p exists/);
  const files = r.stdout.split('\n').filter((l) => l.startsWith('/'));
  assert.equal(files, ['/sys/fs/bpf/p'], 'only the first program\'s pin: no tc/globals/map_mes_*');
});

test('prog load whose program pin fails (not on bpffs) removes the map pins the load made', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-fixa-'));
  try {
    const r = privateBpffs([
      `if tsbpf prog load ${q(object('mes_pkt'))} ${q(path.join(dir, 'p'))} --type sched_cls --pinmaps /sys/fs/bpf/maps 2>/dev/null; then echo LOADED; fi`,
      `if tsbpf prog load ${q(object('map_def'))} ${q(path.join(dir, 'q'))} --section classifier --pinmaps /sys/fs/bpf/maps 2>/dev/null; then echo LOADED; fi`,
      leftovers,
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.not.match(r.stdout, /LOADED/);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('/')), [], 'no tc/globals pin, no --pinmaps pin');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
