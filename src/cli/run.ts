/**
 * `tsbpf run MODULE.ts|FILE.bin [--entry E] [--data frame.bin] [--trace] [--json]`: run a
 * program in tsbpf's VM (src/vm). No root, no kernel: a learner's sandbox. The maps the
 * program touched are printed afterwards; --trace prints every instruction executed with the
 * registers it changed, the memory it touched and the TS line that emitted it.
 * `tsbpf prog run` is the same idea in the kernel (BPF_PROG_TEST_RUN).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ProgramSpec, ProgramType } from '../asm/program.ts';
import { EntryError, pickEntry, programsIn } from '../verifier/module.ts';
import { formatStep, Vm, VmError, VmFault, type VmRunResult, type TraceStep, type VmMap } from '../vm/index.ts';
import { FRAME_SPEC_HELP } from '../frame/index.ts';
import { ElfError, objectNameOf, readElf } from '../elf/index.ts';
import { runningKernelBtf } from '../btf/kernel.ts';
import { int, json, parse, UsageError } from '../command.ts';
import { packetArg, readBytes } from './args.ts';

const usage = `usage: tsbpf run MODULE.ts|FILE.o|FILE.bin [--entry NAME] [--data FRAME] [--trace] [--json]

Runs a program in tsbpf's eBPF virtual machine: no root and no kernel needed. A .ts module
exporting ProgramSpec values (e.g. programs/mes_pkt/probe.ts) or a BPF object file (clang -target
bpf) runs with the maps it references created in the VM (global data with its initial bytes);
FILE.bin is raw instruction bytes (as 'tsbpf asm' writes them).

sched_cls and socket_filter programs get a __sk_buff built from --data, XDP an xdp_md; other
types (and .bin files without --type) get r1 = the --mem bytes and r2 = their length.

options:
  --entry NAME     the export, program name, or (.o) function or section to run when there are several
  --data FRAME     the frame the program sees: a file of packet bytes, or a description
                   such as udp:dport=5001 (see below)
  --mem FILE       raw input memory (for programs that are not skb/XDP)
  --type TYPE      program type for a .bin (default raw), or for .o sections that do not say
                   theirs (tc's "ingress": --type sched_cls)
  --mark N         __sk_buff mark before the run
  --time NS        the clock ktime_get_ns reads (default 1000000000)
  --cpu N          get_smp_processor_id() (default 0)
  --seed N         get_prandom_u32 seed (default 1)
  --repeat N       run N times (maps keep their contents between runs); prints the last result
  --max-insns N    instruction budget (default 10000000)
  --trace          print each executed instruction: registers changed, memory touched, TS line
  --json           the result (r0, instructions, maps, trace) as JSON
  -h, --help       show this help

FRAME, when not a file: ${FRAME_SPEC_HELP}

Exit status: 0 ran, 1 the program faulted (the fault names the instruction, TS line,
address and region) or could not be loaded, 2 usage.
`;

const options = {
  entry: { type: 'string' }, data: { type: 'string' }, mem: { type: 'string' }, type: { type: 'string' }, mark: { type: 'string' },
  time: { type: 'string' }, cpu: { type: 'string' }, seed: { type: 'string' }, repeat: { type: 'string' }, 'max-insns': { type: 'string' },
  trace: { type: 'boolean' }, json: { type: 'boolean' },
} as const;

/** An ELF file: the name says .o, or the bytes start with \x7fELF. */
function isElf(file: string): boolean {
  if (/\.o$/i.test(file)) return true;
  const head = readFileSync(file).subarray(0, 4);
  return head.length === 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** The program of an object file --entry names (function name or section), or its only one. */
function elfEntry(file: string, name: string | undefined, type: ProgramType | undefined): ProgramSpec & { section: string } {
  let col;
  try {
    col = readElf(readBytes(file, 'the object'), { ...(type ? { defaultType: type } : {}), objectName: objectNameOf(file), coreTarget: runningKernelBtf });
  } catch (e) {
    // an object that cannot be read could not be loaded: exit 1, as --help says (2 is usage)
    if (e instanceof ElfError) { e.message = `${file}: ${e.message}`; }
    throw e;
  }
  const progs = col.programs;
  const list = progs.map((p) => `  ${p.name.padEnd(16)} section ${p.section} (${p.type}, ${p.insns.length} instructions)`).join('\n');
  if (progs.length === 0) throw new UsageError(`${file} has no programs`);
  if (name === undefined) {
    if (progs.length > 1) throw new UsageError(`${file} has ${progs.length} programs: pick one with --entry NAME\n${list}`);
    return progs[0]!;
  }
  const hit = progs.filter((p) => p.name === name || p.symbol === name || p.section === name);
  if (hit.length !== 1) throw new UsageError(`${file}: ${hit.length ? `'${name}' names ${hit.length} programs (use the function name)` : `no program or section '${name}'`}; its programs:\n${list}`);
  return hit[0]!;
}

/** A map's non-zero entries (arrays hold max_entries zeros; those are not news). */
function mapContents(m: VmMap, limit = 32): { name: string; type: string; entries: [unknown, unknown][]; more: number } {
  const isZero = (v: unknown): boolean => v === 0 || v === 0n || (v instanceof Uint8Array && v.every((b) => b === 0));
  const rows: [unknown, unknown][] = [];
  let more = 0;
  if (m.type === 'ringbuf') return { name: m.name, type: m.type, entries: m.drain().map((r, i) => [i, r]), more: 0 };
  if (m.type === 'prog_array') return { name: m.name, type: m.type, entries: [], more: 0 };
  for (const k of m.keys()) {
    const v = m.perCpu ? m.getPerCpu(k) : m.get(k);
    if (v === undefined || (Array.isArray(v) ? v.every(isZero) : isZero(v))) continue;
    if (rows.length < limit) rows.push([k, v]);
    else more++;
  }
  return { name: m.name, type: m.type, entries: rows, more };
}

const show = (v: unknown): string => (v instanceof Uint8Array ? Array.from(v, (b) => b.toString(16).padStart(2, '0')).join(' ')
  : Array.isArray(v) ? `[${v.map(show).join(', ')}]` : typeof v === 'bigint' ? `${v} (0x${v.toString(16)})` : String(v));

export async function run(argv: string[]): Promise<number> {
  const p = parse(argv, options, usage);
  if (!p) return 0;
  const [file, ...extra] = p.positionals;
  if (!file || extra.length) throw new UsageError(`run takes one program: a .ts module or a .bin file\n\n${usage}`);
  const v = p.values;
  const vm = new Vm({
    clock: BigInt(int(v.time, '--time', 1_000_000_000)), cpu: int(v.cpu, '--cpu', 0), seed: int(v.seed, '--seed', 1),
    maxInsns: int(v['max-insns'], '--max-insns', 10_000_000),
  });
  let source: ProgramSpec | Uint8Array, label: string;
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  if (/\.(ts|mts|js|mjs)$/.test(file)) {
    let entry;
    try {
      entry = pickEntry(await programsIn(file), file, v.entry);
    } catch (e) {
      if (e instanceof EntryError) throw new UsageError(e.message);
      throw e;
    }
    source = entry.spec;
    label = entry.exportName;
  } else if (isElf(file)) {
    const entry = elfEntry(file, v.entry, v.type as ProgramType | undefined);
    source = entry;
    label = `${file}:${entry.section}/${entry.name}`;
  } else {
    if (v.entry) throw new UsageError('--entry picks a program of a .ts module or a .o; a .bin file is one program');
    source = readBytes(file, 'the program');
    label = file;
  }
  const type = isElf(file) ? undefined : v.type as ProgramType | undefined;
  const data = v.data === undefined ? undefined : packetArg(v.data);
  const mem = v.mem ? readBytes(v.mem, 'the memory') : undefined;
  const repeat = int(v.repeat, '--repeat', 1);
  if (repeat < 1) throw new UsageError('--repeat must be at least 1');
  const steps: TraceStep[] = [];
  const printStep = v.trace && !v.json ? (s: TraceStep) => process.stdout.write(formatStep(s, { program: false }) + '\n') : (s: TraceStep) => { steps.push(s); };
  let result: VmRunResult | undefined, fault: VmFault | undefined;
  try {
    const prog = vm.load(source, type ? { type } : {});
    const input = { ...(data ? { data } : {}), ...(mem ? { mem } : {}), ...(v.mark ? { ctx: { mark: int(v.mark, '--mark') } } : {}) };
    for (let i = 0; i < repeat; i++) result = prog.run({ ...input, ...(v.trace && i === repeat - 1 ? { trace: printStep } : {}) });
  } catch (e) {
    if (e instanceof VmError) throw new Error(`${label}: ${e.message}`);
    if (!(e instanceof VmFault)) throw e;
    fault = e;
  }
  const maps = vm.allMaps.map((m) => mapContents(m));
  if (v.json) {
    process.stdout.write(json({
      program: label, ...(result ? { r0: result.r0, retval: result.retval, insns: result.insns, tail_calls: result.tailCalls, skb: result.skb, printk: result.printk } : {}),
      ...(fault ? { fault: { message: fault.message, kind: fault.kind, index: fault.index, source: fault.source ?? null, address: fault.address ?? null, region: fault.region ?? null } } : {}),
      maps: maps.map((m) => ({ name: m.name, type: m.type, entries: m.entries, more: m.more })),
      ...(v.trace ? { trace: steps.map((s) => ({ ...s, changed: s.changed.map((c) => ({ reg: `r${c.reg}`, before: c.before, after: c.after })) })) } : {}),
    }));
    return fault ? 1 : 0;
  }
  const out: string[] = [];
  if (fault) out.push(`fault: ${fault.message}`);
  if (result) {
    out.push(`r0 = ${result.r0} (0x${result.r0.toString(16)})   retval ${result.retval}   ${result.insns} instructions${result.tailCalls ? `, ${result.tailCalls} tail calls` : ''}`);
    for (const line of result.printk) out.push(`trace_printk: ${line.replace(/\n$/, '')}`);
    if (result.skb && result.skb.mark) out.push(`skb->mark = ${result.skb.mark}`);
  }
  for (const m of maps) {
    if (m.entries.length === 0) { out.push(`map ${m.name} (${m.type}): empty or all zero`); continue; }
    out.push(`map ${m.name} (${m.type}):`);
    for (const [k, val] of m.entries) out.push(`  ${show(k)}: ${show(val)}`);
    if (m.more) out.push(`  … ${m.more} more non-zero entries`);
  }
  process.stdout.write(out.join('\n') + '\n');
  return fault ? 1 : 0;
}
