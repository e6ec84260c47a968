/**
 * mes_pkt: the tutorial's packet latency probe, from TypeScript.
 *   npx tsx programs/mes_pkt.ts attach eth0          (stamp UDP :5001 on eth0 ingress and egress)
 *   npx tsx programs/mes_pkt.ts show                 (latency figures from the pinned maps)
 *   npx tsx programs/mes_pkt.ts demo                 (the whole tutorial on a throwaway testbed)
 */
import { rmdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { dispatch, main, parse, int, json, table, UsageError } from '../src/command.ts';
import { disassemble } from '../src/asm/index.ts';
import { MES_PORT } from './mes_pkt/probe.ts';
import { attach, detach, loadedPrograms, probe, pinDirOf, pinnedMode, reset, show, MODES, type Mode, type Where } from './mes_pkt/control.ts';
import { watchV2 } from './mes_pkt/reader-v2.ts';
import { DEFAULT_CAPACITY } from './mes_pkt/probe-v2.ts';
import { histogram, type Stats } from './mes_pkt/stats.ts';
import { testbedDown, testbedUp } from './mes_pkt/testbed.ts';
import { send } from './mes_pkt/send.ts';


const USAGE = `usage: npx tsx programs/mes_pkt.ts <command> [options]

Measures how long UDP datagrams to port ${MES_PORT} take from one interface's tc ingress
to another's tc egress (the tutorial in ../shared/seed, without clang or tc).

commands:
  attach <dev> [<egress-dev>]   load the probe; mes_start on <dev> ingress, mes_end on egress
                                (--mode v2, the default, or --mode tutorial)
  detach [<dev>...]             remove our filters, the qdiscs we created, and the pins
  show [-v] [--json]            latency figures from the pinned maps
  watch [--seconds N]           v2: live rate and percentiles once a second
  reset                         zero counters and timestamps, stay attached
  dump                          the programs' listings, and what the kernel runs when loaded
  testbed up|down [--prefix P]  the tutorial's ns1/ns2 + bridge topology
  send [--count N] …            send UDP datagrams from ns1 to n2
  demo                          testbed up, attach, send, show, detach, testbed down

common options: --netns NAME (devices in a network namespace), --pin-dir DIR
(default /sys/fs/bpf/tc/globals), --json, --help on each command.
`;

function modeOf(v: string | undefined): Mode {
  if (v === undefined) return 'v2';
  if (!(MODES as readonly string[]).includes(v)) throw new UsageError(`--mode must be ${MODES.join(' or ')}, not '${v}'`);
  return v as Mode;
}

const whereOpts = { netns: { type: 'string' }, 'pin-dir': { type: 'string' } } as const;
const where = (v: { netns?: string; 'pin-dir'?: string }): Where => ({ netns: v.netns, pinDir: v['pin-dir'] });

function printStats(s: Stats, verbose: boolean): string {
  const fmt = (v: bigint | number | null) => (v === null ? '-' : `${v} ns`);
  let out = '';
  if (verbose && s.samples.length) {
    const cols = s.mode === 'v2' ? ['index', 'id', 'start', 'end', 'latency'] : ['index', 'start', 'end', 'latency'];
    out += table(s.samples.map((x) => ({ index: x.index, id: x.id, start: x.start_ns, end: x.end_ns, latency: x.latency_ns })), cols) + '\n';
  }
  out += `start count   ${s.start_count}\nend count     ${s.end_count}\npairs         ${s.pairs}\n`;
  out += `total         ${fmt(s.total_ns)}\naverage       ${s.pairs ? `${s.avg_ns.toFixed(1)} ns` : '-'}\n`;
  out += `min           ${fmt(s.min_ns)}\nmax           ${fmt(s.max_ns)}\n`;
  out += `p50/p90/p99   ${fmt(s.p50_ns)} / ${fmt(s.p90_ns)} / ${fmt(s.p99_ns)}\n`;
  out += `reverse       ${s.reverse}   (a packet's start came before the previous packet's end)\n`;
  if (s.mode === 'v2') {
    out += `unmatched     ${s.unmatched_starts} start(s) without an end, ${s.unmatched_ends} end(s) without a start\n`;
    out += `lost          ${s.lost}   (pairs overwritten in the ring before anyone read them; 'watch' drains it)\n`;
  }
  const kh = s.kernel_histogram;
  if (kh && kh.some((n) => n > 0)) out += '\nin-kernel histogram (every matched packet):\n' + histogram(kh);
  else if (s.pairs) out += '\n' + histogram(s.samples);
  return out;
}

const commands: Record<string, (argv: string[]) => Promise<number> | number> = {
  attach(argv) {
    const usage = 'usage: mes_pkt attach <dev> [<egress-dev>] [--mode v2|tutorial] [--capacity N] [--netns NAME] [--pin-dir DIR] [--json]\n\n' +
      'Creates (or reuses, after checking their layout) the pinned maps, loads mes_start and mes_end,\n' +
      'ensures a clsact qdisc on each device, and attaches mes_start on <dev> ingress and mes_end on\n' +
      '<egress-dev> egress (default: the same device). Running it again replaces our filters.\n' +
      'On failure it removes what it created.\n\n' +
      `--mode v2 (default): pairs start and end by packet identity (the sequence number 'send' puts in\n` +
      `  the first 4 payload bytes), race-free, streams through a ring of --capacity pairs (a power of\n` +
      `  two, default ${DEFAULT_CAPACITY}), counts losses, keeps an in-kernel histogram. Maps: mes2_ctl, mes2_seen, mes2_pairs.\n` +
      '--mode tutorial: the tutorial\'s maps (map_mes_start, map_mes_end, map_mes_cnt) and semantics.\n';
    const a = parse(argv, { ...whereOpts, json: { type: 'boolean' }, mode: { type: 'string' }, capacity: { type: 'string' } }, usage);
    if (!a) return 0;
    const [dev, egress, ...extra] = a.positionals;
    if (!dev || extra.length) throw new UsageError(`attach takes one or two devices\n\n${usage}`);
    const r = attach(dev, egress ?? dev, { ...where(a.values), mode: modeOf(a.values.mode), capacity: int(a.values.capacity, '--capacity', DEFAULT_CAPACITY) });
    if (a.values.json) { process.stdout.write(json(r)); return 0; }
    console.log(`mode ${r.mode}`);
    for (const m of r.maps) console.log(`${m.created ? 'created' : 'reused '} ${m.path}`);
    for (const q of r.qdiscsCreated) console.log(`added clsact qdisc on ${q}`);
    for (const p of r.programs) console.log(`${p.replaced ? 'replaced' : 'attached'} ${p.name} (prog id ${p.id}) on ${p.dev} ${p.hook}`);
    return 0;
  },
  detach(argv) {
    const usage = 'usage: mes_pkt detach [<dev>...] [--netns NAME] [--pin-dir DIR] [--json]\n\n' +
      'Removes our filters (by name), the clsact qdiscs attach created where nothing else uses them,\n' +
      'and the pins. Without devices, uses the ones attach recorded. Safe when nothing is attached.\n';
    const a = parse(argv, { ...whereOpts, json: { type: 'boolean' } }, usage);
    if (!a) return 0;
    const r = detach(a.positionals, where(a.values));
    if (a.values.json) { process.stdout.write(json(r)); return 0; }
    const all = [...r.filters.map((f) => `removed filter ${f}`), ...r.qdiscs.map((q) => `removed ${q} qdisc`), ...r.pins.map((p) => `removed pin ${p}`), ...r.notes];
    console.log(all.length ? all.join('\n') : 'nothing to remove');
    return 0;
  },
  show(argv) {
    const usage = 'usage: mes_pkt show [-v] [--json] [--pin-dir DIR]\n\n' +
      'Reads the pinned maps read-only and prints start/end counts, pairs, total, average, min, max,\n' +
      'p50/p90/p99, a histogram, and how often a packet started before the previous one ended.\n' +
      '-v adds one row per packet. --json prints it all as one object.\n';
    const a = parse(argv, { 'pin-dir': { type: 'string' }, json: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, mode: { type: 'string' } }, usage);
    if (!a) return 0;
    const s = show({ pinDir: a.values['pin-dir'], mode: a.values.mode === undefined ? undefined : modeOf(a.values.mode) });
    process.stdout.write(a.values.json ? json(s) : printStats(s, !!a.values.verbose));
    return 0;
  },
  reset(argv) {
    const a = parse(argv, { 'pin-dir': { type: 'string' } }, 'usage: mes_pkt reset [--pin-dir DIR]\n\nZeroes the counters and timestamps without detaching.\n');
    if (!a) return 0;
    const mode = reset({ pinDir: a.values['pin-dir'] });
    console.log(`counters and timestamps zeroed (${mode})`);
    return 0;
  },
  async watch(argv) {
    const usage = 'usage: mes_pkt watch [--seconds N] [--json] [--pin-dir DIR]\n\n' +
      'v2 only. Once a second: the rate of matched packets, their p50/p90/p99, and the run\'s losses.\n' +
      'It consumes the pair ring as it reads it, so the ring never fills; Ctrl-C stops it.\n' +
      '--json prints one object per second.\n';
    const a = parse(argv, { 'pin-dir': { type: 'string' }, json: { type: 'boolean' }, seconds: { type: 'string' } }, usage);
    if (!a) return 0;
    const dir = pinDirOf({ pinDir: a.values['pin-dir'] });
    if (pinnedMode(dir) !== 'v2') throw new Error(`watch needs the v2 probe, but the tutorial's maps are pinned in ${dir}: attach with --mode v2`);
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    const us = (v: bigint | null) => (v === null ? '-' : `${(Number(v) / 1000).toFixed(1)}us`);
    await watchV2(dir, (t) => {
      if (a.values.json) process.stdout.write(JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');
      else console.log(`${t.elapsed_s.toFixed(0).padStart(5)}s  ${String(Math.round(t.rate)).padStart(8)} pkt/s  p50 ${us(t.p50_ns)}  p90 ${us(t.p90_ns)}  p99 ${us(t.p99_ns)}  total ${t.total_pairs}  lost ${t.lost}  unmatched ends ${t.unmatched_ends}`);
    }, { seconds: a.values.seconds === undefined ? undefined : int(a.values.seconds, '--seconds'), signal: stop.signal });
    return 0;
  },
  dump(argv) {
    const usage = 'usage: mes_pkt dump [--mode v2|tutorial] [--source] [--bytes] [--pin-dir DIR]\n\nPrints both programs as tsbpf builds them and, when they are loaded, what the kernel runs (xlated).\n';
    const a = parse(argv, { 'pin-dir': { type: 'string' }, source: { type: 'boolean' }, bytes: { type: 'boolean' }, mode: { type: 'string' } }, usage);
    if (!a) return 0;
    const dumpMode = modeOf(a.values.mode);
    for (const spec of probe(dumpMode).programs) {
      console.log(`${spec.name} (${dumpMode}): ${spec.insns.length} instructions (${spec.type}, license ${spec.license})`);
      process.stdout.write(disassemble(spec.insns, { index: true, labels: spec.labels, source: !!a.values.source, bytes: !!a.values.bytes }) + '\n');
    }
    const loaded = loadedPrograms({ pinDir: a.values['pin-dir'] });
    if (!loaded.length) console.log('(not loaded: attach to see what the kernel runs)');
    for (const p of loaded) {
      console.log(`${p.name} as the kernel runs it (prog id ${p.id}, xlated):`);
      process.stdout.write(p.xlatedListing() + '\n');
      p.close();
    }
    return 0;
  },
  testbed(argv) {
    const usage = 'usage: mes_pkt testbed up|down [--prefix P] [--json]\n\n' +
      'up: namespaces <P>ns1 and <P>ns2, veth pairs <P>v1-<P>n1 and <P>v2-<P>n2, a bridge <P>br1 with\n' +
      '<P>v1 and <P>v2 as ports, an address on n1 and n2 from one private /24, all links up.\n' +
      'down: removes all of it (safe when absent).\n';
    const a = parse(argv, { prefix: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (!a) return 0;
    const [verb] = a.positionals;
    if (verb === 'up') {
      const t = testbedUp(a.values.prefix ?? '');
      if (a.values.json) process.stdout.write(json(t));
      else console.log(`testbed up: ${t.ns1}/${t.n1} ${t.addr1} -- ${t.v1} [${t.br}] ${t.v2} -- ${t.ns2}/${t.n2} ${t.addr2}\nattach with: mes_pkt attach ${t.v1} ${t.v2}`);
      return 0;
    }
    if (verb === 'down') {
      const removed = testbedDown(a.values.prefix ?? '');
      if (a.values.json) process.stdout.write(json({ removed }));
      else console.log(removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove');
      return 0;
    }
    throw new UsageError(`testbed needs 'up' or 'down'\n\n${usage}`);
  },
  send(argv) {
    const usage = 'usage: mes_pkt send [--count N] [--interval-us U] [--port P] [--size B] [--prefix P]\n\n' +
      `Sends N UDP datagrams (default 100, ${MES_PORT}) from the testbed's ns1 to n2's address,\n` +
      'U microseconds apart (default 1000; 0 = as fast as possible). Each payload starts with a\n' +
      'big-endian u32 sequence number.\n';
    const a = parse(argv, { count: { type: 'string' }, 'interval-us': { type: 'string' }, port: { type: 'string' }, size: { type: 'string' }, prefix: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (!a) return 0;
    const r = send({ prefix: a.values.prefix, count: int(a.values.count, '--count', 100), intervalUs: int(a.values['interval-us'], '--interval-us', 1000), port: int(a.values.port, '--port', MES_PORT), size: int(a.values.size, '--size', 16) });
    if (a.values.json) process.stdout.write(json(r));
    else console.log(`sent ${r.sent} datagrams to ${r.to}:${r.port} in ${r.seconds.toFixed(3)} s (${Math.round(r.sent / Math.max(r.seconds, 1e-9))}/s)`);
    return 0;
  },
  demo(argv) {
    const usage = 'usage: mes_pkt demo [--count N] [--json]\n\nBrings up a private testbed, attaches (v1 ingress, v2 egress), sends N packets to 5001 and\nsome to other ports, shows the results, then detaches and removes the testbed.\n';
    const a = parse(argv, { count: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (!a) return 0;
    const count = int(a.values.count, '--count', 100);
    const prefix = `d${(process.pid % 46656).toString(36)}`;
    const pinDir = `/sys/fs/bpf/tsbpf-demo-${process.pid}`;
    const log = (s: string) => { if (!a.values.json) console.log(s); };
    log(`1. testbed up (prefix ${prefix})`);
    const t = testbedUp(prefix);
    try {
      log(`2. attach mes_start on ${t.v1} ingress, mes_end on ${t.v2} egress (pins in ${pinDir})`);
      attach(t.v1, t.v2, { pinDir });
      try {
        log(`3. send ${count} datagrams to ${t.addr2}:${MES_PORT}, and 10 to ${MES_PORT + 1} and 10 to ${MES_PORT + 2} (not counted)`);
        send({ prefix, count, intervalUs: 1000, port: MES_PORT, size: 16 });
        send({ prefix, count: 10, intervalUs: 100, port: MES_PORT + 1, size: 16 });
        send({ prefix, count: 10, intervalUs: 100, port: MES_PORT + 2, size: 16 });
        const s = show({ pinDir });
        if (a.values.json) process.stdout.write(json(s));
        else { log('4. results'); process.stdout.write(printStats(s, false)); }
      } finally {
        log('5. detach and testbed down');
        detach([t.v1, t.v2], { pinDir });
        try { rmdirSync(pinDir); } catch { /* not empty, or already gone */ }
      }
    } finally {
      testbedDown(prefix);
    }
    return 0;
  },
};



/** The whole command line, for the `tsbpf-mes-pkt` bin and `tsbpf mes-pkt`. */
export const run = (argv: string[]): Promise<number | void> | number | void => dispatch(argv, USAGE, commands);

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(run);
}
