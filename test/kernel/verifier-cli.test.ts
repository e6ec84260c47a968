/** A verifier refusal from the CLI: the tail by default, the whole log with TSBPF_DEBUG=1. */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFixture, clangMissing } from '../fixtures/elf/build.ts';
import { kernelSuite } from '../support/kernel.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const test = kernelSuite('verifier log from the CLI');
const object = (name: string): string => (clangMissing ? path.join(root, 'test', 'fixtures', 'elf', `${name}.seed.o`) : buildFixture(name));

test('prog load of a program the verifier rejects: TSBPF_DEBUG=1 prints the whole log', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-fixa-v-'));
  try {
    // skb offsets read in an XDP program: rejected (and the pin path is never reached)
    const args = ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), 'prog', 'load', object('mes_pkt'), path.join(dir, 'p'), '--type', 'xdp'];
    const plain = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, TSBPF_DEBUG: '' } });
    assert.is(plain.status, 1);
    assert.match(plain.stderr, /verifier rejected program/);
    assert.match(plain.stderr, /TSBPF_DEBUG=1 prints the whole log/);
    assert.not.match(plain.stderr, /verifier log of program/);
    const debug = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, TSBPF_DEBUG: '1' } });
    assert.is(debug.status, 1);
    assert.match(debug.stderr, /verifier log of program '[a-z_]+':\n0: /, 'the log from its first instruction');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
