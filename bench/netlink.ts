/**
 * How long attaching the latency probe's two hooks takes over rtnetlink, against the `tc`
 * commands the tutorial runs. Run as root: `npx tsx bench/netlink.ts [iterations]`.
 *
 * Setup: a throwaway namespace with a veth pair (va, vb) and two loaded `r0 = 0; exit`
 * SCHED_CLS programs. One iteration attaches: clsact on va and vb, a direct-action filter on
 * va ingress and one on vb egress; then everything is removed again (timed separately).
 * For `tc` the programs are pinned in a private bpffs mount, since tc takes no fd.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as nl from '../src/netlink/index.ts';
import { loadSchedCls } from '../test/fixtures/netlink/load-prog.ts';
import { withVethBench } from './support/veth-bench.ts';
import { summary, timeMs as time } from './support/timing.ts';

const N = Number(process.argv[2] ?? 50);

const stats = (label: string, xs: number[]): void => console.log(summary(label, xs, 60));

withVethBench('tsbpfbench', ({ ns, bpffs, progs }) => {
  const pIn = loadSchedCls('bench_in'), pEg = loadSchedCls('bench_eg');
  progs.push(pIn, pEg);
  const fdIn = pIn.fd, fdEg = pEg.fd;

  // 1. In-process, as a program would do it: open the socket in the namespace, look the names
  //    up, ensure both qdiscs, attach both filters.
  const attachCold: number[] = [], attachWarm: number[] = [], detach: number[] = [];
  for (let i = 0; i < N + 5; i++) {
    let sock!: nl.RouteSocket;
    const t = time(() => {
      sock = nl.routeSocket({ netns: ns });
      nl.ensureClsact(sock, 'va');
      nl.ensureClsact(sock, 'vb');
      nl.attachBpf(sock, 'va', 'ingress', { fd: fdIn, name: 'mes_start' });
      nl.attachBpf(sock, 'vb', 'egress', { fd: fdEg, name: 'mes_end' });
    });
    const d = time(() => { nl.deleteClsact(sock, 'va'); nl.deleteClsact(sock, 'vb'); });
    sock.close();
    if (i >= 5) { attachCold.push(t); detach.push(d); } // first few warm up the JIT
  }

  // 2. The four requests alone: socket open, ifindexes known.
  {
    using sock = nl.routeSocket({ netns: ns });
    const va = nl.getLink(sock, 'va').index, vb = nl.getLink(sock, 'vb').index;
    for (let i = 0; i < N + 5; i++) {
      const t = time(() => {
        nl.ensureClsact(sock, va);
        nl.ensureClsact(sock, vb);
        nl.attachBpf(sock, va, 'ingress', { fd: fdIn, name: 'mes_start' });
        nl.attachBpf(sock, vb, 'egress', { fd: fdEg, name: 'mes_end' });
      });
      nl.deleteClsact(sock, va);
      nl.deleteClsact(sock, vb);
      if (i >= 5) attachWarm.push(t);
    }
  }

  // 3. The tutorial's four tc commands, as subprocesses.
  pIn.pin(join(bpffs, 'in'));
  pEg.pin(join(bpffs, 'eg'));
  const tc = (...a: string[]) => { const r = spawnSync('tc', ['-n', ns, ...a]); if (r.status !== 0) throw new Error(`tc ${a.join(' ')}: ${r.stderr}`); };
  const tcAttach: number[] = [], tcDetach: number[] = [];
  for (let i = 0; i < N; i++) {
    tcAttach.push(time(() => {
      tc('qdisc', 'add', 'dev', 'va', 'clsact');
      tc('qdisc', 'add', 'dev', 'vb', 'clsact');
      tc('filter', 'add', 'dev', 'va', 'ingress', 'bpf', 'da', 'object-pinned', join(bpffs, 'in'));
      tc('filter', 'add', 'dev', 'vb', 'egress', 'bpf', 'da', 'object-pinned', join(bpffs, 'eg'));
    }));
    tcDetach.push(time(() => { tc('qdisc', 'del', 'dev', 'va', 'clsact'); tc('qdisc', 'del', 'dev', 'vb', 'clsact'); }));
  }

  console.log(`netlink bench: 2 clsact qdiscs + 2 direct-action cls_bpf filters, ${N} iterations, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`);
  stats('tsbpf attach (socket in netns, 4 name lookups, 4 requests)', attachCold);
  stats('tsbpf attach (open socket, ifindexes known: 4 requests)', attachWarm);
  stats('tsbpf detach (2 qdisc deletes)', detach);
  stats('tc: 4 commands (qdisc add x2, filter add x2)', tcAttach);
  stats('tc: 2 commands (qdisc del x2)', tcDetach);
});
