/**
 * Program: a loaded BPF program over an fd. loadProgram() takes a DSL ProgramSpec, patches each
 * map reference (LD_IMM64 with `map` metadata) with a live map's fd, and loads it with
 * BPF_PROG_LOAD; a rejection is a VerifierError pointing at the DSL line of the failing
 * instruction. Programs can also be opened by id or from a pin.
 */
import { release } from 'node:os';
import type { MapRef, Instruction } from '../asm/instruction.ts';
import { INSN_SIZE, decode, encode, slots } from '../asm/instruction.ts';
import { LD_IMM64 } from '../asm/opcode.ts';
import type { ProgramSpec } from '../asm/program.ts';
import { disassemble, formatInstruction, type ListingOptions } from '../asm/disasm.ts';
import { dv } from './attr.ts';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, LogLevel, attachTypeId, progTypeId } from './constants.ts';
import { objPin, progLoad, progTestRun, type ProgLoadParams, type ProgLoadResult } from './bpf.ts';
import { loadBtf, type BtfHandle } from './btf.ts';
import { BpfError, VerifierError } from './errors.ts';
import { programBtf } from '../btf/from-program.ts';
import { progFdById, progInfo, type ProgInfo } from './info.ts';
import { isLiveMap, type BpfMap } from './map.ts';
import { defaultSys, type Sys } from './sys.ts';
import { openPinnedAs } from './pin.ts';

/** Live maps for a program's references: a list (matched by spec object or name), by name, or keyed by ref. */
export type MapBindings =
  | readonly BpfMap<any, any>[]
  | { readonly [name: string]: BpfMap<any, any> }
  | ReadonlyMap<MapRef, BpfMap<any, any>>;

export interface LoadOptions {
  /** Live maps for references that are specs rather than maps. */
  readonly maps?: MapBindings;
  /** Verifier log: 0 (default: only on failure), 1 (branches), 2 (every instruction). */
  readonly logLevel?: 0 | 1 | 2;
  /** Ask for the verifier's statistics (log level bit 4): insns processed, states, time. */
  readonly logStats?: boolean;
  /** First verifier log buffer size; it grows on ENOSPC. */
  readonly logSize?: number;
  /** kern_version: checked only for kprobes on kernels before 5.0; defaults to the running kernel's. */
  readonly kernelVersion?: number;
  /** ProgFlags (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS…). */
  readonly flags?: number;
  readonly ifindex?: number;
  readonly sys?: Sys;
  /**
   * Load with BTF made from the DSL's call sites (func_info + line_info), so the verifier log
   * and `bpftool prog dump xlated … linum` show TypeScript lines. Default: on with the real
   * kernel, off with an injected Sys (fakes opt in). A kernel that refuses the BTF gets the
   * program without it, and a warning on stderr.
   */
  readonly btf?: boolean;
}

export interface TestRunOptions {
  /** The packet (Ethernet frame for sched_cls / xdp). */
  readonly data?: Uint8Array;
  /** The context struct in (e.g. struct __sk_buff); fields the kernel does not allow must be zero. */
  readonly ctx?: Uint8Array;
  /** Runs to average the duration over (the kernel's repeat; 0 and 1 both mean one run). */
  readonly repeat?: number;
  /** Room for the packet afterwards; default data.length + 4096. */
  readonly dataOutSize?: number;
  /** Room for the context afterwards; default ctx.length (0 without ctx). */
  readonly ctxOutSize?: number;
  readonly flags?: number;
  readonly cpu?: number;
}

export interface TestRunResult {
  /** The program's return value (r0, as the kernel's u32). */
  readonly retval: number;
  /** Mean run time in ns, as the kernel measured it. */
  readonly duration: number;
  /** The packet after the run. */
  readonly data: Uint8Array;
  /** The context after the run, when one was passed. */
  readonly ctx?: Uint8Array;
}

/** LINUX_VERSION_CODE of the running kernel (major << 16 | minor << 8 | min(patch, 255)). */
export function kernelVersionCode(rel = release()): number {
  const [a = 0, b = 0, c = 0] = (rel.match(/^(\d+)\.(\d+)(?:\.(\d+))?/) ?? []).slice(1).map((x) => Number(x ?? 0));
  return (a << 16) | (b << 8) | Math.min(c, 255);
}

/** Split raw instruction bytes into instructions without validation (the kernel's rewrites use internal forms). */
export function rawInstructions(bytes: Uint8Array): Instruction[] {
  try {
    return decode(bytes);
  } catch {
    const view = dv(bytes);
    const out: Instruction[] = [];
    for (let p = 0; p + INSN_SIZE <= bytes.length; p += INSN_SIZE) {
      const op = bytes[p]!;
      const i: Instruction = { op, dst: bytes[p + 1]! & 0xf, src: bytes[p + 1]! >> 4, off: view.getInt16(p + 2, true), imm: view.getInt32(p + 4, true) };
      if (op === LD_IMM64 && p + 2 * INSN_SIZE <= bytes.length) {
        out.push({ ...i, imm2: view.getInt32(p + INSN_SIZE + 4, true) });
        p += INSN_SIZE;
      } else out.push(i);
    }
    return out;
  }
}

/** A listing of instructions the kernel returned: our disassembler, with raw hex for anything it cannot print. */
export function listInstructions(insns: readonly Instruction[], opts: ListingOptions = {}): string {
  try {
    return disassemble(insns, { index: true, ...opts });
  } catch {
    let slot = 0, out = '';
    for (const i of insns) {
      let text: string;
      try { text = formatInstruction(i, opts); } catch { text = `.raw ${Array.from(encode([i]), (b) => b.toString(16).padStart(2, '0')).join(' ')}`; }
      out += `${String(slot).padStart(4)}: ${text}\n`;
      slot += slots(i);
    }
    return out;
  }
}

function findMap(ref: MapRef, maps: MapBindings | undefined): BpfMap<unknown, unknown> | undefined {
  if (isLiveMap(ref)) return ref;
  if (!maps) return undefined;
  if (Array.isArray(maps)) return (maps as readonly BpfMap<unknown, unknown>[]).find((m) => m === ref || m.spec === ref) ??
    (maps as readonly BpfMap<unknown, unknown>[]).find((m) => m.name === ref.name);
  if (maps instanceof Map) return (maps as ReadonlyMap<MapRef, BpfMap<unknown, unknown>>).get(ref);
  return (maps as Record<string, BpfMap<unknown, unknown>>)[ref.name];
}

/** The instructions with every map reference's fd patched into imm (BPF_PSEUDO_MAP_FD / MAP_VALUE). */
export function resolveMaps(spec: Pick<ProgramSpec, 'name' | 'insns'>, maps?: MapBindings): Instruction[] {
  let slot = 0;
  return spec.insns.map((i) => {
    const at = slot;
    slot += slots(i);
    if (!i.map) return i;
    const live = findMap(i.map, maps);
    if (!live) {
      throw new Error(`program '${spec.name}' references map '${i.map.name}' at instruction ${at}${i.source ? ` (${i.source})` : ''}, ` +
        `but no live map was given for it: create it (createMap(spec)) and pass { maps: { ${i.map.name}: map } } to loadProgram`);
    }
    if (i.src !== BPF_PSEUDO_MAP_FD && i.src !== BPF_PSEUDO_MAP_VALUE) {
      throw new Error(`program '${spec.name}': instruction ${at} has a map but LD_IMM64 source ${i.src}`);
    }
    return { ...i, imm: live.fd };
  });
}

export class Program implements Disposable {
  readonly fd: number;
  readonly name: string;
  readonly type: string;
  /** The DSL spec it was loaded from, when it was. */
  readonly spec: ProgramSpec | undefined;
  /** The verifier log, when a log level was asked for. */
  readonly verifierLog: string;
  /** Loaded with BTF line info (the TypeScript lines are in the kernel). */
  readonly hasBtf: boolean;
  readonly sys: Sys;
  private closed = false;

  constructor(fd: number, meta: { name: string; type: string; spec?: ProgramSpec; verifierLog?: string; sys?: Sys; hasBtf?: boolean }) {
    this.fd = fd;
    this.hasBtf = meta.hasBtf ?? false;
    this.name = meta.name;
    this.type = meta.type;
    this.spec = meta.spec;
    this.verifierLog = meta.verifierLog ?? '';
    this.sys = meta.sys ?? defaultSys;
  }

  private live(): void {
    if (this.closed) throw new Error(`program '${this.name}' is closed`);
  }

  info(opts: { xlated?: boolean; jited?: boolean } = {}): ProgInfo {
    this.live();
    return progInfo(this.fd, { ...opts, sys: this.sys });
  }

  get id(): number { return this.info().id; }
  get tag(): string { return this.info().tag; }

  /** What the kernel runs after verification and rewriting, decoded with our decoder. */
  xlated(): Instruction[] {
    const x = this.info({ xlated: true }).xlated;
    if (!x) throw new Error(`the kernel returned no translated instructions for '${this.name}' (needs root: bpf_dump_raw_ok)`);
    return rawInstructions(x);
  }

  /**
   * xlated() as a listing, through the disassembler. In translated code the kernel puts map ids
   * where the loader put fds (bpf_insn_prepare_dump), so it says map[id:N], as bpftool does.
   */
  xlatedListing(opts: ListingOptions = {}): string {
    return listInstructions(this.xlated(), { mapIds: true, ...opts });
  }

  /** The JIT's machine code. */
  jited(): Uint8Array {
    return this.info({ jited: true }).jited ?? new Uint8Array(0);
  }

  /** BPF_PROG_TEST_RUN: run once (or `repeat` times) on a packet without attaching anywhere. */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    this.live();
    const data = opts.data ? copy(opts.data) : undefined;
    const dataOut = data || opts.dataOutSize ? new Uint8Array(new ArrayBuffer(opts.dataOutSize ?? (data?.length ?? 0) + 4096)) : undefined;
    const ctx = opts.ctx ? copy(opts.ctx) : undefined;
    const ctxOutSize = opts.ctxOutSize ?? ctx?.length ?? 0;
    const ctxOut = ctxOutSize ? new Uint8Array(new ArrayBuffer(ctxOutSize)) : undefined;
    const r = progTestRun(this.sys, this.fd, { data, dataOut, ctx, ctxOut, repeat: opts.repeat, flags: opts.flags, cpu: opts.cpu });
    return {
      retval: r.retval, duration: r.duration,
      data: dataOut ? dataOut.slice(0, r.dataSizeOut) : new Uint8Array(0),
      ...(ctxOut ? { ctx: ctxOut.slice(0, r.ctxSizeOut) } : {}),
    };
  }

  /** Pin at a bpffs path: the program outlives this process. */
  pin(path: string): void {
    this.live();
    objPin(this.sys, this.fd, path);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sys.close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A buffer of our own on an ArrayBuffer (the caller's may be a view into a Node pool). */
const copy = (b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(new ArrayBuffer(b.length));
  out.set(b);
  return out;
};

/** Load a DSL program. Map references resolve to the ref itself when it is a live map, else to opts.maps. */
export function loadProgram(spec: ProgramSpec, opts: LoadOptions = {}): Program {
  const sys = opts.sys ?? defaultSys;
  const insns = resolveMaps(spec, opts.maps);
  const bytes = encode(insns);
  const sourceAt: (string | undefined)[] = [];
  for (const i of insns) for (let s = 0; s < slots(i); s++) sourceAt.push(i.source);
  const level = (opts.logLevel ?? 0) | (opts.logStats ? LogLevel.STATS : 0);
  const params: ProgLoadParams = {
    type: progTypeId(spec.type), insns: bytes, license: spec.license, name: spec.name,
    expectedAttachType: spec.expectedAttachType ? attachTypeId(spec.expectedAttachType) : 0,
    kernVersion: opts.kernelVersion ?? (spec.type === 'kprobe' ? kernelVersionCode() : 0),
    flags: opts.flags, ifindex: opts.ifindex, logLevel: level, logSize: opts.logSize,
    sourceAt: (i) => sourceAt[i],
  };
  const wantBtf = opts.btf ?? (opts.sys === undefined || opts.sys === defaultSys);
  if (wantBtf) {
    const r = loadWithBtf(spec, params, sys);
    if (r) return new Program(r.fd, { name: spec.name, type: spec.type, spec, verifierLog: r.log, sys, hasBtf: true });
  }
  const r = loadOrExplain(sys, params);
  return new Program(r.fd, { name: spec.name, type: spec.type, spec, verifierLog: r.log, sys });
}

/**
 * progLoad; a rejection the kernel gave without a log (ENOTSUPP, E2BIG, EPERM…) is loaded once
 * more with one, so the user sees the verifier's words when it has any (otherwise the first
 * error stands).
 */
function loadOrExplain(sys: Sys, params: ProgLoadParams): ProgLoadResult {
  try {
    return progLoad(sys, params);
  } catch (e) {
    if (!(e instanceof BpfError) || e instanceof VerifierError || (params.logLevel ?? 0) !== 0) throw e;
    try { return progLoad(sys, { ...params, logLevel: 1 }); } catch (again) { throw again instanceof VerifierError ? again : e; }
  }
}

/** Rejections that are about the BTF we sent, not about the program. */
const BTF_TROUBLE = /func_info|line_info|func info|line info|btf|BTF/;

/**
 * The load with BTF, or null when the BTF itself is the problem (then the caller loads without
 * it, and we say so on stderr). A program the verifier rejects is thrown as usual: its log now
 * quotes the TypeScript lines.
 */
function loadWithBtf(spec: ProgramSpec, params: ProgLoadParams, sys: Sys): ProgLoadResult | null {
  let handle: BtfHandle;
  let pb: Pick<ReturnType<typeof programBtf>, 'btf' | 'funcInfo' | 'funcInfoCount' | 'lineInfo' | 'lineInfoCount'>;
  try {
    // A program read from an object brings clang's BTF (C lines); a DSL program gets its own (TypeScript lines).
    pb = (spec as { objectBtf?: typeof pb }).objectBtf ?? programBtf(spec);
    handle = loadBtf(pb.btf, { sys });
  } catch (e) {
    if (noPermission(e)) throw e;
    warnNoBtf(spec.name, e);
    return null;
  }
  try {
    return loadOrExplain(sys, { ...params, btf: { fd: handle.fd, funcInfo: pb.funcInfo, funcInfoCount: pb.funcInfoCount, lineInfo: pb.lineInfo, lineInfoCount: pb.lineInfoCount } });
  } catch (e) {
    if (e instanceof VerifierError && !BTF_TROUBLE.test(e.summary)) throw e;
    if (!(e instanceof BpfError) || noPermission(e)) throw e;
    warnNoBtf(spec.name, e);
    return null;
  } finally {
    // The program holds its own reference to the BTF.
    handle.close();
  }
}

/** EPERM/EACCES: the caller lacks privilege; loading without BTF would fail the same way, so no BTF warning. */
const noPermission = (e: unknown): boolean => e instanceof BpfError && (e.code === 'EPERM' || e.code === 'EACCES');

function warnNoBtf(name: string, e: unknown): void {
  process.stderr.write(`tsbpf: warning: program '${name}' is loaded WITHOUT BTF, so the kernel's logs and bpftool will not show ` +
    `its TypeScript lines: ${(e as Error).message.split('\n')[0]}\n`);
}

/** Adopt a program fd: name and type come from the kernel. */
export function programFromFd(fd: number, sys: Sys = defaultSys): Program {
  try {
    const info = progInfo(fd, { sys });
    return new Program(fd, { name: info.name, type: info.type, sys });
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** A loaded program by its kernel id (BPF_PROG_GET_FD_BY_ID). */
export function openProgramById(id: number, sys: Sys = defaultSys): Program {
  return programFromFd(progFdById(id, sys), sys);
}

/** A pinned program (BPF_OBJ_GET). */
export function openPinnedProgram(path: string, sys: Sys = defaultSys): Program {
  return programFromFd(openPinnedAs(path, 'prog', { sys }), sys);
}
