/**
 * Per-CPU maps copy one value per *possible* CPU (the kernel's for_each_possible_cpu), each
 * rounded up to 8 bytes, so user space must know how many CPUs are possible, not online.
 */
import { readFileSync } from 'node:fs';

/** Count the CPUs in a list like "0-3,5,7-8". */
export function parseCpuList(text: string): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

let cached: number | undefined;
/** Number of possible CPUs (/sys/devices/system/cpu/possible). */
export function possibleCpus(): number {
  return (cached ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')));
}
