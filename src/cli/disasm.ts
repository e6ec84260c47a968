/**
 * `tsbpf disasm [FILE|-] [--hex] [--bytes] [--llvm] ...`: print the listing of raw instruction
 * bytes (or of hex text with --hex) in the syntax of docs/listing.md.
 */
import { disassemble } from '../asm/disasm.ts';
import { decode, fromHex } from '../asm/instruction.ts';
import { disassembleUbpf } from '../asm/listing-ubpf.ts';
import { readInput } from './asm.ts';
import { parse, UsageError } from '../command.ts';

const usage = `usage: tsbpf disasm [FILE|-] [--hex] [--bytes] [--llvm] [--alu32] [--no-index] [--no-labels]

Print the listing of raw little-endian instruction bytes (a .bin from 'tsbpf asm', or
'bpftool prog dump xlated ... file F'). Reads FILE, or standard input when FILE is - or missing.

  --hex         the input is hex text (whitespace, commas and 0x prefixes ignored)
  --bytes       show each instruction's raw bytes
  --llvm        print exactly as llvm-objdump 14 does where it can (call 5, ld_pseudo)
  --alu32       w registers for sub-64-bit loads and stores, as llvm with +alu32
  --dialect D   llvm (default) or ubpf (mov32 %r0, 1: the bpf_conformance syntax)
  --no-index    leave out the slot index column
  --no-labels   print jump offsets only, no label lines or <label> suffixes
`;

export async function run(argv: string[]): Promise<number> {
  const args = parse(argv, {
    hex: { type: 'boolean' },
    bytes: { type: 'boolean' },
    llvm: { type: 'boolean' },
    alu32: { type: 'boolean' },
    'no-index': { type: 'boolean' },
    'no-labels': { type: 'boolean' },
    dialect: { type: 'string' },
  }, usage);
  if (!args) return 0;
  if (args.positionals.length > 1) throw new UsageError(`expected one input file, got ${args.positionals.length}\n\n${usage}`);
  const { text } = readInput(args.positionals[0]);
  const bytes = args.values.hex ? fromHex(text.toString('utf8')) : new Uint8Array(text.buffer, text.byteOffset, text.byteLength);
  const dialect = args.values.dialect ?? 'llvm';
  if (dialect !== 'llvm' && dialect !== 'ubpf') throw new UsageError(`--dialect must be llvm or ubpf, not '${dialect}'`);
  if (dialect === 'ubpf') {
    if (args.values.bytes || args.values.llvm || args.values.alu32) throw new UsageError('--bytes, --llvm and --alu32 apply to the llvm dialect only');
    process.stdout.write(disassembleUbpf(decode(bytes), { index: !args.values['no-index'], labels: !args.values['no-labels'] }));
    return 0;
  }
  process.stdout.write(disassemble(bytes, {
    style: args.values.llvm ? 'llvm' : 'tsbpf',
    alu32: args.values.alu32 === true,
    index: !args.values['no-index'],
    bytes: args.values.bytes === true,
    labels: !args.values['no-labels'],
  }));
  return 0;
}
