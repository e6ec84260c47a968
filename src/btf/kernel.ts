/**
 * The running kernel's own BTF (/sys/kernel/btf/vmlinux), read and indexed once per process:
 * what CO-RE relocations resolve against by default.
 */
import { readFileSync } from 'node:fs';
import { decodeBtf, type Btf } from './decode.ts';
import { BtfError } from './errors.ts';

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';
let cached: Btf | undefined;

export function runningKernelBtf(): Btf {
  if (cached) return cached;
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(VMLINUX_BTF)); } catch (e) {
    throw new BtfError(`cannot read ${VMLINUX_BTF} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): this kernel was built without CONFIG_DEBUG_INFO_BTF, so CO-RE objects cannot be relocated for it`);
  }
  return (cached = decodeBtf(bytes));
}
