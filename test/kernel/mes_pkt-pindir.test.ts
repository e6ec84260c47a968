/**
 * detach removes the pin directories attach created (when empty), and only those: a directory
 * that was there before stays. Private testbed and directories, removed in finally.
 */
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { kernelSuite, uniqueName } from '../support/kernel.ts';
import { ensureBpffs } from '../../src/syscall/index.ts';
import { attach, detach } from '../../programs/mes_pkt/control.ts';
import { testbedDown, testbedUp } from '../../programs/mes_pkt/testbed.ts';

const t = kernelSuite('detach removes the pin dirs attach created');

t('a new two-level --pin-dir is gone after detach; one that existed before stays', () => {
  const prefix = uniqueName('fp').slice(0, 10);
  const top = `${ensureBpffs()}/${uniqueName('tsbpf-fixc')}`;
  const made = `${top}/sub`;
  const before = `${ensureBpffs()}/${uniqueName('tsbpf-fixc')}`;
  try {
    const tb = testbedUp(prefix);
    attach(tb.v1, tb.v2, { pinDir: made });
    assert.ok(existsSync(made));
    const r = detach([], { pinDir: made });
    assert.equal(r.dirs.sort(), [top, made].sort());
    assert.not.ok(existsSync(top), `${top} was created by attach and should be gone`);

    mkdirSync(before);
    attach(tb.v1, tb.v2, { pinDir: before });
    const r2 = detach([], { pinDir: before });
    assert.equal(r2.dirs, []);
    assert.ok(existsSync(before), 'a directory that existed before attach stays');
  } finally {
    try { detach([], { pinDir: made }); } catch { /* done */ }
    try { detach([], { pinDir: before }); } catch { /* done */ }
    testbedDown(prefix);
    rmSync(top, { recursive: true, force: true });
    rmSync(before, { recursive: true, force: true });
  }
});

t.run();
