/**
 * Calls: JMP|CALL with src saying which kind.
 *   src 0: a helper, imm = helper id (linux/bpf.h __BPF_FUNC_MAPPER)
 *   src 1: a bpf-to-bpf call, imm = pc-relative slot offset of the callee
 *   src 2: a kernel function (kfunc), imm = BTF id, off = module BTF fd index (0 = vmlinux)
 * Arguments go in r1..r5, the result comes back in r0; r1..r5 are clobbered.
 */
import { AsmError } from './errors.ts';
import { helperId } from './helpers.ts';
import { checkInt, imm32, S16 } from './imm.ts';
import type { Instruction } from './instruction.ts';
import { CallKind, Class, JmpOp } from './opcode.ts';
import type { Target } from './jump.ts';

const CALL = Class.JMP | JmpOp.call;

export function call(helper: string | number): Instruction {
  const id = typeof helper === 'number' ? helper : helperId(helper);
  if (id === undefined) throw new AsmError(`unknown helper '${helper}' (names come from linux/bpf.h, e.g. 'map_lookup_elem' or 'bpf_ktime_get_ns')`);
  return { op: CALL, dst: 0, src: CallKind.helper, off: 0, imm: imm32(id) };
}

export function callLocal(t: Target): Instruction {
  const i = { op: CALL, dst: 0, src: CallKind.local, off: 0, imm: 0 };
  return typeof t === 'string' ? { ...i, target: t } : { ...i, imm: imm32(t) };
}

export function kfunc(btfId: number, moduleFdIndex = 0): Instruction {
  return { op: CALL, dst: 0, src: CallKind.kfunc, off: checkInt(moduleFdIndex, S16, 'kfunc module index'), imm: imm32(btfId) };
}
