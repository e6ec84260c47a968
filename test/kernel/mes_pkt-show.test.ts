/**
 * `show` says when nothing matched (and what the filter requires), and that the device is gone
 * once the testbed under an attachment is removed, instead of "attached with …". Private
 * testbed and pin dir per test, removed in finally.
 */
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { kernelSuite, uniqueName } from '../support/kernel.ts';
import { ensureBpffs } from '../../src/syscall/index.ts';
import { attach, detach } from '../../programs/mes_pkt/control.ts';
import { show } from '../../programs/mes_pkt/show.ts';
import { testbedDown, testbedUp } from '../../programs/mes_pkt/testbed.ts';
import { send } from '../../programs/mes_pkt/send.ts';

const t = kernelSuite('show warns on no matches and on a gone device');

for (const method of ['tcx', 'tc'] as const) {
  t(`${method}: no packets → a warning naming the filter; traffic → none; testbed gone → "device gone"`, () => {
    const prefix = uniqueName('fs');
    const pinDir = `${ensureBpffs()}/${uniqueName('tsbpf-fixc')}`;
    try {
      const tb = testbedUp(prefix.slice(0, 10));
      attach(tb.v1, tb.v2, { pinDir, ports: [5001, 5003], attach: method });
      const idle = show({ pinDir });
      assert.ok(idle.attached, 'attached is reported');
      assert.is(idle.gone, undefined);
      const w = idle.warnings!.find((x) => x.startsWith('no packets matched yet'));
      assert.ok(w, JSON.stringify(idle.warnings));
      assert.match(w!, /UDP to :5001,:5003/);
      assert.ok(w!.includes(tb.v1), w);

      send({ prefix: prefix.slice(0, 10), count: 3, intervalUs: 100, port: 5001, size: 16 });
      const busy = show({ pinDir });
      assert.is(busy.pairs, 3);
      assert.not.ok(busy.warnings!.some((x) => x.startsWith('no packets matched yet')), JSON.stringify(busy.warnings));

      testbedDown(prefix.slice(0, 10));
      const gone = show({ pinDir });
      assert.is(gone.attached, undefined, 'no "attached with" once the device is gone');
      assert.match(gone.gone ?? '', new RegExp(`${tb.v1}|${tb.v2}`));
    } finally {
      try { detach([], { pinDir }); } catch { /* already gone */ }
      testbedDown(prefix.slice(0, 10));
      rmSync(pinDir, { recursive: true, force: true });
    }
  });
}

t.run();
