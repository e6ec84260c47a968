/**
 * Kprobes: run a KPROBE program at a kernel function, through the kprobe PMU (config1 = the
 * symbol's name, config2 = an offset into it). A kernel built without CONFIG_KPROBES has no
 * kprobe PMU in /sys/bus/event_source/devices, and then this says so before any system call:
 * the same programs run at uprobes (attachUprobe) and tracepoints (attachTracepoint).
 */
import { cstring } from '../syscall/bpf.ts';
import type { Program } from '../syscall/program.ts';
import type { Sys } from '../syscall/sys.ts';
import {
  PMU_DIR, ProbeError, attachToPerfEvent, expectProgramType, openPerfEvent, perfEventAttr, readPmu,
  type PerfAttachMode, type PerfEventAttachment,
} from './perf-event.ts';

export interface KprobeOptions {
  /** Bytes into the function. */
  readonly offset?: number;
  readonly retprobe?: boolean;
  readonly mode?: PerfAttachMode;
  readonly cookie?: bigint;
  readonly sys?: Sys;
  /** Where the PMUs are (tests): default /sys/bus/event_source/devices. */
  readonly pmuDir?: string;
}

/** Whether this kernel can place kprobes (it has the kprobe PMU). */
export function kprobesAvailable(pmuDir = PMU_DIR): boolean {
  return readPmu('kprobe', pmuDir) !== null;
}

/** Attach a KPROBE program at a kernel symbol. On a kernel without kprobes: a ProbeError saying what to use instead. */
export function attachKprobe(prog: Program, symbol: string, o: KprobeOptions = {}): PerfEventAttachment {
  const kind = o.retprobe ? 'kretprobe' : 'kprobe';
  const target = o.offset ? `${symbol}+0x${o.offset.toString(16)}` : symbol;
  const pmu = readPmu('kprobe', o.pmuDir ?? PMU_DIR);
  if (!pmu) {
    throw new ProbeError(kind, target, 'this kernel has no kprobes (CONFIG_KPROBES is off)',
      { hint: 'use a uprobe (attachUprobe) or a tracepoint (attachTracepoint)' });
  }
  expectProgramType(prog, 'kprobe', kind, target);
  if (!/^[A-Za-z_][\w.]*$/.test(symbol)) throw new ProbeError(kind, target, `'${symbol}' is not a kernel symbol name`);
  if (o.offset !== undefined && (!Number.isSafeInteger(o.offset) || o.offset < 0)) throw new ProbeError(kind, target, `offset ${o.offset} is not a non-negative integer`);
  const sys = o.sys ?? prog.sys;
  const name = cstring(symbol);
  const attr = perfEventAttr({
    type: pmu.type, config: o.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n,
    config1: sys.addressOf(name), config2: BigInt(o.offset ?? 0),
  });
  const fd = openPerfEvent(sys, attr, { pid: -1, cpu: 0 }, kind, target);
  void name; // referenced until perf_event_open has copied the symbol
  return attachToPerfEvent(prog, fd, kind, target, { mode: o.mode, cookie: o.cookie, sys });
}
