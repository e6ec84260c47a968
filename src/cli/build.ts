/**
 * `tsbpf build MODULE.ts -o OUT.o`: a DSL module to an object file. The module's exports are
 * read as a collection: an export named `collection` ({ maps, programs }) when there is one,
 * else every exported ProgramSpec and MapSpec.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMapSpec, type MapSpec } from '../asm/map-spec.ts';
import type { ProgramSpec } from '../asm/program.ts';
import type { CollectionSpec } from '../asm/collection-spec.ts';
import { toElf } from '../elf/writer.ts';
import { parse, UsageError } from '../command.ts';

const usage = `usage: tsbpf build MODULE.ts -o OUT.o [--license L]

Writes the programs and maps a DSL module exports as a BPF object file that llvm-objdump,
bpftool (prog loadall) and tc (filter add … bpf obj OUT.o sec S) read. The module exports a
\`collection\` ({ maps, programs }), or its ProgramSpecs and MapSpecs one by one.

options:
  -o, --output FILE   the object file to write
  --license L         the license section (default: the programs' own)
  -h, --help          show this help
`;

const isProgramSpec = (x: unknown): x is ProgramSpec =>
  typeof x === 'object' && x !== null && Array.isArray((x as ProgramSpec).insns) && typeof (x as ProgramSpec).type === 'string' && (x as ProgramSpec).labels instanceof Map;

/** The collection a module's exports describe. */
export function collectionFromModule(mod: Record<string, unknown>, file: string): CollectionSpec {
  const c = mod.collection as CollectionSpec | undefined;
  if (c && typeof c === 'object' && 'programs' in c) return c;
  const programs = Object.values(mod).filter(isProgramSpec);
  const maps = Object.values(mod).filter((x): x is MapSpec => typeof x === 'object' && x !== null && !isProgramSpec(x) && isMapSpec(x as MapSpec));
  if (!programs.length) throw new Error(`${file} exports no programs: export the ProgramSpecs program() returns, or a \`collection\``);
  return { maps, programs };
}

export async function run(argv: string[]): Promise<number> {
  const p = parse(argv, { output: { type: 'string', short: 'o' }, license: { type: 'string' } } as const, usage);
  if (!p) return 0;
  const [module] = p.positionals;
  if (!module) throw new UsageError(`missing MODULE.ts\n\n${usage}`);
  if (!p.values.output) throw new UsageError(`missing -o OUT.o\n\n${usage}`);
  const mod = (await import(pathToFileURL(path.resolve(module)).href)) as Record<string, unknown>;
  const bytes = toElf(collectionFromModule(mod, module), p.values.license ? { license: p.values.license } : {});
  writeFileSync(p.values.output, bytes);
  process.stdout.write(`wrote ${p.values.output} (${bytes.length} bytes)\n`);
  return 0;
}
