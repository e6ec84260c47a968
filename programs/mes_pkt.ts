/**
 * mes_pkt: the tutorial's packet latency probe, from TypeScript.
 *   npx tsx programs/mes_pkt.ts attach eth0 eth1     (time UDP :5001 from eth0 ingress to eth1 egress)
 *   npx tsx programs/mes_pkt.ts attach eth0          (one device: time from a request to its reply)
 *   npx tsx programs/mes_pkt.ts show                 (latency figures from the pinned maps)
 *   npx tsx programs/mes_pkt.ts demo                 (the whole tutorial on a throwaway testbed)
 */
import { rmdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { dispatch, main, parse, int, json, table, UsageError } from '../src/command.ts';
import { MES_PORT } from './mes_pkt/layout.ts';
import { DEFAULT_CAPACITY } from './mes_pkt/layout-v2.ts';
import { MODES, pinDirOf, pinnedMode, readState, type Mode, type Where } from './mes_pkt/state.ts';
import type { AttachMethod } from './mes_pkt/control.ts';
import { byFlow, formatDuration, histogram, type Stats } from './mes_pkt/stats.ts';
import { matchWarning, parseMatch, parsePorts, parseProto } from './mes_pkt/match.ts';
import { needRoot, privileged, asNeedsRoot } from './mes_pkt/privilege.ts';
import { Interrupted, trapSignals, signalPoint, type SignalGuard } from './mes_pkt/signals.ts';
import { SELF } from './mes_pkt/self.ts';

// Each command imports the code it runs when it runs (import() below), so `show` or `--help`
// never loads the DSL, netlink or the attach code: the bin starts about as fast as Node does.
const control = () => import('./mes_pkt/control.ts');


const USAGE = `usage: ${SELF} <command> [options]

Measures how long packets (default UDP to port ${MES_PORT}) take from one interface's tc ingress
to another's tc egress, or on one interface from a request to its reply (the Japanese tutorial
"bpfプログラムの作成と実行(1)(tc)", without clang or tc).

commands:
  attach <dev> [<egress-dev>]   load the probe; mes_start on <dev> ingress, mes_end on egress
                                (--match seq|headers|reply, --port, --proto, --mode v2|tutorial,
                                or --obj mes_pkt.o: the tutorial's own clang-built object)
  detach [<dev>...]             remove our filters, the qdiscs we created, and the pins
  show [--by flow] [--json]     latency figures from the pinned maps, with warnings
  watch [--seconds N] [--jsonl] v2: live rate and percentiles once a second (consumes the ring)
  serve --listen ADDR:PORT      v2: Prometheus metrics at http://ADDR:PORT/metrics
  reset                         zero counters and timestamps, stay attached
  dump [--obj FILE.o]           the programs' listings, and what the kernel runs when loaded
  testbed up|down [--prefix P]  the tutorial's ns1/ns2 + bridge topology
  send [--count N] …            send UDP datagrams from ns1 to ns2
  demo                          testbed up, attach, send, show, detach, testbed down

common options: --netns NAME (devices in a network namespace), --pin-dir DIR
(default /sys/fs/bpf/tc/globals), --json, --help on each command.
Everything but dump needs root (or CAP_BPF + CAP_NET_ADMIN).
`;

/** `methods` is control.ts's ATTACH_METHODS, passed in because control.ts is loaded only by attach. */
function attachMethodOf(v: string | undefined, methods: readonly AttachMethod[]): AttachMethod {
  if (v === undefined) return 'auto';
  if (!(methods as readonly string[]).includes(v)) throw new UsageError(`--attach must be ${methods.join(', ')}, not '${v}'`);
  return v as AttachMethod;
}

function modeOf(v: string | undefined): Mode {
  if (v === undefined) return 'v2';
  if (!(MODES as readonly string[]).includes(v)) throw new UsageError(`--mode must be ${MODES.join(' or ')}, not '${v}'`);
  return v as Mode;
}

/** A duration flag: 1s, 250ms, 100us (or µs), 500ns; a bare number is seconds. */
export function durationNs(v: string | undefined, what: string, dflt: bigint): bigint {
  if (v === undefined) return dflt;
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)?$/.exec(v.trim());
  if (!m) throw new UsageError(`${what} must be a duration such as 1s, 250ms, 100us or 500ns, not '${v}'`);
  const scale = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 }[(m[2] ?? 's') as 'ns'];
  return BigInt(Math.round(Number(m[1]) * scale));
}

const usageErr = <T>(fn: () => T): T => {
  try { return fn(); } catch (e) { if (e instanceof RangeError) throw new UsageError(e.message); throw e; }
};

const whereOpts = { netns: { type: 'string' }, 'pin-dir': { type: 'string' } } as const;

/**
 * parse, with Node's parseArgs errors ("Unknown option '--x'. To specify a positional argument
 * starting with a '-', place it immediately after the '--' terminator.") as one line naming the
 * command, and where its help is.
 */
function parseIn<O extends Parameters<typeof parse>[1]>(cmd: string, argv: string[], options: O, usage: string): ReturnType<typeof parse<O>> {
  try {
    return parse(argv, options, usage);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const first = e.message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
    const unknown = /^Unknown option '(-[^']*)'/.exec(first);
    const what = unknown ? `${cmd} does not take ${unknown[1]}` : `${cmd}: ${first.replace(/\.$/, '')}`;
    throw new UsageError(`${what} (see '${SELF} ${cmd} --help')`);
  }
}

/**
 * The readers take --netns too (it is a common option): the pins do not depend on it, but say
 * so when the probe in dir was attached in another namespace than the one named.
 */
function noteNetns(dir: string, netns: string | undefined): void {
  if (netns === undefined) return;
  const recorded = readState(dir)?.netns;
  if (recorded !== netns) {
    process.stderr.write(`note: the probe pinned in ${dir} was attached ${recorded ? `in network namespace ${recorded}` : 'in the root network namespace'}, not in ${netns}; its pins are read all the same\n`);
  }
}
const where = (v: { netns?: string; 'pin-dir'?: string }): Where => ({ netns: v.netns, pinDir: v['pin-dir'] });

/** Run a privileged command body: the needs-root line up front, and EPERM/EACCES turned into it. */
async function asRoot<T>(cmd: string, fn: () => Promise<T> | T): Promise<T> {
  needRoot(cmd);
  try { return await fn(); } catch (e) { throw asNeedsRoot(cmd, e); }
}

/**
 * Run fn with SIGINT/SIGTERM trapped: fn calls guard.checkpoint() between steps and cleans up in
 * its finally blocks; an interruption becomes one line on stderr and exit 128 + signal.
 */
async function guarded(fn: (g: SignalGuard) => Promise<number>): Promise<number> {
  const g = trapSignals();
  try {
    return await fn(g);
  } catch (e) {
    // a child killed by the same Ctrl-C (ip, the sender) may fail first: was it the signal?
    const sig = e instanceof Interrupted ? e.signal : await g.settle();
    if (!sig) throw e;
    const i = e instanceof Interrupted ? e : new Interrupted(sig);
    process.stderr.write(`${i.message}: nothing is left behind\n`);
    return i.exitCode;
  } finally {
    g.release();
  }
}

/**
 * While a command must finish its cleanup, a reader that went away (`| head`) is not a reason
 * to exit: record it, stop printing, and restore the usual EPIPE exit afterwards.
 */
function keepGoingOnEpipe(): { readonly gone: boolean; restore(): void } {
  const prior = process.stdout.listeners('error') as ((e: Error) => void)[];
  process.stdout.removeAllListeners('error');
  let gone = false;
  const on = (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') gone = true; else for (const l of prior) l(e); };
  process.stdout.on('error', on);
  return {
    get gone() { return gone; },
    restore() {
      process.stdout.off('error', on);
      for (const l of prior) process.stdout.on('error', l);
    },
  };
}

function stripSamples(s: Stats, keep: boolean): Omit<Stats, 'samples'> & { samples?: Stats['samples'] } {
  if (keep) return s;
  const { samples: _samples, ...rest } = s;
  return rest;
}

function printStats(s: Stats, verbose: boolean): string {
  const fmt = (v: bigint | number | null) => (v === null ? '-' : `${v} ns`);
  let out = '';
  if (s.measured) out += `${s.measured}\n`;
  if (s.attached) out += `attached with ${s.attached}\n`;
  if (s.gone) out += `device gone (${s.gone}): nothing is measured any more; run '${SELF} detach' to remove the rest\n`;
  if (s.measured || s.attached || s.gone) out += '\n';
  if (verbose && s.samples.length) {
    const cols = s.mode === 'v2' ? ['index', 'id', 'flow', 'start', 'end', 'latency'] : ['index', 'start', 'end', 'latency'];
    out += table(s.samples.map((x) => ({ index: x.index, id: x.id, flow: x.flow, start: x.start_ns, end: x.end_ns, latency: x.latency_ns })), cols) + '\n';
  }
  out += `start count   ${s.start_count}\nend count     ${s.end_count}\npairs         ${s.pairs}\n`;
  out += `total         ${fmt(s.total_ns)}\naverage       ${s.pairs ? `${s.avg_ns.toFixed(1)} ns` : '-'}\n`;
  out += `min           ${fmt(s.min_ns)}\nmax           ${fmt(s.max_ns)}\n`;
  out += `p50/p90/p99   ${fmt(s.p50_ns)} / ${fmt(s.p90_ns)} / ${fmt(s.p99_ns)}\n`;
  out += `reverse       ${s.reverse}   (a packet's start came before the previous packet's end)\n`;
  if (s.mode === 'v2') {
    out += `unmatched     ${s.unmatched_starts} start(s) without an end, ${s.unmatched_ends} end(s) without a start\n`;
    out += `lost          ${s.lost}   (pairs overwritten in the ring before anyone read them; 'watch' drains it)\n`;
    if (s.drained) out += `drained       ${s.drained}   (pairs 'watch' consumed: not in the figures above; ${s.matched} matched in all)\n`;
  }
  if (s.over_max || s.end_before_start) out += `set apart     ${s.over_max ?? 0} above ${formatDuration(s.max_latency_ns)}, ${s.end_before_start ?? 0} ended before they started\n`;
  const kh = s.kernel_histogram;
  if (kh && kh.some((n) => n > 0)) out += '\nin-kernel histogram (every matched packet):\n' + histogram(kh);
  else if (s.pairs) out += '\n' + histogram(s.samples);
  for (const w of s.warnings ?? []) out += `warning: ${w}\n`;
  return out;
}

const commands: Record<string, (argv: string[]) => Promise<number> | number> = {
  async attach(argv) {
    const usage = 'usage: ' + SELF + ' attach <dev> [<egress-dev>] [--match seq|headers|reply] [--port P]... [--proto udp|tcp]\n' +
      '                      [--attach auto|tcx|tc] [--mode v2|tutorial] [--capacity N] [--netns NAME] [--pin-dir DIR] [--json]\n' +
      '       ' + SELF + ' attach <dev> [<egress-dev>] --obj FILE.o [--sec-ingress S] [--sec-egress S] [--attach …] [--netns …] [--pin-dir …]\n\n' +
      'Creates (or reuses, after checking their layout) the pinned maps, writes the config (protocol and\n' +
      'ports), loads mes_start and mes_end, ensures a clsact qdisc on each device, and attaches mes_start\n' +
      'on <dev> ingress and mes_end on <egress-dev> egress (default: the same device). It prints one line\n' +
      'saying what is measured. Running it again from the same --pin-dir replaces our filters (and the\n' +
      'config); a device another --pin-dir\'s probe owns is refused. On failure, or Ctrl-C, it removes\n' +
      'what it created.\n\n' +
      '--match: how an end is paired with its start (docs/mes_pkt.md, "What is measured"):\n' +
      '  seq      the first 4 payload bytes (TCP: the sequence number): `send` and iperf2 number them\n' +
      '  headers  a hash of the fields that do not change in flight: any traffic crossing both hooks\n' +
      '           (the default for two devices)\n' +
      '  reply    one device: a request at ingress to the port, and the reply at egress from it: the\n' +
      '           host\'s service time (the default when <egress-dev> is <dev>)\n' +
      `--port P (repeatable, or a comma list; default ${MES_PORT}) and --proto udp|tcp (default udp): which packets count.\n` +
      `--mode v2 (default): in-kernel pairing, a ring of --capacity pairs (a power of two, default ${DEFAULT_CAPACITY}),\n` +
      '  loss counters and a histogram. Maps: mes2_ctl, mes2_seen, mes2_pairs, mes2_cfg.\n' +
      '--mode tutorial: the tutorial\'s maps (map_mes_start, map_mes_end, map_mes_cnt) and semantics.\n' +
      '--attach auto (default): tcx links where the kernel has them (Linux 6.6), else tc; tcx: links, owned\n' +
      '  and pinned beside the maps (mes_pkt_start_link, mes_pkt_end_link); tc: cls_bpf filters on clsact.\n' +
      '--obj FILE.o: run the tutorial\'s own clang-built object instead of the DSL\'s programs (what\n' +
      '  `tc filter add … bpf da obj mes_pkt.o sec ingress` did). Its maps are pinned in --pin-dir (tc\'s\n' +
      '  /sys/fs/bpf/tc/globals by default, where PIN_GLOBAL_NS puts them); show, reset, dump and detach work\n' +
      '  as in --mode tutorial, and detach removes only the pins attach created. --sec-ingress and\n' +
      '  --sec-egress name the sections (default: \'ingress\' and \'egress\', as in the tutorial, else\n' +
      '  tc/ingress, tcx/ingress…). --match, --port, --proto and --capacity do not apply.\n';
    const a = parseIn('attach', argv, {
      ...whereOpts, json: { type: 'boolean' }, mode: { type: 'string' }, capacity: { type: 'string' },
      match: { type: 'string' }, port: { type: 'string', multiple: true }, proto: { type: 'string' }, attach: { type: 'string' },
      obj: { type: 'string' }, 'sec-ingress': { type: 'string' }, 'sec-egress': { type: 'string' },
    }, usage);
    if (!a) return 0;
    const [dev, egress, ...extra] = a.positionals;
    if (!dev || extra.length) throw new UsageError(`attach takes one or two devices\n\n${usage}`);
    const egressDev = egress ?? dev;
    const obj = a.values.obj;
    const sections = a.values['sec-ingress'] !== undefined || a.values['sec-egress'] !== undefined
      ? { ingress: a.values['sec-ingress'], egress: a.values['sec-egress'] } : undefined;
    if (obj === undefined && sections) throw new UsageError('--sec-ingress and --sec-egress name sections of an object: they need --obj FILE.o');
    if (obj !== undefined) {
      // the object's programs pair by index on UDP :5001 into the tutorial's maps: nothing to choose
      const moot = (['match', 'port', 'proto', 'capacity'] as const).filter((k) => a.values[k] !== undefined).map((k) => `--${k}`);
      if (a.values.mode !== undefined && a.values.mode !== 'tutorial') moot.unshift(`--mode ${a.values.mode}`);
      if (moot.length) throw new UsageError(`--obj runs the object's own programs (the tutorial's: UDP :5001, paired by index): ${moot.join(', ')} ${moot.length > 1 ? 'do' : 'does'} not apply`);
    }
    const mode = obj !== undefined ? 'tutorial' : modeOf(a.values.mode);
    const { attach, detach, ATTACH_METHODS } = await control();
    const opts = usageErr(() => ({
      ...where(a.values), mode, capacity: int(a.values.capacity, '--capacity', DEFAULT_CAPACITY),
      match: mode === 'tutorial' && a.values.match === undefined ? undefined : parseMatch(a.values.match, dev, egressDev),
      ports: parsePorts(a.values.port), proto: parseProto(a.values.proto), attach: attachMethodOf(a.values.attach, ATTACH_METHODS),
      ...(obj !== undefined ? { obj, ...(sections ? { sections } : {}) } : {}),
    }));
    return asRoot('attach', () => guarded(async (g) => {
      const r = attach(dev, egressDev, opts);
      try {
        await g.checkpoint();
      } catch (e) {
        detach([], { pinDir: r.pinDir, netns: opts.netns });
        throw e;
      }
      if (a.values.json) { process.stdout.write(json(r)); return 0; }
      console.log(r.measured);
      const warn = r.match ? matchWarning({ ingressDev: dev, egressDev, match: r.match, ports: opts.ports, proto: opts.proto }) : null;
      if (warn) console.log(warn);
      console.log(`mode ${r.mode}${r.match ? `, --match ${r.match}` : ''}${r.object ? `, programs from ${r.object}` : ''}; attached with ${r.attached}`);
      for (const m of r.maps) console.log(`${m.created ? 'created' : 'reused '} ${m.path}`);
      for (const q of r.qdiscsCreated) console.log(`added clsact qdisc on ${q}`);
      for (const p of r.programs) console.log(`${p.replaced ? 'replaced' : 'attached'} ${p.name} (prog id ${p.id}) on ${p.dev} ${p.hook} (${p.method})`);
      return 0;
    }));
  },
  async detach(argv) {
    const usage = 'usage: ' + SELF + ' detach [<dev>...] [--netns NAME] [--pin-dir DIR] [--json]\n\n' +
      'Removes our filters, the clsact qdiscs attach created where nothing else uses them, and the pins.\n' +
      'Without devices, uses the devices and the network namespace attach recorded for --pin-dir.\n' +
      'Named devices are cleared of mes_pkt filters by name. Safe when nothing is attached.\n';
    const a = parseIn('detach', argv, { ...whereOpts, json: { type: 'boolean' } }, usage);
    if (!a) return 0;
    const { detach } = await control();
    return asRoot('detach', () => {
      const r = detach(a.positionals, where(a.values));
      if (a.values.json) { process.stdout.write(json(r)); return 0; }
      const removed = [...r.filters.map((f) => `removed ${f}`), ...r.qdiscs.map((q) => `removed ${q} qdisc`), ...r.pins.map((p) => `removed pin ${p}`), ...r.dirs.map((d) => `removed directory ${d}`)];
      // a second detach: say so plainly rather than "no devices recorded by attach; name them…"
      if (!removed.length && !a.positionals.length) { console.log(`nothing is attached under ${pinDirOf(where(a.values))}`); return 0; }
      const all = [...removed, ...r.notes];
      console.log(all.length ? all.join('\n') : 'nothing to remove');
      return 0;
    });
  },
  async show(argv) {
    const usage = 'usage: ' + SELF + ' show [-v] [--by flow] [--top N] [--json] [--samples] [--max-latency D] [--pin-dir DIR] [--netns NAME]\n\n' +
      'Reads the pinned maps read-only. First the line saying what is measured, then start/end counts,\n' +
      'pairs, total, average, min, max, p50/p90/p99, a histogram, how often a packet started before the\n' +
      'previous one ended, and a warning line for anything that makes the figures doubtful.\n' +
      '--max-latency D (default 1s): pairs slower than D are counted apart, never averaged in.\n' +
      '--by flow: per 5-tuple count, p50, p99 and max, the --top N (default 10) busiest flows.\n' +
      '-v adds one row per packet. --json prints one object; --samples adds every pair to it.\n';
    const a = parseIn('show', argv, {
      ...whereOpts, json: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, mode: { type: 'string' },
      by: { type: 'string' }, top: { type: 'string' }, samples: { type: 'boolean' }, 'max-latency': { type: 'string' },
    }, usage);
    if (!a) return 0;
    if (a.values.by !== undefined && a.values.by !== 'flow') throw new UsageError(`--by takes 'flow', not '${a.values.by}'`);
    const top = int(a.values.top, '--top', 10);
    const maxLatencyNs = durationNs(a.values['max-latency'], '--max-latency', 1_000_000_000n);
    return asRoot('show', async () => {
      // the pin dir and its mode first: with nothing attached, show fails before loading the readers
      const flagMode = a.values.mode === undefined ? undefined : modeOf(a.values.mode);
      const pinDir = pinDirOf({ pinDir: a.values['pin-dir'] });
      const mode = flagMode ?? pinnedMode(pinDir);
      noteNetns(pinDir, a.values.netns);
      const { show } = await import('./mes_pkt/show.ts');
      const s = show({ pinDir, mode, maxLatencyNs });
      if (a.values.by === 'flow') {
        const flows = byFlow(s.samples, top);
        if (a.values.json) { process.stdout.write(json({ measured: s.measured, flows })); return 0; }
        if (s.measured) console.log(`${s.measured}\n`);
        process.stdout.write(table(flows.map((f) => ({ flow: f.flow, count: f.count, p50: formatDuration(f.p50_ns), p99: formatDuration(f.p99_ns), max: formatDuration(f.max_ns) })), ['flow', 'count', 'p50', 'p99', 'max']));
        for (const w of s.warnings ?? []) console.log(`warning: ${w}`);
        return 0;
      }
      process.stdout.write(a.values.json ? json(stripSamples(s, !!a.values.samples)) : printStats(s, !!a.values.verbose));
      return 0;
    });
  },
  async reset(argv) {
    const a = parseIn('reset', argv, { ...whereOpts }, 'usage: ' + SELF + ' reset [--pin-dir DIR] [--netns NAME]\n\nZeroes the counters and timestamps without detaching (the config stays).\n');
    if (!a) return 0;
    const { reset } = await control();
    return asRoot('reset', () => {
      noteNetns(pinDirOf({ pinDir: a.values['pin-dir'] }), a.values.netns);
      const mode = reset({ pinDir: a.values['pin-dir'] });
      console.log(`counters and timestamps zeroed (${mode})`);
      return 0;
    });
  },
  async watch(argv) {
    const usage = 'usage: ' + SELF + ' watch [--seconds N] [--jsonl] [--max-latency D] [--pin-dir DIR] [--netns NAME]\n\n' +
      'v2 only. Once a second: the rate of matched packets, their p50/p90/p99, and the run\'s losses.\n' +
      'It consumes the pair ring as it reads it, so the ring never fills (show then says so); Ctrl-C stops it.\n' +
      '--jsonl (or --json) prints one JSON object per second, for log pipelines.\n';
    const a = parseIn('watch', argv, { ...whereOpts, json: { type: 'boolean' }, jsonl: { type: 'boolean' }, seconds: { type: 'string' }, 'max-latency': { type: 'string' } }, usage);
    if (!a) return 0;
    const maxLatencyNs = durationNs(a.values['max-latency'], '--max-latency', 1_000_000_000n);
    const seconds = a.values.seconds === undefined ? undefined : int(a.values.seconds, '--seconds');
    const { watchV2 } = await import('./mes_pkt/reader-v2.ts');
    return asRoot('watch', async () => {
      const dir = pinDirOf({ pinDir: a.values['pin-dir'] });
      noteNetns(dir, a.values.netns);
      if (pinnedMode(dir) !== 'v2') throw new Error(`watch needs the v2 probe, but the tutorial's maps are pinned in ${dir}: attach with --mode v2`);
      const stop = new AbortController();
      const onSig = () => stop.abort();
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      const lines = a.values.json || a.values.jsonl;
      const d = (v: bigint | null) => formatDuration(v);
      try {
        await watchV2(dir, (t) => {
          if (lines) process.stdout.write(JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');
          else console.log(`${t.elapsed_s.toFixed(0).padStart(5)}s  ${String(Math.round(t.rate)).padStart(8)} pkt/s  p50 ${d(t.p50_ns)}  p90 ${d(t.p90_ns)}  p99 ${d(t.p99_ns)}  total ${t.total_pairs}  lost ${t.lost}  unmatched ends ${t.unmatched_ends}${t.over_max ? `  over max ${t.over_max}` : ''}`);
        }, { seconds, signal: stop.signal, maxLatencyNs });
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
      return 0;
    });
  },
  async serve(argv) {
    const usage = 'usage: ' + SELF + ' serve [--listen ADDR:PORT] [--pin-dir DIR] [--netns NAME]\n\n' +
      'v2 only. Serves Prometheus metrics at http://ADDR:PORT/metrics (default 127.0.0.1:9464): the\n' +
      'histogram tsbpf_mes_pkt_latency_seconds and counters of starts, ends, pairs, unmatched and lost,\n' +
      'labelled with device, hook and match. Each scrape reads the in-kernel counters; nothing is\n' +
      'consumed, so show and watch still work. Ctrl-C stops it. See docs/fleet.md.\n';
    const a = parseIn('serve', argv, { ...whereOpts, listen: { type: 'string' } }, usage);
    if (!a) return 0;
    const { parseListen, serve } = await import('./mes_pkt/serve.ts');
    const listen = usageErr(() => parseListen(a.values.listen));
    return asRoot('serve', async () => {
      const dir = pinDirOf({ pinDir: a.values['pin-dir'] });
      noteNetns(dir, a.values.netns);
      if (pinnedMode(dir) !== 'v2') throw new Error(`serve exports the v2 probe's in-kernel counters; the tutorial's maps are pinned in ${dir}: attach with --mode v2`);
      const server = await serve(dir, listen);
      const addr = server.address();
      const shown = typeof addr === 'object' && addr ? `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
      console.log(`serving http://${shown}/metrics (pins in ${dir}); Ctrl-C stops`);
      await new Promise<void>((resolve) => {
        const stop = () => { server.close(() => resolve()); server.closeAllConnections(); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      return 0;
    });
  },
  async dump(argv) {
    const usage = 'usage: ' + SELF + ' dump [--mode v2|tutorial] [--match M] [--source] [--bytes] [--pin-dir DIR]\n' +
      '       ' + SELF + ' dump --obj FILE.o [--sec-ingress S] [--sec-egress S] [--bytes] [--pin-dir DIR]\n\n' +
      'Prints both programs as tsbpf builds them (with --obj, as the object holds them; without --mode,\n' +
      'the object attach --obj recorded) and, when they are loaded, what the kernel runs (xlated).\n';
    const a = parseIn('dump', argv, {
      ...whereOpts, source: { type: 'boolean' }, bytes: { type: 'boolean' }, mode: { type: 'string' }, match: { type: 'string' },
      obj: { type: 'string' }, 'sec-ingress': { type: 'string' }, 'sec-egress': { type: 'string' },
    }, usage);
    if (!a) return 0;
    if (a.values.obj !== undefined && (a.values.mode !== undefined || a.values.match !== undefined)) throw new UsageError('dump --obj lists the object\'s programs: --mode and --match do not apply');
    const dumpMode = modeOf(a.values.mode);
    const match = usageErr(() => parseMatch(a.values.match ?? 'headers', 'a', 'b'));
    const [{ probe, loadedPrograms }, { disassemble }] = await Promise.all([control(), import('../src/asm/disasm.ts')]);
    // the object to list: named, or the one attach --obj recorded (unless a DSL mode is asked for)
    let recorded: { file: string; sections: { ingress?: string; egress?: string } } | undefined;
    if (a.values.obj !== undefined) recorded = { file: a.values.obj, sections: { ingress: a.values['sec-ingress'], egress: a.values['sec-egress'] } };
    else if (a.values.mode === undefined && privileged()) {
      try { recorded = readState(pinDirOf({ pinDir: a.values['pin-dir'] }))?.object; } catch { /* no pin dir: the DSL's listing */ }
    }
    if (recorded) {
      const { readTutorialObject } = await import('./mes_pkt/object.ts');
      const o = readTutorialObject(recorded.file, recorded.sections);
      for (const spec of [o.ingress, o.egress]) {
        console.log(`${spec.name} (section '${spec.section}' of ${o.file}): ${spec.insns.length} instructions (${spec.type}, license ${spec.license})`);
        process.stdout.write(disassemble(spec.insns, { index: true, labels: spec.labels, bytes: !!a.values.bytes }) + '\n');
      }
    } else {
      for (const spec of probe(dumpMode, DEFAULT_CAPACITY, match).programs) {
        console.log(`${spec.name} (${dumpMode}${dumpMode === 'v2' ? `, --match ${match}` : ''}): ${spec.insns.length} instructions (${spec.type}, license ${spec.license})`);
        process.stdout.write(disassemble(spec.insns, { index: true, labels: spec.labels, source: !!a.values.source, bytes: !!a.values.bytes }) + '\n');
      }
    }
    if (!privileged()) { console.log('(what the kernel runs needs root (or CAP_BPF + CAP_NET_ADMIN))'); return 0; }
    const loaded = loadedPrograms({ pinDir: a.values['pin-dir'] });
    if (!loaded.length) console.log('(not loaded: attach to see what the kernel runs)');
    for (const p of loaded) {
      console.log(`${p.name} as the kernel runs it (prog id ${p.id}, xlated):`);
      process.stdout.write(p.xlatedListing() + '\n');
      p.close();
    }
    return 0;
  },
  async testbed(argv) {
    const usage = 'usage: ' + SELF + ' testbed up|down [--prefix P] [--json]\n\n' +
      'up: namespaces <P>ns1 and <P>ns2, veth pairs <P>v1-<P>n1 and <P>v2-<P>n2, a bridge <P>br1 with\n' +
      '<P>v1 and <P>v2 as ports, an address on n1 and n2 from one private /24, all links up.\n' +
      'Ctrl-C while it is being built removes what was built.\n' +
      'down: removes all of it (safe when absent).\n';
    const a = parseIn('testbed', argv, { prefix: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (!a) return 0;
    const [verb] = a.positionals;
    const prefix = a.values.prefix ?? '';
    const { testbedDown, testbedUp } = await import('./mes_pkt/testbed.ts');
    if (verb === 'up') {
      return asRoot('testbed up', () => guarded(async (g) => {
        let t;
        try {
          t = testbedUp(prefix);
          await g.checkpoint();
        } catch (e) {
          if (g.signal) testbedDown(prefix);
          throw e;
        }
        if (a.values.json) process.stdout.write(json(t));
        else console.log(`testbed up: ${t.ns1}/${t.n1} ${t.addr1} -- ${t.v1} [${t.br}] ${t.v2} -- ${t.ns2}/${t.n2} ${t.addr2}\nattach with: ${SELF} attach ${t.v1} ${t.v2}`);
        return 0;
      }));
    }
    if (verb === 'down') {
      return asRoot('testbed down', () => {
        const removed = testbedDown(prefix);
        if (a.values.json) process.stdout.write(json({ removed }));
        else console.log(removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove');
        return 0;
      });
    }
    throw new UsageError(`testbed needs 'up' or 'down'\n\n${usage}`);
  },
  async send(argv) {
    const usage = 'usage: ' + SELF + ' send [--count N] [--interval-us U] [--port P] [--size B] [--prefix P]\n\n' +
      `Sends N UDP datagrams (default 100, ${MES_PORT}) from the testbed's ns1 to n2's address,\n` +
      'U microseconds apart (default 1000; 0 = as fast as possible). Each payload starts with a\n' +
      'big-endian u32 sequence number.\n';
    const a = parseIn('send', argv, { count: { type: 'string' }, 'interval-us': { type: 'string' }, port: { type: 'string' }, size: { type: 'string' }, prefix: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (!a) return 0;
    const o = { prefix: a.values.prefix, count: int(a.values.count, '--count', 100), intervalUs: int(a.values['interval-us'], '--interval-us', 1000), port: int(a.values.port, '--port', MES_PORT), size: int(a.values.size, '--size', 16) };
    const { sendAsync } = await import('./mes_pkt/send.ts');
    return asRoot('send', async () => {
      const r = await sendAsync(o);
      if (a.values.json) process.stdout.write(json(r));
      else console.log(`sent ${r.sent} datagrams to ${r.to}:${r.port} in ${r.seconds.toFixed(3)} s (${Math.round(r.sent / Math.max(r.seconds, 1e-9))}/s)`);
      return 0;
    });
  },
  async demo(argv) {
    const usage = 'usage: ' + SELF + ' demo [--count N] [--json]\n\nBrings up a private testbed, attaches (v1 ingress, v2 egress), sends N packets to 5001 and\nsome to other ports, shows the results, then detaches and removes the testbed. Ctrl-C at any\npoint removes everything it made.\n';
    const a = parseIn('demo', argv, { count: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (!a) return 0;
    const count = int(a.values.count, '--count', 100);
    const [{ attach, detach }, { show }, { testbedDown, testbedUp }, { sendAsync }] = await Promise.all([
      control(), import('./mes_pkt/show.ts'), import('./mes_pkt/testbed.ts'), import('./mes_pkt/send.ts'),
    ]);
    return asRoot('demo', () => guarded(async (g) => {
      const prefix = `d${(process.pid % 46656).toString(36)}`;
      const pinDir = `/sys/fs/bpf/tsbpf-demo-${process.pid}`;
      // `demo | head` closes the pipe early: stop printing, but clean up before exiting
      const out = keepGoingOnEpipe();
      const log = (s: string) => { if (!a.values.json && !out.gone) console.log(s); };
      log(`1. testbed up (prefix ${prefix})`);
      try {
        const t = testbedUp(prefix);
        signalPoint('demo:testbed');
        await g.checkpoint();
        log(`2. attach mes_start on ${t.v1} ingress, mes_end on ${t.v2} egress (pins in ${pinDir})`);
        try {
          const r = attach(t.v1, t.v2, { pinDir });
          log(`   ${r.measured}`);
          signalPoint('demo:attach');
          await g.checkpoint();
          log(`3. send ${count} datagrams to ${t.addr2}:${MES_PORT}, and 10 to ${MES_PORT + 1} and 10 to ${MES_PORT + 2} (not counted)`);
          // async, so a Ctrl-C while the sender runs is seen at once (tsx's wrapper SIGKILLs a
          // child that does not acknowledge the signal within ~60 ms)
          await sendAsync({ prefix, count, intervalUs: 1000, port: MES_PORT, size: 16 });
          signalPoint('demo:send');
          await g.checkpoint();
          await sendAsync({ prefix, count: 10, intervalUs: 100, port: MES_PORT + 1, size: 16 });
          await sendAsync({ prefix, count: 10, intervalUs: 100, port: MES_PORT + 2, size: 16 });
          await g.checkpoint();
          const s = show({ pinDir });
          if (a.values.json && !out.gone) process.stdout.write(json(stripSamples(s, false)));
          else if (!out.gone) { log('4. results'); process.stdout.write(printStats({ ...s, measured: undefined }, false)); }
          signalPoint('demo:show');
          await g.checkpoint();
        } finally {
          // let a pending SIGINT's listeners run before the blocking rollback: tsx's wrapper
          // needs its child to acknowledge the signal within ~60 ms, or it SIGKILLs it halfway
          await g.settle();
          log('5. detach and testbed down');
          detach([t.v1, t.v2], { pinDir });
          try { rmdirSync(pinDir); } catch { /* not empty, or already gone */ }
        }
      } finally {
        await g.settle();
        testbedDown(prefix);
        out.restore();
      }
      return 0;
    }));
  },
};

/** The whole command line, for the `tsbpf-mes-pkt` bin and `tsbpf mes-pkt`. */
export const run = (argv: string[]): Promise<number | void> | number | void => dispatch(argv, USAGE, commands);

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(run);
}
