/**
 * XDP through src/attach in generic (skb) mode on a veth, both ways: a BPF link and netlink's
 * IFLA_XDP. Datagrams are counted by the program; `bpftool net` and `ip link` are the oracles.
 */
import * as assert from 'uvu/assert';
import { attachTc, attachXdp, netList, loadCollection, AttachError, type XdpAttachMode } from '../../src/attach/index.ts';
import { kernelSuite, sh } from '../support/kernel.ts';
import { XDP_PASS, countMap, sendUdp, udpCounter, withPair } from '../support/attach-net.ts';

const s = kernelSuite('attach: xdp');

function counters() {
  const maps = [countMap('xdp_cnt0'), countMap('xdp_cnt1')];
  return loadCollection({ maps, programs: { p0: udpCounter('xdp_p0', 'xdp', maps[0]!, XDP_PASS), p1: udpCounter('xdp_p1', 'xdp', maps[1]!, XDP_PASS) } });
}
const count = (c: ReturnType<typeof counters>, i: number): bigint => c.map<number, bigint>(`xdp_cnt${i}`).get(0) ?? 0n;

/** `bpftool net -j` inside the namespace: its xdp entries. */
const bpftoolXdp = (ns: string): { devname: string; ifindex: number; mode: string; id: number }[] =>
  (JSON.parse(sh('ip', ['netns', 'exec', ns, 'bpftool', '-j', 'net'])) as { xdp: { devname: string; ifindex: number; mode: string; id: number }[] }[])[0]!.xdp;

for (const mode of ['link', 'netlink'] as const satisfies readonly XdpAttachMode[]) {
  s(`xdp ${mode}, generic: packets counted, listed like bpftool, twice is one clear error, replace swaps, detach leaves nothing`, async () => {
    await withPair(({ nsB, b, ...p }) => {
      using c = counters();
      const h = attachXdp(c.programs.p0!, b, { mode, flags: 'skb', netns: nsB });
      try {
        assert.is(h.kind, mode === 'link' ? 'xdp_link' : 'xdp_netlink');
        const id0 = c.programs.p0!.id;
        assert.match(sh('ip', ['-n', nsB, 'link', 'show', b]), /xdpgeneric/);
        const ours = netList({ netns: nsB }).xdp;
        assert.equal(ours.map(({ devname, ifindex, mode: m, id }) => ({ devname, ifindex, mode: m, id })), bpftoolXdp(nsB), 'ours and bpftool agree');
        assert.equal(ours.map((e) => [e.mode, e.id, e.link_id !== undefined]), [['generic', id0, mode === 'link']]);
        if (mode === 'link') assert.is(ours[0]!.link_id, h.info().linkId);
        sendUdp({ nsB, b, ...p }, 4);
        assert.is(count(c, 0), 4n);

        let twice: unknown;
        try { attachXdp(c.programs.p1!, b, { mode, flags: 'skb', netns: nsB }); } catch (e) { twice = e; }
        assert.instance(twice, AttachError);
        assert.is((twice as Error).message.split('\n').length, 1, 'one line');
        assert.match((twice as Error).message, new RegExp(`${b} already has an XDP program \\(id ${id0}, skb mode.*\\): pass replace`));
        assert.equal(netList({ netns: nsB }).xdp.map((e) => e.id), [id0], 'the first one stays, nothing else added');

        using r = attachXdp(c.programs.p1!, b, { mode, flags: 'skb', netns: nsB, replace: true });
        assert.equal(netList({ netns: nsB }).xdp.map((e) => e.id), [c.programs.p1!.id]);
        if (mode === 'link') assert.is(r.info().linkId, h.info().linkId, 'the same link runs the new program');
        sendUdp({ nsB, b, ...p }, 2);
        assert.equal([count(c, 0), count(c, 1)], [4n, 2n]);
        // netlink: the first handle's program is no longer there, so its detach leaves the new one.
        if (mode === 'netlink') {
          h.detach();
          assert.equal(netList({ netns: nsB }).xdp.map((e) => e.id), [c.programs.p1!.id], "detach removes only ours");
        }
      } finally {
        h.detach();
      }
      assert.equal(netList({ netns: nsB }).xdp, [], 'the replacing handle removed its program at scope end');
    });
  });
}

s('closing handles whose device is gone does not throw', async () => {
  await withPair(({ nsB, b }) => {
    using c = counters();
    const tc = loadCollection({ programs: { t: udpCounter('gone_tc', 'sched_cls', countMap('gone_cnt'), 0) } });
    try {
      const hs = [
        attachXdp(c.programs.p0!, b, { mode: 'netlink', flags: 'skb', netns: nsB }),
        attachTc(tc.programs.t, b, 'ingress', { netns: nsB, mode: 'tcx' }),
        attachTc(tc.programs.t, b, 'egress', { netns: nsB, mode: 'cls_bpf' }),
      ];
      sh('ip', ['-n', nsB, 'link', 'del', b]);
      for (const h of hs) h.close();
    } finally {
      tc.close();
    }
  });
});

s('xdp close() detaches an unpinned link; a pinned one stays until detach()', async () => {
  await withPair(({ nsB, b }) => {
    using c = counters();
    {
      using h = attachXdp(c.programs.p0!, b, { netns: nsB, flags: 'skb' });
      assert.equal(netList({ netns: nsB }).xdp.map((e) => e.link_id), [h.info().linkId]);
    }
    assert.equal(netList({ netns: nsB }).xdp, [], 'scope end detached it');
    const pin = `/sys/fs/bpf/tsbpf_xdp_pin_${process.pid}`;
    const h = attachXdp(c.programs.p0!, b, { netns: nsB, flags: 'skb' });
    try {
      h.pin(pin);
      assert.equal(h.info().pinned, pin);
      h.close();
      assert.equal(netList({ netns: nsB }).xdp.map((e) => e.id), [c.programs.p0!.id], 'the pin keeps it');
    } finally {
      sh('bpftool', ['link', 'detach', 'pinned', pin], { allowFail: true });
      sh('rm', ['-f', pin]);
    }
    assert.equal(netList({ netns: nsB }).xdp, []);
  });
});

s.run();
