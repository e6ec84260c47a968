/**
 * `tsbpf conformance DIR|FILE… [--engine kernel|vm|both] [--json] [--log]`: run bpf_conformance
 * .data vectors through tsbpf's assembler and the kernel, tsbpf's VM, or both side by side
 * (where any disagreement is reported loudly); print a table and `N passed, N failed`.
 * `tsbpf conformance plugin [--program HEX] [MEMHEX] [--debug]`: the suite's plugin protocol.
 */
import { ConformanceRunner, totals, type VectorResult } from '../conformance/runner.ts';
import { PLUGIN_USAGE, PluginUsageError, parsePluginArgs, runPlugin } from '../conformance/plugin.ts';
import { findVectorFiles, readVector, VectorError, type Vector } from '../conformance/vector.ts';
import { runVectorInVm, suiteDialect } from '../conformance/vm-engine.ts';
import { json, parse, table, UsageError } from '../command.ts';

const usage = `usage: tsbpf conformance DIR|FILE... [--engine kernel|vm|both] [--json] [--log]
       tsbpf conformance plugin [--program HEX] [MEMHEX] [--debug]

Run eBPF conformance vectors (bpf_conformance .data files: -- asm, -- mem, -- result or
-- error). A directory means its *.data files. Exit 1 if any fails.

  --engine kernel  (default) each vector is assembled by tsbpf (ubpf dialect), called as a
                   subprogram of an XDP prologue that stores its 64-bit r0 in an array map,
                   run with BPF_PROG_TEST_RUN and compared with -- result. Needs root.
  --engine vm      in tsbpf's VM (src/vm): no root; runs what the verifier refuses
                   (out-of-range shift immediates, division by an immediate 0, callx) by the
                   RFC 9669 / bpf_conformance semantics. r1 = the memory, r2 = its length.
  --engine both    both, side by side; a vector where they disagree is printed loudly (and
                   fails). A kernel rejection is not a disagreement: the verifier may refuse
                   what the ISA defines.
  --json    one object per vector: {name, status, expected, actual, reason}
            (with both: {name, expected, vm: {…}, kernel: {…}, agree})
  --log     after the table, the whole verifier log of every rejected vector

STATUS is passed, failed, or rejected (the kernel refused it: REASON is the verifier's message).

'plugin' speaks bpf_conformance's plugin protocol; see 'tsbpf conformance plugin --help'.
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function plugin(argv: string[]): Promise<number> {
  let args;
  try {
    args = parsePluginArgs(argv);
  } catch (e) {
    if (e instanceof PluginUsageError) throw new UsageError(`${e.message}\n\n${PLUGIN_USAGE}`);
    throw e;
  }
  if (args.help) { process.stdout.write(PLUGIN_USAGE); return 0; }
  const text = args.program ?? await readStdin();
  using runner = new ConformanceRunner();
  const out = runPlugin(runner, args, text);
  process.stdout.write(out.stdout);
  process.stderr.write(out.stderr);
  return out.exitCode;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'plugin') return plugin(argv.slice(1));
  const args = parse(argv, { json: { type: 'boolean' }, log: { type: 'boolean' }, engine: { type: 'string' } }, usage);
  if (!args) return 0;
  if (args.positionals.length === 0) throw new UsageError(`name the .data files or directories to run\n\n${usage}`);
  let vectors: Vector[];
  try {
    vectors = findVectorFiles(args.positionals).map(readVector);
  } catch (e) {
    if (e instanceof VectorError) throw new UsageError(e.message);
    throw e;
  }
  const engine = args.values.engine ?? 'kernel';
  if (engine !== 'kernel' && engine !== 'vm' && engine !== 'both') throw new UsageError(`--engine is kernel, vm or both, not '${engine}'\n\n${usage}`);
  if (engine === 'both') return both(vectors, args.values.json ?? false);
  const results: VectorResult[] = [];
  if (engine === 'vm') {
    for (const v of vectors) results.push(runVectorInVm(v));
  } else {
    using runner = new ConformanceRunner();
    for (const v of vectors) results.push(kernelRun(runner, v));
  }
  const t = totals(results);
  if (args.values.json) {
    process.stdout.write(json(results.map((r) => ({ name: r.name, status: r.status, expected: r.expected, actual: r.actual ?? null, reason: r.reason ?? null }))));
    return t.failed ? 1 : 0;
  }
  process.stdout.write(table(results.map((r) => ({ ...r })), ['name', 'status', 'expected', 'actual', 'reason']));
  if (args.values.log) {
    for (const r of results) if (r.log) process.stdout.write(`\n--- ${r.name}: verifier log\n${r.log.trimEnd()}\n`);
  }
  if (t.rejected) process.stdout.write(`${t.rejected} rejected by the ${engine === 'vm' ? 'VM' : 'kernel'} (counted as failed; REASON says why)\n`);
  process.stdout.write(`${t.passed} passed, ${t.failed} failed\n`);
  return t.failed ? 1 : 0;
}

/**
 * The kernel's verdict on a vector written in the suite's dialect (its `exit` label; callx,
 * which the kernel has no encoding for, reaches the verifier as an unknown helper and is
 * refused).
 */
function kernelRun(runner: ConformanceRunner, v: Vector): VectorResult {
  const { vector, callx } = suiteDialect(v);
  const r = runner.run(vector);
  return callx.size && r.status === 'rejected' ? { ...r, reason: `callx (a call through a register) does not exist in Linux: ${r.reason}` } : r;
}

/** Where the VM and the kernel disagree: both ran and r0 differs, or one passed and the other failed. */
export function disagreement(vm: VectorResult, kernel: VectorResult): string | undefined {
  if (kernel.status === 'rejected') return undefined;
  if (vm.actual !== undefined && kernel.actual !== undefined && vm.actual !== kernel.actual) return `r0: vm ${vm.actual}, kernel ${kernel.actual}`;
  if ((vm.status === 'passed') !== (kernel.status === 'passed')) return `vm ${vm.status}${vm.reason ? ` (${vm.reason})` : ''}, kernel ${kernel.status}${kernel.reason ? ` (${kernel.reason})` : ''}`;
  return undefined;
}

function both(vectors: readonly Vector[], asJson: boolean): number {
  const rows: { vm: VectorResult; kernel: VectorResult; why: string | undefined }[] = [];
  {
    using runner = new ConformanceRunner();
    for (const v of vectors) {
      const vm = runVectorInVm(v), kernel = kernelRun(runner, v);
      rows.push({ vm, kernel, why: disagreement(vm, kernel) });
    }
  }
  const bad = rows.filter((r) => r.why !== undefined);
  const vmFailed = rows.filter((r) => r.vm.status !== 'passed').length;
  const kernelFailed = rows.filter((r) => r.kernel.status === 'failed').length;
  const rejected = rows.filter((r) => r.kernel.status === 'rejected').length;
  const part = (r: VectorResult) => ({ status: r.status, actual: r.actual ?? null, reason: r.reason ?? null });
  if (asJson) {
    process.stdout.write(json(rows.map((r) => ({ name: r.vm.name, expected: r.vm.expected, vm: part(r.vm), kernel: part(r.kernel), agree: r.why === undefined, ...(r.why ? { disagreement: r.why } : {}) }))));
  } else {
    process.stdout.write(table(rows.map((r) => ({
      name: r.vm.name, expected: r.vm.expected, vm: r.vm.status, kernel: r.kernel.status, vm_r0: r.vm.actual, kernel_r0: r.kernel.actual,
      note: r.why ? `DISAGREE: ${r.why}` : r.kernel.status === 'rejected' ? `kernel: ${r.kernel.reason}` : r.vm.reason ?? r.kernel.reason,
    })), ['name', 'expected', 'vm', 'kernel', 'vm_r0', 'kernel_r0', 'note']));
    process.stdout.write(`vm: ${rows.length - vmFailed} passed, ${vmFailed} failed; kernel: ${rows.length - kernelFailed - rejected} passed, ${kernelFailed} failed, ${rejected} rejected by the verifier\n`);
  }
  if (bad.length) {
    const loud = [`!!! THE VM AND THE KERNEL DISAGREE on ${bad.length} vector${bad.length > 1 ? 's' : ''}:`, ...bad.map((r) => `!!!   ${r.vm.name} (${r.vm.file}): ${r.why}`)].join('\n') + '\n';
    process.stderr.write(loud);
    if (!asJson) process.stdout.write(loud);
  }
  const passed = rows.length - rows.filter((r) => r.vm.status !== 'passed' || r.kernel.status === 'failed' || r.why).length;
  if (!asJson) process.stdout.write(`${passed} passed, ${rows.length - passed} failed\n`);
  return bad.length || vmFailed || kernelFailed ? 1 : 0;
}
