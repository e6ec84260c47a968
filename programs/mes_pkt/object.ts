/**
 * The tutorial's own object (`clang -O2 -target bpf -c mes_pkt.c -o mes_pkt.o`), run through
 * tsbpf's loader instead of tc: src/elf reads it, its two entry points are found by section
 * (the tutorial's "ingress" and "egress"), its three maps are checked against the tutorial's
 * layout (the readers read them), and src/attach's loadObject loads it, pinning the maps the
 * object pins PIN_GLOBAL_NS in the probe's pin directory, tc's /sys/fs/bpf/tc/globals by
 * default. control.ts attaches the two programs like the DSL's.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readElf, type ElfCollection, type ElfProgramSpec } from '../../src/elf/index.ts';
import { loadObject, type LoadedObject } from '../../src/attach/object.ts';
import { findBpffs } from '../../src/syscall/bpffs.ts';
import { mapDifferences } from '../../src/syscall/map.ts';
import type { Program } from '../../src/syscall/program.ts';
import type { Hook } from '../../src/netlink/filter.ts';
import { maps } from './layout.ts';

/** Sections tried for each hook when none is named: the tutorial's first, then libbpf's. */
export const DEFAULT_SECTIONS: Readonly<Record<Hook, readonly string[]>> = {
  ingress: ['ingress', 'tc/ingress', 'tcx/ingress', 'classifier/ingress'],
  egress: ['egress', 'tc/egress', 'tcx/egress', 'classifier/egress'],
};

/** An object mes_pkt cannot run as the tutorial's probe: nothing was loaded or pinned. */
export class ObjectProbeError extends Error {
  override name = 'ObjectProbeError';
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
  }
}

export interface TutorialObject {
  /** The object's path, absolute (the state records it, dump reads it again). */
  readonly file: string;
  readonly coll: ElfCollection;
  readonly ingress: ElfProgramSpec;
  readonly egress: ElfProgramSpec;
}

const sectionList = (coll: ElfCollection): string =>
  [...new Set(coll.programs.map((p) => `'${p.section}'`))].join(', ') || 'none';

function pick(file: string, coll: ElfCollection, hook: Hook, named: string | undefined): ElfProgramSpec {
  const flag = `--sec-${hook}`;
  const tried = named !== undefined ? [named] : DEFAULT_SECTIONS[hook];
  const section = tried.find((s) => coll.programs.some((p) => p.section === s));
  if (section === undefined) {
    const what = named !== undefined ? `no program in section '${named}'` : `no ${hook} section (looked for ${tried.map((s) => `'${s}'`).join(', ')})`;
    throw new ObjectProbeError(file, `${what}; its program sections are ${sectionList(coll)}: name one with ${flag}`);
  }
  const in_ = coll.programs.filter((p) => p.section === section);
  if (in_.length > 1) {
    throw new ObjectProbeError(file, `section '${section}' holds ${in_.length} programs (${in_.map((p) => p.symbol).join(', ')}); mes_pkt takes one per hook: put each in its own section and name it with ${flag}`);
  }
  return in_[0]!;
}

/**
 * Read the object and find what mes_pkt needs in it: one program per hook (sched_cls, as tc's
 * `bpf` loads them) and the tutorial's three maps in the tutorial's layout. Throws
 * ObjectProbeError (or the reader's ElfError) in one line, before anything is created.
 */
export function readTutorialObject(file: string, sections: { ingress?: string; egress?: string } = {}): TutorialObject {
  const abs = path.resolve(file);
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(abs)); } catch (e) { throw new ObjectProbeError(file, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  const coll = readElf(bytes, { type: 'sched_cls', objectName: path.basename(abs).split('.')[0] ?? '' });
  const ingress = pick(file, coll, 'ingress', sections.ingress);
  const egress = pick(file, coll, 'egress', sections.egress);
  if (ingress === egress) throw new ObjectProbeError(file, `the ingress and egress programs are one (${ingress.symbol} in '${ingress.section}'): name two sections`);
  const used = new Set([...ingress.maps, ...egress.maps].map((m) => m.name));
  for (const want of [maps.start, maps.end, maps.cnt]) {
    const m = coll.maps.find((x) => x.name === want.name);
    if (!m) throw new ObjectProbeError(file, `no map '${want.name}' (its maps are ${coll.maps.map((x) => x.name).join(', ') || 'none'}): show reads the tutorial's map_mes_start, map_mes_end and map_mes_cnt`);
    if (!used.has(m.name)) throw new ObjectProbeError(file, `neither ${ingress.symbol} nor ${egress.symbol} uses map '${m.name}': they are not the tutorial's mes_start and mes_end`);
    const diff = mapDifferences(m, want);
    if (diff.length) {
      throw new ObjectProbeError(file, `map '${m.name}' is not the tutorial's: ${diff.map((d) => `${d.field} is ${String(d.actual)}, expected ${String(d.expected)}`).join('; ')}`);
    }
  }
  return { file: abs, coll, ingress, egress };
}

const TUTORIAL_NAMES: ReadonlySet<string> = new Set([maps.start.name, maps.end.name, maps.cnt.name]);

/** The bpffs mount a directory is on (the deepest, for nested mounts). */
function mountOf(dir: string): string {
  const under = findBpffs().filter((m) => dir === m || dir.startsWith(m.endsWith('/') ? m : `${m}/`));
  const m = under.sort((a, b) => b.length - a.length)[0];
  if (!m) throw new Error(`${dir} is not on a bpf filesystem`);
  return m;
}

export interface LoadedTutorialObject {
  readonly loaded: LoadedObject;
  /** The ingress and the egress program, in that order. */
  readonly programs: readonly [Program, Program];
  /** Every map the object pins: where, and whether this load created the pin. */
  readonly pins: readonly { name: string; path: string; created: boolean }[];
}

/**
 * Load the object's two programs and the maps they use. The maps the object pins by name
 * (PIN_GLOBAL_NS, and libbpf's LIBBPF_PIN_BY_NAME, as tc pins them) go to `<pinDir>/<name>`:
 * with the default pin dir that is exactly where tc puts them. The tutorial's three maps are
 * pinned there even if the object does not ask (the readers need them). An existing pin is
 * shared when its layout matches (loadObject checks). On failure, loadObject removes what it
 * made.
 */
export function loadTutorialObject(o: TutorialObject, pinDir: string): LoadedTutorialObject {
  const root = mountOf(pinDir);
  const rel = (name: string) => path.relative(root, path.join(pinDir, name));
  const coll: ElfCollection = {
    ...o.coll,
    maps: o.coll.maps.map((m) => {
      if (TUTORIAL_NAMES.has(m.name)) return { ...m, pin: { kind: 'tc_global' as const, path: rel(m.name) } };
      return m.pin && m.pin.kind !== 'tc_object' ? { ...m, pin: { kind: m.pin.kind, path: rel(m.name) } } : m;
    }),
  };
  const had = new Set(coll.maps.filter((m) => m.pin).map((m) => path.join(root, m.pin!.path)).filter((p) => existsSync(p)));
  const loaded = loadObject(coll, { programs: [o.ingress.symbol, o.egress.symbol], bpffs: root });
  const pins = [...loaded.objectPins].map(([name, p]) => ({ name, path: p, created: !had.has(p) }));
  return { loaded, programs: [loaded.programs[o.ingress.name]!, loaded.programs[o.egress.name]!], pins };
}
