/**
 * `tsbpf elf show OBJ`: a friendly llvm-readelf for BPF objects (sections, programs, maps,
 * relocations), and the loaders behind `tsbpf prog load` / `prog loadall`, which mirror
 * bpftool's:
 *
 *   prog load OBJ PATH [--type T] [--section S] [--pinmaps DIR]   one program, pinned at PATH
 *   prog loadall OBJ DIR [--type T] [--pinmaps DIR]               every program, pinned as DIR/<name>
 *
 * Maps the object pins itself (iproute2 PIN_GLOBAL_NS, libbpf LIBBPF_PIN_BY_NAME) go where tc
 * and libbpf put them; --pinmaps pins the others, as bpftool does.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ProgramType } from '../asm/program.ts';
import { PROG_TYPES } from '../syscall/constants.ts';
import { relocationName } from '../elf/constants.ts';
import { parseElfFile, type ElfFile } from '../elf/file.ts';
import { collectionOf, objectNameOf } from '../elf/reader.ts';
import { runningKernelBtf } from '../btf/kernel.ts';
import type { ElfCollection } from '../elf/spec.ts';
import { loadObject } from '../attach/object.ts';
import { unpin } from '../syscall/pin.ts';
import { openProgramById, type Program } from '../syscall/program.ts';
import { json, parse, splitCommand, table, UsageError } from '../command.ts';

const usage = `usage: tsbpf elf <command> [options]

commands:
  show OBJ [--type T] [--json]   sections, programs, maps and relocations of a BPF object file

Programs in sections libbpf does not name ('ingress', 'egress': tc's convention) are shown as
sched_cls, the type tc gives them; --type sets the type of every program.

options:
  --json         print JSON
  -h, --help     show this help
`;

export const loadUsage = `usage: tsbpf prog load OBJ PATH [--type T] [--section S] [--pinmaps DIR]
       tsbpf prog loadall OBJ DIR [--type T] [--pinmaps DIR]

Load programs from a BPF object file (clang -target bpf, or tsbpf build) and pin them, as
bpftool does: 'load' the first program (or the first in section S) at PATH, 'loadall' every
program as DIR/<function name>. Maps pinned by the object (tc's PIN_GLOBAL_NS, libbpf's
LIBBPF_PIN_BY_NAME) go to <bpffs>/tc/globals/<name> and <bpffs>/<name>; --pinmaps pins the
others under DIR.

options:
  --type T       program type for every program (sched_cls, xdp, socket_filter…); needed for
                 sections whose name does not say it ('ingress')
  --section S    (load) the section to take the program from
  --pinmaps DIR  pin the maps here
  --json         print what was loaded as JSON
  -h, --help     show this help
`;

function programType(t: string | undefined): ProgramType | undefined {
  if (t === undefined) return undefined;
  const name = t.toLowerCase().replace(/^bpf_prog_type_/, '');
  const alias: Record<string, string> = { tc: 'sched_cls', classifier: 'sched_cls', socket: 'socket_filter', action: 'sched_act' };
  const type = alias[name] ?? name;
  if (!(PROG_TYPES as readonly string[]).includes(type) || type === 'unspec') {
    throw new UsageError(`unknown program type '${t}' (e.g. sched_cls, xdp, socket_filter, kprobe, tracepoint)`);
  }
  return type as ProgramType;
}

/** Read an object file: its container and its collection. */
export function readObject(file: string, opts: { type?: ProgramType; defaultType?: ProgramType } = {}): { elf: ElfFile; coll: ElfCollection } {
  const objectName = objectNameOf(file);
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(file)); } catch (e) { throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  const elf = parseElfFile(bytes);
  // CO-RE relocations resolve against the running kernel's BTF (elf show too: it shows what
  // would load here)
  return { elf, coll: collectionOf(elf, { ...opts, objectName, coreTarget: runningKernelBtf }) };
}

const SHT_NAMES: Record<number, string> = { 0: 'NULL', 1: 'PROGBITS', 2: 'SYMTAB', 3: 'STRTAB', 8: 'NOBITS', 9: 'REL', 0x6fff4c03: 'LLVM_ADDRSIG' };

function flagText(f: number): string {
  return `${f & 1 ? 'W' : ''}${f & 2 ? 'A' : ''}${f & 4 ? 'X' : ''}` || '-';
}

function show(file: string, type: ProgramType | undefined, asJson: boolean): void {
  const { elf, coll } = readObject(file, { ...(type ? { type } : {}), defaultType: 'sched_cls' });
  const sections = elf.sections.slice(1).map((s) => ({ index: s.index, name: s.name, type: SHT_NAMES[s.type] ?? `0x${s.type.toString(16)}`, size: s.size, flags: flagText(s.flags) }));
  const programs = coll.programs.map((p) => ({
    name: p.symbol, section: p.section, type: p.type, type_from: p.typeSource,
    ...(p.expectedAttachType ? { attach_type: p.expectedAttachType } : {}), ...(p.attachTo !== undefined ? { attach_to: p.attachTo } : {}),
    insns: p.insns.length, maps: p.maps.map((m) => m.name), calls: p.callees,
  }));
  const maps = coll.maps.map((m) => ({
    name: m.name, declared: m.origin, section: m.section, type: m.type, key: m.keySize, value: m.valueSize, max_entries: m.maxEntries,
    flags: m.flags ?? 0, ...(m.pin ? { pin: m.pin.path } : {}), ...(m.freeze ? { frozen: true } : {}),
  }));
  const relocations = [...elf.relocations].flatMap(([idx, list]) => list.map((r) => ({
    section: elf.sections[idx]!.name, offset: r.offset, type: relocationName(r.type), symbol: elf.symbols[r.symbol]!.name,
  }))).filter((r) => elf.sections.find((s) => s.name === r.section)!.flags & 4);
  if (asJson) {
    process.stdout.write(json({ license: coll.license, ...(coll.kernelVersion !== undefined ? { version: coll.kernelVersion } : {}), btf: coll.btf !== undefined, sections, programs, maps, relocations }));
    return;
  }
  const out: string[] = [];
  out.push(`${path.basename(file)}: license "${coll.license}"${coll.kernelVersion !== undefined ? `, version 0x${coll.kernelVersion.toString(16)}` : ''}${coll.btf ? ', BTF' : ', no BTF'}\n`);
  out.push('Programs:\n' + table(programs.map((p) => ({ ...p, type: p.type_from === 'default' ? `${p.type} (tc's default)` : p.type, attach: p.attach_type ?? p.attach_to, maps: p.maps.join(',') || '-', calls: p.calls.join(',') || '-' })),
    ['name', 'section', 'type', 'attach', 'insns', 'maps', 'calls']));
  out.push('\nMaps:\n' + table(maps.map((m) => ({ ...m, flags: m.flags ? `0x${m.flags.toString(16)}` : '-', pin: m.pin ?? (m.frozen ? '(frozen)' : '-') })),
    ['name', 'declared', 'type', 'key', 'value', 'max_entries', 'flags', 'pin']));
  out.push('\nRelocations:\n' + table(relocations.map((r) => ({ ...r, offset: `0x${r.offset.toString(16)}` })), ['section', 'offset', 'type', 'symbol']));
  out.push('\nSections:\n' + table(sections, ['index', 'name', 'type', 'size', 'flags']));
  process.stdout.write(out.join(''));
}

export async function run(argv: string[]): Promise<number> {
  const c = splitCommand(argv, usage);
  if (typeof c === 'number') return c;
  const p = parse(c.rest, { json: { type: 'boolean' }, type: { type: 'string' } } as const, usage);
  if (!p) return 0;
  switch (c.cmd) {
    case 'show': {
      const [file] = p.positionals;
      if (!file) throw new UsageError(`missing OBJ\n\n${usage}`);
      show(file, programType(p.values.type), p.values.json ?? false);
      return 0;
    }
    default:
      throw new UsageError(`unknown elf command '${c.cmd}'\n\n${usage}`);
  }
}

/** `tsbpf prog load` and `prog loadall`. */
export async function runProgLoad(cmd: 'load' | 'loadall', argv: string[]): Promise<number> {
  const p = parse(argv, { type: { type: 'string' }, section: { type: 'string' }, pinmaps: { type: 'string' }, json: { type: 'boolean' } } as const, loadUsage);
  if (!p) return 0;
  const [file, target] = p.positionals;
  if (!file || !target) throw new UsageError(`missing ${file ? (cmd === 'load' ? 'PATH' : 'DIR') : 'OBJ'}\n\n${loadUsage}`);
  if (cmd === 'loadall' && p.values.section) throw new UsageError(`--section is for prog load (loadall loads every section)\n\n${loadUsage}`);
  const type = programType(p.values.type);
  const { coll } = readObject(file, type ? { type } : {});
  let programs: string[] | undefined;
  if (cmd === 'load') {
    const first = p.values.section ? coll.programs.find((x) => x.section === p.values.section) : coll.programs[0];
    if (!first) {
      throw new Error(p.values.section ? `no program in section '${p.values.section}' (sections with programs: ${[...new Set(coll.programs.map((x) => x.section))].join(', ')})` : `${file} has no programs`);
    }
    programs = [first.symbol];
  }
  // A pin path taken fails the pin after everything is loaded: refuse before making any map pin.
  const targets = cmd === 'load' ? [target] : coll.programs.map((x) => path.join(target, x.symbol));
  const taken = targets.filter((t) => existsSync(t));
  if (taken.length) throw new Error(`${taken.join(', ')} ${taken.length === 1 ? 'exists' : 'exist'}: pick another path, or remove ${taken.length === 1 ? 'it' : 'them'} (rm ${taken.join(' ')})`);
  mkdirSync(cmd === 'load' ? path.dirname(target) : target, { recursive: true, mode: 0o700 });
  const obj = loadObject(coll, { ...(programs ? { programs } : {}), ...(p.values.pinmaps ? { pinDir: p.values.pinmaps } : {}) });
  const pinned: string[] = [];
  try {
    for (const spec of obj.specs) {
      const at = cmd === 'load' ? target : path.join(target, spec.symbol);
      obj.programs[spec.name]!.pin(at);
      pinned.push(at);
    }
    const out = obj.specs.map((s) => ({ name: s.symbol, type: s.type, section: s.section, id: obj.programs[s.name]!.id, pinned: cmd === 'load' ? target : path.join(target, s.symbol) }));
    const maps = obj.origins.map((o) => ({ name: o.name, pinned: obj.objectPins.get(o.name) ?? o.path ?? (p.values.pinmaps ? path.join(p.values.pinmaps, o.name) : undefined), origin: o.origin }));
    process.stdout.write(p.values.json ? json({ programs: out, maps })
      : out.map((o) => `${o.name}: ${o.type} id ${o.id} pinned ${o.pinned}\n`).join('') + maps.filter((m) => m.pinned).map((m) => `map ${m.name}: ${m.origin === 'reused' ? 'reused' : 'pinned'} ${m.pinned}\n`).join(''));
    return 0;
  } catch (e) {
    // The program pins, and the map pins the load made: a failed command leaves none of them.
    for (const at of [...pinned, ...obj.pinsMade]) { try { unpin(at); } catch { /* the error above is the one to report */ } }
    throw e;
  } finally {
    obj.close();
  }
}

/**
 * `tc attach --obj OBJ [--sec S]`: the program of section S (default the first) loaded as tc
 * loads it (sections it cannot type are sched_cls), with the object's maps in their pins. The
 * returned Program owns a fresh fd of its own; the rest of the object's fds are closed (pinned
 * maps live on in their pins, the others through the program).
 */
export function objectProgram(file: string, section?: string): Program {
  const read = readObject(file, { defaultType: 'sched_cls' }).coll;
  // tc pins LIBBPF_PIN_BY_NAME maps in tc/globals too (iproute2 sets libbpf's pin root there)
  const coll = { ...read, maps: read.maps.map((m) => (m.pin?.kind === 'by_name' ? { ...m, pin: { kind: 'tc_global' as const, path: `tc/globals/${m.name}` } } : m)) };
  const spec = section ? coll.programs.find((x) => x.section === section) : coll.programs[0];
  if (!spec) {
    throw new Error(section ? `no program in section '${section}' of ${file} (sections with programs: ${[...new Set(coll.programs.map((x) => x.section))].join(', ')})` : `${file} has no programs`);
  }
  using obj = loadObject(coll, { programs: [spec.symbol] });
  return openProgramById(obj.programs[spec.name]!.id);
}
