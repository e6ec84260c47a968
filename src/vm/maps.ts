/**
 * In-memory maps with the kernel's semantics, behind the same face as src/syscall/map.ts's
 * BpfMap (get/set/delete/keys/entries, getPerCpu/setPerCpu, codecs), so a test reads a map the
 * same way whether the program ran in the VM or in the kernel. Values live in VM regions: a
 * pointer map_lookup_elem returns is checked on every access like any other.
 *
 *   array, percpu_array        preallocated, values round_up(value_size, 8) apart; no delete
 *   hash, percpu_hash          one region per element; full at max_entries (E2BIG)
 *   lru_hash, lru_percpu_hash  full: the least recently used element makes room
 *   ringbuf                    reserve/submit/discard/output; drain() takes the records
 *   prog_array                 index -> program, for bpf_tail_call
 */
import { defaultCodec, type Codec, type Scalar } from '../codec.ts';
import type { Memory, Region } from './memory.ts';

export const BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2;
const BPF_F_RDONLY_PROG = 1 << 7;
const ENOENT = 2, E2BIG = 7, EEXIST = 17, EINVAL = 22, EAGAIN = 11;

export type VmMapType = 'array' | 'percpu_array' | 'hash' | 'percpu_hash' | 'lru_hash' | 'lru_percpu_hash' | 'ringbuf' | 'prog_array';
export const VM_MAP_TYPES: readonly VmMapType[] = ['array', 'percpu_array', 'hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash', 'ringbuf', 'prog_array'];

/** What a map is: the fields of src/syscall's MapSpec (a MapSpec is one). */
export interface VmMapSpec {
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
}

/** A map operation the kernel would refuse with errno (a BpfError there). */
export class VmMapError extends Error {
  override name = 'VmMapError';
  constructor(readonly map: string, readonly errno: number, what: string) {
    super(`map '${map}': ${what}`);
  }
}

// not (n + 7) & ~7: that wraps sizes of 2 GiB and more to int32
const round8 = (n: number): number => Math.ceil(n / 8) * 8;
/** The most bytes one map's values may take in the VM (an array's all, a hash's one value). */
export const VM_MAP_BYTES_MAX = 2 ** 30;
/** dst[at..] = src[0..n): a loop, which beats TypedArray.set for the few bytes of a map value. */
function copy(dst: Uint8Array, at: number, src: Uint8Array, n: number): void {
  if (n > 64) { dst.set(src.subarray(0, n), at); return; }
  for (let i = 0; i < n; i++) dst[at + i] = src[i]!;
}
const u32le = (k: Uint8Array): number => (k[0]! | (k[1]! << 8) | (k[2]! << 16) | (k[3]! << 24)) >>> 0;
const keyString = (k: Uint8Array): string => String.fromCharCode.apply(null, k as unknown as number[]);

interface Elem {
  readonly key: Uint8Array;
  /** One region per CPU (one for a plain hash). */
  readonly values: Region[];
}

/** A program a prog_array slot can hold (a VmProgram). */
export interface TailTarget {
  readonly name: string;
}

export class VmMap<K = Scalar, V = Scalar> implements Disposable {
  readonly name: string;
  readonly spec: VmMapSpec;
  readonly type: VmMapType;
  readonly key: Codec<K>;
  readonly value: Codec<V>;
  readonly ncpus: number;
  /** Address of the map itself: what LD_IMM64 BPF_PSEUDO_MAP_FD puts in a register. */
  readonly address: number;
  /** A pseudo file descriptor, for raw programs that name maps by fd. */
  readonly fd: number;
  private readonly mem: Memory;
  private readonly stride: number;
  private readonly arrays: Region[] = [];
  private readonly elems = new Map<string, Elem>();
  private readonly progs = new Map<number, TailTarget>();
  private readonly records: Uint8Array[] = [];
  private readonly pending = new Map<number, Region>();
  private ringUsed = 0;
  private readonly kbuf: Uint8Array;
  private readonly kdv: DataView;

  constructor(mem: Memory, spec: VmMapSpec, fd: number, opts: { key?: Codec<K>; value?: Codec<V>; ncpus?: number } = {}) {
    if (!(VM_MAP_TYPES as readonly string[]).includes(spec.type)) {
      throw new VmMapError(spec.name, EINVAL, `type '${spec.type}' is not one the VM has (${VM_MAP_TYPES.join(', ')})`);
    }
    for (const f of ['keySize', 'valueSize', 'maxEntries'] as const) {
      if (!Number.isInteger(spec[f]) || spec[f] < 0 || spec[f] > 0xffffffff) throw new VmMapError(spec.name, EINVAL, `${f} must be an integer from 0 to 4294967295 (a u32), not ${spec[f]}`);
    }
    const ncpus = spec.type.includes('percpu') ? opts.ncpus ?? 1 : 1;
    const isArray = spec.type === 'array' || spec.type === 'percpu_array';
    const bytes = ncpus * (isArray ? round8(spec.valueSize) * spec.maxEntries : spec.valueSize);
    if (bytes > VM_MAP_BYTES_MAX) {
      throw new VmMapError(spec.name, E2BIG, `${isArray ? `${spec.maxEntries} values of ${spec.valueSize} bytes` : `a value of ${spec.valueSize} bytes`}${ncpus > 1 ? ` on ${ncpus} CPUs` : ''} is more than the ${VM_MAP_BYTES_MAX / 2 ** 20} MiB the VM gives one map: lower max_entries for the VM${isArray ? '' : ' (or value_size)'}`);
    }
    this.mem = mem;
    this.spec = spec;
    this.name = spec.name;
    this.type = spec.type as VmMapType;
    this.fd = fd;
    this.ncpus = ncpus;
    this.key = opts.key ?? (defaultCodec(spec.keySize) as unknown as Codec<K>);
    this.value = opts.value ?? (defaultCodec(spec.valueSize) as unknown as Codec<V>);
    this.kbuf = new Uint8Array(Math.max(spec.keySize, 1));
    this.kdv = new DataView(this.kbuf.buffer);
    this.stride = round8(spec.valueSize);
    this.address = mem.alloc(`map '${spec.name}' (the map object, not a value)`, 'map', new Uint8Array(8), { readable: false, writable: false }).base;
    if (this.type === 'array' || this.type === 'percpu_array') {
      if (spec.keySize !== 4) throw new VmMapError(spec.name, EINVAL, `array maps have 4-byte keys, not ${spec.keySize}`);
      for (let c = 0; c < this.ncpus; c++) {
        const what = this.ncpus > 1 ? `map '${spec.name}' values (CPU ${c})` : `map '${spec.name}' values`;
        // BPF_F_RDONLY_PROG (.rodata): the program may read, not write
        const writable = ((spec.flags ?? 0) & BPF_F_RDONLY_PROG) === 0;
        this.arrays.push(mem.alloc(what, 'map-value', new Uint8Array(this.stride * spec.maxEntries), { stride: this.stride, valueSize: spec.valueSize, writable }));
      }
    }
    if (this.type === 'ringbuf' && (spec.maxEntries & (spec.maxEntries - 1)) !== 0) {
      throw new VmMapError(spec.name, EINVAL, `a ring buffer's size (max_entries) must be a power of two, not ${spec.maxEntries}`);
    }
  }

  get keySize(): number { return this.spec.keySize; }
  get valueSize(): number { return this.spec.valueSize; }
  get maxEntries(): number { return this.spec.maxEntries; }
  get flags(): number { return this.spec.flags ?? 0; }
  get perCpu(): boolean { return this.ncpus > 1 || this.type.includes('percpu'); }
  private get isArray(): boolean { return this.type === 'array' || this.type === 'percpu_array'; }
  private get isHash(): boolean { return this.type.endsWith('hash'); }

  // --- what the helpers call: raw bytes, errno results ---------------------------------------

  /** map_lookup_elem: the address of the value (this CPU's for per-CPU maps), or 0. */
  lookupAddr(key: Uint8Array, cpu: number): number {
    if (this.isArray) {
      const idx = u32le(key);
      if (idx >= this.spec.maxEntries) return 0;
      return this.arrays[cpu % this.arrays.length]!.base + idx * this.stride;
    }
    if (this.isHash) {
      const ks = keyString(key);
      const e = this.elems.get(ks);
      if (!e) return 0;
      if (this.type.startsWith('lru')) { this.elems.delete(ks); this.elems.set(ks, e); }
      return e.values[cpu % e.values.length]!.base;
    }
    return 0;
  }

  /** map_update_elem: 0 or -errno. From a program, a per-CPU map's update writes this CPU's value. */
  updateRaw(key: Uint8Array, value: Uint8Array | readonly Uint8Array[], flags: number, cpu?: number): number {
    if (flags > BPF_EXIST) return -EINVAL;
    const per = (c: number): Uint8Array | undefined => (Array.isArray(value) ? value[c] : cpu === undefined || c === cpu % this.ncpus ? value as Uint8Array : undefined);
    if (this.isArray) {
      const idx = u32le(key);
      if (idx >= this.spec.maxEntries) return -E2BIG;
      if (flags === BPF_NOEXIST) return -EEXIST;
      if (this.ncpus === 1 && !Array.isArray(value)) {
        copy(this.arrays[0]!.bytes, idx * this.stride, value as Uint8Array, this.spec.valueSize);
        return 0;
      }
      for (let c = 0; c < this.ncpus; c++) {
        const v = per(c);
        if (v) this.arrays[c]!.bytes.set(v.subarray(0, this.spec.valueSize), idx * this.stride);
      }
      return 0;
    }
    if (this.isHash) {
      const ks = keyString(key);
      const e = this.elems.get(ks);
      if (e) {
        if (flags === BPF_NOEXIST) return -EEXIST;
        for (let c = 0; c < e.values.length; c++) {
          const v = per(c);
          if (v) e.values[c]!.bytes.set(v.subarray(0, this.spec.valueSize));
        }
        if (this.type.startsWith('lru')) { this.elems.delete(ks); this.elems.set(ks, e); }
        return 0;
      }
      if (flags === BPF_EXIST) return -ENOENT;
      if (this.elems.size >= this.spec.maxEntries) {
        if (!this.type.startsWith('lru')) return -E2BIG;
        const oldest = this.elems.keys().next().value as string;
        this.deleteKey(oldest);
      }
      const k = key.slice(0, this.spec.keySize);
      const values: Region[] = [];
      for (let c = 0; c < this.ncpus; c++) {
        const bytes = new Uint8Array(this.spec.valueSize);
        const v = per(c);
        if (v) bytes.set(v.subarray(0, this.spec.valueSize));
        values.push(this.mem.alloc(`map '${this.name}' value${this.ncpus > 1 ? ` (CPU ${c})` : ''}`, 'map-value', bytes));
      }
      this.elems.set(ks, { key: k, values });
      return 0;
    }
    return -EINVAL;
  }

  /** map_delete_elem: 0 or -errno. */
  deleteRaw(key: Uint8Array): number {
    if (!this.isHash) return -EINVAL;
    return this.deleteKey(keyString(key.subarray(0, this.spec.keySize))) ? 0 : -ENOENT;
  }

  private deleteKey(ks: string): boolean {
    const e = this.elems.get(ks);
    if (!e) return false;
    for (const r of e.values) this.mem.remove(r);
    this.elems.delete(ks);
    return true;
  }

  // --- ring buffer ---------------------------------------------------------------------------

  private ringFits(size: number): boolean {
    return this.ringUsed + round8(size) + 8 <= this.spec.maxEntries;
  }

  /** bpf_ringbuf_output: 0 or -EAGAIN when it does not fit. */
  ringOutput(data: Uint8Array): number {
    if (!this.ringFits(data.length)) return -EAGAIN;
    this.ringUsed += round8(data.length) + 8;
    this.records.push(data.slice());
    return 0;
  }

  /** bpf_ringbuf_reserve: the record's address, or 0. */
  ringReserve(size: number): number {
    if (size <= 0 || !this.ringFits(size)) return 0;
    this.ringUsed += round8(size) + 8;
    const r = this.mem.alloc(`ring buffer '${this.name}' record`, 'ringbuf', new Uint8Array(size));
    this.pending.set(r.base, r);
    return r.base;
  }

  /** bpf_ringbuf_submit / discard: false when addr is not a reserved record. */
  ringCommit(addr: number, keep: boolean): boolean {
    const r = this.pending.get(addr);
    if (!r) return false;
    this.pending.delete(addr);
    this.mem.remove(r);
    if (keep) this.records.push(r.bytes.slice());
    else this.ringUsed -= round8(r.bytes.length) + 8;
    return true;
  }

  /** Whether addr is a record reserved from this ring buffer and not yet submitted. */
  hasRecord(addr: number): boolean {
    return this.pending.has(addr);
  }

  /** Records submitted so far, oldest first; they leave the buffer (as a consumer reads them). */
  drain(): Uint8Array[] {
    const out = this.records.splice(0);
    this.ringUsed = [...this.pending.values()].reduce((s, r) => s + round8(r.bytes.length) + 8, 0);
    return out;
  }

  // --- prog_array ----------------------------------------------------------------------------

  /** Put a program in a prog_array slot (what writing its fd does in the kernel). */
  setProgram(index: number, prog: TailTarget | undefined): void {
    if (this.type !== 'prog_array') throw new VmMapError(this.name, EINVAL, 'only a prog_array holds programs');
    if (index < 0 || index >= this.spec.maxEntries) throw new VmMapError(this.name, E2BIG, `index ${index} is outside [0, ${this.spec.maxEntries})`);
    if (prog) this.progs.set(index, prog);
    else this.progs.delete(index);
  }

  program(index: number): TailTarget | undefined {
    return this.progs.get(index);
  }

  // --- the BpfMap face -----------------------------------------------------------------------

  private encodeKey(key: K): Uint8Array {
    this.key.encode(key, this.kdv, 0);
    return this.kbuf;
  }

  private valueBytes(addr: number): Uint8Array {
    const r = this.mem.find(addr, this.spec.valueSize)!;
    return r.bytes.subarray(addr - r.base, addr - r.base + this.spec.valueSize);
  }

  private decode(b: Uint8Array): V {
    return this.value.decode(new DataView(b.buffer, b.byteOffset, b.byteLength), 0);
  }

  private vbuf: { bytes: Uint8Array; dv: DataView } | undefined;

  /** Encode a value; `fresh` for one that must outlive the next encode (per-CPU lists). */
  private encode(v: V, fresh = false): Uint8Array {
    if (fresh || !this.vbuf) {
      const bytes = new Uint8Array(Math.max(this.spec.valueSize, 1));
      const b = { bytes, dv: new DataView(bytes.buffer) };
      if (!fresh) this.vbuf = b;
      this.value.encode(v, b.dv, 0);
      return bytes;
    }
    this.value.encode(v, this.vbuf.dv, 0);
    return this.vbuf.bytes;
  }

  private perCpuGuard(op: string): void {
    if (this.ncpus > 1) throw new VmMapError(this.name, EINVAL, `is per-CPU (${this.type}): use ${op}PerCpu()`);
  }

  /** The value at key, or undefined when the key is absent. */
  get(key: K): V | undefined {
    this.perCpuGuard('get');
    const a = this.lookupAddr(this.encodeKey(key), 0);
    return a === 0 ? undefined : this.decode(this.valueBytes(a));
  }

  getPerCpu(key: K): V[] | undefined {
    const k = this.encodeKey(key);
    if (this.lookupAddr(k, 0) === 0) return undefined;
    const out: V[] = [];
    for (let c = 0; c < this.ncpus; c++) out.push(this.decode(this.valueBytes(this.lookupAddr(k, c))));
    return out;
  }

  /** Insert or replace; flags BPF_ANY, BPF_NOEXIST, BPF_EXIST as in the kernel. */
  set(key: K, value: V, flags = BPF_ANY): void {
    this.perCpuGuard('set');
    this.check(this.updateRaw(this.encodeKey(key), this.encode(value), flags), 'update');
  }

  setPerCpu(key: K, values: V | readonly V[], flags = BPF_ANY): void {
    const per: Uint8Array[] = [];
    for (let c = 0; c < this.ncpus; c++) {
      const v = Array.isArray(values) ? (values as readonly V[])[c] : (values as V);
      if (v === undefined) throw new VmMapError(this.name, EINVAL, `${this.ncpus} CPUs need ${this.ncpus} values`);
      per.push(this.encode(v, true));
    }
    this.check(this.updateRaw(this.encodeKey(key), per, flags), 'update');
  }

  /** Remove key; false when it was absent. Arrays cannot delete (EINVAL), as in the kernel. */
  delete(key: K): boolean {
    const r = this.deleteRaw(this.encodeKey(key));
    if (r === -ENOENT) return false;
    this.check(r, 'delete');
    return true;
  }

  private check(r: number, op: string): void {
    if (r >= 0) return;
    const what: Record<number, string> = { [E2BIG]: 'E2BIG (full, or index out of range)', [EEXIST]: 'EEXIST (the key exists)', [ENOENT]: 'ENOENT (no such key)', [EINVAL]: 'EINVAL' };
    if (r < 0) throw new VmMapError(this.name, -r, `${op} failed: ${what[-r] ?? `errno ${-r}`}`);
  }

  *keys(): Generator<K> {
    if (this.isArray) {
      for (let i = 0; i < this.spec.maxEntries; i++) {
        this.kdv.setUint32(0, i, true);
        yield this.key.decode(this.kdv, 0);
      }
      return;
    }
    for (const e of [...this.elems.values()]) yield this.key.decode(new DataView(e.key.buffer, e.key.byteOffset, e.key.byteLength), 0);
  }

  *entries(): Generator<[K, V]> {
    for (const k of this.keys()) {
      const v = this.get(k);
      if (v !== undefined) yield [k, v];
    }
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }

  /** How many elements a hash map holds. */
  get size(): number {
    return this.isArray ? this.spec.maxEntries : this.elems.size;
  }

  close(): void {}

  [Symbol.dispose](): void {
    this.close();
  }
}
