/**
 * Running conformance vectors in the kernel: each vector is assembled by tsbpf, wrapped by
 * the prologue (prologue.ts), loaded with BPF_PROG_LOAD, run once with BPF_PROG_TEST_RUN on a
 * packet holding its `-- mem`, and its 64-bit r0 is read back from the result map and compared
 * with `-- result`. A vector with `-- error` passes when tsbpf or the kernel rejects it.
 */
import { AsmError } from '../asm/errors.ts';
import type { Instruction } from '../asm/instruction.ts';
import type { ProgramSpec } from '../asm/program.ts';
import { BpfError, VerifierError } from '../syscall/errors.ts';
import type { BpfMap } from '../syscall/map.ts';
import { loadCollection, type Collection } from '../attach/collection.ts';
import { loadProgram } from '../syscall/program.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import { MIN_PACKET, RESULT_MAP, XDP_ABORTED, XDP_PASS, wrapVector } from './prologue.ts';
import { vectorProgram, type Vector } from './vector.ts';

/**
 * passed: r0 matched (or an `-- error` vector was refused); failed: wrong r0, or tsbpf could
 * not build it, or it ran when it should have been refused; rejected: the kernel refused a
 * vector that should run (the verifier's message says why).
 */
export type Status = 'passed' | 'failed' | 'rejected';

export interface VectorResult {
  readonly name: string;
  readonly file: string;
  readonly status: Status;
  /** The expected r0 as hex (`0x1`), or `error` (plus its text) for a vector that must be refused. */
  readonly expected: string;
  /** r0 as hex, when the vector ran. */
  readonly actual: string | undefined;
  /** Why it failed or was rejected (for a rejection: the verifier's verdict and where). */
  readonly reason: string | undefined;
  /** The whole verifier log, for a rejection. */
  readonly log?: string;
}

/** What one run of a wrapped program gave. */
export interface Execution {
  /** The vector's r0, all 64 bits, unsigned. */
  readonly r0: bigint;
  /** The wrapped program, as loaded. */
  readonly program: ProgramSpec;
  /** The verifier log, when a log level was asked for. */
  readonly log: string;
}

export const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** A vector the wrapped program ran but whose prologue did not store r0. */
export class ConformanceRunError extends Error {
  override name = 'ConformanceRunError';
}

/** One line of the verifier's verdict, and where: the .data line when the vector's instruction failed. */
export function rejectionReason(e: VerifierError | BpfError): string {
  if (!(e instanceof VerifierError)) return e.message.split('\n')[0]!;
  const where = e.source !== undefined ? ` (at ${e.source})` : e.index !== undefined ? ` (instruction ${e.index} of the wrapped program)` : '';
  return `${e.summary}${where}`;
}

/**
 * Runs vectors against the kernel. Holds the result map for all of them; close it (or `using`)
 * when done.
 */
export class ConformanceRunner implements Disposable {
  readonly map: BpfMap<number, bigint>;
  private readonly sys: Sys;
  private readonly maps: Collection;

  constructor(opts: { sys?: Sys } = {}) {
    this.sys = opts.sys ?? defaultSys;
    this.maps = loadCollection({ maps: [RESULT_MAP] }, { sys: this.sys });
    this.map = this.maps.map<number, bigint>(RESULT_MAP.name);
  }

  /**
   * Wrap, load and run a vector's instructions with this input memory; r0 comes back whole.
   * A refusal throws the kernel's VerifierError (or BpfError); `logLevel` asks for the log
   * on success too.
   */
  execute(vector: readonly Instruction[], mem: Uint8Array, opts: { labels?: ReadonlyMap<string, number>; logLevel?: 0 | 1 | 2; name?: string } = {}): Execution {
    const program = wrapVector(vector, { memLength: mem.length, result: this.map, ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.name ? { name: opts.name } : {}) });
    this.map.set(0, 0n);
    using prog = loadProgram(program, { logLevel: opts.logLevel ?? 0, sys: this.sys });
    // XDP test runs need at least an Ethernet header; r2 still says the memory's own length.
    const data = new Uint8Array(Math.max(mem.length, MIN_PACKET));
    data.set(mem);
    const run = prog.testRun({ data });
    if (run.retval === XDP_ABORTED) throw new ConformanceRunError(`the ${mem.length}-byte memory did not fit in the ${data.length}-byte packet`);
    if (run.retval !== XDP_PASS) throw new ConformanceRunError(`the prologue returned ${run.retval}, not XDP_PASS (${XDP_PASS}): r0 was not stored`);
    return { r0: this.map.get(0) ?? 0n, program, log: prog.verifierLog };
  }

  /** Run one vector and judge it. Never throws for what a vector does; only for a broken runner. */
  run(v: Vector): VectorResult {
    const expected = v.error !== undefined ? `error${v.error ? `: ${v.error}` : ''}` : hex(v.result!);
    const base = { name: v.name, file: v.file, expected };
    const mustFail = v.error !== undefined;
    let insns: readonly Instruction[], labels: ReadonlyMap<string, number>;
    try {
      ({ insns, labels } = vectorProgram(v));
    } catch (e) {
      if (!(e instanceof AsmError)) throw e;
      return { ...base, status: mustFail ? 'passed' : 'failed', actual: undefined, reason: `${mustFail ? 'refused by ' : ''}tsbpf: ${e.message}` };
    }
    let x: Execution;
    try {
      x = this.execute(insns, v.mem, { labels });
    } catch (e) {
      if (e instanceof BpfError && e.command === 'BPF_PROG_LOAD') {
        const reason = rejectionReason(e);
        return {
          ...base, status: mustFail ? 'passed' : 'rejected', actual: undefined, reason: mustFail ? `refused by the kernel: ${reason}` : reason,
          ...(e instanceof VerifierError ? { log: e.log } : {}),
        };
      }
      if (e instanceof BpfError || e instanceof ConformanceRunError) {
        return { ...base, status: 'failed', actual: undefined, reason: e.message.split('\n')[0]! };
      }
      throw e;
    }
    const actual = hex(x.r0);
    if (mustFail) return { ...base, status: 'failed', actual, reason: 'the kernel ran a program the vector says must be rejected' };
    if (x.r0 !== v.result) return { ...base, status: 'failed', actual, reason: `r0 is ${actual}, expected ${expected}` };
    return { ...base, status: 'passed', actual, reason: undefined };
  }

  close(): void {
    this.maps.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Run vectors with one runner, in order. */
export function runVectors(vectors: readonly Vector[], opts: { sys?: Sys } = {}): VectorResult[] {
  using runner = new ConformanceRunner(opts);
  return vectors.map((v) => runner.run(v));
}

/** Totals: failed counts every vector that did not pass, rejected ones included. */
export function totals(results: readonly VectorResult[]): { passed: number; failed: number; rejected: number } {
  const passed = results.filter((r) => r.status === 'passed').length;
  return { passed, failed: results.length - passed, rejected: results.filter((r) => r.status === 'rejected').length };
}
