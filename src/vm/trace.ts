/**
 * How --trace prints a step: slot, instruction, the registers it changed, the memory it
 * touched, and the TS line that emitted it.
 *
 *     12  r2 = *(u16 *)(r1 + 12)       r2 0x0 -> 0x8            load 2 @ 0x200000c packet = 0x8   probe.ts:23
 */
import type { TraceStep } from './vm.ts';

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function formatStep(s: TraceStep, opts: { program?: boolean } = {}): string {
  const regs = s.changed.map((c) => `r${c.reg} ${hex(c.before)} -> ${hex(c.after)}`).join(', ');
  const mem = s.mem.map((a) => `${a.write ? 'store' : 'load'} ${a.size} @ 0x${a.address.toString(16)} ${a.region}${a.size <= 8 ? ` = ${hex(a.value)}` : ''}`).join('; ');
  const what = [regs, mem].filter(Boolean).join('; ');
  const head = `${opts.program ? `${s.program}:` : ''}${String(s.slot).padStart(4)}  ${s.text.padEnd(34)}`;
  return `${head} ${what.padEnd(40)}${s.source ? `  ${s.source}` : ''}`.trimEnd();
}
