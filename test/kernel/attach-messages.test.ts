/**
 * Error lines that tell the user what to run next: one wording for an unknown interface
 * whichever command meets it, hints that keep --netns and the device, and --replace named
 * as the CLI spells it.
 */
import * as assert from 'uvu/assert';
import { loadCollection } from '../../src/attach/index.ts';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import { removePinDir } from '../../src/syscall/pin.ts';
import { kernelSuite, withNetns } from '../support/kernel.ts';
import { XDP_PASS, countMap, udpCounter } from '../support/attach-net.ts';
import { mkdirSync } from 'node:fs';
import { cli } from '../support/cli.ts';

const s = kernelSuite('CLI error hints');

s('an unknown interface reads the same in list, detach and attach', async () => {
  await withNetns((ns) => {
    const lines = [['xdp', 'list', 'fixa_nodev'], ['net', 'list', 'fixa_nodev'], ['xdp', 'detach', 'fixa_nodev'], ['tc', 'list', 'fixa_nodev']].map((args) => {
      const r = cli(...args, '--netns', ns.name);
      assert.is(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      return r.stderr.trim();
    });
    for (const l of lines) {
      assert.match(l, `no interface named 'fixa_nodev' in network namespace '${ns.name}'`);
      assert.match(l, `ip -n ${ns.name} link`, l);
    }
  });
});

s('tc detach --priority/--handle of no filter names tsbpf tc list DEV --netns NS', async () => {
  await withNetns((ns) => {
    const r = cli('tc', 'detach', ns.a, 'ingress', '--priority', '7', '--handle', '1', '--netns', ns.name);
    assert.is(r.code, 1);
    assert.match(r.stderr, `tsbpf tc list ${ns.a} --netns ${ns.name}`);
  });
});

s('xdp attach over a program says --replace', async () => {
  const dir = `${ensureBpffs()}/tsbpf_fixa_msg_${process.pid}`;
  mkdirSync(dir, { recursive: true });
  const m = countMap('fixa_msg');
  using c = loadCollection({ maps: [m], programs: { xdp: udpCounter('fixa_mxdp', 'xdp', m, XDP_PASS) } });
  try {
    c.programs.xdp.pin(`${dir}/xdp`);
    await withNetns((ns) => {
      const first = cli('xdp', 'attach', ns.a, '--pinned', `${dir}/xdp`, '--mode', 'netlink', '--flags', 'skb', '--netns', ns.name);
      assert.is(first.code, 0, first.stderr);
      const again = cli('xdp', 'attach', ns.a, '--pinned', `${dir}/xdp`, '--mode', 'netlink', '--flags', 'skb', '--netns', ns.name);
      assert.is(again.code, 1);
      assert.match(again.stderr, /--replace/);
    });
  } finally {
    removePinDir(dir);
  }
});

s.run();
