/**
 * The VM's address space: every byte a program may touch lives in a Region, and every load and
 * store is checked against the region its address falls in. Addresses are 32 bits (the upper
 * half of a pointer register is 0), because __sk_buff and xdp_md hand data pointers to the
 * program as u32 fields, exactly as the uapi structs declare them.
 *
 *   0x0010_0000  stack frames 0..7, 512 bytes each, one page apart (r10 = the end of its frame)
 *   0x0100_0000  the context (__sk_buff, xdp_md)
 *   0x0200_0000  packet data .. data_end
 *   0x0300_0000  the raw memory of a conformance vector
 *   0x1000_0000… map values and objects, handed out upwards and never reused
 *
 * Nothing is mapped below 64 KiB, so a NULL pointer (plus any 16-bit offset) always faults.
 */
import { VmError, VmFault } from './errors.ts';

export type RegionKind = 'stack' | 'ctx' | 'packet' | 'mem' | 'map-value' | 'map' | 'ringbuf';

export interface Region {
  readonly name: string;
  readonly kind: RegionKind;
  base: number;
  /** base + size: the first address past the region. */
  end: number;
  bytes: Uint8Array;
  dv: DataView;
  readable: boolean;
  writable: boolean;
  /**
   * Array maps keep their values back to back, round_up(value_size, 8) apart: an access must
   * stay inside one value (stride 0: no such rule).
   */
  stride: number;
  valueSize: number;
  /** Extra rule (the context's fields): why this access is refused, or null. */
  check: ((off: number, size: number, write: boolean) => string | null) | undefined;
  /** The simple case: readable, writable, no stride or field rule. */
  plain: boolean;
}

export const STACK_BASE = 0x0010_0000;
/** Nothing below this: a NULL pointer plus any 16-bit offset lands here. */
const NULL_END = 0x0001_0000;
export const STACK_SIZE = 512;
export const STACK_SPACING = 0x1000;
export const MAX_FRAMES = 8;
export const CTX_BASE = 0x0100_0000;
export const PACKET_BASE = 0x0200_0000;
export const MEM_BASE = 0x0300_0000;
const HEAP_BASE = 0x1000_0000;
const HEAP_END = 0xf000_0000;
const GAP = 0x1000;

/** One memory access, as --trace shows it. */
export interface Access {
  readonly address: number;
  readonly size: number;
  readonly write: boolean;
  /** The value read or written (for atomics: the value written). */
  readonly value: bigint;
  readonly region: string;
}

const EMPTY = new Uint8Array(0);

export function makeRegion(name: string, kind: RegionKind, base: number, bytes: Uint8Array, opts: Partial<Pick<Region, 'readable' | 'writable' | 'stride' | 'valueSize' | 'check'>> = {}): Region {
  const r: Region = {
    name, kind, base, end: base + bytes.length, bytes, dv: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    readable: opts.readable ?? true, writable: opts.writable ?? true, stride: opts.stride ?? 0,
    valueSize: opts.valueSize ?? bytes.length, check: opts.check, plain: false,
  };
  r.plain = r.readable && r.writable && r.stride === 0 && r.check === undefined;
  return r;
}

/**
 * Copy a run's input into a fixed region (packet, mem, ctx), reusing its buffer: allocating
 * ArrayBuffers per run would cost more than running a short program. The region's bytes stay
 * valid until the next run.
 */
export function loadInto(r: Region, src: Uint8Array | undefined): void {
  const n = src?.length ?? 0;
  if (r.bytes.length !== n || r.bytes.buffer.byteLength < n) {
    const store = r.bytes.buffer.byteLength >= n ? new Uint8Array(r.bytes.buffer, 0, n) : new Uint8Array(Math.max(n, 2 * r.bytes.buffer.byteLength, 256)).subarray(0, n);
    rebind(r, store);
  }
  if (!src) return;
  const b = r.bytes;
  if (n > 256) b.set(src);
  else for (let i = 0; i < n; i++) b[i] = src[i]!;
}

/** Point a fixed region (ctx, packet, mem) at new bytes for the next run. */
export function rebind(r: Region, bytes: Uint8Array): void {
  r.bytes = bytes;
  r.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  r.end = r.base + bytes.length;
  r.valueSize = bytes.length;
}

/** The address space a heap region of `size` bytes takes: whole pages, then a guard page. */
const slotOf = (size: number): number => Math.ceil((Math.max(size, 1) + GAP) / GAP) * GAP;

/**
 * Regions sorted by base, a bump allocator for new ones, and the checked loads and stores the
 * compiled program calls. `pc` arguments are instruction indexes, for the fault.
 */
export class Memory {
  private regions: Region[] = [];
  private last: Region;
  private next = HEAP_BASE;
  /** Offset of the last checked access inside its region. */
  o = 0;
  /** The upper half of a 64-bit load. */
  hi = 0;
  /** Where each instruction came from, for faults. */
  sources: readonly (string | undefined)[] = [];
  /** When set, every access is reported here (--trace). */
  tracer: ((a: Access) => void) | undefined;
  readonly stacks: Region[] = [];

  constructor() {
    for (let f = 0; f < MAX_FRAMES; f++) {
      this.stacks.push(this.add(makeRegion(`stack frame ${f}`, 'stack', STACK_BASE + f * STACK_SPACING, new Uint8Array(STACK_SIZE))));
    }
    this.last = this.stacks[0]!;
  }

  /** Insert a region at its base (kept sorted). */
  add(r: Region): Region {
    const rs = this.regions;
    let lo = 0, hi = rs.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (rs[mid]!.base > r.base) hi = mid; else lo = mid + 1; }
    rs.splice(lo, 0, r);
    return r;
  }

  /** Take a region out; a heap region's slot goes to the free list of its size, for reuse. */
  remove(r: Region): void {
    const rs = this.regions;
    let lo = 0, hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, b = rs[mid]!.base;
      if (b < r.base) lo = mid + 1;
      else if (b > r.base) hi = mid - 1;
      else { if (rs[mid] === r) { rs.splice(mid, 1); if (r.base >= HEAP_BASE) this.release(r.base, slotOf(r.end - r.base)); } break; }
    }
    if (this.last === r) this.last = this.stacks[0]!;
  }

  /** Freed heap slots by slot size, oldest first (so a stale pointer faults for as long as it can). */
  private free = new Map<number, { bases: number[]; head: number }>();

  private release(base: number, slot: number): void {
    let f = this.free.get(slot);
    if (!f) this.free.set(slot, (f = { bases: [], head: 0 }));
    f.bases.push(base);
  }

  private reuse(slot: number): number | undefined {
    const f = this.free.get(slot);
    if (!f || f.head >= f.bases.length) return undefined;
    const base = f.bases[f.head++]!;
    if (f.head > 1024 && f.head * 2 > f.bases.length) { f.bases = f.bases.slice(f.head); f.head = 0; }
    return base;
  }

  /**
   * A new region in the heap, a guard page after the previous one: a freed slot of the same
   * size when there is one (hash map values come and go), else fresh address space.
   */
  alloc(name: string, kind: RegionKind, bytes: Uint8Array, opts: Parameters<typeof makeRegion>[4] = {}): Region {
    const slot = slotOf(bytes.length);
    let base = this.reuse(slot);
    if (base === undefined) {
      base = this.next;
      if (base + slot > HEAP_END) {
        throw new VmError(`the VM's address space is exhausted: map values and ring buffer records live at once exceed ${((HEAP_END - HEAP_BASE) / 2 ** 20) | 0} MiB (each takes its size rounded up to 4 KiB, plus a 4 KiB guard); lower max_entries or value_size of the big maps for the VM`);
      }
      this.next = base + slot;
    }
    return this.add(makeRegion(name, kind, base, bytes, opts));
  }

  /** The region containing [a, a + size), or undefined. */
  find(a: number, size = 1): Region | undefined {
    const rs = this.regions;
    let lo = 0, hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, r = rs[mid]!;
      if (a < r.base) hi = mid - 1;
      else if (a >= r.end) lo = mid + 1;
      else return a + size <= r.end ? r : undefined;
    }
    return undefined;
  }

  /** The region nearest an address, for fault messages. */
  private nearest(a: number): Region | undefined {
    let best: Region | undefined, dist = Infinity;
    for (const r of this.regions) {
      const d = a < r.base ? r.base - a : a >= r.end ? a - r.end + 1 : 0;
      if (d < dist) { dist = d; best = r; }
    }
    return dist <= GAP ? best : undefined;
  }

  fault(pc: number, reason: string, address: bigint, size: number, write: boolean, region: string | undefined): never {
    throw new VmFault(reason, { kind: 'memory', index: pc, source: this.sources[pc], address, size, write, region });
  }

  /**
   * Check an access of `size` bytes at (hi:lo) + off; returns its region with the offset in
   * `this.o`, or throws the fault that says what is wrong with it.
   */
  at(lo: number, hi: number, off: number, size: number, write: boolean, pc: number): Region {
    const a = (lo >>> 0) + off;
    const r = this.last;
    if (hi === 0 && a >= r.base && a + size <= r.end && r.plain) { this.o = a - r.base; return r; }
    return this.slow(lo, hi, off, size, write, pc);
  }

  private slow(lo: number, hi: number, off: number, size: number, write: boolean, pc: number): Region {
    const a = (lo >>> 0) + off;
    if (hi !== 0 || a < NULL_END || a + size > 0x1_0000_0000) this.refuse(lo, hi, off, size, write, pc, undefined);
    let r: Region | undefined = this.last;
    if (!(a >= r.base && a + size <= r.end)) r = this.find(a, size);
    if (!r) this.refuse(lo, hi, off, size, write, pc, undefined);
    const o = a - r.base;
    if (write ? !r.writable : !r.readable) this.refuse(lo, hi, off, size, write, pc, r);
    if (r.stride !== 0 && (o % r.stride) + size > r.valueSize) this.refuse(lo, hi, off, size, write, pc, r);
    if (r.check !== undefined && r.check(o, size, write) !== null) this.refuse(lo, hi, off, size, write, pc, r);
    this.last = r;
    this.o = o;
    return r;
  }

  /** The fault for a refused access, with the words that say what is wrong (built only now). */
  private refuse(lo: number, hi: number, off: number, size: number, write: boolean, pc: number, r: Region | undefined): never {
    const full = (BigInt(hi) << 32n) + BigInt(lo >>> 0) + BigInt(off);
    const what = `${write ? 'store' : 'load'} of ${size} byte${size > 1 ? 's' : ''} at 0x${BigInt.asUintN(64, full).toString(16)}`;
    if (hi !== 0 || full < 0n || full > 0xffffffffn) this.fault(pc, `${what}: not an address the program may use (NULL or a scalar?)`, full, size, write, undefined);
    const a = Number(full);
    if (a < NULL_END) this.fault(pc, `${what}: a NULL pointer${a ? ` + ${a}` : ''} (check a pointer for 0 before using it)`, full, size, write, undefined);
    if (!r) {
      const near = this.nearest(a);
      if (!near) this.fault(pc, `${what}: no region there (a NULL pointer, or a scalar used as a pointer)`, full, size, write, undefined);
      const rel = a < near.base ? `${near.base - a} byte(s) before` : a >= near.end ? `${a - near.end} byte(s) past the end of` : `running ${a + size - near.end} byte(s) past the end of`;
      this.fault(pc, `${what}: ${rel} ${near.name} [0x${near.base.toString(16)}, 0x${near.end.toString(16)})`, full, size, write, near.name);
    }
    const o = a - r.base;
    if (write && !r.writable) this.fault(pc, `${what}: ${r.name} is read-only`, full, size, write, r.name);
    if (!write && !r.readable) this.fault(pc, `${what}: ${r.name} cannot be read by the program`, full, size, write, r.name);
    if (r.stride !== 0 && (o % r.stride) + size > r.valueSize) {
      this.fault(pc, `${what}: crosses the end of a ${r.valueSize}-byte value of ${r.name} (element ${Math.floor(o / r.stride)}, offset ${o % r.stride})`, full, size, write, r.name);
    }
    this.fault(pc, `${what}: ${r.check?.(o, size, write) ?? 'refused'}`, full, size, write, r.name);
  }

  private trace(r: Region, size: number, write: boolean, value: bigint): void {
    this.tracer!({ address: r.base + this.o, size, write, value, region: r.name });
  }

  r1(lo: number, hi: number, off: number, pc: number): number {
    const r = this.at(lo, hi, off, 1, false, pc);
    const v = r.bytes[this.o]!;
    if (this.tracer) this.trace(r, 1, false, BigInt(v));
    return v;
  }
  r2(lo: number, hi: number, off: number, pc: number): number {
    const r = this.at(lo, hi, off, 2, false, pc);
    const v = r.dv.getUint16(this.o, true);
    if (this.tracer) this.trace(r, 2, false, BigInt(v));
    return v;
  }
  r4(lo: number, hi: number, off: number, pc: number): number {
    const r = this.at(lo, hi, off, 4, false, pc);
    const v = r.dv.getInt32(this.o, true);
    if (this.tracer) this.trace(r, 4, false, BigInt(v >>> 0));
    return v;
  }
  /** Low half returned, high half in this.hi. */
  r8(lo: number, hi: number, off: number, pc: number): number {
    const r = this.at(lo, hi, off, 8, false, pc);
    const v = r.dv.getInt32(this.o, true);
    this.hi = r.dv.getInt32(this.o + 4, true);
    if (this.tracer) this.trace(r, 8, false, (BigInt(this.hi >>> 0) << 32n) | BigInt(v >>> 0));
    return v;
  }
  w1(lo: number, hi: number, off: number, v: number, pc: number): void {
    const r = this.at(lo, hi, off, 1, true, pc);
    r.bytes[this.o] = v;
    if (this.tracer) this.trace(r, 1, true, BigInt(v & 0xff));
  }
  w2(lo: number, hi: number, off: number, v: number, pc: number): void {
    const r = this.at(lo, hi, off, 2, true, pc);
    r.dv.setUint16(this.o, v, true);
    if (this.tracer) this.trace(r, 2, true, BigInt(v & 0xffff));
  }
  w4(lo: number, hi: number, off: number, v: number, pc: number): void {
    const r = this.at(lo, hi, off, 4, true, pc);
    r.dv.setInt32(this.o, v, true);
    if (this.tracer) this.trace(r, 4, true, BigInt(v >>> 0));
  }
  w8(lo: number, hi: number, off: number, vl: number, vh: number, pc: number): void {
    const r = this.at(lo, hi, off, 8, true, pc);
    r.dv.setInt32(this.o, vl, true);
    r.dv.setInt32(this.o + 4, vh, true);
    if (this.tracer) this.trace(r, 8, true, (BigInt(vh >>> 0) << 32n) | BigInt(vl >>> 0));
  }

  /** Bytes [(hi:lo), + len) for a helper, checked like a program access. */
  view(lo: number, hi: number, len: number, write: boolean, pc: number): Uint8Array {
    if (len === 0) return EMPTY;
    const r = this.at(lo, hi, 0, len, write, pc);
    const b = r.bytes.subarray(this.o, this.o + len);
    if (this.tracer) {
      // a helper's read is traced with its value (little-endian) when it fits 8 bytes
      let v = 0n;
      for (let i = Math.min(len, 8) - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
      this.tracer({ address: r.base + this.o, size: len, write, value: write ? 0n : v, region: r.name });
    }
    return b;
  }

  /** Clear a stack frame (a new call starts with a zeroed stack: runs are reproducible). */
  clearStack(frame: number): void {
    this.stacks[frame]!.bytes.fill(0);
  }

  /** Address of the end of a stack frame: the r10 of that frame. */
  static frameTop(frame: number): number {
    return STACK_BASE + frame * STACK_SPACING + STACK_SIZE;
  }
}

/** Atomic read-modify-write (JS is single-threaded: a plain RMW is atomic). */
export const AtomicKind = { add: 0x00, or: 0x40, and: 0x50, xor: 0xa0, xchg: 0xe0, cmpxchg: 0xf0 } as const;

/**
 * *(size *)(dst + off) op= src; returns the old value (low half; high half in m.hi, 0 for u32).
 * For cmpxchg, `cl/ch` is r0: the store happens only when the old value equals it.
 */
export function atomicRmw(m: Memory, op: number, size: 4 | 8, dl: number, dh: number, off: number, sl: number, sh: number, cl: number, ch: number, pc: number): number {
  const r = m.at(dl, dh, off, size, true, pc);
  const o = m.o, dv = r.dv;
  const ol = dv.getInt32(o, true), oh = size === 8 ? dv.getInt32(o + 4, true) : 0;
  let nl: number, nh: number;
  switch (op & 0xf0) {
    case AtomicKind.add: {
      nl = (ol + sl) | 0;
      nh = (oh + sh + ((nl >>> 0) < (ol >>> 0) ? 1 : 0)) | 0;
      break;
    }
    case AtomicKind.or: nl = ol | sl; nh = oh | sh; break;
    case AtomicKind.and: nl = ol & sl; nh = oh & sh; break;
    case AtomicKind.xor: nl = ol ^ sl; nh = oh ^ sh; break;
    case AtomicKind.xchg: nl = sl; nh = sh; break;
    default: { // cmpxchg
      const eq = size === 8 ? ol === cl && oh === ch : ol === cl;
      nl = eq ? sl : ol; nh = eq ? sh : oh;
    }
  }
  dv.setInt32(o, nl, true);
  if (size === 8) dv.setInt32(o + 4, nh, true);
  if (m.tracer) {
    const v = size === 8 ? (BigInt(nh >>> 0) << 32n) | BigInt(nl >>> 0) : BigInt(nl >>> 0);
    m.tracer({ address: r.base + o, size, write: true, value: v, region: r.name });
  }
  m.hi = oh;
  return ol;
}
