/**
 * Attach and detach times per mode of src/attach, in-process, beside the tools that do the
 * same job, in one run. Run as root: `npx tsx bench/attach.ts [iterations]`.
 *
 * Setup: a throwaway namespace with a veth pair (va, vb), a loaded `r0 = 0; exit` SCHED_CLS
 * program and a `r0 = XDP_PASS; exit` XDP program, pinned in a private bpffs mount for the
 * tools (they take no fd). One iteration attaches to va and detaches again; both are timed.
 *
 *   tcx          attachTc(mode 'tcx')   (no tool in Debian 12 makes tcx links: tc 6.1 and
 *                                        bpftool 7.1 predate them; tc's cls_bpf is the same job)
 *   cls_bpf      attachTc(mode 'cls_bpf')  beside `tc qdisc add … clsact` + `tc filter add … bpf da`
 *   xdp link     attachXdp(mode 'link')    beside `bpftool net attach xdpgeneric` (inside the
 *                                           namespace with `ip netns exec`, counted separately)
 *   xdp netlink  attachXdp(mode 'netlink') beside `ip -n ns link set dev va xdpgeneric pinned P`
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { attachTc, attachXdp } from '../src/attach/index.ts';
import { attachTypeId } from '../src/syscall/constants.ts';
import { linkCreate, linkDetach } from '../src/syscall/link.ts';
import { defaultSys } from '../src/syscall/sys.ts';
import { withNetns } from '../src/netlink/netns.ts';
import { loadProgram, rawInstructions } from '../src/syscall/program.ts';
import { loadSchedCls } from '../test/fixtures/netlink/load-prog.ts';
import { withVethBench } from './support/veth-bench.ts';
import { summary, timeMs as time } from './support/timing.ts';

const N = Number(process.argv[2] ?? 30);
const WARMUP = 3;

const stats = (label: string, xs: number[]): string => summary(label, xs, 58);
const run = (cmd: string, ...a: string[]) => { const r = spawnSync(cmd, a); if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr}`); };

/** Time `attach` then `detach`, n times after a warm-up; returns [attach ms[], detach ms[]]. */
function measure(attach: () => void, detach: () => void, warm = WARMUP): [number[], number[]] {
  const a: number[] = [], d: number[] = [];
  for (let i = 0; i < N + warm; i++) {
    const ta = time(attach), td = time(detach);
    if (i >= warm) { a.push(ta); d.push(td); }
  }
  return [a, d];
}

withVethBench('tsbpfbatt', ({ ns, bpffs, progs }) => {
  const cls = loadSchedCls('bench_tc');
  const xdp = loadProgram({ name: 'bench_xdp', type: 'xdp', license: 'GPL', insns: rawInstructions(Uint8Array.of(0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0)), labels: new Map(), maps: [] });
  progs.push(cls, xdp);
  const pinCls = join(bpffs, 'cls'), pinXdp = join(bpffs, 'xdp');
  cls.pin(pinCls);
  xdp.pin(pinXdp);

  const rows: string[] = [];
  let h: { detach(): void } | undefined;
  const ours = (label: string, attach: () => { detach(): void }) => {
    const [a, d] = measure(() => { h = attach(); }, () => h!.detach());
    rows.push(stats(`tsbpf ${label}: attach`, a), stats(`tsbpf ${label}: detach`, d));
  };
  const tool = (label: string, attach: () => void, detach: () => void) => {
    const [a, d] = measure(attach, detach, 1);
    rows.push(stats(`${label}: attach`, a), stats(`${label}: detach`, d));
  };

  ours('tcx (link)', () => attachTc(cls, 'va', 'ingress', { mode: 'tcx', netns: ns }));
  // The kernel's share: LINK_CREATE / LINK_DETACH alone, thread already in the namespace, ifindex known.
  {
    const ifindex = Number(execFileSync('ip', ['-n', ns, '-o', 'link', 'show', 'va'], { encoding: 'utf8' }).split(':')[0]);
    let fd = -1;
    const [a, d] = withNetns(ns, () => measure(
      () => { fd = linkCreate(defaultSys, { progFd: cls.fd, target: ifindex, attachType: attachTypeId('tcx_ingress') }); },
      () => { linkDetach(defaultSys, fd); defaultSys.close(fd); }));
    rows.push(stats('  bpf(LINK_CREATE) alone (tcx)', a), stats('  bpf(LINK_DETACH) alone (tcx)', d));
    const [xa, xd] = withNetns(ns, () => measure(
      () => { fd = linkCreate(defaultSys, { progFd: xdp.fd, target: ifindex, attachType: attachTypeId('xdp'), flags: 2 }); },
      () => { linkDetach(defaultSys, fd); defaultSys.close(fd); }));
    rows.push(stats('  bpf(LINK_CREATE) alone (xdp, generic)', xa), stats('  bpf(LINK_DETACH) alone (xdp, generic)', xd));
  }
  ours('cls_bpf (clsact + filter)', () => attachTc(cls, 'va', 'ingress', { mode: 'cls_bpf', netns: ns }));
  tool('tc (qdisc add clsact + filter add bpf da)', () => {
    run('tc', '-n', ns, 'qdisc', 'add', 'dev', 'va', 'clsact');
    run('tc', '-n', ns, 'filter', 'add', 'dev', 'va', 'ingress', 'bpf', 'da', 'object-pinned', pinCls);
  }, () => run('tc', '-n', ns, 'qdisc', 'del', 'dev', 'va', 'clsact'));
  ours('xdp link (generic)', () => attachXdp(xdp, 'va', { mode: 'link', flags: 'skb', netns: ns }));
  ours('xdp netlink (generic)', () => attachXdp(xdp, 'va', { mode: 'netlink', flags: 'skb', netns: ns }));
  tool('ip -n ns link set dev va xdpgeneric pinned / off', () => run('ip', '-n', ns, 'link', 'set', 'dev', 'va', 'xdpgeneric', 'pinned', pinXdp),
    () => run('ip', '-n', ns, 'link', 'set', 'dev', 'va', 'xdpgeneric', 'off'));
  tool('ip netns exec ns bpftool net attach/detach xdpgeneric', () => run('ip', 'netns', 'exec', ns, 'bpftool', 'net', 'attach', 'xdpgeneric', 'pinned', pinXdp, 'dev', 'va'),
    () => run('ip', 'netns', 'exec', ns, 'bpftool', 'net', 'detach', 'xdpgeneric', 'dev', 'va'));
  tool('ip netns exec ns true (the wrapper alone, to subtract)', () => run('ip', 'netns', 'exec', ns, 'true'), () => {});

  console.log(`attach bench: one program on va (a veth in a namespace), attach then detach, ${N} iterations, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`);
  for (const r of rows) console.log(r);
});
