/**
 * `tsbpf conformance DIR|FILE… [--json] [--log]`: run bpf_conformance .data vectors through
 * tsbpf's assembler and the kernel, print a table and `N passed, N failed`.
 * `tsbpf conformance plugin [--program HEX] [MEMHEX] [--debug]`: the suite's plugin protocol.
 */
import { ConformanceRunner, totals, type VectorResult } from '../conformance/runner.ts';
import { PLUGIN_USAGE, PluginUsageError, parsePluginArgs, runPlugin } from '../conformance/plugin.ts';
import { findVectorFiles, readVector, VectorError, type Vector } from '../conformance/vector.ts';
import { json, parse, table, UsageError } from '../command.ts';

const usage = `usage: tsbpf conformance DIR|FILE... [--json] [--log]
       tsbpf conformance plugin [--program HEX] [MEMHEX] [--debug]

Run eBPF conformance vectors (bpf_conformance .data files: -- asm, -- mem, -- result or
-- error) in the kernel: each is assembled by tsbpf (ubpf dialect), called as a subprogram of
an XDP prologue that stores its 64-bit r0 in an array map, run with BPF_PROG_TEST_RUN, and
compared with -- result. Needs root. A directory means its *.data files. Exit 1 if any fails.

  --json    one object per vector: {name, status, expected, actual, reason}
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
  const args = parse(argv, { json: { type: 'boolean' }, log: { type: 'boolean' } }, usage);
  if (!args) return 0;
  if (args.positionals.length === 0) throw new UsageError(`name the .data files or directories to run\n\n${usage}`);
  let vectors: Vector[];
  try {
    vectors = findVectorFiles(args.positionals).map(readVector);
  } catch (e) {
    if (e instanceof VectorError) throw new UsageError(e.message);
    throw e;
  }
  const results: VectorResult[] = [];
  {
    using runner = new ConformanceRunner();
    for (const v of vectors) results.push(runner.run(v));
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
  if (t.rejected) process.stdout.write(`${t.rejected} rejected by the kernel (counted as failed; REASON is the verifier's message)\n`);
  process.stdout.write(`${t.passed} passed, ${t.failed} failed\n`);
  return t.failed ? 1 : 0;
}
