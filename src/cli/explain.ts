/**
 * `tsbpf explain <program module> [--entry NAME] [--json]`: load a DSL program at verifier log
 * level 2 and print every instruction beside the TypeScript line that emitted it and the
 * register/stack state the verifier logged there. On a rejection: the failing instruction is
 * marked (>>), with the kernel's message and, when it is a known lesson, why.
 */
import { EntryError, explainProgram, pickEntry, programsIn, renderExplain } from '../verifier/index.ts';
import { int, json, parse, UsageError } from '../command.ts';

const usage = `usage: tsbpf explain <program module> [--entry NAME] [--json]

Loads a program from a .ts module that exports ProgramSpec values (e.g. programs/mes_pkt/probe.ts),
creating the maps it references, with the verifier log at level 2, and annotates each instruction:
  slot: instruction    file.ts:line that emitted it    state the verifier logged after it
A rejected program shows >> at the failing instruction, the kernel's message and an explanation.
Exit status: 0 loaded, 1 rejected (or error), 2 usage.

options:
  --entry NAME   the export (or program name) to load when the module has several
  --paths N      extra verifier paths to print per instruction (default 3)
  --json         the same content as JSON
  -h, --help     show this help
`;

const options = { entry: { type: 'string' }, json: { type: 'boolean' }, paths: { type: 'string' } } as const;

export async function run(argv: string[]): Promise<number> {
  const p = parse(argv, options, usage);
  if (!p) return 0;
  const [path, ...extra] = p.positionals;
  if (!path || extra.length) throw new UsageError(`explain takes one program module\n\n${usage}`);
  const entries = await programsIn(path);
  let entry;
  try {
    entry = pickEntry(entries, path, p.values.entry);
  } catch (e) {
    if (e instanceof EntryError && p.values.json) {
      process.stdout.write(json({ error: e.message, programs: e.entries.map((x) => ({ export: x.exportName, name: x.spec.name, type: x.spec.type })) }));
      return 2;
    }
    if (e instanceof EntryError) throw new UsageError(e.message);
    throw e;
  }
  const x = await explainProgram(entry.spec);
  if (p.values.json) process.stdout.write(json({ export: entry.exportName, ...x }));
  else process.stdout.write(renderExplain(x, { paths: p.values.paths === undefined ? 3 : int(p.values.paths, '--paths') }));
  return x.loaded ? 0 : 1;
}
