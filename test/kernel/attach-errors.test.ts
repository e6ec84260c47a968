/**
 * Attach errors: each is one clear line, and leaves nothing behind (no qdisc, filter, link or
 * XDP program). A kernel without tcx is simulated through the Sys seam; missing privileges
 * through child processes that run without root's uid, or without CAP_NET_ADMIN.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachTc, attachXdp, hasTcx, netList, loadCollection, AttachError } from '../../src/attach/index.ts';
import { LINK_CREATE, readU32 } from '../../src/syscall/attr.ts';
import { Cmd, attachTypeId } from '../../src/syscall/constants.ts';
import { listBpfLinks } from '../../src/syscall/link.ts';
import { defaultSys, type Sys } from '../../src/syscall/sys.ts';
import { kernelSuite, sh } from '../support/kernel.ts';
import { TC_ACT_OK, XDP_PASS, countMap, udpCounter, withPair, type Pair } from '../support/attach-net.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const s = kernelSuite('attach: errors');

function programs() {
  const m = countMap('err_cnt');
  return loadCollection({ maps: [m], programs: { cls: udpCounter('err_cls', 'sched_cls', m, TC_ACT_OK), xdp: udpCounter('err_xdp', 'xdp', m, XDP_PASS) } });
}

function thrown(fn: () => unknown): Error {
  try { fn(); } catch (e) { return e as Error; }
  throw new Error('expected an error');
}

/** Nothing of ours on any device of the pair: no tc/XDP attachment, no clsact, no link on their ifindexes. */
function assertClean(p: Pair, linksBefore: ReadonlySet<number>, c: ReturnType<typeof programs>): void {
  for (const [ns, dev] of [[p.nsA, p.a], [p.nsB, p.b]] as const) {
    const l = netList({ netns: ns });
    assert.equal([l.xdp, l.tc], [[], []], `nothing attached in ${ns}`);
    assert.not.match(sh('tc', ['-n', ns, 'qdisc', 'show', 'dev', dev]), /clsact/, `no clsact on ${dev}`);
  }
  // Links are global: other processes' tests may make tcx/XDP links meanwhile, so only links of
  // this test's own programs count.
  const ours = new Set(Object.values(c.programs).map((prog) => prog.id));
  const extra = listBpfLinks().filter((l) => !linksBefore.has(l.id) && (l.type === 'tcx' || l.type === 'xdp') && ours.has(l.progId));
  assert.equal(extra, [], 'no new tcx or XDP link of our programs');
}
const linkIds = (): Set<number> => new Set(listBpfLinks().map((l) => l.id));

s('a missing device: one line naming the device and the namespace, for tc and XDP', async () => {
  await withPair((p) => {
    using c = programs();
    const before = linkIds();
    for (const mode of ['tcx', 'cls_bpf'] as const) {
      const e = thrown(() => attachTc(c.programs.cls, 'nope0', 'ingress', { netns: p.nsB, mode }));
      assert.match(e.message, new RegExp(`^no interface named 'nope0' in network namespace '${p.nsB}'.*ip -n ${p.nsB} link`));
      assert.is(e.message.split('\n').length, 1);
    }
    for (const mode of ['link', 'netlink'] as const) {
      const e = thrown(() => attachXdp(c.programs.xdp, 'nope0', { netns: p.nsB, mode }));
      assert.match(e.message, /^no interface named 'nope0'/);
    }
    assertClean(p, before, c);
  });
});

s('a wrong program type for the hook: one line that says which type the hook runs', async () => {
  await withPair((p) => {
    using c = programs();
    const before = linkIds();
    for (const mode of ['auto', 'tcx', 'cls_bpf'] as const) {
      const e = thrown(() => attachTc(c.programs.xdp, p.b, 'ingress', { netns: p.nsB, mode }));
      assert.instance(e, AttachError);
      assert.match(e.message, /^program 'err_xdp' is of type xdp, but tc hooks run sched_cls programs: load it with type 'sched_cls', or attach it with attachXdp$/);
    }
    for (const mode of ['link', 'netlink'] as const) {
      const e = thrown(() => attachXdp(c.programs.cls, p.b, { netns: p.nsB, mode }));
      assert.match(e.message, /^program 'err_cls' is of type sched_cls, but the XDP hook runs xdp programs/);
    }
    // The kernel's own refusal, for a bare fd whose type we do not check: still one line.
    const e = thrown(() => attachTc({ fd: c.programs.xdp.fd, type: 'sched_cls' }, p.b, 'ingress', { netns: p.nsB, mode: 'tcx' }));
    assert.instance(e, AttachError);
    assert.is(e.message.split('\n').length, 1);
    assertClean(p, before, c);
  });
});

s('XDP twice without replace: one line naming the program there; nothing added', async () => {
  await withPair((p) => {
    using c = programs();
    const before = linkIds();
    const c2 = loadCollection({ programs: { x: udpCounter('err_xdp2', 'xdp', countMap('err_cnt2'), XDP_PASS) } });
    try {
      for (const [first, second] of [['link', 'link'], ['link', 'netlink'], ['netlink', 'netlink'], ['netlink', 'link']] as const) {
        using h = attachXdp(c.programs.xdp, p.b, { netns: p.nsB, mode: first, flags: 'skb' });
        const e = thrown(() => attachXdp(c2.programs.x, p.b, { netns: p.nsB, mode: second, flags: 'skb' }));
        assert.match(e.message, new RegExp(`^${p.b} already has an XDP program \\(id ${c.programs.xdp.id}, skb mode.*\\): pass replace \\(--replace\\) to swap it, or detach it first \\(tsbpf xdp detach\\)$`), `${first} then ${second}`);
        assert.equal(netList({ netns: p.nsB }).xdp.map((x) => x.id), [c.programs.xdp.id]);
        assert.is(h.kind, first === 'link' ? 'xdp_link' : 'xdp_netlink');
      }
    } finally {
      c2.close();
    }
    assertClean(p, before, c);
  });
});

s('a kernel without tcx (simulated): auto falls back to cls_bpf; tcx and ordering say so in one line', async () => {
  const tcxTypes = new Set([attachTypeId('tcx_ingress'), attachTypeId('tcx_egress')]);
  // A 6.1 kernel refuses the tcx attach types in PROG_QUERY and LINK_CREATE with EINVAL.
  const old: Sys = {
    ...defaultSys,
    bpf(cmd, a) {
      if (cmd === Cmd.PROG_QUERY || (cmd === Cmd.LINK_CREATE && tcxTypes.has(readU32(LINK_CREATE, a, 'attach_type')))) return -22;
      return defaultSys.bpf(cmd, a);
    },
  };
  assert.not.ok(hasTcx(old));
  await withPair((p) => {
    using c = programs();
    const before = linkIds();
    {
      using h = attachTc(c.programs.cls, p.b, 'ingress', { netns: p.nsB, sys: old });
      assert.is(h.kind, 'cls_bpf');
      assert.equal(netList({ netns: p.nsB, sys: old }).tc.map((e) => e.kind), ['clsact/ingress']);
    }
    for (const o of [{ mode: 'tcx' as const }, { before: true as const }]) {
      const e = thrown(() => attachTc(c.programs.cls, p.b, 'ingress', { netns: p.nsB, sys: old, ...o }));
      assert.instance(e, AttachError);
      assert.match(e.message, /this kernel has no tcx \(BPF_TCX_INGRESS\/EGRESS need Linux 6\.6\).*: attach with mode 'cls_bpf'/);
      assert.is(e.message.split('\n').length, 1);
    }
    assertClean(p, before, c);
  });
});

/** The CLI in a child process, optionally under setpriv. */
function cli(prefix: string[], ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const cmd = prefix.length ? prefix[0]! : process.execPath;
  const full = [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), '--import', 'tsx', 'src/cli.ts', ...args];
  const r = spawnSync(cmd, full, { cwd: root, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

s('no root: one line that says what is needed, and nothing left (uid nobody; root without CAP_NET_ADMIN)', async () => {
  // A private bpffs under /tmp: \`ip netns exec\` remounts /sys, so pins under /sys/fs/bpf are out of sight there.
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-err-'));
  sh('mount', ['-t', 'bpf', 'bpf', dir]);
  try {
    await withPair((p) => {
      using c = programs();
      c.programs.cls.pin(`${dir}/cls`);
      c.programs.xdp.pin(`${dir}/xdp`);
      const before = linkIds();
      const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--'];
      // Without CAP_NET_ADMIN and CAP_SYS_ADMIN, started inside the namespace (entering one needs
      // CAP_SYS_ADMIN). The kernel checks privilege when a network program is loaded, not when a
      // link is made from its fd, so tcx and XDP links do get created; pinning them (bpffs must be
      // mounted in this mount namespace) is what fails, and the CLI detaches them again.
      const drop = '-net_admin,-sys_admin';
      const noNetAdmin = ['ip', 'netns', 'exec', p.nsB, 'setpriv', `--bounding-set=${drop}`, `--inh-caps=${drop}`, '--'];
      const runs = [
        [nobody, ['tc', 'attach', p.b, 'ingress', '--id', String(c.programs.cls.id), '--netns', p.nsB], /needs root/],
        [noNetAdmin, ['tc', 'attach', p.b, 'ingress', '--pinned', `${dir}/cls`, '--mode', 'tcx'], /needs root \(CAP_SYS_ADMIN\)/],
        [noNetAdmin, ['tc', 'attach', p.b, 'ingress', '--pinned', `${dir}/cls`, '--mode', 'cls_bpf'], /EPERM.*needs root or CAP_NET_ADMIN/],
        [noNetAdmin, ['xdp', 'attach', p.b, '--pinned', `${dir}/xdp`, '--mode', 'link'], /needs root \(CAP_(SYS|NET)_ADMIN/],
        [noNetAdmin, ['xdp', 'attach', p.b, '--pinned', `${dir}/xdp`, '--mode', 'netlink'], /needs root \(CAP_NET_ADMIN\)/],
      ] as const;
      for (const [prefix, args, why] of runs) {
        const r = cli([...prefix], ...args);
        assert.is(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /^error: /);
        assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, why, `${args.join(" ")}: ${r.stderr}`);
      }
      assertClean(p, before, c);
    });
  } finally {
    sh('umount', [dir], { allowFail: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
