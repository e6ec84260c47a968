/**
 * XDP links name an ifindex but no namespace: with the same ifindex in two namespaces, `xdp
 * detach` and `xdp attach --replace` in one must leave the other's program and link alone.
 * Each namespace gets a veth pair with fixed indexes, so the ifindexes surely collide.
 */
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { detachPinnedLink, linkPinDir, loadCollection } from '../../src/attach/index.ts';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import { removePinDir } from '../../src/syscall/pin.ts';
import { kernelSuite, sh, uniqueName } from '../support/kernel.ts';
import { XDP_PASS, countMap, udpCounter } from '../support/attach-net.ts';
import { cli, cliOk } from '../support/cli.ts';

const s = kernelSuite('XDP with the same ifindex in two namespaces');

const ok = cliOk;
const xdpOf = (ns: string): { id: number; link_id?: number }[] => JSON.parse(ok('xdp', 'list', 'd0', '--netns', ns, '--json'));

/** Two namespaces, each with veth d0 (ifindex 40) / d1 (41); two xdp programs pinned; all removed after. */
async function withTwin(fn: (ns: [string, string], dir: string, ids: [number, number]) => Promise<void> | void): Promise<void> {
  const ns: [string, string] = [uniqueName('rv1x'), uniqueName('rv2x')];
  const dir = `${ensureBpffs()}/tsbpf_fixa_${process.pid}`;
  mkdirSync(dir, { recursive: true });
  const linkDir = linkPinDir();
  const before = new Set(readdirSync(linkDir));
  const m = countMap('fixa_cnt');
  using c = loadCollection({ maps: [m], programs: { p1: udpCounter('fixa_p1', 'xdp', m, XDP_PASS), p2: udpCounter('fixa_p2', 'xdp', m, XDP_PASS) } });
  try {
    for (const n of ns) {
      sh('ip', ['netns', 'add', n]);
      sh('ip', ['-n', n, 'link', 'add', 'd0', 'index', '40', 'type', 'veth', 'peer', 'name', 'd1', 'index', '41']);
      sh('ip', ['-n', n, 'link', 'set', 'd0', 'up']);
      sh('ip', ['-n', n, 'link', 'set', 'd1', 'up']);
    }
    c.programs.p1.pin(`${dir}/p1`);
    c.programs.p2.pin(`${dir}/p2`);
    await fn(ns, dir, [c.programs.p1.id, c.programs.p2.id]);
  } finally {
    for (const f of readdirSync(linkDir)) {
      if (before.has(f)) continue;
      try { detachPinnedLink(path.join(linkDir, f)); } catch { rmSync(path.join(linkDir, f), { force: true }); }
    }
    for (const n of ns) sh('ip', ['netns', 'del', n], { allowFail: true });
    removePinDir(dir);
  }
}

s('detach and replace over netlink in rv2 leave rv1\'s link alone', async () => {
  await withTwin(([rv1, rv2], dir, [p1, p2]) => {
    const a1 = JSON.parse(ok('xdp', 'attach', 'd0', '--pinned', `${dir}/p1`, '--flags', 'skb', '--netns', rv1, '--json'));
    ok('xdp', 'attach', 'd0', '--pinned', `${dir}/p1`, '--flags', 'skb', '--mode', 'netlink', '--netns', rv2);
    assert.equal(xdpOf(rv1).map((e) => e.id), [p1]);

    const r = cli('xdp', 'attach', 'd0', '--pinned', `${dir}/p2`, '--flags', 'skb', '--replace', '--netns', rv2);
    assert.is(r.code, 1, 'a link cannot take over rv2\'s netlink program');
    assert.match(r.stderr, /attached over netlink/);
    assert.equal(xdpOf(rv1).map((e) => [e.id, e.link_id]), [[p1, a1.linkId]], 'rv1 still runs p1 through its link');

    const d = JSON.parse(ok('xdp', 'detach', 'd0', '--netns', rv2, '--json'));
    assert.equal(d.detached, [{ id: p1, mode: 'generic' }], 'removed over netlink, not through rv1\'s link');
    assert.equal(xdpOf(rv2), []);
    assert.equal(xdpOf(rv1).map((e) => [e.id, e.link_id]), [[p1, a1.linkId]], 'rv1 untouched');
    void p2;
  });
});

s('with links in both namespaces on one ifindex, detach and replace name the links and touch neither', async () => {
  await withTwin(([rv1, rv2], dir, [p1]) => {
    const a1 = JSON.parse(ok('xdp', 'attach', 'd0', '--pinned', `${dir}/p1`, '--flags', 'skb', '--netns', rv1, '--json'));
    const a2 = JSON.parse(ok('xdp', 'attach', 'd0', '--pinned', `${dir}/p1`, '--flags', 'skb', '--netns', rv2, '--json'));
    const r = cli('xdp', 'detach', 'd0', '--netns', rv2);
    assert.is(r.code, 1);
    assert.match(r.stderr, new RegExp(`links (${a1.linkId}, ${a2.linkId}|${a2.linkId}, ${a1.linkId}) all run it`));
    const rep = cli('xdp', 'attach', 'd0', '--pinned', `${dir}/p2`, '--flags', 'skb', '--replace', '--netns', rv2);
    assert.is(rep.code, 1);
    assert.match(rep.stderr, /all run it/);
    for (const n of [rv1, rv2]) assert.equal(xdpOf(n).map((e) => e.id), [p1], `${n} still runs p1`);
    // Each link detached by its id leaves the other's program.
    ok('link', 'detach', String(a2.linkId));
    assert.equal(xdpOf(rv2), []);
    assert.equal(xdpOf(rv1).map((e) => [e.id, e.link_id]), [[p1, a1.linkId]]);
  });
});

s.run();
