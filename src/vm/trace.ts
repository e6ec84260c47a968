/**
 * How --trace prints a step: slot, instruction, the registers it changed, the memory it
 * touched, and the TS line that emitted it.
 *
 *     12  r2 = *(u16 *)(r1 + 12)       r2 0x0 -> 0x8            load 2 @ 0x200000c packet = 0x8   probe.ts:23
 */
import { formatInstruction } from '../asm/disasm.ts';
import type { Instruction } from '../asm/instruction.ts';
import { pairToBig } from './arith.ts';
import type { Access } from './memory.ts';

export interface RegChange {
  readonly reg: number;
  readonly before: bigint;
  readonly after: bigint;
}

/** One executed instruction, for --trace. */
export interface TraceStep {
  /** Which program (tail calls switch programs). */
  readonly program: string;
  readonly index: number;
  readonly slot: number;
  readonly text: string;
  readonly source: string | undefined;
  readonly changed: readonly RegChange[];
  readonly mem: readonly Access[];
}

/** What the recorder needs of a program. */
interface Traced {
  readonly name: string;
  readonly insns: readonly Instruction[];
  readonly slotOf: readonly number[];
}

/**
 * Builds TraceSteps while a traced program runs: the compiled code calls step(k) before each
 * instruction with the registers written back to R, so the registers an instruction changed
 * are the difference between two calls.
 */
export class StepRecorder {
  readonly steps: TraceStep[] = [];
  private index = -1;
  private snap = new Int32Array(22);
  private mem: Access[] = [];

  constructor(private readonly R: Int32Array, private readonly onStep: ((s: TraceStep) => void) | undefined) {}

  step(prog: Traced, k: number): void {
    this.finish(prog);
    this.index = k;
    this.snap.set(this.R);
    this.mem = [];
  }

  access(a: Access): void {
    if (this.index >= 0) this.mem.push(a);
  }

  /** Close the step in progress (at the next step, at exit, at a fault or a tail call). */
  finish(prog: Traced): void {
    if (this.index < 0) return;
    const R = this.R, snap = this.snap, changed: RegChange[] = [];
    for (let r = 0; r <= 10; r++) {
      if (R[2 * r] !== snap[2 * r] || R[2 * r + 1] !== snap[2 * r + 1]) {
        changed.push({ reg: r, before: pairToBig(snap[2 * r]!, snap[2 * r + 1]!), after: pairToBig(R[2 * r]!, R[2 * r + 1]!) });
      }
    }
    const i = prog.insns[this.index]!;
    const s: TraceStep = { program: prog.name, index: this.index, slot: prog.slotOf[this.index]!, text: formatInstruction(i), source: i.source, changed, mem: this.mem };
    this.steps.push(s);
    this.onStep?.(s);
    this.index = -1;
  }
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function formatStep(s: TraceStep, opts: { program?: boolean } = {}): string {
  const regs = s.changed.map((c) => `r${c.reg} ${hex(c.before)} -> ${hex(c.after)}`).join(', ');
  const mem = s.mem.map((a) => `${a.write ? 'store' : 'load'} ${a.size} @ 0x${a.address.toString(16)} ${a.region}${a.size <= 8 ? ` = ${hex(a.value)}` : ''}`).join('; ');
  const what = [regs, mem].filter(Boolean).join('; ');
  const head = `${opts.program ? `${s.program}:` : ''}${String(s.slot).padStart(4)}  ${s.text.padEnd(34)}`;
  return `${head} ${what.padEnd(40)}${s.source ? `  ${s.source}` : ''}`.trimEnd();
}
