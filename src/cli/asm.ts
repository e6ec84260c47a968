/**
 * `tsbpf asm [FILE|-] [-o OUT.bin] [--hex] [--dialect llvm|ubpf|auto]`: assemble text (the
 * syntax of docs/listing.md) into raw little-endian instruction bytes, or hex with --hex.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { assemble, type Dialect } from '../asm/assembler.ts';
import { encode, toHex } from '../asm/instruction.ts';
import { parse, UsageError } from '../command.ts';

const usage = `usage: tsbpf asm [FILE|-] [-o OUT.bin] [--hex] [--dialect llvm|ubpf|auto]

Assemble a listing (r0 = 0 / exit / if r1 > r2 goto out ...) into instruction bytes.
Reads FILE, or standard input when FILE is - or missing.

  -o, --output FILE   write the bytes to FILE instead of standard output
  --hex               write lowercase hex, one 8-byte slot per line
  --dialect D         llvm (default: what 'tsbpf disasm' prints), ubpf (mov32 %r0, 1),
                      or auto (ubpf when registers are written %rN)
`;

export function readInput(path: string | undefined): { text: Buffer; name: string } {
  if (path === undefined || path === '-') return { text: readFileSync(0), name: '<stdin>' };
  try {
    return { text: readFileSync(path), name: path };
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const args = parse(argv, {
    output: { type: 'string', short: 'o' },
    hex: { type: 'boolean' },
    dialect: { type: 'string' },
  }, usage);
  if (!args) return 0;
  if (args.positionals.length > 1) throw new UsageError(`expected one input file, got ${args.positionals.length}\n\n${usage}`);
  const dialect = args.values.dialect ?? 'llvm';
  if (dialect !== 'llvm' && dialect !== 'ubpf' && dialect !== 'auto') throw new UsageError(`--dialect must be llvm, ubpf or auto, not '${dialect}'`);
  const { text, name } = readInput(args.positionals[0]);
  const bytes = encode(assemble(text.toString('utf8'), { file: name, dialect: dialect as Dialect | 'auto' }).insns);
  const out: string | Uint8Array = args.values.hex ? toHex(bytes) : bytes;
  if (args.values.output !== undefined) writeFileSync(args.values.output, out);
  else process.stdout.write(out);
  return 0;
}
