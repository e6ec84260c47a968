/**
 * `tsbpf build` of an xdp program that names no expected attach type writes section 'xdp'
 * (not a variant like 'xdp.frags/devmap', whose program no device takes): elf show says so,
 * and the program loads and attaches to a device in a namespace.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import { removePinDir } from '../../src/syscall/pin.ts';
import { kernelSuite, uniqueName, withNetns } from '../support/kernel.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const test = kernelSuite('build xdp');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), ...args], { cwd: root, encoding: 'utf8' });
const ok = (...args: string[]): string => {
  const r = cli(...args);
  assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

test('an xdp program without expectedAttachType builds into section xdp and attaches to a device', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-fixa-build-'));
  const pins = path.join(ensureBpffs(), uniqueName('fixaB'));
  try {
    const asm = pathToFileURL(path.join(root, 'src', 'asm', 'index.ts')).href;
    writeFileSync(path.join(dir, 'mod.ts'), `import { program, r0 } from '${asm}';
export const pass = program({ name: 'fixa_pass', type: 'xdp', license: 'GPL' }, (b) => { b.mov(r0, 2); b.exit(); });
`);
    const obj = path.join(dir, 'x.o');
    ok('build', path.join(dir, 'mod.ts'), '-o', obj);
    const shown = JSON.parse(ok('elf', 'show', obj, '--json')) as { programs: { name: string; section: string; type: string }[] };
    assert.equal(shown.programs.map((p) => [p.name, p.section, p.type]), [['fixa_pass', 'xdp', 'xdp']]);
    ok('prog', 'load', obj, `${pins}/p`);
    await withNetns((ns) => {
      const a = JSON.parse(ok('xdp', 'attach', ns.a, '--pinned', `${pins}/p`, '--mode', 'netlink', '--flags', 'skb', '--netns', ns.name, '--json'));
      assert.is(a.xdpMode, 'skb');
      const listed = JSON.parse(ok('xdp', 'list', ns.a, '--netns', ns.name, '--json')) as { id: number }[];
      assert.equal(listed.map((e) => e.id), [a.progId]);
    });
  } finally {
    removePinDir(pins);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
