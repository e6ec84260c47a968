/**
 * What every tsbpf command (src/cli) and runnable program (programs/) shares: argument parsing with --help, tables, --json, and one
 * place that turns an error into a single clear line on stderr and a non-zero exit.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fileURLToPath } from 'node:url';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** A command's usage text, printed by --help and after a usage error. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * parseArgs with strict checking; `--help`/`-h` prints `usage` and returns null.
 * Unknown flags become a UsageError naming the flag.
 */
export function parse<O extends Options>(argv: string[], options: O, usage: string) {
  let r;
  try {
    r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${usage}`);
  }
  if ((r.values as { help?: boolean }).help) {
    process.stdout.write(usage.endsWith('\n') ? usage : usage + '\n');
    return null;
  }
  return r as { values: { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string }; positionals: string[] };
}

/**
 * `<command> [args…]`: the command and its arguments, or, when there is no command or it asks
 * for help, the usage printed and the exit code to return (0 for help, 2 for nothing).
 */
export function splitCommand(argv: readonly string[], usage: string): { cmd: string; rest: string[] } | number {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage);
    return cmd ? 0 : 2;
  }
  return { cmd, rest };
}

/** splitCommand, then run the named command; an unknown one is a UsageError. */
export async function dispatch(argv: readonly string[], usage: string, commands: Readonly<Record<string, (rest: string[]) => Promise<number | void> | number | void>>): Promise<number | void> {
  const c = splitCommand(argv, usage);
  if (typeof c === 'number') return c;
  const run = commands[c.cmd];
  if (!run) throw new UsageError(`unknown command '${c.cmd}'\n\n${usage}`);
  return run(c.rest);
}

/** Parse an integer flag or argument; a clear error names the flag. */
export function int(value: string | undefined, what: string, dflt?: number): number {
  if (value === undefined) {
    if (dflt === undefined) throw new UsageError(`missing ${what}`);
    return dflt;
  }
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${what} must be an integer, got '${value}'`);
  return n;
}

/** Print rows as an aligned text table with a header. */
export function table(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  const cells = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (xs: string[]) => xs.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

/** JSON with bigint support (as numbers when safe, else strings). */
export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v), 2) + '\n';
}

/** Run a command's main; errors become one line on stderr (plus details for known error types). */
export async function main(run: (argv: string[]) => Promise<number | void> | number | void, argv = process.argv.slice(2)): Promise<void> {
  // `… | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  try {
    const code = await run(argv);
    process.exitCode = code ?? 0;
  } catch (e) {
    const err = e as Error & { details?: string };
    process.stderr.write(`error: ${err.message}\n`);
    if (err.details && process.env.TSBPF_DEBUG) process.stderr.write(err.details + '\n');
    if (process.env.TSBPF_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}

/**
 * How a child Node runs another module of this package: the compiled .js beside a compiled
 * caller (dist/), or the .ts source through tsx in a checkout. `relative` is the .ts path as
 * seen from the caller's source file.
 */
export function nodeArgs(callerUrl: string, relative: string): string[] {
  const file = siblingFile(callerUrl, relative);
  return file.endsWith('.js') ? [file] : ['--import', 'tsx', file];
}

/** The file a caller's relative .ts path names, as .js when the caller itself is compiled. */
export function siblingFile(callerUrl: string, relative: string): string {
  const compiled = callerUrl.endsWith('.js');
  return fileURLToPath(new URL(compiled ? relative.replace(/\.ts$/, '.js') : relative, callerUrl));
}
