/**
 * Names for the direct calls in xlated code. After verification a helper call's imm is the
 * helper's address minus __bpf_call_base (kernel/bpf/core.c), which bpftool turns back into a
 * name with /proc/kallsyms; so do we. Addresses read as zero without root (kptr_restrict):
 * then there are no names, and listings show the number.
 */
import { readFileSync } from 'node:fs';

export type CallNamer = (imm: number) => string | undefined;

/** Build a namer from kallsyms text (exported for tests). */
export function callNamerFrom(text: string): CallNamer {
  let base: bigint | undefined;
  const byAddr = new Map<bigint, string>();
  for (const line of text.split('\n')) {
    const sp1 = line.indexOf(' ');
    if (sp1 < 0) continue;
    const type = line[sp1 + 1];
    if (type !== 't' && type !== 'T') continue;
    const rest = line.slice(sp1 + 3);
    const name = rest.split(/[\s\t]/)[0]!;
    const addr = BigInt(`0x${line.slice(0, sp1)}`);
    if (addr === 0n) continue;
    if (name === '__bpf_call_base') base = addr;
    if (!byAddr.has(addr)) byAddr.set(addr, name);
  }
  if (base === undefined) return () => undefined;
  const b = base;
  return (imm) => byAddr.get(b + BigInt(imm));
}

let cached: CallNamer | undefined;
/** The running kernel's namer (reads /proc/kallsyms once). */
export function kernelCallNamer(): CallNamer {
  if (!cached) {
    try { cached = callNamerFrom(readFileSync('/proc/kallsyms', 'utf8')); } catch { cached = () => undefined; }
  }
  return cached;
}
