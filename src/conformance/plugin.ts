/**
 * tsbpf as a bpf_conformance plugin: the protocol of the suite's runner (src/bpf_conformance.cc)
 * and of its libbpf_plugin, which this follows.
 *
 *   plugin [--program HEX] [MEMHEX] [--debug]
 *
 * - The program is base16 bytes (`b7 00 00 00 01 00 00 00 95 ...`) from --program, else from
 *   standard input (the suite writes one line there).
 * - The input memory is base16 bytes in the first positional argument; the suite passes an
 *   empty string when a vector has none, and its plugin options as the next argument.
 * - On success: r0 in hex (no 0x) and a newline on stdout, exit 0.
 * - When the program is refused: exit 1; with --debug, `Failed to load program: ` and the
 *   verifier log on stdout (where the suite shows a failing plugin's output).
 *
 * Unlike the libbpf plugin, which loads the bytes as the XDP program itself (r0 truncated to
 * 32 bits, r1 = the xdp_md), the bytes run behind the prologue (prologue.ts): r0 comes back
 * whole, and r1/r2 are the memory and its length as in the suite's other runtimes. The bytes
 * are not validated by tsbpf's decoder: what the kernel accepts is the point.
 */
import { rawInstructions } from '../syscall/program.ts';
import { BpfError, VerifierError } from '../syscall/errors.ts';
import { ConformanceRunError, type ConformanceRunner } from './runner.ts';

export interface PluginArgs {
  /** From --program; undefined: read standard input. */
  readonly program: string | undefined;
  /** The memory argument ('' for none). */
  readonly memory: string;
  readonly debug: boolean;
  readonly help: boolean;
}

export const PLUGIN_USAGE = `usage: tsbpf conformance plugin [--program HEX] [MEMHEX] [--debug]

bpf_conformance's plugin protocol: run a program in the kernel behind tsbpf's prologue and
print r0 in hex. The program is base16 bytes from --program or standard input; MEMHEX is the
input memory (r1 points at it, r2 is its length). Exit 1 when the kernel refuses the program;
--debug then prints the verifier log.

  bpf_conformance_runner --test_file_path tests --plugin_path bin/tsbpf-conformance-plugin.mjs
`;

/** A usage problem in the plugin's arguments. */
export class PluginUsageError extends Error {
  override name = 'PluginUsageError';
}

/**
 * The plugin's arguments, in any order. Empty arguments are skipped (the suite passes '' for
 * no memory and for no options), and an option argument holding several options
 * ('--debug --elf', one argv entry) is split.
 */
export function parsePluginArgs(argv: readonly string[]): PluginArgs {
  const args = argv.flatMap((a) => (a.trim().startsWith('--') ? a.trim().split(/\s+/) : [a])).filter((a) => a.trim() !== '');
  let program: string | undefined, memory: string | undefined, debug = false, help = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--program') {
      program = args[++i];
      if (program === undefined) throw new PluginUsageError('--program needs the program bytes in base16');
    } else if (a.startsWith('--program=')) program = a.slice('--program='.length);
    else if (a === '--debug') debug = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--elf') throw new PluginUsageError('--elf is not supported: pass the program as instruction bytes');
    else if (a.startsWith('-')) throw new PluginUsageError(`unknown option '${a}'`);
    else if (memory === undefined) memory = a;
    else throw new PluginUsageError(`unexpected argument '${a}': the memory is one argument (quote it)`);
  }
  return { program, memory: memory ?? '', debug, help };
}

/**
 * Base16 bytes as the suite writes them: tokens separated by whitespace, each one byte
 * (`b7 00 01`); a longer token is read as consecutive bytes (`b7000100`). `0x` prefixes allowed.
 */
export function decodeBase16(text: string): Uint8Array {
  const out: number[] = [];
  for (let tok of text.trim().split(/\s+/)) {
    if (tok === '') continue;
    tok = tok.replace(/^0x/i, '');
    if (!/^[0-9a-f]+$/i.test(tok)) throw new PluginUsageError(`'${tok}' is not base16`);
    if (tok.length === 1) tok = '0' + tok;
    if (tok.length % 2) throw new PluginUsageError(`'${tok}' has an odd number of hex digits`);
    for (let p = 0; p < tok.length; p += 2) out.push(Number.parseInt(tok.slice(p, p + 2), 16));
  }
  return Uint8Array.from(out);
}

export interface PluginOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the plugin protocol once: the program text (already read) and the parsed arguments. */
export function runPlugin(runner: ConformanceRunner, args: PluginArgs, programText: string): PluginOutcome {
  const failed = (why: string, log = ''): PluginOutcome => ({
    exitCode: 1,
    stdout: args.debug ? `Failed to load program: ${why}\n${log}${log && !log.endsWith('\n') ? '\n' : ''}` : '',
    stderr: `tsbpf-conformance-plugin: ${why}\n`,
  });
  let bytes: Uint8Array, mem: Uint8Array;
  try {
    bytes = decodeBase16(programText);
    mem = decodeBase16(args.memory);
  } catch (e) {
    return failed((e as Error).message);
  }
  if (bytes.length === 0 || bytes.length % 8 !== 0) return failed(`${bytes.length} program bytes is not a whole number of 8-byte instructions`);
  try {
    const x = runner.execute(rawInstructions(bytes), mem, { name: 'conformance' });
    return { exitCode: 0, stdout: `${x.r0.toString(16)}\n`, stderr: '' };
  } catch (e) {
    if (e instanceof VerifierError) return failed(e.summary, e.log);
    if (e instanceof BpfError || e instanceof ConformanceRunError || e instanceof RangeError) return failed(e.message.split('\n')[0]!);
    throw e;
  }
}
