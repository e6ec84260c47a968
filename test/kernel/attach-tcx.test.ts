/**
 * tcx and cls_bpf through src/attach, in two throwaway namespaces joined by a veth pair
 * (test/support/attach-net.ts): attach, list (ours beside `bpftool link` and `tc`), order,
 * replace, detach; UDP datagrams really pass through the programs and are counted in maps.
 */
import * as assert from 'uvu/assert';
import { existsSync, rmSync } from 'node:fs';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import { attachTc, hasTcx, netList, tcxQuery, AttachError, loadCollection, type TcAttachment } from '../../src/attach/index.ts';
import { kernelSuite, sh } from '../support/kernel.ts';
import { TCX_NEXT, TC_ACT_OK, countMap, sendUdp, udpCounter, withPair } from '../support/attach-net.ts';

const s = kernelSuite('attach: tcx and cls_bpf');

/** Three counting programs with their own maps: each returns `ret`. */
function counters(rets: readonly number[]) {
  const maps = rets.map((_, i) => countMap(`tcx_cnt${i}`));
  const programs = Object.fromEntries(rets.map((r, i) => [`p${i}`, udpCounter(`tcx_p${i}`, 'sched_cls', maps[i]!, r)]));
  return loadCollection({ maps, programs });
}
const count = (c: ReturnType<typeof counters>, i: number): bigint => c.map<number, bigint>(`tcx_cnt${i}`).get(0) ?? 0n;

/** bpftool's view of one link: { id, type, prog_id }; 7.1 prints the tcx type as 11. */
function bpftoolLink(id: number): { id: number; type: string | number; prog_id: number } | undefined {
  const out = sh('bpftool', ['-j', 'link', 'show', 'id', String(id)], { allowFail: true });
  return out.trim() ? JSON.parse(out) : undefined;
}

s('the kernel has tcx (6.6+), so auto picks it', () => {
  assert.ok(hasTcx());
});

s('tcx: attach, list beside bpftool, count packets, detach, nothing left', async () => {
  await withPair(({ nsB, b, ...p }) => {
    using c = counters([TCX_NEXT]);
    const h = attachTc(c.programs.p0!, b, 'ingress', { netns: nsB });
    let linkId = 0;
    try {
      assert.is(h.kind, 'tcx', 'auto chose tcx');
      const info = h.info();
      linkId = info.linkId!;
      const progId = c.programs.p0!.id;
      assert.is(info.progId, progId);
      assert.equal(info.created, ['tcx link']);
      const q = tcxQuery(b, 'ingress', { netns: nsB });
      assert.equal([q.progIds, q.linkIds], [[progId], [linkId]]);
      // Ours and bpftool's agree on the link.
      const bt = bpftoolLink(linkId);
      assert.ok(bt, 'bpftool sees the link');
      assert.ok(bt!.type === 'tcx' || bt!.type === 11, `bpftool link type ${bt!.type}`);
      assert.is(bt!.prog_id, progId);
      const listed = netList({ netns: nsB }).tc;
      assert.equal(listed, [{ devname: b, ifindex: h.ifindex, kind: 'tcx/ingress', name: 'tcx_p0', prog_id: progId, link_id: linkId }]);
      sendUdp({ nsB, b, ...p }, 5);
      assert.is(count(c, 0), 5n, 'every datagram passed through the program');
    } finally {
      h.detach();
    }
    assert.equal(tcxQuery(b, 'ingress', { netns: nsB }).progIds, [], 'hook empty');
    assert.is(bpftoolLink(linkId), undefined, 'the link is gone');
    assert.equal(netList({ netns: nsB }).tc, []);
    assert.not.match(sh('tc', ['-n', nsB, 'qdisc', 'show', 'dev', b]), /clsact/, 'tcx adds no qdisc');
    sendUdp({ nsB, b, ...p }, 2);
    assert.is(count(c, 0), 5n, 'detached: no more counting');
  });
});

s('tcx ordering: before/after a link, a program id, first and last; the revision guards changes', async () => {
  await withPair(({ nsB, b, ...p }) => {
    using c = counters([TCX_NEXT, TCX_NEXT, TCX_NEXT, TC_ACT_OK]);
    const ids = [0, 1, 2, 3].map((i) => c.programs[`p${i}`]!.id);
    const hs: TcAttachment[] = [];
    try {
      hs.push(attachTc(c.programs.p0!, b, 'ingress', { netns: nsB, mode: 'tcx' }));
      hs.push(attachTc(c.programs.p1!, b, 'ingress', { netns: nsB, mode: 'tcx', before: hs[0] }));
      hs.push(attachTc(c.programs.p2!, b, 'ingress', { netns: nsB, mode: 'tcx', after: { progId: ids[0]! } }));
      assert.equal(tcxQuery(b, 'ingress', { netns: nsB }).progIds, [ids[1], ids[0], ids[2]]);
      const { revision } = tcxQuery(b, 'ingress', { netns: nsB });
      let stale: unknown;
      try { attachTc(c.programs.p3!, b, 'ingress', { netns: nsB, before: true, expectedRevision: revision - 1n }); } catch (e) { stale = e; }
      assert.instance(stale, AttachError);
      assert.is((stale as AttachError).code, 'ESTALE');
      assert.match((stale as Error).message, /changed since revision/);
      // p3 returns TC_ACT_OK (TCX_PASS) first on the hook: the chain stops there.
      hs.push(attachTc(c.programs.p3!, b, 'ingress', { netns: nsB, before: true, expectedRevision: revision }));
      assert.equal(tcxQuery(b, 'ingress', { netns: nsB }).progIds, [ids[3], ids[1], ids[0], ids[2]]);
      sendUdp({ nsB, b, ...p }, 3);
      assert.equal([0, 1, 2, 3].map((i) => count(c, i)), [0n, 0n, 0n, 3n], 'TCX_PASS ends the chain');
      hs.pop()!.detach();
      sendUdp({ nsB, b, ...p }, 4);
      assert.equal([0, 1, 2, 3].map((i) => count(c, i)), [4n, 4n, 4n, 3n], 'TCX_NEXT runs the next one');
      let dup: unknown;
      try { attachTc(c.programs.p0!, b, 'ingress', { netns: nsB }); } catch (e) { dup = e; }
      assert.match((dup as Error).message, /already attached at tcx ingress/);
    } finally {
      for (const h of hs) h.close();
    }
    assert.equal(tcxQuery(b, 'ingress', { netns: nsB }).progIds, [], 'close() detached every link we created');
  });
});

s('tcx replace: the link keeps its id and runs the new program', async () => {
  await withPair(({ nsB, b, ...p }) => {
    using c = counters([TCX_NEXT, TCX_NEXT]);
    using h = attachTc(c.programs.p0!, b, 'ingress', { netns: nsB });
    const linkId = h.info().linkId;
    sendUdp({ nsB, b, ...p }, 2);
    using r = attachTc(c.programs.p1!, b, 'ingress', { netns: nsB, replace: h });
    assert.equal(r.info().created, [], 'replacing creates nothing');
    assert.is(r.info().linkId, linkId);
    assert.equal(tcxQuery(b, 'ingress', { netns: nsB }).progIds, [c.programs.p1!.id]);
    sendUdp({ nsB, b, ...p }, 3);
    assert.equal([count(c, 0), count(c, 1)], [2n, 3n], 'the old program before, the new one after');
  });
});

s('tcx pin: a second attach at the same pin replaces the program, never stacks; detach removes link and pin', async () => {
  const pin = `${ensureBpffs()}/tsbpf_tcx_pin_${process.pid}`;
  try {
    await withPair(({ nsB, b, ...p }) => {
      using c = counters([TCX_NEXT, TCX_NEXT]);
      const h1 = attachTc(c.programs.p0!, b, 'ingress', { netns: nsB, pin });
      assert.equal([h1.info().created, h1.info().pinned], [['tcx link'], pin]);
      const linkId = h1.info().linkId;
      h1.close();
      assert.equal(tcxQuery(b, 'ingress', { netns: nsB }).progIds, [c.programs.p0!.id], 'pinned: close() keeps it');
      const h2 = attachTc(c.programs.p1!, b, 'ingress', { netns: nsB, pin });
      assert.equal([h2.info().created, h2.info().linkId], [[], linkId], 'the pinned link was reused');
      const q = tcxQuery(b, 'ingress', { netns: nsB });
      assert.equal([q.progIds, q.linkIds], [[c.programs.p1!.id], [linkId]]);
      sendUdp({ nsB, b, ...p }, 2);
      assert.equal([count(c, 0), count(c, 1)], [0n, 2n]);
      let other: unknown;
      try { attachTc(c.programs.p0!, b, 'egress', { netns: nsB, pin }); } catch (e) { other = e; }
      assert.match((other as Error).message, /is tcx tcx_ingress on ifindex \d+, not tcx_egress/);
      h2.detach();
      assert.not.ok(existsSync(pin), 'unpinned');
      assert.equal(tcxQuery(b, 'ingress', { netns: nsB }).progIds, []);
    });
  } finally {
    rmSync(pin, { force: true });
  }
});

s('cls_bpf and tcx on one hook: tcx runs first, cls_bpf only after TCX_NEXT', async () => {
  await withPair(({ nsB, b, ...p }) => {
    using c = counters([TCX_NEXT, TC_ACT_OK, TC_ACT_OK]);
    using cls = attachTc(c.programs.p2!, b, 'ingress', { netns: nsB, mode: 'cls_bpf' });
    assert.is(cls.kind, 'cls_bpf');
    assert.equal(cls.info().created, ['clsact qdisc', 'cls_bpf filter']);
    assert.match(sh('tc', ['-n', nsB, 'filter', 'show', 'dev', b, 'ingress']), /tcx_p2.*direct-action/);
    {
      using next = attachTc(c.programs.p0!, b, 'ingress', { netns: nsB });
      assert.is(next.kind, 'tcx');
      sendUdp({ nsB, b, ...p }, 3);
      assert.equal([count(c, 0), count(c, 2)], [3n, 3n], 'TCX_NEXT: cls_bpf runs too');
      const kinds = netList({ netns: nsB }).tc.map((e) => e.kind);
      assert.equal(kinds, ['tcx/ingress', 'clsact/ingress'], 'listed in run order');
    }
    {
      using pass = attachTc(c.programs.p1!, b, 'ingress', { netns: nsB });
      assert.is(pass.kind, 'tcx');
      sendUdp({ nsB, b, ...p }, 2);
      assert.equal([count(c, 1), count(c, 2)], [2n, 3n], 'TCX_PASS: cls_bpf is skipped');
    }
    cls.detach();
    assert.is(sh('tc', ['-n', nsB, 'filter', 'show', 'dev', b, 'ingress']).trim(), '');
    assert.not.match(sh('tc', ['-n', nsB, 'qdisc', 'show', 'dev', b]), /clsact/, 'the qdisc we added is gone');
  });
});

s('cls_bpf keeps a clsact qdisc it did not create, and a filter it did not make', async () => {
  await withPair(({ nsB, b }) => {
    using c = counters([TC_ACT_OK, TC_ACT_OK]);
    sh('tc', ['-n', nsB, 'qdisc', 'add', 'dev', b, 'clsact']);
    const theirs = attachTc(c.programs.p0!, b, 'egress', { netns: nsB, mode: 'cls_bpf', priority: 5 });
    theirs.release();
    {
      using ours = attachTc(c.programs.p1!, b, 'egress', { netns: nsB, mode: 'cls_bpf' });
      assert.equal(ours.info().created, ['cls_bpf filter']);
    }
    const left = netList({ netns: nsB }).tc;
    assert.equal(left.map((e) => [e.kind, e.name, e.priority]), [['clsact/egress', 'tcx_p0', 5]]);
    assert.match(sh('tc', ['-n', nsB, 'qdisc', 'show', 'dev', b]), /clsact/);
  });
});

s.run();
