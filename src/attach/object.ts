/**
 * loadObject(): an object file's collection (src/elf's readElf) loaded through loadCollection,
 * plus the three things an object asks for that a DSL collection does not:
 *   - global data: .data/.rodata/.bss maps are created with their initial contents, and
 *     .rodata is frozen (BPF_MAP_FREEZE) before any program loads, so the verifier can trust
 *     its values;
 *   - pins the object names: PIN_GLOBAL_NS maps at <bpffs>/tc/globals/<name> (where tc puts
 *     them and the tutorial's reader looks), PIN_OBJECT_NS at <bpffs>/tc/<sha1>/<name>,
 *     LIBBPF_PIN_BY_NAME at <bpffs>/<name>; an existing compatible pin is shared;
 *   - everything else goes to loadCollection, which pins into `pinDir` (bpftool's --pinmaps)
 *     and rolls back on failure; this function removes the maps and pins it made itself too.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ElfCollection, ElfMapSpec, ElfProgramSpec } from '../elf/spec.ts';
import { attr, MAP_ELEM } from '../syscall/attr.ts';
import { ensureBpffs } from '../syscall/bpffs.ts';
import { bytes, u32 } from '../codec.ts';
import { Cmd } from '../syscall/constants.ts';
import { VerifierError, check } from '../syscall/errors.ts';
import { createMap, createOrOpenPinned, type BpfMap } from '../syscall/map.ts';
import { unpin } from '../syscall/pin.ts';
import type { LoadOptions } from '../syscall/program.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import { loadCollection, type Collection } from './collection.ts';

export interface ObjectOptions {
  /** Only these programs (by name or C symbol), and the maps they use; default all. */
  readonly programs?: readonly string[];
  /** Pin every map the object does not pin itself here (bpftool's --pinmaps). */
  readonly pinDir?: string;
  /** The bpffs mount the object's own pins go under (default /sys/fs/bpf, mounted if needed). */
  readonly bpffs?: string;
  readonly load?: Omit<LoadOptions, 'maps' | 'sys'>;
  readonly sys?: Sys;
}

export interface LoadedObject extends Collection {
  /** The programs that were loaded, as read from the object. */
  readonly specs: readonly ElfProgramSpec[];
  /** Where each map the object pins itself lives. */
  readonly objectPins: ReadonlyMap<string, string>;
  /**
   * The map pins this load made (not those it found and shared): a caller whose next step
   * fails removes them, so that a failed command leaves no half-state behind.
   */
  readonly pinsMade: readonly string[];
}

/** BPF_MAP_FREEZE: from now on only programs may write (and for .rodata, not even they). */
function freeze(map: BpfMap<unknown, unknown>, sys: Sys): void {
  check(Cmd.MAP_FREEZE, sys.bpf(Cmd.MAP_FREEZE, attr(MAP_ELEM, { map_fd: map.fd })), { object: `map '${map.name}'` });
}

export function loadObject(coll: ElfCollection, opts: ObjectOptions = {}): LoadedObject {
  const sys = opts.sys ?? defaultSys;
  const specs = opts.programs
    ? opts.programs.map((n) => {
      const p = coll.programs.find((x) => x.name === n || x.symbol === n);
      if (!p) throw new Error(`the object has no program '${n}' (it has: ${coll.programs.map((x) => x.symbol).join(', ')})`);
      return p;
    })
    : coll.programs;
  for (const p of specs) {
    if (p.needsAttachBtf) {
      throw new Error(`program '${p.symbol}' (section '${p.section}') needs a BTF id for its attach target, which tsbpf does not resolve yet: load it with bpftool`);
    }
  }
  const used = new Set(specs.flatMap((p) => p.maps.map((m) => m.name)));
  const maps = coll.maps.filter((m) => used.has(m.name) || !opts.programs);
  const live: BpfMap<any, any>[] = [];
  const pinsMade: string[] = [];
  const objectPins = new Map<string, string>();
  try {
    let root: string | undefined;
    for (const m of maps) {
      if (m.pin) {
        root ??= ensureBpffs(opts.bpffs ? { path: opts.bpffs, sys } : { sys });
        const at = path.join(root, m.pin.path);
        mkdirSync(path.dirname(at), { recursive: true, mode: 0o700 });
        const had = existsSync(at);
        const map = createOrOpenPinned(m, at, { sys });
        live.push(map);
        if (!had) pinsMade.push(at);
        objectPins.set(m.name, at);
      } else if (m.origin === 'data') {
        const map = dataMap(m, sys);
        live.push(map);
        if (opts.pinDir) {
          // bpffs refuses names with dots; libbpf pins 'obj.data' as 'obj_data'
          const at = path.join(opts.pinDir, m.name.replace(/\./g, '_'));
          mkdirSync(opts.pinDir, { recursive: true, mode: 0o700 });
          map.pin(at);
          pinsMade.push(at);
          objectPins.set(m.name, at);
        }
      }
    }
    // Programs reference the live maps directly, so loadCollection uses them as given.
    const byName = new Map(live.map((m) => [m.name, m]));
    const programs = specs.map((p) => withLiveMaps(p, byName));
    const coll2 = loadCollection({ maps: [...live, ...maps.filter((m) => !byName.has(m.name))], programs }, {
      ...(opts.pinDir ? { pinDir: opts.pinDir } : {}), ...(opts.load ? { load: opts.load } : {}), sys,
    });
    // The maps loadCollection was given live are ours to close with it.
    const close = (): void => { coll2.close(); for (const m of live) m.close(); };
    const made = [...pinsMade, ...coll2.origins.flatMap((o) => (o.origin === 'created' && o.path ? [o.path] : []))];
    return { ...coll2, specs, objectPins, pinsMade: made, close, [Symbol.dispose]: close };
  } catch (e) {
    for (const m of live) { try { m.close(); } catch { /* the load error is the one to report */ } }
    for (const p of pinsMade) { try { unpin(p); } catch { /* idem */ } }
    throw explainPoison(e, coll);
  }
}

/**
 * A verifier refusal of a CO-RE-poisoned instruction ("invalid func unknown#195896080", libbpf's
 * marker) becomes an error that says which relocation the running kernel could not satisfy.
 */
function explainPoison(e: unknown, coll: ElfCollection): unknown {
  if (!(e instanceof VerifierError) || !coll.corePoisons?.length || !/unknown#195896080/.test(e.log)) return e;
  const list = coll.corePoisons.map((p) => `  ${p.section} instruction ${p.insn}: ${p.reason}`).join('\n');
  const err = new Error(`${e.message.split('\n')[0]}\nthe verifier reached an instruction CO-RE poisoned, because this kernel lacks what the object's types ask for:\n${list}`);
  Object.assign(err, { cause: e, log: e.log, details: e.details });
  return err;
}


/** A global-data map: created, filled with the section's bytes, frozen when it is .rodata. */
function dataMap(m: ElfMapSpec, sys: Sys): BpfMap<any, any> {
  const map = createMap(m, { sys, key: u32, value: bytes(m.valueSize) });
  try {
    if (m.contents && m.contents.some((b) => b !== 0)) map.set(0, m.contents);
    if (m.freeze) freeze(map, sys);
    return map;
  } catch (e) {
    map.close();
    throw e;
  }
}

/** A program spec whose references to the named maps point at live maps instead of specs. */
function withLiveMaps(p: ElfProgramSpec, live: ReadonlyMap<string, BpfMap<any, any>>): ElfProgramSpec {
  if (!p.maps.some((m) => live.has(m.name))) return p;
  const insns = p.insns.map((i) => (i.map && live.has(i.map.name) ? { ...i, map: live.get(i.map.name)! } : i));
  return { ...p, insns, maps: p.maps.map((m) => live.get(m.name) ?? m) };
}
