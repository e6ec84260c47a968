/**
 * The latency probe, tutorial mode and v2 side by side in one run: `npx tsx bench/mes_pkt.ts`
 * (root, Linux; about 30 s). Prints figures and asserts nothing; targets are printed beside
 * them. Compares against the clang -O2 + tc baseline in ../shared/reference/README.md.
 *
 *   1. Per-packet cost of each entry by BPF_PROG_TEST_RUN (the kernel's own timer) on the
 *      reference frames: the recording path (pkt_match.bin, repeat 512, state reset before each
 *      batch) and the non-matching path (pkt_nomatch_port.bin), next to an empty program
 *      (`r0 = 0; exit`) as the harness floor and a program that only calls bpf_ktime_get_ns
 *      (the least any probe pays). Every program gets its own fresh, unpinned maps. Batches of
 *      all programs are interleaved in a shuffled order; min and median over the batches.
 *   2. Instructions per entry (DSL), xlated and jited sizes (BPF_OBJ_GET_INFO_BY_FD).
 *   3. attach + detach on a private testbed: in-process (control.ts) and as whole commands.
 *   4. 100,000 datagrams sent as fast as the testbed carries them: v2's pairs, losses and
 *      unmatched packets; the tutorial mode in the same setup; show's time on 100,000 samples.
 *   5. One datagram in ten dropped between the hooks (a filter before mes_end on egress): what
 *      each mode reports.
 *   6. v2's ring after an overflow: 20 pairs into a 16-pair ring, `watch` drains it, 8 more
 *      pairs: how many of those 8 watch delivers (8 when the ring recovers).
 *
 * Knobs (environment): BATCHES (default 200), ITERS (in-process attach/detach, 20),
 * CMD_ITERS (whole commands, 5), PACKETS (100000).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { program, r0, slots, type ProgramSpec } from '../src/asm/index.ts';
import { createMap, loadProgram, type BpfMap, type Program } from '../src/syscall/index.ts';
import { attachBpf, detachBpf, routeSocket } from '../src/netlink/index.ts';
import { maps as tutMaps, mesEnd, mesStart, MES_SLOTS } from '../programs/mes_pkt/probe.ts';
import { CTL, PARTS, configBytes, mesEndV2, mesStartV2, v2Maps, type Part } from '../programs/mes_pkt/probe-v2.ts';
import { attach, detach, show } from '../programs/mes_pkt/control.ts';
import { watchV2 } from '../programs/mes_pkt/reader-v2.ts';
import { testbedDown, testbedUp, type Testbed } from '../programs/mes_pkt/testbed.ts';
import { dropEveryNth } from '../programs/mes_pkt/dropper.ts';
import { send } from '../programs/mes_pkt/send.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REFDIR = process.env.TSBPF_REFERENCE ?? path.resolve(ROOT, '../shared/reference');
const BATCHES = Number(process.env.BATCHES ?? 200);
const ITERS = Number(process.env.ITERS ?? 20);
const CMD_ITERS = Number(process.env.CMD_ITERS ?? 5);
const PACKETS = Number(process.env.PACKETS ?? 100_000);
const REC_REPEAT = MES_SLOTS; // the tutorial records at most 512: time the recording path below that
const NM_REPEAT = 100_000;

if (process.getuid?.() !== 0) {
  console.error('bench/mes_pkt.ts needs root (bpf(2), netlink, network namespaces)');
  process.exit(1);
}

// ---------------------------------------------------------------- helpers
interface MinMed { min: number; med: number; n: number }
function mm(xs: readonly number[]): MinMed {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return { min: s[0] ?? NaN, med: n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2, n };
}
const timeMs = (fn: () => void): number => { const t = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t) / 1e6; };
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
const warnings: string[] = [];
const warn = (s: string) => { warnings.push(s); console.log(`  WARNING: ${s}`); };

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [xs[i], xs[j]] = [xs[j]!, xs[i]!]; }
  return xs;
}

/** The final table: one row per figure, with its target and the reference's value. */
const summary: { what: string; min: string; med: string; target: string; ref: string }[] = [];
const row = (what: string, min: string, med: string, target = '', ref = '') => summary.push({ what, min, med, target, ref });

const frame = (f: string) => new Uint8Array(readFileSync(path.join(REFDIR, f)));
const MATCH = frame('pkt_match.bin');
const NOMATCH = frame('pkt_nomatch_port.bin');

// ---------------------------------------------------------------- 1 + 2: test runs and sizes
const opened: { close(): void }[] = [];
try {
  const empty = program({ name: 'bench_empty', type: 'sched_cls', license: 'GPL' }, (b) => { b.mov(r0, 0); b.exit(); });
  const ktime = program({ name: 'bench_ktime', type: 'sched_cls', license: 'GPL' }, (b) => { b.call('ktime_get_ns'); b.mov(r0, 0); b.exit(); });

  // tutorial: its three maps, fresh and unpinned
  const tStart = createMap<number, bigint>(tutMaps.start), tEnd = createMap<number, bigint>(tutMaps.end), tCnt = createMap<number, number>(tutMaps.cnt);
  opened.push(tStart, tEnd, tCnt);
  const tBound = { map_mes_start: tStart, map_mes_end: tEnd, map_mes_cnt: tCnt };
  // v2: its three mmapable maps at the default capacity, fresh and unpinned
  const vSpec = v2Maps();
  const vCtl = createMap(vSpec.ctl), vSeen = createMap(vSpec.seen), vPairs = createMap(vSpec.pairs), vCfg = createMap(vSpec.cfg);
  opened.push(vCtl, vSeen, vPairs, vCfg);
  const vBound = { mes2_ctl: vCtl, mes2_seen: vSeen, mes2_pairs: vPairs, mes2_cfg: vCfg };
  const cfgView = vCfg.mmap();
  opened.push(cfgView);
  cfgView.bytes.set(configBytes({ proto: 'udp', ports: [5001], match: 'headers' }));
  const ctlView = vCtl.mmap();
  opened.push(ctlView);
  const ctl = new DataView(ctlView.bytes.buffer, ctlView.bytes.byteOffset, ctlView.bytes.byteLength);

  // --match headers, the default for two devices (and the most work of the three); `loop`
  // keeps the seen slot as the next run of the same frame expects (same instructions)
  const match = 'headers' as const;
  const v2Start = mesStartV2(vSpec, { match, loop: true }), v2End = mesEndV2(vSpec, { match, loop: true });
  const load = (spec: ProgramSpec, m?: Record<string, BpfMap<any, any>>): Program => { const p = loadProgram(spec, { maps: m }); opened.push(p); return p; };
  const P = {
    floor: load(empty),
    ktime: load(ktime),
    tutStart: load(mesStart, tBound),
    tutEnd: load(mesEnd, tBound),
    v2Start: load(v2Start, vBound),
    v2End: load(v2End, vBound),
  };
  // per part: each entry built up to a part (probe-v2.ts PARTS), recording path only
  const startParts = ['check', 'clock', 'identity'] as const satisfies readonly Part[];
  const endParts = ['check', 'clock', 'identity', 'seen', 'ring'] as const satisfies readonly Part[];
  const PP: Record<string, Program> = {};
  for (const upTo of startParts) PP[`start ${upTo}`] = load(mesStartV2(vSpec, { match, upTo, loop: true }), vBound);
  for (const upTo of endParts) PP[`end ${upTo}`] = load(mesEndV2(vSpec, { match, upTo, loop: true }), vBound);
  const armStart = load(mesStartV2(vSpec, { match }), vBound); // a real start for mes_end to match

  // the state each recording batch needs, set before the batch (outside the kernel's timer)
  const before: Partial<Record<keyof typeof P, () => void>> = {
    tutStart: () => tCnt.set(0, 0),
    tutEnd: () => tCnt.set(1, 0),
    v2End: () => { ctl.setBigUint64(CTL.head, 0n, true); ctl.setBigUint64(CTL.tail, 0n, true); armStart.testRun({ data: MATCH }); },
  };
  // v2's end needs an unmatched start for the frame's identity in the seen table
  armStart.testRun({ data: MATCH });

  // checks on one batch each: the recording path really records
  before.tutStart!(); P.tutStart.testRun({ data: MATCH, repeat: REC_REPEAT });
  if (tCnt.get(0) !== REC_REPEAT || !(tStart.get(REC_REPEAT - 1)! > 0n)) warn(`tutorial mes_start did not record ${REC_REPEAT} stamps (count ${tCnt.get(0)})`);
  before.v2End!(); P.v2End.testRun({ data: MATCH, repeat: REC_REPEAT });
  const head = ctl.getBigUint64(CTL.head, true), lostT = ctl.getBigUint64(CTL.lost, true), unm = ctl.getBigUint64(CTL.unmatchedEnd, true);
  if (head !== BigInt(REC_REPEAT) || lostT !== 0n || unm !== 0n) warn(`v2 mes_end batch: head ${head}, lost ${lostT}, unmatched ${unm} (expected ${REC_REPEAT}, 0, 0)`);
  tCnt.set(0, 0);
  tCnt.set(1, 0);
  for (const p of Object.values(P)) if (p.testRun({ data: NOMATCH }).retval !== 0) warn(`${p.name} did not return TC_ACT_OK`);

  // warm up, then interleave
  const names = Object.keys(P) as (keyof typeof P)[];
  const rec: Record<string, number[]> = {}, nm: Record<string, number[]> = {};
  for (const n of names) { rec[n] = []; nm[n] = []; }
  const t0 = process.hrtime.bigint();
  for (let round = -5; round < BATCHES; round++) {
    for (const n of shuffle([...names])) {
      before[n]?.();
      const r = P[n].testRun({ data: MATCH, repeat: REC_REPEAT }).duration;
      const q = P[n].testRun({ data: NOMATCH, repeat: NM_REPEAT }).duration;
      if (round >= 0) { rec[n]!.push(r); nm[n]!.push(q); }
    }
  }
  const partRec: Record<string, number[]> = {};
  for (const n of Object.keys(PP)) partRec[n] = [];
  const floorAgain: number[] = [];
  for (let round = -5; round < BATCHES; round++) {
    for (const n of shuffle([...Object.keys(PP), 'floor'])) {
      if (n.startsWith('end')) { ctl.setBigUint64(CTL.head, 0n, true); armStart.testRun({ data: MATCH }); }
      const d = (n === 'floor' ? P.floor : PP[n]!).testRun({ data: MATCH, repeat: REC_REPEAT }).duration;
      if (round >= 0) (n === 'floor' ? floorAgain : partRec[n]!).push(d);
    }
  }
  const testRunSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (ctl.getBigUint64(CTL.lost, true) !== 0n) warn(`v2 ring reported ${ctl.getBigUint64(CTL.lost, true)} lost pairs during the test runs`);

  const R = Object.fromEntries(names.map((n) => [n, mm(rec[n]!)])) as Record<keyof typeof P, MinMed>;
  const N = Object.fromEntries(names.map((n) => [n, mm(nm[n]!)])) as Record<keyof typeof P, MinMed>;
  const label: Record<keyof typeof P, string> = {
    floor: 'empty program (floor)', ktime: 'only bpf_ktime_get_ns', tutStart: 'tutorial mes_start', tutEnd: 'tutorial mes_end',
    v2Start: 'v2 mes_start', v2End: 'v2 mes_end',
  };
  console.log(`1. BPF_PROG_TEST_RUN, ns per run: ${BATCHES} interleaved batches per program (${testRunSeconds.toFixed(1)} s)`);
  console.log(`   recording path: ${path.basename(REFDIR)}/pkt_match.bin, repeat ${REC_REPEAT}, state reset before each batch`);
  console.log(`   non-matching:   pkt_nomatch_port.bin, repeat ${NM_REPEAT}`);
  console.log(`   ${pad('', 24)}${lpad('rec min', 9)}${lpad('-floor', 8)}${lpad('rec med', 9)}${lpad('-floor', 8)}   ${lpad('nm min', 8)}${lpad('-floor', 8)}${lpad('nm med', 8)}${lpad('-floor', 8)}`);
  for (const n of names) {
    console.log(`   ${pad(label[n], 24)}${lpad(f0(R[n].min), 9)}${lpad(f0(R[n].min - R.floor.min), 8)}${lpad(f1(R[n].med), 9)}${lpad(f1(R[n].med - R.floor.med), 8)}   ` +
      `${lpad(f0(N[n].min), 8)}${lpad(f0(N[n].min - N.floor.min), 8)}${lpad(f1(N[n].med), 8)}${lpad(f1(N[n].med - N.floor.med), 8)}`);
  }
  const above = (x: MinMed, k: 'min' | 'med') => x[k] - R.floor[k];
  const ratio = (a: keyof typeof P, b: keyof typeof P, k: 'min' | 'med') => above(R[a], k) / above(R[b], k);
  const pairRatio = (k: 'min' | 'med') => (above(R.v2Start, k) + above(R.v2End, k)) / (above(R.tutStart, k) + above(R.tutEnd, k));
  console.log(`   v2 / tutorial, cost above the floor (target <= 0.7x):  start ${f2(ratio('v2Start', 'tutStart', 'min'))}x (min) ${f2(ratio('v2Start', 'tutStart', 'med'))}x (median);` +
    `  end ${f2(ratio('v2End', 'tutEnd', 'min'))}x / ${f2(ratio('v2End', 'tutEnd', 'med'))}x;  start+end ${f2(pairRatio('min'))}x / ${f2(pairRatio('med'))}x`);

  row('floor: empty program, repeat 512 (ns)', f0(R.floor.min), f1(R.floor.med), '', '26');
  row('floor: empty program, repeat 1e5 (ns)', f0(N.floor.min), f1(N.floor.med), '', '26');
  row('only ktime_get_ns, above floor (ns)', f0(above(R.ktime, 'min')), f1(above(R.ktime, 'med')), '', '~30');
  for (const n of ['tutStart', 'tutEnd', 'v2Start', 'v2End'] as const) {
    row(`${label[n]}, recording, above floor (ns)`, f0(above(R[n], 'min')), f1(above(R[n], 'med')), '', n.startsWith('tut') ? '~56' : '');
  }
  row('v2/tutorial above floor, mes_start', f2(ratio('v2Start', 'tutStart', 'min')), f2(ratio('v2Start', 'tutStart', 'med')), '<= 0.7x');
  row('v2/tutorial above floor, mes_end', f2(ratio('v2End', 'tutEnd', 'min')), f2(ratio('v2End', 'tutEnd', 'med')), '<= 0.7x');
  row('v2/tutorial above floor, start+end', f2(pairRatio('min')), f2(pairRatio('med')), '<= 0.7x');
  for (const n of ['tutStart', 'tutEnd', 'v2Start', 'v2End'] as const) {
    row(`${label[n]}, non-matching, above floor (ns)`, f0(N[n].min - N.floor.min), f1(N[n].med - N.floor.med), 'within 2 ns', '0');
  }

  // per part: what each part adds on the recording path (medians, above the previous part)
  const fl = mm(floorAgain);
  const partMed = (n: string) => mm(partRec[n]!).med - fl.med;
  const partMin = (n: string) => mm(partRec[n]!).min - fl.min;
  console.log(`\n   per part (--match ${match}, recording path, ns above the floor; min / median; each row adds to the one above):`);
  const partRow = (entry: 'start' | 'end', n: string, prev: string | null, whole: keyof typeof P) => {
    const [lo, med] = n === 'all' ? [R[whole].min - R.floor.min, R[whole].med - R.floor.med] : [partMin(`${entry} ${n}`), partMed(`${entry} ${n}`)];
    const pmed = prev === null ? 0 : partMed(`${entry} ${prev}`);
    console.log(`   ${pad(`${entry === 'start' ? 'mes_start' : 'mes_end'} up to ${n}`, 28)}${lpad(f0(lo), 6)}${lpad(f1(med), 8)}   (+${f1(med - pmed)})`);
    row(`v2 ${entry === 'start' ? 'mes_start' : 'mes_end'} up to '${n}' (+ this part), above floor (ns)`, f0(lo), `${f1(med)} (+${f1(med - pmed)})`);
  };
  let prev: string | null = null;
  for (const n of [...startParts, 'all']) { partRow('start', n, prev, 'v2Start'); prev = n; }
  prev = null;
  for (const n of [...endParts, 'all']) { partRow('end', n, prev, 'v2End'); prev = n; }
  void PARTS;

  // 2. sizes
  console.log('\n2. instructions (DSL) and what the kernel made of them');
  console.log(`   ${pad('', 24)}${lpad('insns', 7)}${lpad('slots', 7)}${lpad('xlated', 8)}${lpad('bytes', 7)}${lpad('jited B', 9)}`);
  const sizeRow = (lbl: string, spec: ProgramSpec, p: Program) => {
    const info = p.info();
    const x = p.xlated().length;
    const s = spec.insns.reduce((a, i) => a + slots(i), 0);
    console.log(`   ${pad(lbl, 24)}${lpad(String(spec.insns.length), 7)}${lpad(String(s), 7)}${lpad(String(x), 8)}${lpad(String(info.xlatedLen), 7)}${lpad(String(info.jitedLen), 9)}`);
    return { insns: spec.insns.length, slots: s, xlated: x, xlatedBytes: info.xlatedLen, jited: info.jitedLen };
  };
  const sz = {
    tutStart: sizeRow('tutorial mes_start', mesStart, P.tutStart),
    tutEnd: sizeRow('tutorial mes_end', mesEnd, P.tutEnd),
    v2Start: sizeRow('v2 mes_start', v2Start, P.v2Start),
    v2End: sizeRow('v2 mes_end', v2End, P.v2End),
  };
  console.log(`   reference (clang -O2 + tc): 37 insns (39 slots), xlated 43 / 360 B, jited 229 B (mes_start) / 232 B (mes_end)`);
  for (const n of ['tutStart', 'tutEnd', 'v2Start', 'v2End'] as const) {
    const s = sz[n];
    row(`${label[n]}: insns/slots, xlated insns/B, jited B`, `${s.insns}/${s.slots}, ${s.xlated}/${s.xlatedBytes}, ${s.jited}`, '', '', n.startsWith('tut') ? (n === 'tutStart' ? '37/39, 43/360, 229' : '37/39, 43/360, 232') : '');
  }
} finally {
  for (const o of opened.reverse()) { try { o.close(); } catch { /* already closed */ } }
}

// ---------------------------------------------------------------- 3 + 4: on the testbed
const prefix = `bm${(process.pid % 46656).toString(36)}`;
const pinDir = `/sys/fs/bpf/tsbpf-bench-mes-${process.pid}`;
let t: Testbed | undefined;
const cli = (args: string[], viaNpx = false, maxBuffer = 256 << 20) => {
  const cmd = viaNpx ? 'npx' : process.execPath;
  const argv = viaNpx ? ['tsx', 'programs/mes_pkt.ts', ...args] : ['--import', 'tsx', 'programs/mes_pkt.ts', ...args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`mes_pkt ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return { ms, stdout: r.stdout };
};

try {
  t = testbedUp(prefix);
  const tb = t;

  // 3. attach / detach
  console.log(`\n3. attach + detach on the testbed (${tb.v1} ingress, ${tb.v2} egress; pins in ${pinDir})`);
  // 'v2 small': v2 with a 1024-pair ring, to show what creating the default 32 MiB ring costs
  const variants = { v2: { mode: 'v2' }, 'v2, 1024-pair ring': { mode: 'v2', capacity: 1024 }, tutorial: { mode: 'tutorial' } } as const;
  type Variant = keyof typeof variants;
  const at: Record<string, number[]> = {}, de: Record<string, number[]> = {};
  for (const v of Object.keys(variants)) { at[v] = []; de[v] = []; }
  for (let i = -2; i < ITERS; i++) {
    for (const v of shuffle(Object.keys(variants) as Variant[])) {
      const a = timeMs(() => attach(tb.v1, tb.v2, { pinDir, ...variants[v] }));
      const d = timeMs(() => detach([tb.v1, tb.v2], { pinDir }));
      if (i >= 0) { at[v]!.push(a); de[v]!.push(d); }
    }
  }
  const cmdAt: Record<string, number[]> = { v2: [], tutorial: [] }, cmdDe: Record<string, number[]> = { v2: [], tutorial: [] };
  const npxAt: number[] = [], npxDe: number[] = [], startup: number[] = [];
  for (let i = 0; i < CMD_ITERS; i++) {
    startup.push(cli(['help']).ms);
    for (const mode of ['v2', 'tutorial'] as const) {
      cmdAt[mode]!.push(cli(['attach', tb.v1, tb.v2, '--pin-dir', pinDir, '--mode', mode]).ms);
      cmdDe[mode]!.push(cli(['detach', tb.v1, tb.v2, '--pin-dir', pinDir]).ms);
    }
  }
  for (let i = 0; i < Math.min(CMD_ITERS, 2); i++) {
    npxAt.push(cli(['attach', tb.v1, tb.v2, '--pin-dir', pinDir], true).ms);
    npxDe.push(cli(['detach', tb.v1, tb.v2, '--pin-dir', pinDir], true).ms);
  }
  const line = (lbl: string, xs: number[], ref = '') => { const s = mm(xs); console.log(`   ${pad(lbl, 52)} min ${lpad(f2(s.min), 8)} ms  median ${lpad(f2(s.med), 8)} ms  (n=${s.n})${ref ? `   reference: ${ref}` : ''}`); return s; };
  for (const v of Object.keys(variants) as Variant[]) {
    const a = line(`in-process attach(), ${v}`, at[v]!, '4 tc commands 7.0 ms median');
    const d = line(`in-process detach(), ${v}`, de[v]!, 'detach 4.3 ms median');
    row(`attach, in-process, ${v} (ms)`, f2(a.min), f2(a.med), '', '7.0 (median)');
    row(`detach, in-process, ${v} (ms)`, f2(d.min), f2(d.med), '', '4.3 (median)');
  }
  // attach() builds v2's programs with the DSL each time (the tutorial's are built once, at import)
  const build: number[] = [];
  for (let i = 0; i < ITERS; i++) build.push(timeMs(() => { const m = v2Maps(); mesStartV2(m); mesEndV2(m); }));
  const bd = line('  of which: building v2\'s two programs (DSL)', build);
  row('  of which: building v2\'s programs with the DSL (ms)', f2(bd.min), f2(bd.med));
  const st = line('command floor: node + tsx + imports (mes_pkt help)', startup, 'one tc process ~1.4 ms');
  row('command floor: `node --import tsx mes_pkt.ts help` (ms)', f0(st.min), f0(st.med), '', '1.4 (one tc)');
  for (const mode of ['v2', 'tutorial'] as const) {
    const a = line(`command: node --import tsx mes_pkt.ts attach (${mode})`, cmdAt[mode]!);
    const d = line(`command: node --import tsx mes_pkt.ts detach (${mode})`, cmdDe[mode]!);
    row(`attach, whole command, ${mode} (ms; above floor)`, `${f0(a.min)} (${f0(a.min - st.min)})`, `${f0(a.med)} (${f0(a.med - st.med)})`, '', '7.0 (4 tc cmds)');
    row(`detach, whole command, ${mode} (ms; above floor)`, `${f0(d.min)} (${f0(d.min - st.min)})`, `${f0(d.med)} (${f0(d.med - st.med)})`, '', '4.3');
  }
  const na = line('command: npx tsx mes_pkt.ts attach (v2)', npxAt);
  const nd = line('command: npx tsx mes_pkt.ts detach', npxDe);
  row('attach, `npx tsx` command, v2 (ms)', f0(na.min), f0(na.med), '', '7.0 (4 tc cmds)');
  row('detach, `npx tsx` command (ms)', f0(nd.min), f0(nd.med), '', '4.3');

  // 4. the fastest the testbed carries
  console.log(`\n4. ${PACKETS} datagrams to :5001 from ${tb.ns1}, --interval-us 0`);
  for (const mode of ['v2', 'tutorial'] as const) {
    attach(tb.v1, tb.v2, { pinDir, mode });
    try {
      send({ prefix, count: 3, intervalUs: 1000, port: 5002, size: 16 }); // resolve ARP first: not counted
      const r = send({ prefix, count: PACKETS, intervalUs: 0, port: 5001, size: 16 });
      const rate = r.sent / r.seconds;
      const s = show({ pinDir });
      console.log(`   ${pad(mode, 9)} sent ${r.sent} in ${r.seconds.toFixed(2)} s (${f0(rate)} pkt/s); starts ${s.start_count}, ends ${s.end_count}, pairs ${s.pairs}` +
        (mode === 'v2' ? `, lost ${s.lost}, unmatched starts ${s.unmatched_starts}, unmatched ends ${s.unmatched_ends}, in-kernel histogram ${s.kernel_histogram!.reduce((a, b) => a + b, 0)}` : `, unrecorded ${r.sent - s.pairs}`) +
        `; p50 ${s.p50_ns} ns, p99 ${s.p99_ns} ns, reverse ${s.reverse}`);
      row(`${mode}: send rate, ${PACKETS} datagrams (pkt/s)`, f0(rate), '', '', '');
      if (mode === 'v2') {
        row('v2: pairs / lost / unmatched starts / unmatched ends', `${s.pairs} / ${s.lost} / ${s.unmatched_starts} / ${s.unmatched_ends}`, '', `${PACKETS} / 0 / 0 / 0`);
        row('v2: latency p50 / p99 at full rate (ns)', `${s.p50_ns} / ${s.p99_ns}`, '', '', '1.4 us median at 1 ms spacing');
        if (s.pairs !== PACKETS || s.lost !== 0 || s.unmatched_ends !== 0 || s.unmatched_starts !== 0) warn(`v2 did not pair every datagram`);
        // show on 100,000 samples
        const inproc: number[] = [];
        for (let i = 0; i < 10; i++) inproc.push(timeMs(() => show({ pinDir })));
        const cmd: number[] = [];
        let bytes = 0;
        for (let i = 0; i < CMD_ITERS; i++) { const c = cli(['show', '--json', '--pin-dir', pinDir]); cmd.push(c.ms); bytes = c.stdout.length; }
        const a = line(`in-process show(), ${s.pairs} samples`, inproc);
        const b = line(`command: show --json (${(bytes / 1e6).toFixed(1)} MB of JSON)`, cmd);
        row(`v2: show() in-process, ${s.pairs} samples (ms)`, f1(a.min), f1(a.med), '< 100 ms');
        row(`v2: \`show --json\` command, ${s.pairs} samples (ms)`, f0(b.min), f0(b.med), '');
      } else {
        row('tutorial: starts / ends / pairs recorded', `${s.start_count} / ${s.end_count} / ${s.pairs}`, '', `(records ${MES_SLOTS} at most)`);
      }
    } finally {
      detach([tb.v1, tb.v2], { pinDir });
    }
  }

  // 5. a loss between the hooks
  const N_DROP = 100, GAP_US = 300;
  console.log(`\n5. ${N_DROP} datagrams ${GAP_US} us apart; a filter ahead of mes_end on ${tb.v2} egress drops ids ending in 9`);
  const dropper = loadProgram(dropEveryNth(10));
  try {
    for (const mode of ['v2', 'tutorial'] as const) {
      // tc filters: the dropper is a cls_bpf filter, and tcx programs would run before it
      attach(tb.v1, tb.v2, { pinDir, mode, attach: 'tc' });
      const sock = routeSocket();
      try {
        attachBpf(sock, tb.v2, 'egress', { fd: dropper.fd, name: 'bench_drop10', priority: 1 });
        send({ prefix, count: N_DROP, intervalUs: GAP_US, port: 5001, size: 16 });
        detachBpf(sock, tb.v2, 'egress', { name: 'bench_drop10' });
        const s = show({ pinDir });
        // a true pair is one packet's transit (about a microsecond); a misaligned one spans a send gap
        const wrong = s.samples.filter((x) => x.latency_ns > BigInt(GAP_US * 500)).length;
        const lat = mm(s.samples.map((x) => Number(x.latency_ns)));
        console.log(`   ${pad(mode, 9)} starts ${s.start_count}, ends ${s.end_count}, pairs ${s.pairs}, pairs spanning a send gap ${wrong}` +
          (mode === 'v2' ? `, unmatched starts ${s.unmatched_starts}, unmatched ends ${s.unmatched_ends}` : '') +
          `; latency min ${f0(lat.min)} ns, median ${f0(lat.med)} ns, max ${s.max_ns} ns`);
        row(`drop 1 in 10 between hooks, ${mode}: pairs / wrong pairs${mode === 'v2' ? ' / unmatched starts' : ''}`,
          `${s.pairs} / ${wrong}${mode === 'v2' ? ` / ${s.unmatched_starts}` : ''}`, `median ${f0(lat.med)} ns`, mode === 'v2' ? `${N_DROP - N_DROP / 10} / 0 / ${N_DROP / 10}` : '');
      } finally {
        try { detachBpf(sock, tb.v2, 'egress', { name: 'bench_drop10' }); } catch { /* already gone */ }
        sock.close();
        detach([tb.v1, tb.v2], { pinDir });
      }
    }
  } finally {
    dropper.close();
  }
} finally {
  try { if (t) detach([t.v1, t.v2], { pinDir }); } catch { /* best effort */ }
  rmSync(pinDir, { recursive: true, force: true });
  testbedDown(prefix);
}

// ---------------------------------------------------------------- 6: after an overflow
{
  const dir = `/sys/fs/bpf/tsbpf-bench-ring-${process.pid}`;
  const spec = v2Maps(16);
  const live = { mes2_ctl: createMap(spec.ctl), mes2_seen: createMap(spec.seen), mes2_pairs: createMap(spec.pairs), mes2_cfg: createMap(spec.cfg) };
  { const v = live.mes2_cfg.mmap(); v.bytes.set(configBytes({ proto: 'udp', ports: [5001], match: 'seq' })); v.close(); }
  // `loop`: every end of the one frame's start claims a pair, as a stream of packets would
  const st = loadProgram(mesStartV2(spec), { maps: live }), en = loadProgram(mesEndV2(spec, { loop: true }), { maps: live });
  try {
    mkdirSync(dir);
    for (const m of Object.values(live)) m.pin(path.join(dir, m.name));
    const cv = live.mes2_ctl.mmap();
    const c = new DataView(cv.bytes.buffer, cv.bytes.byteOffset, cv.bytes.byteLength);
    st.testRun({ data: MATCH });
    en.testRun({ data: MATCH, repeat: 20 });
    let before = 0, after = 0, phase = 0;
    const w = watchV2(dir, (tick) => { if (phase === 0) before += tick.pairs; else after += tick.pairs; }, { intervalMs: 10, seconds: 0.2 });
    await new Promise((r) => setTimeout(r, 60));
    phase = 1;
    en.testRun({ data: MATCH, repeat: 8 });
    await w;
    const head = c.getBigUint64(CTL.head, true), tail = c.getBigUint64(CTL.tail, true), lost = c.getBigUint64(CTL.lost, true);
    cv.close();
    console.log(`\n6. v2 ring after an overflow (16 pairs): 20 ends -> watch consumed ${before}; 8 more ends -> watch consumed ${after} (head ${head}, tail ${tail}, lost ${lost})`);
    row('v2: pairs watch delivers after an overflow, of 8', String(after), '', '8');
    if (after !== 8) warn(`after an overflow the v2 ring stalls: watch delivered ${after} of 8 new pairs (tail stuck at ${tail}, head ${head})`);
  } finally {
    st.close(); en.close();
    for (const m of Object.values(live)) m.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the table
console.log(`\nsummary (kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, node ${process.version})`);
const w = [Math.max(...summary.map((r) => r.what.length)), Math.max(5, ...summary.map((r) => r.min.length)), Math.max(6, ...summary.map((r) => r.med.length)), Math.max(6, ...summary.map((r) => r.target.length))];
console.log(`| ${pad('figure', w[0]!)} | ${pad('min', w[1]!)} | ${pad('median', w[2]!)} | ${pad('target', w[3]!)} | reference (clang+tc) |`);
console.log(`|${'-'.repeat(w[0]! + 2)}|${'-'.repeat(w[1]! + 2)}|${'-'.repeat(w[2]! + 2)}|${'-'.repeat(w[3]! + 2)}|---|`);
for (const r of summary) console.log(`| ${pad(r.what, w[0]!)} | ${pad(r.min, w[1]!)} | ${pad(r.med, w[2]!)} | ${pad(r.target, w[3]!)} | ${r.ref} |`);
if (warnings.length) console.log(`\n${warnings.length} warning(s):\n${warnings.map((x) => `  ${x}`).join('\n')}`);
