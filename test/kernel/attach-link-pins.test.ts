/**
 * A link pinned outside <bpffs>/tsbpf/links (`--pin PATH`, `tsbpf link pin`) is recorded, and
 * `tc detach --link`, `xdp detach` and `link detach ID` remove those pins too: a pin left
 * behind would keep the link object alive.
 */
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { detachPinnedLink, linkPinDir, loadCollection } from '../../src/attach/index.ts';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import { removePinDir } from '../../src/syscall/pin.ts';
import { kernelSuite } from '../support/kernel.ts';
import { TCX_NEXT, XDP_PASS, countMap, udpCounter, withPair } from '../support/attach-net.ts';
import { cli, cliOk } from '../support/cli.ts';

const s = kernelSuite('detach removes the link pins tsbpf made');
const ok = cliOk;
const linkExists = (id: number): boolean => JSON.parse(ok('link', 'list', '--json')).some((l: { id: number }) => l.id === id);
const recordDir = (id: number): string => path.join(ensureBpffs(), 'tsbpf', 'link-pins', String(id));

async function withPinned(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = `${ensureBpffs()}/tsbpf_fixa_lp_${process.pid}`;
  mkdirSync(dir, { recursive: true });
  const linkDir = linkPinDir();
  const before = new Set(readdirSync(linkDir));
  const m = countMap('fixa_lp');
  using c = loadCollection({ maps: [m], programs: { cls: udpCounter('fixa_cls', 'sched_cls', m, TCX_NEXT), xdp: udpCounter('fixa_xdp', 'xdp', m, XDP_PASS) } });
  try {
    c.programs.cls.pin(`${dir}/cls`);
    c.programs.xdp.pin(`${dir}/xdp`);
    await fn(dir);
  } finally {
    for (const f of readdirSync(dir)) {
      if (f === 'cls' || f === 'xdp') continue;
      try { detachPinnedLink(path.join(dir, f)); } catch { rmSync(path.join(dir, f), { force: true }); }
    }
    for (const f of readdirSync(linkDir)) {
      if (before.has(f)) continue;
      try { detachPinnedLink(path.join(linkDir, f)); } catch { rmSync(path.join(linkDir, f), { force: true }); }
    }
    removePinDir(dir);
  }
}

s('tc detach --link removes a --pin PATH pin; the link is gone', async () => {
  await withPinned((dir) => withPair((p) => {
    const a = JSON.parse(ok('tc', 'attach', p.b, 'ingress', '--pinned', `${dir}/cls`, '--pin', `${dir}/tcl`, '--netns', p.nsB, '--json'));
    assert.is(a.pinned, `${dir}/tcl`);
    ok('tc', 'detach', p.b, 'ingress', '--link', String(a.linkId), '--netns', p.nsB);
    assert.not.ok(existsSync(`${dir}/tcl`), 'the --pin pin is removed');
    assert.not.ok(linkExists(a.linkId), 'no pin keeps the link alive');
    assert.not.ok(existsSync(recordDir(a.linkId)), 'the record goes with it');
  }));
});

s('xdp detach and link detach ID remove --pin and `link pin` pins', async () => {
  await withPinned((dir) => withPair((p) => {
    const a = JSON.parse(ok('xdp', 'attach', p.b, '--pinned', `${dir}/xdp`, '--flags', 'skb', '--pin', `${dir}/xl`, '--netns', p.nsB, '--json'));
    ok('link', 'pin', String(a.linkId), `${dir}/xl2`);
    ok('xdp', 'detach', p.b, '--netns', p.nsB);
    assert.not.ok(existsSync(`${dir}/xl`));
    assert.not.ok(existsSync(`${dir}/xl2`));
    assert.not.ok(linkExists(a.linkId));

    const b = JSON.parse(ok('xdp', 'attach', p.b, '--pinned', `${dir}/xdp`, '--flags', 'skb', '--netns', p.nsB, '--json'));
    ok('link', 'pin', String(b.linkId), `${dir}/xl3`);
    ok('link', 'detach', String(b.linkId));
    assert.not.ok(existsSync(`${dir}/xl3`));
    assert.not.ok(existsSync(b.pinned), 'and the default pin');
    assert.not.ok(linkExists(b.linkId));
  }));
});

s('link show, pin and detach take a pin path as prog and map do (PATH, pinned PATH, id N)', async () => {
  await withPinned((dir) => withPair((p) => {
    const a = JSON.parse(ok('xdp', 'attach', p.b, '--pinned', `${dir}/xdp`, '--flags', 'skb', '--pin', `${dir}/sl`, '--netns', p.nsB, '--json'));
    for (const by of [[`${dir}/sl`], ['pinned', `${dir}/sl`], ['id', String(a.linkId)], [String(a.linkId)]]) {
      assert.is(JSON.parse(ok('link', 'show', ...by, '--json')).id, a.linkId, by.join(' '));
    }
    assert.is(JSON.parse(ok('link', 'pin', `${dir}/sl`, `${dir}/sl2`, '--json')).id, a.linkId);
    assert.is(JSON.parse(ok('link', 'show', `${dir}/sl2`, '--json')).id, a.linkId);
    const extra = cli('link', 'show', String(a.linkId), 'surplus');
    assert.is(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument 'surplus'/);
    ok('link', 'detach', `${dir}/sl2`);
    assert.not.ok(existsSync(`${dir}/sl`), 'the other recorded pin goes too');
    assert.not.ok(existsSync(`${dir}/sl2`));
    assert.not.ok(linkExists(a.linkId));
  }));
});

s.run();
