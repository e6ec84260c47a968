/**
 * Program modules: a .ts file whose exports include ProgramSpec values (programs/mes_pkt/probe.ts
 * exports mesStart and mesEnd). `explain` and `xlated` take one and pick an entry.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProgramSpec } from '../asm/program.ts';

export function isProgramSpec(x: unknown): x is ProgramSpec {
  const s = x as Partial<ProgramSpec> | null;
  return typeof s === 'object' && s !== null && typeof s.name === 'string' && typeof s.type === 'string' && Array.isArray(s.insns) && s.labels instanceof Map;
}

export interface ModuleEntry {
  /** The export's name. */
  readonly exportName: string;
  readonly spec: ProgramSpec;
}

/** The ProgramSpec exports of a module, in export order. */
export async function programsIn(path: string): Promise<ModuleEntry[]> {
  const mod = await importModule(path);
  return Object.entries(mod).filter(([, v]) => isProgramSpec(v)).map(([k, v]) => ({ exportName: k, spec: v as ProgramSpec }));
}

/** The entry `name` picks (export name or program name); the only one when no name is given. */
export function pickEntry(entries: readonly ModuleEntry[], path: string, name?: string): ModuleEntry {
  const list = (): string => entries.map((e) => `  ${e.exportName.padEnd(16)} ${e.spec.name} (${e.spec.type}, ${e.spec.insns.length} instructions)`).join('\n');
  if (entries.length === 0) throw new Error(`${path} exports no ProgramSpec (a value built with program(…))`);
  if (name !== undefined) {
    const e = entries.find((x) => x.exportName === name) ?? entries.find((x) => x.spec.name === name);
    if (!e) throw new EntryError(`${path} has no program '${name}'; its programs:\n${list()}`, entries);
    return e;
  }
  if (entries.length > 1) throw new EntryError(`${path} exports ${entries.length} programs: pick one with --entry NAME\n${list()}`, entries);
  return entries[0]!;
}

/** No entry, or an ambiguous one: carries the list so a CLI can print it. */
export class EntryError extends Error {
  override name = 'EntryError';
  readonly entries: readonly ModuleEntry[];
  constructor(message: string, entries: readonly ModuleEntry[]) {
    super(message);
    this.entries = entries;
  }
}

/**
 * Import a program module. Node 20 cannot import .ts by itself: when it refuses, the module
 * is imported through tsx (an optional peer dependency), so the compiled `tsbpf` still takes
 * the same .ts files as `npx tsx src/cli.ts` does.
 */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(resolve(path)).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  }
  let tsx: { tsImport: (specifier: string, parent: string) => Promise<unknown> };
  try {
    tsx = (await import('tsx/esm/api')) as typeof tsx;
  } catch {
    throw new Error(`${path} is TypeScript, and this Node cannot import .ts by itself: install tsx next to tsbpf ` +
      '(npm i -D tsx), or compile the module to .js');
  }
  return (await tsx.tsImport(url, import.meta.url)) as Record<string, unknown>;
}
