/**
 * uprobe-count: how many times does a process call a function? A KPROBE-type program at a uprobe
 * on the function adds one to a map at every call; we start the command, let it run, and read
 * the map. The tutorial's bcc loaded KPROBE programs at kernel functions; this kernel has no
 * kprobes, and the same program type runs at uprobes.
 *
 *   npx tsx programs/uprobe-count.ts -- python3 -c 'import os; [os.getpid() for _ in range(1000)]'
 *   getpid (/lib/x86_64-linux-gnu/libc.so.6+0xe0e30): 1000 calls by pid 4242
 *
 * The command starts under `sh -c 'read _ && exec …'`: it waits for a line until the probe is
 * attached for its pid, then execs, so the pid (which the kernel filters on) is the command's
 * from its first instruction, and no call is missed. Needs root.
 */
import { spawnHeld } from './held-child.ts';
import { CAP_BPF, CAP_PERFMON, hasCaps, needsRootMessage } from './mes_pkt/privilege.ts';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { json, main, parse, UsageError } from '../src/command.ts';
import { program, r0, r1, r2, r6, r10, type ProgramSpec, type ProgramType } from '../src/asm/index.ts';
import { createMap, type BpfMap, type MapSpec } from '../src/syscall/map.ts';
import { u32, u64 } from '../src/codec.ts';
import { loadProgram } from '../src/syscall/program.ts';
import { attachUprobe, resolveUprobe } from '../src/attach/uprobe.ts';

export const callsSpec: MapSpec = { name: 'calls', type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 };

/**
 * calls[0] += 1 at every hit. With tgid, only hits from that process count (a tracepoint runs
 * its program for every process, so it has to filter itself; a uprobe can leave it to the kernel).
 */
export function callCounter(opts: { type?: ProgramType; tgid?: number } = {}): ProgramSpec {
  return program({ name: 'count_calls', type: opts.type ?? 'kprobe', license: 'GPL' }, (b) => {
    if (opts.tgid !== undefined) {
      b.call('get_current_pid_tgid');
      b.rsh(r0, 32).comment('the tgid: the process id user space knows');
      b.jne(r0, opts.tgid, 'out');
    }
    b.st('u32', r10, -4, 0);
    b.mov(r2, r10);
    b.add(r2, -4);
    b.ldMap(r1, callsSpec);
    b.call('map_lookup_elem');
    b.jeq(r0, 0, 'out');
    b.mov(r6, 1);
    b.atomic('add', 'u64', r0, 0, r6);
    b.label('out');
    b.mov(r0, 0);
    b.exit();
  });
}

/** Read calls[0]. */
export function readCalls(map: BpfMap<number, bigint>): bigint {
  return map.get(0) ?? 0n;
}

export interface CountOptions {
  readonly binary?: string;
  readonly symbol?: string;
  readonly retprobe?: boolean;
  readonly command: readonly string[];
  /** Where the command's output goes (default: ours). */
  readonly stdio?: 'inherit' | 'ignore';
}

export interface CountResult {
  readonly binary: string;
  readonly symbol: string;
  readonly offset: number;
  readonly pid: number;
  readonly command: readonly string[];
  readonly exitCode: number | null;
  readonly calls: bigint;
}

/** Start `command` held at a read, attach the uprobe for its pid, let it go, count its calls. */
export async function countCalls(o: CountOptions): Promise<CountResult> {
  const [cmd, ...args] = o.command;
  if (!cmd) throw new UsageError('give the command to run after --');
  const binary = o.binary ?? 'libc', symbol = o.symbol ?? 'getpid';
  // Resolve first: a bad binary or symbol fails before any process starts.
  const where = resolveUprobe({ binary, symbol });
  using map = createMap<number, bigint>(callsSpec, { key: u32, value: u64 });
  using prog = loadProgram(callCounter(), { maps: [map] });
  const held = await spawnHeld(cmd, args, { stdout: o.stdio, stderr: o.stdio });
  try {
    using probe = attachUprobe(prog, { binary: where.path, offset: where.offset, pid: held.pid, retprobe: o.retprobe });
    held.release();
    const exitCode = await held.exited;
    void probe;
    return { binary: where.path, symbol, offset: where.offset, pid: held.pid, command: o.command, exitCode, calls: readCalls(map) };
  } finally {
    await held.kill();
  }
}

const USAGE = `usage: npx tsx programs/uprobe-count.ts [--binary B] [--symbol S] [--retprobe] [--json] -- COMMAND [ARG…]

Runs COMMAND and counts its calls of a function (default getpid in libc) with a uprobe: a
KPROBE-type eBPF program that adds one to a map at every call, for that process only.

  --binary B   the file the function is in: a path, or a name such as libc, libssl, python3 (default libc)
  --symbol S   the function (default getpid)
  --retprobe   count returns instead of entries
  --json       {binary, symbol, offset, pid, command, exit_code, calls}

example: npx tsx programs/uprobe-count.ts -- python3 -c 'import os; [os.getpid() for _ in range(1000)]'
`;

async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const a = parse(own, { binary: { type: 'string' }, symbol: { type: 'string' }, retprobe: { type: 'boolean' }, json: { type: 'boolean' } }, USAGE);
  if (!a) return 0;
  if (a.positionals.length) throw new UsageError(`put the command after --: uprobe-count [options] -- ${a.positionals.join(' ')}\n\n${USAGE}`);
  if (!command.length) throw new UsageError(`give the command to run after --\n\n${USAGE}`);
  // without privilege the load fails with EPERM, which reads like a verifier rejection: say so first
  if (process.geteuid?.() !== 0 && !hasCaps(CAP_BPF, CAP_PERFMON)) throw new Error(needsRootMessage('uprobe-count', 'CAP_BPF + CAP_PERFMON'));
  const r = await countCalls({ binary: a.values.binary, symbol: a.values.symbol, retprobe: a.values.retprobe, command, stdio: a.values.json ? 'ignore' : 'inherit' });
  if (a.values.json) {
    process.stdout.write(json({ binary: r.binary, symbol: r.symbol, offset: r.offset, pid: r.pid, command: r.command, exit_code: r.exitCode, calls: r.calls }));
  } else {
    process.stdout.write(`${r.symbol} (${r.binary}+0x${r.offset.toString(16)}): ${r.calls} ${a.values.retprobe ? 'returns' : 'calls'} by pid ${r.pid}` +
      `${r.exitCode ? ` (it exited with ${r.exitCode})` : ''}\n`);
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(run);
}
