/**
 * loadCollection: a CollectionSpec (maps + programs as plain data, from the DSL or an ELF
 * object) becomes live maps and loaded programs in one call, as cilium's
 * CollectionSpec.LoadAndAssign and aya's EbpfLoader do:
 *
 *   1. maps: each spec is created, or, with a pinDir, opened from <pinDir>/<name> when a pin is
 *      there and matches (type, key/value size, max entries, flags), else created and pinned;
 *   2. programs: each is loaded with its map references patched to those maps' fds (by name);
 *   3. anything that fails undoes steps 1-2 (programs closed, maps closed, pins this call made
 *      removed) before the error propagates, so a failed load leaves nothing behind.
 *
 * The result is Disposable: `using coll = loadCollection(spec)` closes every fd at scope end.
 * Pinned maps live on through their pins; attached programs through their attachments.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { MapRef } from '../asm/instruction.ts';
import { isMapSpec, type MapSpec } from '../asm/map-spec.ts';
import type { ProgramSpec } from '../asm/program.ts';
import { specEntries, type CollectionSpec } from '../asm/collection-spec.ts';
import { BpfError } from '../syscall/errors.ts';
import { createMap, isLiveMap, openPinnedMap, type BpfMap } from '../syscall/map.ts';
import { loadProgram, type LoadOptions, type Program } from '../syscall/program.ts';
import { unpin } from '../syscall/pin.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import { Errno } from '../errno.ts';

const { ENOENT } = Errno;

export interface CollectionOptions {
  /**
   * A bpffs directory: maps (except those whose spec says pinning 'none') are pinned here as
   * <pinDir>/<name>, so another process, or the next load, finds them. Created if missing.
   */
  readonly pinDir?: string;
  /**
   * With a pinDir: open a map already pinned there when it matches its spec (default true).
   * A pin that does not match is a PinMismatchError naming each difference. false: an existing
   * pin is an error instead of being shared.
   */
  readonly reuse?: boolean;
  /** Options for every program load (verifier log level, flags…). */
  readonly load?: Omit<LoadOptions, 'maps' | 'sys'>;
  readonly sys?: Sys;
}

/** What loadCollection did with one map. */
export interface MapOrigin {
  readonly name: string;
  /** The pin path, when the map is pinned. */
  readonly path: string | undefined;
  /** 'created' (new, pinned when path is set), 'reused' (opened from the pin), 'given' (a live map in the spec). */
  readonly origin: 'created' | 'reused' | 'given';
}

/** A collection-level mistake: two different specs under one name, an existing pin with reuse off. */
export class CollectionError extends Error {
  override name = 'CollectionError';
  /** The map or program the error is about. */
  readonly object: string;
  readonly path: string | undefined;

  constructor(object: string, message: string, path?: string) {
    super(message);
    this.object = object;
    this.path = path;
  }
}

export interface Collection<M extends string = string, P extends string = string> extends Disposable {
  /**
   * Live maps by name: the listed ones (under their record key and their own name) and any full
   * MapSpec a program references.
   */
  readonly maps: Readonly<Record<M, BpfMap<any, any>>> & Readonly<Record<string, BpfMap<any, any> | undefined>>;
  readonly programs: Readonly<Record<P, Program>>;
  /** Per map: created, reused from a pin, or given live. */
  readonly origins: readonly MapOrigin[];
  /** The map called name, or an error listing the names there are. */
  map<K = any, V = any>(name: string): BpfMap<K, V>;
  program(name: string): Program;
  /** Close every fd (pins and attachments keep their objects alive). */
  close(): void;
}

const same = (a: MapSpec, b: MapSpec): boolean =>
  a.type === b.type && a.keySize === b.keySize && a.valueSize === b.valueSize && a.maxEntries === b.maxEntries && (a.flags ?? 0) === (b.flags ?? 0);

/**
 * The maps to have, by their own names (the names programs reference them by, and pin under):
 * the listed specs, then every map a program references that is not listed (full MapSpecs are
 * created; live maps are used as they are). Two different specs under one name would make
 * "the map called x" ambiguous, so they are refused. `aliases` maps a record key that differs
 * from its spec's name ({ start: { name: 'map_mes_start', … } }) to that name.
 */
function mapPlan(spec: CollectionSpec): { plan: Map<string, MapRef>; aliases: Map<string, string> } {
  const plan = new Map<string, MapRef>();
  const aliases = new Map<string, string>();
  const add = (ref: MapRef, where: string): void => {
    const had = plan.get(ref.name);
    if (!had) { plan.set(ref.name, ref); return; }
    if (had === ref) return;
    if (isLiveMap(had) || isLiveMap(ref) || !isMapSpec(had) || !isMapSpec(ref) || !same(had, ref)) {
      throw new CollectionError(`map '${ref.name}'`, `two different maps are called '${ref.name}' (${where}): give them different names, or reference one spec object`);
    }
  };
  for (const [key, m] of specEntries<MapSpec>(spec.maps)) {
    add(m, 'in maps');
    if (key !== m.name) aliases.set(key, m.name);
  }
  for (const [pname, p] of specEntries<ProgramSpec>(spec.programs)) {
    for (const ref of p.maps) {
      if (!plan.has(ref.name) && !isLiveMap(ref) && !isMapSpec(ref)) {
        throw new CollectionError(`map '${ref.name}'`, `program '${pname}' references map '${ref.name}', which is neither in the collection's maps nor a full MapSpec ` +
          '(type, keySize, valueSize, maxEntries): add its spec to maps');
      }
      add(ref, `referenced by program '${pname}'`);
    }
  }
  return { plan, aliases };
}

/** Create or open the maps and load the programs of a collection; undo it all on failure. */
export function loadCollection<M extends string = string, P extends string = string>(
  spec: CollectionSpec<M, P>, opts: CollectionOptions = {},
): Collection<M, P> {
  const sys = opts.sys ?? defaultSys;
  const reuse = opts.reuse ?? true;
  const maps: Record<string, BpfMap<any, any>> = {};
  const programs: Record<string, Program> = {};
  const origins: MapOrigin[] = [];
  const owned: { close(): void }[] = [];
  const pinsMade: string[] = [];
  try {
    const { plan, aliases } = mapPlan(spec);
    if (opts.pinDir && plan.size) mkdirSync(opts.pinDir, { recursive: true, mode: 0o700 });
    for (const [name, ref] of plan) {
      if (isLiveMap(ref)) {
        maps[name] = ref as BpfMap<any, any>;
        origins.push({ name, path: undefined, origin: 'given' });
        continue;
      }
      const ms = ref as MapSpec;
      const pinPath = opts.pinDir && ms.pinning !== 'none' ? path.join(opts.pinDir, name) : undefined;
      if (!pinPath) {
        const m = createMap(ms, { sys });
        owned.push(m);
        maps[name] = m;
        origins.push({ name, path: undefined, origin: 'created' });
        continue;
      }
      const existing = openIfPinned(ms, pinPath, sys);
      if (existing) {
        owned.push(existing);
        if (!reuse) {
          throw new CollectionError(`map '${name}'`, `map '${name}' is already pinned at ${pinPath} and reuse is off: ` +
            `pass reuse: true to share it, or remove the pin (rm ${pinPath})`, pinPath);
        }
        maps[name] = existing;
        origins.push({ name, path: pinPath, origin: 'reused' });
        continue;
      }
      const m = createMap(ms, { sys });
      owned.push(m);
      m.pin(pinPath);
      pinsMade.push(pinPath);
      maps[name] = m;
      origins.push({ name, path: pinPath, origin: 'created' });
    }
    // Programs resolve references by the map's own name, before the aliases are added.
    const byName = { ...maps };
    for (const [key, name] of aliases) maps[key] = maps[name]!;
    for (const [name, ps] of specEntries<ProgramSpec>(spec.programs)) {
      const p = loadProgram(ps, { ...opts.load, maps: byName, sys });
      owned.push(p);
      programs[name] = p;
    }
  } catch (e) {
    for (const o of owned.reverse()) { try { o.close(); } catch { /* the load error is the one to report */ } }
    for (const p of pinsMade) { try { unpin(p); } catch { /* idem */ } }
    throw e;
  }
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const o of [...owned].reverse()) o.close();
  };
  return {
    maps: maps as Collection<M, P>['maps'],
    programs: programs as Record<P, Program>,
    origins,
    map<K, V>(name: string): BpfMap<K, V> {
      const m = maps[name];
      if (!m) throw new CollectionError(`map '${name}'`, `the collection has no map '${name}' (it has: ${Object.keys(maps).join(', ') || 'none'})`);
      return m as BpfMap<K, V>;
    },
    program(name: string): Program {
      const p = programs[name];
      if (!p) throw new CollectionError(`program '${name}'`, `the collection has no program '${name}' (it has: ${Object.keys(programs).join(', ') || 'none'})`);
      return p;
    },
    close,
    [Symbol.dispose]: close,
  };
}

/** The map pinned at path, checked against its spec; undefined when nothing is pinned there. */
function openIfPinned(spec: MapSpec, pinPath: string, sys: Sys): BpfMap<any, any> | undefined {
  try {
    return openPinnedMap(pinPath, { expect: spec, sys });
  } catch (e) {
    if (e instanceof BpfError && e.errno === ENOENT) return undefined;
    throw e;
  }
}
