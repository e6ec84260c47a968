/**
 * BpfMap<K, V>: a typed map over an fd. Keys and values go through codecs (codec.ts); the
 * element calls reuse one attr and one key/value buffer per map, with their addresses computed
 * once, so a lookup from TypeScript costs the syscall plus the FFI crossing and nothing else.
 *
 * A MapSpec is plain data that also satisfies the asm MapRef interface (it has `name`), so a DSL
 * program can reference a map before it exists; loadProgram() resolves it to a live map.
 */
import { Errno, errnoName } from '../errno.ts';
import type { MapRef } from '../asm/instruction.ts';
import type { MapSpec } from '../asm/map-spec.ts';
import { MAP_ELEM, alloc, attr, dv } from './attr.ts';
import {
  BPF_ANY, Cmd, MapFlags, mapTypeId, type MapType,
} from './constants.ts';
import { BpfError, PinMismatchError } from './errors.ts';
import { defaultCodec, type Codec, type Scalar } from '../codec.ts';
import { mapCreate, mapDeleteElem, mapGetNextKey, mapLookupBatch, objPin } from './bpf.ts';
import { mapFdById, mapInfo, type MapInfo } from './info.ts';
import { possibleCpus } from './cpus.ts';
import { loadBtf, type BtfHandle } from './btf.ts';
import { ctypesToBtf, defaultCType } from '../btf/ctype.ts';
import { encodeBtf } from '../btf/encode.ts';
import { defaultSys, type Sys } from './sys.ts';
import { openPinnedAs } from './pin.ts';

const { ENOENT, ENOSPC, EPERM } = Errno;

export type { MapSpec } from '../asm/map-spec.ts';

export interface MapOptions<K, V> {
  readonly key?: Codec<K>;
  readonly value?: Codec<V>;
  readonly sys?: Sys;
}

export interface OpenPinnedOptions<K, V> extends MapOptions<K, V> {
  /** What the pin must be: a mismatch in type, sizes or max entries throws PinMismatchError. */
  readonly expect?: Pick<MapSpec, 'type' | 'keySize' | 'valueSize' | 'maxEntries'> & Partial<MapSpec>;
  /** Open the fd read-only (BPF_F_RDONLY) or write-only (BPF_F_WRONLY). */
  readonly readonly?: boolean;
  readonly writeonly?: boolean;
}

const PERCPU: ReadonlySet<string> = new Set(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage']);

const round8 = (n: number): number => (n + 7) & ~7;

/** An mmap()ed view of a BPF_F_MMAPABLE array: element i is at i * round_up(value_size, 8). */
export interface MapView<V> extends Disposable {
  readonly bytes: Uint8Array;
  readonly length: number;
  get(index: number): V;
  set(index: number, value: V): void;
  close(): void;
}

export class BpfMap<K = Scalar, V = Scalar> implements MapRef, Disposable {
  readonly fd: number;
  readonly name: string;
  readonly spec: MapSpec;
  readonly key: Codec<K>;
  readonly value: Codec<V>;
  /** Opened with BPF_F_RDONLY: updates fail with EPERM, mmap is read-only. */
  readonly readonly: boolean;
  readonly sys: Sys;
  private closed = false;
  private readonly views = new Set<{ close(): void }>();
  // The element hot path: one attr per command, the key/value buffers it points at.
  private readonly kbuf: Uint8Array;
  private readonly kdv: DataView;
  private readonly vbuf: Uint8Array;
  private readonly vdv: DataView;
  private readonly lookupAttr: Uint8Array;
  private readonly updateAttr: Uint8Array;
  private readonly updateDv: DataView;
  /** Bytes of one value as the element calls copy it: round_up(value_size, 8) per CPU for per-CPU maps. */
  private readonly valueStride: number;
  private readonly ncpus: number;
  private readonly isPerCpu: boolean;
  private batchCache: { chunk: number; keys: Uint8Array; values: Uint8Array; inTok: Uint8Array; outTok: Uint8Array } | undefined;

  /** Wrap an fd this object now owns (closed by close()). Prefer createMap / openPinnedMap / openMapById. */
  constructor(fd: number, spec: MapSpec, opts: MapOptions<K, V> & { readonly?: boolean } = {}) {
    this.fd = fd;
    this.spec = spec;
    this.name = spec.name;
    this.sys = opts.sys ?? defaultSys;
    this.readonly = opts.readonly ?? false;
    this.key = opts.key ?? (defaultCodec(spec.keySize) as unknown as Codec<K>);
    this.value = opts.value ?? (defaultCodec(spec.valueSize) as unknown as Codec<V>);
    if (this.key.size !== spec.keySize) throw new Error(`map '${spec.name}': key codec is ${this.key.size} bytes, the map's keys are ${spec.keySize}`);
    if (this.value.size !== spec.valueSize) throw new Error(`map '${spec.name}': value codec is ${this.value.size} bytes, the map's values are ${spec.valueSize}`);
    const percpu = (this.isPerCpu = PERCPU.has(spec.type));
    this.ncpus = percpu ? possibleCpus() : 1;
    this.valueStride = percpu ? round8(spec.valueSize) : spec.valueSize;
    this.kbuf = alloc(MAP_ELEM, Math.max(spec.keySize, 1));
    this.kdv = dv(this.kbuf);
    this.vbuf = alloc(MAP_ELEM, Math.max(this.valueStride * this.ncpus, 1));
    this.vdv = dv(this.vbuf);
    const k = this.sys.addressOf(this.kbuf), v = this.sys.addressOf(this.vbuf);
    this.lookupAttr = attr(MAP_ELEM, { map_fd: fd, key: k, value: v });
    this.updateAttr = attr(MAP_ELEM, { map_fd: fd, key: k, value: v });
    this.updateDv = dv(this.updateAttr);
  }

  get type(): MapType { return this.spec.type; }
  get keySize(): number { return this.spec.keySize; }
  get valueSize(): number { return this.spec.valueSize; }
  get maxEntries(): number { return this.spec.maxEntries; }
  get flags(): number { return this.spec.flags ?? 0; }
  get perCpu(): boolean { return this.isPerCpu; }

  private live(): void {
    if (this.closed) throw new Error(`map '${this.name}' is closed`);
  }

  private perCpuGuard(op: string): void {
    if (this.isPerCpu) throw new Error(`map '${this.name}' is per-CPU (${this.spec.type}): use ${op}PerCpu()`);
  }

  /** The value at key, or undefined when the key is absent. */
  get(key: K): V | undefined {
    if (this.isPerCpu) this.perCpuGuard('get');
    this.key.encode(key, this.kdv, 0);
    const r = this.sys.bpf(Cmd.MAP_LOOKUP_ELEM, this.lookupAttr);
    if (r < 0) {
      if (r === -ENOENT) return undefined;
      this.live();
      throw new BpfError(Cmd.MAP_LOOKUP_ELEM, -r, { object: `map '${this.name}'` });
    }
    return this.value.decode(this.vdv, 0);
  }

  /** One value per possible CPU. */
  getPerCpu(key: K): V[] | undefined {
    this.key.encode(key, this.kdv, 0);
    const r = this.sys.bpf(Cmd.MAP_LOOKUP_ELEM, this.lookupAttr);
    if (r === -ENOENT) return undefined;
    if (r < 0) throw new BpfError(Cmd.MAP_LOOKUP_ELEM, -r, { object: `map '${this.name}'` });
    const out: V[] = [];
    for (let c = 0; c < this.ncpus; c++) out.push(this.value.decode(this.vdv, c * this.valueStride));
    return out;
  }

  /** Insert or replace; flags BPF_ANY (default), BPF_NOEXIST (only insert), BPF_EXIST (only replace). */
  set(key: K, value: V, flags = BPF_ANY): void {
    this.perCpuGuard('set');
    this.key.encode(key, this.kdv, 0);
    this.value.encode(value, this.vdv, 0);
    this.update(flags);
  }

  /** Per-CPU maps: one value per possible CPU (a single value is copied to every CPU). */
  setPerCpu(key: K, values: V | readonly V[], flags = BPF_ANY): void {
    this.key.encode(key, this.kdv, 0);
    for (let c = 0; c < this.ncpus; c++) {
      const v = Array.isArray(values) ? (values as readonly V[])[c] : (values as V);
      if (v === undefined) throw new Error(`map '${this.name}': ${this.ncpus} CPUs need ${this.ncpus} values`);
      this.value.encode(v, this.vdv, c * this.valueStride);
    }
    this.update(flags);
  }

  private update(flags: number): void {
    this.updateDv.setUint32(MAP_ELEM.fields.flags.off, flags, true);
    const r = this.sys.bpf(Cmd.MAP_UPDATE_ELEM, this.updateAttr);
    if (r < 0) {
      this.live();
      throw new BpfError(Cmd.MAP_UPDATE_ELEM, -r, { object: `map '${this.name}'` });
    }
  }

  /** Remove key; false when it was absent. Arrays cannot delete (EINVAL). */
  delete(key: K): boolean {
    this.live();
    const k = new Uint8Array(new ArrayBuffer(this.spec.keySize));
    this.key.encode(key, dv(k), 0);
    return mapDeleteElem(this.sys, this.fd, k);
  }

  /** Keys in kernel order (MAP_GET_NEXT_KEY). A hash map changing meanwhile may skip or repeat keys. */
  *keys(): Generator<K> {
    this.live();
    let cur: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(new ArrayBuffer(this.spec.keySize));
      if (!mapGetNextKey(this.sys, this.fd, cur, next)) return;
      yield this.key.decode(dv(next), 0);
      cur = next;
    }
  }

  /** [key, value] pairs, one lookup per key; see batchRead() for the fast way. */
  *entries(): Generator<[K, V]> {
    for (const k of this.keys()) {
      const v = this.get(k);
      if (v !== undefined) yield [k, v];
    }
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }

  /**
   * Every entry with MAP_LOOKUP_BATCH: a few syscalls instead of two per entry. `chunk` is the
   * entries per call (default: all of an array, 1024 otherwise).
   */
  batchRead(opts: { chunk?: number } = {}): [K, V][] {
    this.live();
    this.perCpuGuard('get');
    const out: [K, V][] = [];
    let chunk = opts.chunk ?? Math.min(this.spec.maxEntries, this.spec.type.includes('array') ? this.spec.maxEntries : 1024);
    let bufs = this.batchBuffers(chunk);
    let first = true;
    for (;;) {
      let res: { count: number; done: boolean };
      try {
        res = mapLookupBatch(this.sys, this.fd, {
          inBatch: first ? null : bufs.inTok, outBatch: bufs.outTok, keys: bufs.keys, values: bufs.values, count: chunk,
        });
      } catch (e) {
        // A hash bucket with more entries than `chunk`: the kernel did not advance, retry bigger.
        if (e instanceof BpfError && e.errno === ENOSPC && chunk < 1 << 20) {
          const tok = first ? null : bufs.inTok.slice();
          chunk *= 2;
          bufs = this.batchBuffers(chunk);
          if (tok) bufs.inTok.set(tok);
          continue;
        }
        throw e;
      }
      const kd = dv(bufs.keys), vd = dv(bufs.values);
      for (let i = 0; i < res.count; i++) {
        out.push([this.key.decode(kd, i * this.spec.keySize), this.value.decode(vd, i * this.spec.valueSize)]);
      }
      if (res.done) return out;
      bufs.inTok.set(bufs.outTok);
      first = false;
    }
  }

  /** Buffers for batch calls, reused across calls of the same chunk size. */
  private batchBuffers(chunk: number): NonNullable<BpfMap['batchCache']> {
    if (this.batchCache?.chunk === chunk) return this.batchCache;
    // The token is a key for arrays and a u32 bucket index for hash maps: room for either.
    const tok = round8(Math.max(this.spec.keySize, 4));
    this.batchCache = {
      chunk,
      keys: new Uint8Array(new ArrayBuffer(chunk * this.spec.keySize)),
      values: new Uint8Array(new ArrayBuffer(chunk * this.spec.valueSize)),
      inTok: new Uint8Array(new ArrayBuffer(tok)),
      outTok: new Uint8Array(new ArrayBuffer(tok)),
    };
    return this.batchCache;
  }

  /**
   * Map a BPF_F_MMAPABLE array into this process: reads and writes are plain memory accesses
   * that programs see immediately, no syscalls. Unmapped by view.close() or map.close().
   * `readonly` maps it PROT_READ. The kernel refuses to mmap an fd opened with BPF_F_RDONLY
   * (a shared mapping needs a writable file), so a reader opens the map normally and asks for
   * a read-only mapping here.
   */
  mmap(opts: { readonly?: boolean } = {}): MapView<V> {
    this.live();
    if (this.spec.type !== 'array' || !(this.flags & MapFlags.MMAPABLE)) {
      throw new Error(`map '${this.name}' cannot be mmap()ed: only arrays created with BPF_F_MMAPABLE can`);
    }
    const stride = round8(this.spec.valueSize);
    const len = Math.max(stride * this.spec.maxEntries, 1);
    if (!this.sys.mmap) throw new Error(`mmap of map '${this.name}': this Sys has no mmap (a test fake?)`);
    const mapped = this.sys.mmap(this.fd, len, !(this.readonly || opts.readonly));
    if (typeof mapped === 'number') {
      throw new Error(`mmap of map '${this.name}' failed: ${errnoName(-mapped)}` +
        (this.readonly ? ' (an fd opened with BPF_F_RDONLY cannot be mmap()ed: open the map without readonly and call mmap({ readonly: true }))'
          : ' (a frozen map can only be mapped read-only: mmap({ readonly: true }))'));
    }
    const bytes = mapped.bytes;
    const view = new DataView(bytes.buffer);
    const value = this.value, max = this.spec.maxEntries, name = this.name;
    let open = true;
    const check = (i: number): void => {
      if (!open) throw new Error(`the mmap view of map '${name}' is closed`);
      if (!(i >= 0 && i < max)) throw new RangeError(`index ${i} is outside map '${name}' (max_entries ${max})`);
    };
    const self = this;
    const mv: MapView<V> = {
      bytes, length: max,
      get(i) { check(i); return value.decode(view, i * stride); },
      set(i, v) { check(i); value.encode(v, view, i * stride); },
      close() {
        if (!open) return;
        open = false;
        mapped.unmap();
        self.views.delete(mv);
      },
      [Symbol.dispose]() { mv.close(); },
    };
    this.views.add(mv);
    return mv;
  }

  /** Pin at a bpffs path (e.g. tcPinPath(name)): the map outlives this process. */
  pin(path: string): void {
    this.live();
    objPin(this.sys, this.fd, path);
  }

  /** What the kernel reports now (id, flags, sizes). */
  info(): MapInfo {
    this.live();
    return mapInfo(this.fd, this.sys);
  }

  get id(): number {
    return this.info().id;
  }

  close(): void {
    if (this.closed) return;
    for (const v of [...this.views]) v.close();
    this.closed = true;
    this.sys.close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Check a spec before the kernel sees it, with messages better than EINVAL. */
export function validateMapSpec(spec: MapSpec): void {
  if (!/^[A-Za-z0-9_.]{0,15}$/.test(spec.name)) {
    throw new Error(`map name ${JSON.stringify(spec.name)} must be at most 15 characters of [A-Za-z0-9_.]`);
  }
  mapTypeId(spec.type);
  for (const k of ['keySize', 'valueSize', 'maxEntries'] as const) {
    if (!Number.isInteger(spec[k]) || spec[k] < 0) throw new Error(`map '${spec.name}': ${k} must be a non-negative integer`);
  }
}

/** The BTF for a spec's key and value types, or null when it has none. */
export function mapSpecBtf(spec: MapSpec): { btf: Uint8Array; keyTypeId: number; valueTypeId: number } | null {
  if (!spec.keyType && !spec.valueType) return null;
  const key = spec.keyType ?? defaultCType(spec.keySize), value = spec.valueType ?? defaultCType(spec.valueSize);
  if (key.size !== spec.keySize) throw new Error(`map '${spec.name}': keyType is ${key.size} bytes, keySize is ${spec.keySize}`);
  if (value.size !== spec.valueSize) throw new Error(`map '${spec.name}': valueType is ${value.size} bytes, valueSize is ${spec.valueSize}`);
  const { types, ids } = ctypesToBtf([key, value]);
  return { btf: encodeBtf(types), keyTypeId: ids[0]!, valueTypeId: ids[1]! };
}

/** BPF_MAP_CREATE from a spec (with BTF when it has key or value types). */
export function createMap<K = Scalar, V = Scalar>(spec: MapSpec, opts: MapOptions<K, V> = {}): BpfMap<K, V> {
  validateMapSpec(spec);
  const sys = opts.sys ?? defaultSys;
  const params = {
    type: mapTypeId(spec.type), keySize: spec.keySize, valueSize: spec.valueSize,
    maxEntries: spec.maxEntries, flags: spec.flags ?? 0, name: spec.name,
  };
  const typed = mapSpecBtf(spec);
  let fd: number;
  if (typed) {
    let handle: BtfHandle | undefined;
    try {
      handle = loadBtf(typed.btf, { sys });
      fd = mapCreate(sys, { ...params, btfFd: handle.fd, btfKeyTypeId: typed.keyTypeId, btfValueTypeId: typed.valueTypeId });
    } catch (e) {
      if (!(e instanceof BpfError) || e.errno === EPERM) throw e;
      // The kernel refused the types, not the map: create it untyped, and say so.
      process.stderr.write(`tsbpf: warning: map '${spec.name}' is created WITHOUT BTF (bpftool will print raw bytes): ${e.message.split('\n')[0]}\n`);
      fd = mapCreate(sys, params);
    } finally {
      // The map keeps its own reference to the BTF.
      handle?.close();
    }
  } else {
    fd = mapCreate(sys, params);
  }
  try {
    return new BpfMap<K, V>(fd, spec, opts);
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** A spec from what the kernel reports. */
export function specFromInfo(info: MapInfo): MapSpec {
  return {
    name: info.name, type: info.type as MapType, keySize: info.keySize, valueSize: info.valueSize,
    maxEntries: info.maxEntries, flags: info.flags,
  };
}

/** Adopt an fd: the returned map owns it. */
export function mapFromFd<K = Scalar, V = Scalar>(fd: number, opts: MapOptions<K, V> & { readonly?: boolean } = {}): BpfMap<K, V> {
  const sys = opts.sys ?? defaultSys;
  try {
    return new BpfMap<K, V>(fd, specFromInfo(mapInfo(fd, sys)), opts);
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** The differences between what a pinned map is and what the caller expects. */
export function mapDifferences(actual: MapSpec, expect: OpenPinnedOptions<unknown, unknown>['expect'] & object): PinMismatchError['differences'] {
  const out: { field: string; expected: unknown; actual: unknown }[] = [];
  const cmp = (field: string, e: unknown, a: unknown): void => { if (e !== undefined && e !== a) out.push({ field, expected: e, actual: a }); };
  cmp('type', expect.type, actual.type);
  cmp('key size', expect.keySize, actual.keySize);
  cmp('value size', expect.valueSize, actual.valueSize);
  cmp('max entries', expect.maxEntries, actual.maxEntries);
  // Only the creation flags the caller set and the kernel keeps (RDONLY/WRONLY are per-fd).
  if (expect.flags !== undefined) cmp('flags', `0x${expect.flags.toString(16)}`, `0x${(actual.flags ?? 0).toString(16)}`);
  return out;
}

/**
 * BPF_OBJ_GET a pinned map, checking it is what `expect` says: a stale pin with another layout
 * is a PinMismatchError naming each difference, never a silent reuse.
 */
export function openPinnedMap<K = Scalar, V = Scalar>(path: string, opts: OpenPinnedOptions<K, V> = {}): BpfMap<K, V> {
  const sys = opts.sys ?? defaultSys;
  const fd = openPinnedAs(path, 'map', { sys, readonly: opts.readonly, writeonly: opts.writeonly });
  try {
    const info = mapInfo(fd, sys);
    const actual = specFromInfo(info);
    if (opts.expect) {
      const diff = mapDifferences(actual, opts.expect);
      if (diff.length) throw new PinMismatchError(path, `map '${info.name}'`, diff);
    }
    return new BpfMap<K, V>(fd, actual, { ...opts, readonly: opts.readonly ?? false });
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** A map by its kernel id (BPF_MAP_GET_FD_BY_ID). */
export function openMapById<K = Scalar, V = Scalar>(id: number, opts: MapOptions<K, V> & { readonly?: boolean } = {}): BpfMap<K, V> {
  const sys = opts.sys ?? defaultSys;
  const fd = mapFdById(id, opts.readonly ? MapFlags.RDONLY : 0, sys);
  return mapFromFd<K, V>(fd, opts);
}

/**
 * Open the map pinned at path if there is one (checked against spec), else create it and pin
 * it there: how tc's PIN_GLOBAL_NS maps are shared between loads.
 */
export function createOrOpenPinned<K = Scalar, V = Scalar>(spec: MapSpec, path: string, opts: MapOptions<K, V> = {}): BpfMap<K, V> {
  try {
    return openPinnedMap<K, V>(path, { ...opts, expect: spec });
  } catch (e) {
    if (!(e instanceof BpfError && e.errno === ENOENT)) throw e;
  }
  const m = createMap<K, V>(spec, opts);
  try {
    m.pin(path);
  } catch (e) {
    m.close();
    throw e;
  }
  return m;
}

/** Whether an object is a live map (has an fd), as opposed to a spec or a bare MapRef. */
export function isLiveMap(x: unknown): x is BpfMap<unknown, unknown> {
  return x instanceof BpfMap || (typeof x === 'object' && x !== null && typeof (x as { fd?: unknown }).fd === 'number');
}
