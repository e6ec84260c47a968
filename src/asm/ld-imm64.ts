/**
 * LD_IMM64 (opcode 0x18), the only 16-byte instruction. Its src field says what the 64-bit
 * constant means; the loader and the verifier rewrite the pseudo forms:
 *   src 0  imm           dst = constant
 *   src 1  map_fd        dst = &map            (imm = map fd; what map references become)
 *   src 2  map_value     dst = &map value + off (imm = map fd, imm2 = offset)
 *   src 3  btf_id        dst = &kernel variable (imm = BTF id)
 *   src 4  func          dst = &subprogram      (imm = pc-relative slot offset)
 *   src 5  map_idx       dst = &maps[idx]       (fd_array index)
 *   src 6  map_idx_value dst = &maps[idx] value + off
 */
import { AsmError } from './errors.ts';
import { dstReg, imm32 } from './imm.ts';
import { splitImm64, type Instruction, type MapRef } from './instruction.ts';
import { LD_IMM64, Pseudo } from './opcode.ts';
import type { Register } from './register.ts';

const mk = (dst: Register, src: number, imm: number, imm2: number, extra: Partial<Instruction> = {}): Instruction =>
  ({ op: LD_IMM64, dst: dstReg(dst), src, off: 0, imm, imm2, ...extra });

export function ld64(dst: Register, value: bigint | number): Instruction {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new AsmError(`ld64 constant ${value} is not a safe integer; pass a bigint`);
  const v = BigInt(value);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new AsmError(`ld64 constant ${v} does not fit in 64 bits`);
  const { imm, imm2 } = splitImm64(v);
  return mk(dst, Pseudo.imm, imm, imm2);
}

/** dst = &map: the map's fd is patched in at load time (or given directly as a number). */
export function ldMap(dst: Register, map: MapRef | number): Instruction {
  return typeof map === 'number' ? mk(dst, Pseudo.map_fd, imm32(map), 0) : mk(dst, Pseudo.map_fd, 0, 0, { map });
}

/** dst = address of the map's value at byte offset off (array maps with one entry, .data/.bss style). */
export function ldMapValue(dst: Register, map: MapRef | number, off = 0): Instruction {
  const o = imm32(off);
  return typeof map === 'number' ? mk(dst, Pseudo.map_value, imm32(map), o) : mk(dst, Pseudo.map_value, 0, o, { map });
}

export function ldBtfId(dst: Register, id: number): Instruction {
  return mk(dst, Pseudo.btf_id, imm32(id), 0);
}

export function ldMapIdx(dst: Register, idx: number): Instruction {
  return mk(dst, Pseudo.map_idx, imm32(idx), 0);
}

export function ldMapIdxValue(dst: Register, idx: number, off = 0): Instruction {
  return mk(dst, Pseudo.map_idx_value, imm32(idx), imm32(off));
}

/** dst = &subprogram at label (or at a raw pc-relative slot offset). */
export function ldFunc(dst: Register, target: string | number): Instruction {
  return typeof target === 'number' ? mk(dst, Pseudo.func, imm32(target), 0) : mk(dst, Pseudo.func, 0, 0, { target });
}
