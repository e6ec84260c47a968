/**
 * `tsbpf xlated <program module> [--entry NAME] [--json]`: the program as written beside what
 * the kernel runs after verification (BPF_OBJ_GET_INFO_BY_FD xlated_prog_insns), aligned, with
 * each kernel instruction marked same, rewritten (~) or inserted (+). The library call is
 * compareXlated(spec) in src/verifier.
 */
import { compareXlated, EntryError, pickEntry, programsIn, renderSideBySide } from '../verifier/index.ts';
import { json, parse, UsageError } from '../command.ts';

const usage = `usage: tsbpf xlated <program module> [--entry NAME] [--json]

Loads a program from a .ts module that exports ProgramSpec values (e.g. programs/mes_pkt/probe.ts),
creating the maps it references, and prints it beside the instructions the kernel runs:
context loads rewritten for the real struct sk_buff, array lookups inlined, helper calls
turned into direct calls, jump offsets moved over inserted code.

options:
  --entry NAME   the export (or program name) to load when the module has several
  --json         rows of {kind, orig, xlated, note} and counts
  -h, --help     show this help
`;

const options = { entry: { type: 'string' }, json: { type: 'boolean' } } as const;

export async function run(argv: string[]): Promise<number> {
  const p = parse(argv, options, usage);
  if (!p) return 0;
  const [path, ...extra] = p.positionals;
  if (!path || extra.length) throw new UsageError(`xlated takes one program module\n\n${usage}`);
  let entry;
  try {
    entry = pickEntry(await programsIn(path), path, p.values.entry);
  } catch (e) {
    if (e instanceof EntryError) throw new UsageError(e.message);
    throw e;
  }
  const s = await compareXlated(entry.spec);
  process.stdout.write(p.values.json ? json({ export: entry.exportName, ...s }) : renderSideBySide(s));
  return 0;
}
