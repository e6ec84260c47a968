/**
 * The mes_pkt command line as a new user meets it: --netns (a "common option") on the readers,
 * and unknown options as one line naming the command. Private testbed and pin dir, removed in
 * finally.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { kernelSuite, uniqueName } from '../support/kernel.ts';
import { ensureBpffs } from '../../src/syscall/index.ts';
import { attach, detach } from '../../programs/mes_pkt/control.ts';
import { testbedDown, testbedUp } from '../../programs/mes_pkt/testbed.ts';

const t = kernelSuite('mes_pkt options');

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'programs/mes_pkt.ts', ...args], { encoding: 'utf8' });

for (const cmd of ['show', 'watch', 'serve', 'reset', 'attach', 'send']) {
  t(`${cmd} --no-such: one line naming the command, exit 2`, () => {
    const r = cli(cmd, '--no-such');
    assert.is(r.status, 2, r.stderr);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${cmd} does not take --no-such`));
    assert.not.match(r.stderr, /To specify a positional/);
  });
}

t('show/watch/serve accept --netns, and say when it is not the namespace attach recorded', () => {
  const prefix = uniqueName('fc').slice(0, 10);
  const pinDir = `${ensureBpffs()}/${uniqueName('tsbpf-fixc')}`;
  try {
    const tb = testbedUp(prefix);
    attach(tb.v1, tb.v2, { pinDir });
    const s = cli('show', '--json', '--pin-dir', pinDir, '--netns', tb.ns1);
    assert.is(s.status, 0, s.stderr);
    assert.is(JSON.parse(s.stdout).start_count, 0);
    assert.match(s.stderr, new RegExp(`attached in the root network namespace, not in ${tb.ns1}`));
    const w = cli('watch', '--seconds', '1', '--jsonl', '--pin-dir', pinDir, '--netns', tb.ns1);
    assert.is(w.status, 0, w.stderr);
    const r = cli('reset', '--pin-dir', pinDir, '--netns', tb.ns1);
    assert.is(r.status, 0, r.stderr);
  } finally {
    try { detach([], { pinDir }); } catch { /* done */ }
    testbedDown(prefix);
    rmSync(pinDir, { recursive: true, force: true });
  }
});

t('help and hints name the invocation the user typed; a second detach says nothing is attached', () => {
  const self = 'npx tsx programs/mes_pkt.ts';
  for (const cmd of ['attach', 'detach', 'show', 'reset', 'watch', 'serve', 'dump', 'testbed', 'send', 'demo']) {
    const h = cli(cmd, '--help');
    assert.is(h.status, 0, h.stderr);
    assert.ok(h.stdout.startsWith(`usage: ${self} ${cmd}`), h.stdout.split('\n')[0]);
  }
  assert.match(cli('--help').stdout, /send UDP datagrams from ns1 to ns2/);
  const dir = `${ensureBpffs()}/${uniqueName('tsbpf-fixc')}`;
  const s = cli('show', '--pin-dir', dir);
  assert.ok(s.stderr.includes(`Run '${self} attach <dev>' first`), s.stderr);
  const d = cli('detach', '--pin-dir', dir);
  assert.is(d.status, 0, d.stderr);
  assert.is(d.stdout.trim(), `nothing is attached under ${dir}`);
  rmSync(dir, { recursive: true, force: true });
});

t.run();
