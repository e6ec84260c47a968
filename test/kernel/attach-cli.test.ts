/**
 * `tsbpf tc`, `xdp`, `net` and `link` on the attach layer, each a child process, in throwaway
 * namespaces; `bpftool` and `tc` are the oracles. Links the CLI creates are pinned (so they
 * outlive it) and its detach commands remove link and pin.
 */
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { detachPinnedLink, linkPinDir, loadCollection } from '../../src/attach/index.ts';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import { removePinDir } from '../../src/syscall/pin.ts';
import { kernelSuite, sh } from '../support/kernel.ts';
import { TCX_NEXT, XDP_PASS, countMap, sendUdp, udpCounter, withPair } from '../support/attach-net.ts';
import { cli, cliOk } from '../support/cli.ts';

const s = kernelSuite('attach: CLI');

const ok = cliOk;

/**
 * Programs pinned under a private directory of /sys/fs/bpf for --pinned, removed afterwards,
 * with any link pin the CLI left in <bpffs>/tsbpf/links during the test (when a test fails
 * halfway, its links must not outlive it).
 */
async function withPinned<R>(fn: (dir: string, c: ReturnType<typeof load>) => Promise<R> | R): Promise<R> {
  const dir = `${ensureBpffs()}/tsbpf_cli_${process.pid}`;
  mkdirSync(dir, { recursive: true });
  const linkDir = linkPinDir();
  const before = new Set(readdirSync(linkDir));
  using c = load();
  try {
    c.programs.cls.pin(`${dir}/cls`);
    c.programs.xdp.pin(`${dir}/xdp`);
    return await fn(dir, c);
  } finally {
    removePinDir(dir);
    for (const f of readdirSync(linkDir)) {
      if (before.has(f)) continue;
      try { detachPinnedLink(path.join(linkDir, f)); } catch { rmSync(path.join(linkDir, f), { force: true }); }
    }
  }
}
function load() {
  const m = countMap('cli_cnt');
  return loadCollection({ maps: [m], programs: { cls: udpCounter('cli_cls', 'sched_cls', m, TCX_NEXT), xdp: udpCounter('cli_xdp', 'xdp', m, XDP_PASS) } });
}

s('tc attach (tcx, pinned link) / list / detach; net list and link show agree with bpftool', async () => {
  await withPinned((dir, c) => withPair((p) => {
    const att = JSON.parse(ok('tc', 'attach', p.b, 'ingress', '--pinned', `${dir}/cls`, '--netns', p.nsB, '--json'));
    assert.equal([att.mode, att.hook, att.progId], ['tcx', 'ingress', c.programs.cls.id]);
    assert.ok(existsSync(att.pinned), 'the link is pinned, so it outlived the command');
    sendUdp(p, 3);
    assert.is(c.map<number, bigint>('cli_cnt').get(0), 3n, 'it runs after the CLI exited');

    const rows = JSON.parse(ok('tc', 'list', p.b, '--netns', p.nsB, '--json'));
    assert.equal(rows.map((r: { mode: string; hook: string; progId: number; linkId: number }) => [r.mode, r.hook, r.progId, r.linkId]), [['tcx', 'ingress', c.programs.cls.id, att.linkId]]);
    assert.match(ok('tc', 'list', p.b, '--netns', p.nsB), new RegExp(`ingress\\s+-\\s+-\\s+${c.programs.cls.id}\\s+cli_cls\\s+-\\s+-\\s+tcx\\s+${att.linkId}`));

    const net = JSON.parse(ok('net', 'list', '--netns', p.nsB, '--json'));
    assert.equal(net, [{ xdp: [], tc: [{ devname: p.b, ifindex: net[0].tc[0].ifindex, kind: 'tcx/ingress', name: 'cli_cls', prog_id: c.programs.cls.id, link_id: att.linkId }] }]);
    const show = JSON.parse(ok('link', 'show', String(att.linkId), '--json'));
    const bt = JSON.parse(sh('bpftool', ['-j', 'link', 'show', 'id', String(att.linkId)]));
    assert.equal([show.id, show.prog_id], [bt.id, bt.prog_id]);
    assert.ok(bt.type === 11 || bt.type === 'tcx', 'bpftool 7.1 prints tcx as 11');
    assert.equal([show.type, show.attach_type], ['tcx', 'tcx_ingress']);
    assert.ok(JSON.parse(ok('link', 'list', '--json')).some((l: { id: number }) => l.id === att.linkId));

    assert.equal(JSON.parse(ok('tc', 'detach', p.b, 'ingress', '--link', String(att.linkId), '--netns', p.nsB, '--json')), { dev: p.b, hook: 'ingress', detached: 0, links: [att.linkId] });
    assert.not.ok(existsSync(att.pinned), 'pin removed');
    assert.equal(JSON.parse(ok('tc', 'list', p.b, '--netns', p.nsB, '--json')), []);
    assert.is(sh('bpftool', ['link', 'show', 'id', String(att.linkId)], { allowFail: true }), '');
  }));
});

s('tc attach --mode cls_bpf / tcx ordering through flags; detach --id removes both kinds', async () => {
  await withPinned((dir, c) => withPair((p) => {
    const cls = JSON.parse(ok('tc', 'attach', p.b, 'egress', '--pinned', `${dir}/cls`, '--mode', 'cls_bpf', '--netns', p.nsB, '--json'));
    assert.equal([cls.mode, cls.name, cls.directAction, cls.qdiscCreated], ['cls_bpf', 'cli_cls', true, true]);
    assert.match(sh('tc', ['-n', p.nsB, 'filter', 'show', 'dev', p.b, 'egress']), /cli_cls direct-action/);
    const t1 = JSON.parse(ok('tc', 'attach', p.b, 'egress', '--pinned', `${dir}/cls`, '--netns', p.nsB, '--json'));
    const r = cli('tc', 'attach', p.b, 'egress', '--pinned', `${dir}/cls`, '--netns', p.nsB, '--before', 'first');
    assert.is(r.code, 1);
    assert.match(r.stderr, /^error: program 'cli_cls' is already attached at tcx egress/);
    const out = JSON.parse(ok('tc', 'detach', p.b, 'egress', '--id', String(c.programs.cls.id), '--netns', p.nsB, '--json'));
    assert.equal(out, { dev: p.b, hook: 'egress', detached: 1, links: [t1.linkId] });
    assert.equal(JSON.parse(ok('tc', 'list', p.b, '--netns', p.nsB, '--json')), []);
  }));
});

s('xdp attach/list/detach in both modes; net list --json is bpftool net -j', async () => {
  await withPinned((dir, c) => withPair((p) => {
    for (const mode of ['link', 'netlink']) {
      const a = JSON.parse(ok('xdp', 'attach', p.b, '--pinned', `${dir}/xdp`, '--mode', mode, '--flags', 'skb', '--netns', p.nsB, '--json'));
      assert.equal([a.mode, a.progId, a.xdpMode], [mode, c.programs.xdp.id, 'skb']);
      const twice = cli('xdp', 'attach', p.b, '--pinned', `${dir}/xdp`, '--mode', mode, '--flags', 'skb', '--netns', p.nsB);
      assert.is(twice.code, 1);
      assert.match(twice.stderr, new RegExp(`^error: ${p.b} already has an XDP program \\(id ${c.programs.xdp.id}, skb mode`));
      assert.is(twice.stderr.trim().split('\n').length, 1);
      const ours = JSON.parse(ok('net', 'list', '--netns', p.nsB, '--json'))[0];
      const theirs = JSON.parse(sh('ip', ['netns', 'exec', p.nsB, 'bpftool', '-j', 'net']))[0];
      assert.equal(ours.xdp.map(({ link_id: _l, ...e }: { link_id?: number }) => e), theirs.xdp, `${mode}: the same xdp entries as bpftool`);
      assert.equal(JSON.parse(ok('xdp', 'list', '--netns', p.nsB, '--json')), ours.xdp);
      const d = JSON.parse(ok('xdp', 'detach', p.b, '--netns', p.nsB, '--json'));
      assert.equal(d.detached.map((x: { id: number }) => x.id), [c.programs.xdp.id]);
      assert.equal(JSON.parse(ok('net', 'list', '--netns', p.nsB, '--json'))[0].xdp, []);
      if (a.pinned) assert.not.ok(existsSync(a.pinned));
    }
    const r = cli('xdp', 'detach', p.b, '--netns', p.nsB);
    assert.is(r.code, 1);
    assert.match(r.stderr, /has no XDP program: nothing to detach/);
  }));
});

s('link pin and detach by pin; every command has --help', async () => {
  await withPinned((dir) => withPair((p) => {
    const a = JSON.parse(ok('xdp', 'attach', p.b, '--pinned', `${dir}/xdp`, '--flags', 'skb', '--netns', p.nsB, '--json'));
    try {
      const extra = `${dir}/link2`;
      ok('link', 'pin', String(a.linkId), extra);
      assert.is(JSON.parse(ok('link', 'show', '--pinned', extra, '--json')).id, a.linkId);
      assert.match(ok('link', 'detach', '--pinned', extra), new RegExp(`detached link ${a.linkId} \\(xdp`));
      assert.equal(JSON.parse(ok('net', 'list', '--netns', p.nsB, '--json'))[0].xdp, []);
    } finally {
      sh('rm', ['-f', a.pinned]);
    }
  }));
  for (const args of [['tc', 'attach'], ['tc', 'detach'], ['tc', 'list'], ['xdp', 'attach'], ['xdp', 'detach'], ['net', 'list'], ['link', 'list']]) {
    assert.match(ok(...args, '--help'), /^usage: tsbpf /);
  }
});

s.run();
