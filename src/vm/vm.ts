/**
 * The VM: maps, a clock, a random source and a CPU number shared by the programs loaded into
 * it, and programs compiled to JavaScript (compile.ts) that run against a context built from a
 * frame. Nothing here needs root or a kernel.
 *
 *   const vm = new Vm({ clock: 1_000n })
 *   const prog = vm.load(mesStart)                 // maps are created from the spec's MapRefs
 *   const r = prog.run({ data: frame })            // __sk_buff for sched_cls, xdp_md for XDP
 *   vm.map(maps.start).get(0)                      // read maps as with a kernel BpfMap
 */
import { decode, slots, type Instruction, type MapRef } from '../asm/instruction.ts';
import { AsmError } from '../asm/errors.ts';
import { helperId } from '../asm/helpers.ts';
import { Pseudo } from '../asm/opcode.ts';
import type { ProgramSpec, ProgramType } from '../asm/program.ts';
import { A, pairToBig } from './arith.ts';
import { generate } from './compile.ts';
import { buildSkb, buildXdp, contextKind, readSkb, skbCheck, xdpCheck, SKB_SIZE, XDP_MD_SIZE, type ContextKind, type SkbOut, type SkbFields, type XdpFields } from './context.ts';
import { VmError, VmFault } from './errors.ts';
import { StepRecorder, type TraceStep } from './trace.ts';
import { makeHelpers, unknownHelper, type HelperTable } from './helpers.ts';
import { VmMap, type VmMapSpec } from './maps.ts';
import type { Codec } from '../codec.ts';
import { atomicRmw, CTX_BASE, MAX_FRAMES, MEM_BASE, Memory, PACKET_BASE, loadInto, makeRegion, type Region } from './memory.ts';

/** The kernel's MAX_TAIL_CALL_CNT. */
export const MAX_TAIL_CALLS = 33;
/** Default instruction budget of one run (tail calls included). */
export const DEFAULT_MAX_INSNS = 10_000_000;

/** The test's clock: ktime_get_ns returns `ns`, then adds `step`. Boot time is ns + bootOffset. */
export interface VmClock {
  ns: bigint;
  step: bigint;
  bootOffset: bigint;
}

export interface VmOptions {
  /** Start time in ns (default 1e9), or a whole clock. */
  readonly clock?: bigint | Partial<VmClock>;
  /** Seed of get_prandom_u32 (default 1). */
  readonly seed?: number;
  /** get_smp_processor_id(), and which per-CPU value a program sees (default 0). */
  readonly cpu?: number;
  /** CPUs of per-CPU maps (default 4). */
  readonly ncpus?: number;
  /** Instruction budget per run (default 10M): a runaway program faults instead of hanging. */
  readonly maxInsns?: number;
  /** The current task tracing helpers report (default pid = tgid = 4242, uid = gid = 0, comm 'tsbpf-vm'). */
  readonly task?: Partial<{ pid: number; tgid: number; uid: number; gid: number; comm: string }>;
}

export interface VmLoadOptions {
  /** Program type, for raw bytes and instruction lists (default 'raw': r1 = memory, r2 = its length). */
  readonly type?: ProgramType | 'raw';
  readonly name?: string;
  /** Maps by index for LD_IMM64 map_idx / map_idx_value (the fd_array of a raw program). */
  readonly mapsByIndex?: readonly VmMap[];
}

export interface VmRunInput {
  /** The frame (skb and xdp programs): packet data .. data_end. */
  readonly data?: Uint8Array;
  /** __sk_buff fields (skb programs) or xdp_md fields. */
  readonly ctx?: SkbFields & XdpFields;
  /** Raw memory for 'raw' programs (conformance vectors): r1 points at it, r2 is its length. */
  readonly mem?: Uint8Array;
  /** Record every instruction (slower): registers changed, memory touched, TS line. */
  readonly trace?: boolean | ((step: TraceStep) => void);
  /** Instruction budget of this run. */
  readonly maxInsns?: number;
}

export interface VmRunResult {
  /** r0, all 64 bits, unsigned. */
  readonly r0: bigint;
  /** r0 as BPF_PROG_TEST_RUN reports it: the low 32 bits. */
  readonly retval: number;
  /** Instructions executed (tail calls included). */
  readonly insns: number;
  readonly tailCalls: number;
  /** The packet as the program left it: the VM's buffer, valid until its next run (copy it to keep it). */
  readonly data: Uint8Array;
  /** Raw memory after the run (raw programs); valid until the VM's next run. */
  readonly mem: Uint8Array;
  /** The writable __sk_buff fields after the run (skb programs). */
  readonly skb: SkbOut | undefined;
  /** trace_printk lines of this run. */
  readonly printk: readonly string[];
  readonly trace: readonly TraceStep[] | undefined;
}

type RunFn = (entry: number) => number;

interface State {
  lim: number;
  n: number;
  tail: boolean;
  target: VmProgram | undefined;
  readonly fp: Int32Array;
  oob: boolean;
  ldpkt(off: number, size: number, pc: number): number;
}

/** xorshift32: small, seedable, enough for get_prandom_u32. */
function rng(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

const isSpecLike = (r: MapRef): r is MapRef & VmMapSpec => typeof (r as Partial<VmMapSpec>).type === 'string' && typeof (r as Partial<VmMapSpec>).keySize === 'number';

export class Vm {
  readonly mem = new Memory();
  readonly clock: VmClock;
  cpu: number;
  readonly ncpus: number;
  /** What get_current_pid_tgid, get_current_uid_gid and get_current_comm return. */
  task: { pid: number; tgid: number; uid: number; gid: number; comm: string };
  maxInsns: number;
  /** Every trace_printk line, in order. */
  readonly printk: string[] = [];
  readonly R = new Int32Array(22);
  private readonly maps: VmMap[] = [];
  private readonly byName = new Map<string, VmMap>();
  private readonly byAddr = new Map<number, VmMap>();
  private nextFd = 3;
  private readonly random: () => number;
  readonly helpers: HelperTable;
  readonly state: State;
  private readonly faults: Record<string, (...a: number[]) => never>;
  private tracer: ((k: number) => void) | undefined;
  private tailCount = 0;
  private kind: ContextKind = 'mem';
  private readonly ctxRegion: Region;
  private readonly packetRegion: Region;
  private readonly memRegion: Region;
  private runPrintk: string[] = [];
  private readonly skbChecks = new Map<string, (off: number, size: number, write: boolean) => string | null>();

  constructor(opts: VmOptions = {}) {
    const c = opts.clock;
    this.clock = typeof c === 'bigint' ? { ns: c, step: 0n, bootOffset: 0n } : { ns: c?.ns ?? 1_000_000_000n, step: c?.step ?? 0n, bootOffset: c?.bootOffset ?? 0n };
    this.cpu = opts.cpu ?? 0;
    this.task = { pid: 4242, tgid: 4242, uid: 0, gid: 0, comm: 'tsbpf-vm', ...opts.task };
    this.ncpus = opts.ncpus ?? 4;
    this.maxInsns = opts.maxInsns ?? DEFAULT_MAX_INSNS;
    this.random = rng(opts.seed ?? 1);
    this.ctxRegion = this.mem.add(makeRegion('the context', 'ctx', CTX_BASE, new Uint8Array(0)));
    this.packetRegion = this.mem.add(makeRegion('packet data..data_end', 'packet', PACKET_BASE, new Uint8Array(0)));
    this.memRegion = this.mem.add(makeRegion('the input memory', 'mem', MEM_BASE, new Uint8Array(0)));
    const fp = new Int32Array(MAX_FRAMES);
    for (let f = 0; f < MAX_FRAMES; f++) fp[f] = Memory.frameTop(f);
    const vm = this;
    this.state = {
      lim: 0, n: 0, tail: false, target: undefined, fp, oob: false,
      ldpkt(off, size, _pc) {
        const p = vm.packetRegion;
        if (off < 0 || off + size > p.bytes.length) { this.oob = true; return 0; }
        this.oob = false;
        return size === 1 ? p.bytes[off]! : size === 2 ? p.dv.getUint16(off, false) : p.dv.getInt32(off, false);
      },
    };
    const fault = (kind: VmFault['kind'], pc: number, reason: string): never => {
      throw new VmFault(reason, { kind, index: pc, source: this.mem.sources[pc] });
    };
    this.faults = {
      limit: (pc, n) => fault('insn-limit', pc, `more than ${this.state.lim} instructions executed (${(n ?? 0) + this.state.n}): a runaway loop? raise the budget if it is meant to run this long (tsbpf run --max-insns N, or the maxInsns option)`),
      depth: (pc) => fault('call-depth', pc, `bpf-to-bpf call nesting deeper than ${MAX_FRAMES} frames (the kernel's MAX_CALL_FRAMES)`),
      falloff: (pc) => fault('invalid', pc, 'ran past the last instruction without exit'),
      badpc: (pc) => fault('invalid', pc, `jumped to ${pc}, which is not an instruction`),
      nohelper: (id, pc) => fault('helper', pc, unknownHelper(id!)),
      kfunc: (id, pc) => fault('helper', pc, `kfunc calls (BTF id ${id}) are not available in the VM`),
    };
    const R = this.R;
    this.helpers = makeHelpers({
      R, mem: this.mem,
      mapAt: (a) => this.byAddr.get(a),
      ringOwner: (a) => this.maps.find((m) => m.type === 'ringbuf' && m.hasRecord(a)),
      now: (boot) => {
        const t = this.clock.ns + (boot ? this.clock.bootOffset : 0n);
        this.clock.ns += this.clock.step;
        return t;
      },
      random: () => this.random(),
      get cpu() { return vm.cpu; },
      get task() { return vm.task; },
      printk: (line) => { this.printk.push(line); this.runPrintk.push(line); },
      packet: () => (this.kind === 'skb' || this.kind === 'xdp' ? this.packetRegion.bytes : undefined),
      tailCall: (target) => {
        if (this.tailCount >= MAX_TAIL_CALLS) return false;
        if (!(target instanceof VmProgram) || target.vm !== this) return false;
        this.state.tail = true;
        this.state.target = target;
        return true;
      },
      get sources() { return vm.mem.sources; },
    });
  }

  /** Set the clock (ns), e.g. between runs. */
  setTime(ns: bigint): void {
    this.clock.ns = ns;
  }

  advance(ns: bigint): void {
    this.clock.ns += ns;
  }

  /** Create an in-memory map. */
  createMap<K = number | bigint | Uint8Array, V = number | bigint | Uint8Array>(spec: VmMapSpec, opts: { key?: Codec<K>; value?: Codec<V> } = {}): VmMap<K, V> {
    if (this.byName.has(spec.name)) throw new VmError(`a map named '${spec.name}' exists in this VM already`);
    const m = new VmMap<K, V>(this.mem, spec, this.nextFd++, { ...opts, ncpus: this.ncpus });
    this.maps.push(m as unknown as VmMap);
    this.byName.set(spec.name, m as unknown as VmMap);
    this.byAddr.set(m.address, m as unknown as VmMap);
    return m;
  }

  /**
   * The VM's map for a reference: a VmMap of this VM, a map of this name, or (for a MapSpec, as
   * DSL programs carry) a new map made from it.
   */
  map<K = number | bigint | Uint8Array, V = number | bigint | Uint8Array>(ref: MapRef | string): VmMap<K, V> {
    const name = typeof ref === 'string' ? ref : ref.name;
    const have = this.byName.get(name);
    if (have) return have as unknown as VmMap<K, V>;
    if (typeof ref !== 'string' && isSpecLike(ref)) {
      const m = this.createMap<K, V>(ref);
      // global data (.data, .rodata) from an ELF object: its initial bytes are element 0
      const contents = (ref as { contents?: unknown }).contents;
      if (contents instanceof Uint8Array) m.updateRaw(new Uint8Array(4), contents, 0);
      return m;
    }
    throw new VmError(`no map '${name}' in this VM: create it with vm.createMap({ name, type, keySize, valueSize, maxEntries })`);
  }

  /** The map with this pseudo fd. */
  mapByFd(fd: number): VmMap | undefined {
    return this.maps.find((m) => m.fd === fd);
  }

  get allMaps(): readonly VmMap[] {
    return this.maps;
  }

  /** Load a DSL ProgramSpec, raw instruction bytes or decoded instructions. */
  load(input: ProgramSpec | Uint8Array | readonly Instruction[], opts: VmLoadOptions = {}): VmProgram {
    let insns: readonly Instruction[], type: ProgramType | 'raw', name: string;
    if (input instanceof Uint8Array) {
      try {
        insns = decode(input);
      } catch (e) {
        if (e instanceof AsmError) throw new VmError(`the bytes do not decode: ${e.reason}`, e.index !== undefined ? { index: e.index } : {});
        throw e;
      }
      type = opts.type ?? 'raw';
      name = opts.name ?? 'prog';
    } else if (Array.isArray(input)) {
      insns = input as readonly Instruction[];
      type = opts.type ?? 'raw';
      name = opts.name ?? 'prog';
    } else {
      const spec = input as ProgramSpec;
      insns = spec.insns;
      type = opts.type ?? spec.type;
      name = opts.name ?? spec.name;
    }
    if (insns.length === 0) throw new VmError('the program has no instructions');
    return new VmProgram(this, name, type, insns, opts.mapsByIndex);
  }

  /** @internal the 64-bit value of an LD_IMM64 with a map pseudo source. */
  resolveImm64(i: Instruction, k: number, byIndex: readonly VmMap[] | undefined): bigint {
    const where = { index: k, source: i.source };
    let m: VmMap | undefined;
    switch (i.src) {
      case Pseudo.map_fd:
      case Pseudo.map_value:
        m = i.map ? (i.map instanceof VmMap ? i.map : this.map(i.map)) : this.mapByFd(i.imm);
        if (!m) throw new VmError(`LD_IMM64 names map fd ${i.imm}, and this VM has no map with that fd (its maps: ${this.maps.map((x) => `${x.name}=fd ${x.fd}`).join(', ') || 'none'})`, where);
        break;
      case Pseudo.map_idx:
      case Pseudo.map_idx_value:
        m = (byIndex ?? this.maps)[i.imm];
        if (!m) throw new VmError(`LD_IMM64 names map index ${i.imm}, beyond the ${(byIndex ?? this.maps).length} maps given`, where);
        break;
      default:
        throw new VmError(`LD_IMM64 with source ${i.src} (${i.src === Pseudo.btf_id ? 'a BTF id' : 'a function pointer'}) is not supported by the VM`, where);
    }
    if (i.src === Pseudo.map_fd || i.src === Pseudo.map_idx) return BigInt(m.address);
    // direct value access: element 0 of an array map, plus the offset in the second imm
    const off = i.imm2 ?? 0;
    if (m.type !== 'array') throw new VmError(`direct value access (BPF_PSEUDO_MAP_VALUE) needs an array map; '${m.name}' is a ${m.type}`, where);
    if (off < 0 || off >= m.valueSize) throw new VmError(`direct value offset ${off} is outside map '${m.name}''s ${m.valueSize}-byte value`, where);
    const key = new Uint8Array(4);
    return BigInt(m.lookupAddr(key, this.cpu) + off);
  }

  private skbCheck(type: ProgramType | 'raw'): (off: number, size: number, write: boolean) => string | null {
    let c = this.skbChecks.get(type);
    if (!c) this.skbChecks.set(type, (c = skbCheck(type)));
    return c;
  }

  /** @internal compile with this VM's runtime objects. */
  instantiate(source: string): RunFn {
    const make = new Function('R', 'M', 'A', 'H', 'S', 'F', 'T', 'M_atomic', source) as (...a: unknown[]) => RunFn;
    const tracer = (k: number): void => this.tracer?.(k);
    return make(this.R, this.mem, A, this.helpers, this.state, this.faults, tracer, atomicRmw);
  }

  /** Registers for a (new) program: r1, r2 as the context says, r10 the top of frame 0, a clean stack. */
  private enter(r1: number, r2: number): void {
    const R = this.R;
    R.fill(0);
    R[2] = r1;
    R[4] = r2;
    R[20] = this.state.fp[0]!;
    this.mem.clearStack(0);
  }

  /** @internal run a program from its entry with this input. */
  execute(prog: VmProgram, input: VmRunInput): VmRunResult {
    const { mem, R, state } = this;
    this.kind = contextKind(prog.type);
    const isMem = this.kind === 'mem';
    loadInto(this.packetRegion, isMem ? undefined : input.data);
    loadInto(this.memRegion, isMem ? input.mem : undefined);
    const data = this.packetRegion.bytes;
    this.packetRegion.writable = prog.type === 'sched_cls' || prog.type === 'sched_act' || prog.type === 'xdp' || prog.type === 'lwt_xmit';
    this.packetRegion.plain = this.packetRegion.writable;
    let r1 = 0, r2 = 0;
    const ctx = this.ctxRegion;
    if (this.kind === 'skb') {
      if (ctx.bytes.length !== SKB_SIZE) loadInto(ctx, new Uint8Array(SKB_SIZE));
      buildSkb(data, input.ctx, ctx);
      ctx.check = this.skbCheck(prog.type);
      r1 = CTX_BASE;
    } else if (this.kind === 'xdp') {
      if (ctx.bytes.length !== XDP_MD_SIZE) loadInto(ctx, new Uint8Array(XDP_MD_SIZE));
      buildXdp(data, input.ctx, ctx);
      ctx.check = xdpCheck;
      r1 = CTX_BASE;
    } else {
      loadInto(ctx, undefined);
      const n = this.memRegion.bytes.length;
      r1 = n ? MEM_BASE : 0;
      r2 = n;
    }
    this.ctxRegion.plain = false;
    state.lim = input.maxInsns ?? this.maxInsns;
    state.n = 0;
    state.tail = false;
    this.tailCount = 0;
    this.runPrintk = [];
    const rec = input.trace ? new StepRecorder(R, typeof input.trace === 'function' ? input.trace : undefined) : undefined;
    let cur = prog;
    this.enter(r1, r2);
    if (rec) {
      this.tracer = (k) => rec.step(cur, k);
      mem.tracer = (a) => rec.access(a);
    }
    try {
      for (;;) {
        mem.sources = cur.sources;
        const rc = (rec ? cur.traced() : cur.fast())(0);
        if (rc === 0) break;
        rec?.finish(cur);
        this.tailCount++;
        cur = state.target!;
        state.tail = false;
        this.enter(r1, r2);
      }
      rec?.finish(cur);
    } catch (e) {
      if (rec) {
        rec.finish(cur);
        if (e instanceof VmFault) e.trace = rec.steps;
      }
      throw e;
    } finally {
      if (rec) {
        this.tracer = undefined;
        mem.tracer = undefined;
      }
    }
    const steps = rec?.steps;
    const r0 = pairToBig(R[0]!, R[1]!);
    return {
      r0, retval: Number(r0 & 0xffffffffn), insns: state.n, tailCalls: this.tailCount,
      data: this.packetRegion.bytes, mem: this.memRegion.bytes,
      skb: this.kind === 'skb' ? readSkb(this.ctxRegion.bytes, this.ctxRegion.dv) : undefined,
      printk: this.runPrintk, trace: steps,
    };
  }
}

/** A program loaded into a Vm: compiled once, run many times. */
export class VmProgram {
  readonly vm: Vm;
  readonly name: string;
  readonly type: ProgramType | 'raw';
  readonly insns: readonly Instruction[];
  readonly sources: readonly (string | undefined)[];
  readonly slotOf: readonly number[];
  /** The generated JavaScript (docs/vm.md shows what it looks like). */
  readonly source: string;
  private readonly mapsByIndex: readonly VmMap[] | undefined;
  private fastFn: RunFn | undefined;
  private traceFn: RunFn | undefined;

  constructor(vm: Vm, name: string, type: ProgramType | 'raw', insns: readonly Instruction[], mapsByIndex: readonly VmMap[] | undefined) {
    this.vm = vm;
    this.name = name;
    this.type = type;
    this.insns = insns;
    this.mapsByIndex = mapsByIndex;
    this.sources = insns.map((i) => i.source);
    const at: number[] = [];
    let s = 0;
    for (const i of insns) { at.push(s); s += slots(i); }
    this.slotOf = at;
    this.source = generate(insns, this.env());
    this.fastFn = vm.instantiate(this.source);
  }

  private env() {
    return {
      ldImm64: (i: Instruction, k: number) => this.vm.resolveImm64(i, k, this.mapsByIndex),
      hasHelper: (id: number) => this.vm.helpers[id] !== undefined,
      tailCallId: helperId('tail_call')!,
    };
  }

  /** @internal */
  fast(): RunFn {
    return (this.fastFn ??= this.vm.instantiate(this.source));
  }

  /** @internal the tracing build, made on first use. */
  traced(): RunFn {
    return (this.traceFn ??= this.vm.instantiate(generate(this.insns, this.env(), { trace: true })));
  }

  /** Run once. Throws VmFault when the program does something it may not. */
  run(input: VmRunInput = {}): VmRunResult {
    return this.vm.execute(this, input);
  }
}
