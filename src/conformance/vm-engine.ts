/**
 * Conformance vectors in tsbpf's VM (src/vm) instead of the kernel: no root, no verifier, so it
 * runs what the kernel refuses (out-of-range shift immediates, division by an immediate 0,
 * callx) by the RFC 9669 and bpf_conformance semantics. r1 = the vector's memory, r2 = its
 * length, as the suite's userspace runtimes do.
 *
 * The suite's own assembler accepts two spellings tsbpf's does not: `exit` as a label naming
 * the first exit instruction, and `call %rN` (callx, the helper id in a register). Both are
 * handled here, line for line, so sources and errors keep the .data file's line numbers.
 */
import { AsmError } from '../asm/errors.ts';
import { CallKind, Class, JmpOp, Source } from '../asm/opcode.ts';
import type { Instruction } from '../asm/instruction.ts';
import { Vm, VmError, VmFault } from '../vm/index.ts';
import { hex, type VectorResult } from './runner.ts';
import { vectorProgram, type Vector } from './vector.ts';

/** A helper id no program uses: marks where a callx was, until it is patched in. */
const CALLX_MARK = 0x7ffffff0;

/** The vector with the suite's extra spellings turned into tsbpf's; callx registers by line. */
export function suiteDialect(v: Vector): { vector: Vector; callx: Map<number, number> } {
  const callx = new Map<number, number>();
  if (v.asm === undefined) return { vector: v, callx };
  let lines = v.asm.split('\n');
  const code = (l: string): string => l.replace(/#.*$/, '').trim();
  lines = lines.map((l, n) => {
    const m = /^(\s*)call\s+%r(\d+)\s*(#.*)?$/i.exec(l);
    if (!m) return l;
    callx.set(n + 1, Number(m[2]));
    return `${m[1]}call ${CALLX_MARK}`;
  });
  const usesExit = lines.some((l) => /(,|\bja(32)?)\s*exit\s*$/i.test(code(l)));
  const definesExit = lines.some((l) => /^exit\s*:/i.test(code(l)));
  if (usesExit && !definesExit) {
    const first = lines.findIndex((l) => /^exit$/i.test(code(l)));
    if (first >= 0) lines[first] = lines[first]!.replace(/exit/i, 'exit: exit');
  }
  return { vector: { ...v, asm: lines.join('\n') }, callx };
}

/** The vector's instructions as the VM runs them (callx patched in). */
export function vmInstructions(v: Vector): readonly Instruction[] {
  const { vector, callx } = suiteDialect(v);
  const { insns } = vectorProgram(vector);
  if (callx.size === 0) return insns;
  return insns.map((i) => {
    if (i.op !== (Class.JMP | JmpOp.call) || i.src !== CallKind.helper || i.imm !== CALLX_MARK) return i;
    const line = Number(/:(\d+)(:\d+)?$/.exec(i.source ?? '')?.[1]);
    const reg = callx.get(line);
    if (reg === undefined) return i;
    return { ...i, op: Class.JMP | JmpOp.call | Source.X, dst: reg, imm: 0 };
  });
}

export interface VmEngineOptions {
  /** Instruction budget per vector (default 1M). */
  readonly maxInsns?: number;
}

/** Run one vector in a fresh VM and judge it, as ConformanceRunner.run does for the kernel. */
export function runVectorInVm(v: Vector, opts: VmEngineOptions = {}): VectorResult {
  const expected = v.error !== undefined ? `error${v.error ? `: ${v.error}` : ''}` : hex(v.result!);
  const base = { name: v.name, file: v.file, expected };
  const mustFail = v.error !== undefined;
  let insns: readonly Instruction[];
  try {
    insns = vmInstructions(v);
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    return { ...base, status: mustFail ? 'passed' : 'failed', actual: undefined, reason: `${mustFail ? 'refused by ' : ''}tsbpf: ${e.message}` };
  }
  let r0: bigint;
  try {
    const vm = new Vm({ maxInsns: opts.maxInsns ?? 1_000_000 });
    r0 = vm.load(insns, { name: v.name }).run({ mem: v.mem }).r0;
  } catch (e) {
    if (e instanceof VmError) return { ...base, status: mustFail ? 'passed' : 'rejected', actual: undefined, reason: `${mustFail ? 'refused by the VM: ' : ''}${e.message}` };
    if (e instanceof VmFault) return { ...base, status: mustFail ? 'passed' : 'failed', actual: undefined, reason: `VM fault: ${e.message}` };
    throw e;
  }
  const actual = hex(r0);
  if (mustFail) return { ...base, status: 'failed', actual, reason: 'the VM ran a program the vector says must be rejected' };
  if (r0 !== v.result) return { ...base, status: 'failed', actual, reason: `r0 is ${actual}, expected ${expected}` };
  return { ...base, status: 'passed', actual, reason: undefined };
}
