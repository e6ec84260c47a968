/**
 * Atomic read-modify-write on memory: STX with mode ATOMIC, the operation in imm.
 *   lock *(size *)(dst + off) op= src            (add, or, and, xor)
 *   src = atomic_fetch_op((size *)(dst + off), src)   (fetch_*: src receives the old value)
 *   src = xchg(dst + off, src)
 *   r0 = cmpxchg(dst + off, r0, src)             (r0: expected in, old value out)
 */
import { AsmError } from './errors.ts';
import { off16, reg } from './imm.ts';
import type { Instruction } from './instruction.ts';
import { AtomicOp, Class, Mode, Size, type AtomicOpName } from './opcode.ts';
import type { Register } from './register.ts';

export function atomic(op: AtomicOpName, sz: 'u32' | 'u64', dst: Register, off: number, src: Register): Instruction {
  const code = AtomicOp[op];
  if (code === undefined) throw new AsmError(`unknown atomic operation '${op}': use ${Object.keys(AtomicOp).join(', ')}`);
  if (sz !== 'u32' && sz !== 'u64') throw new AsmError(`atomic operations are u32 or u64 only, not ${JSON.stringify(sz)}`);
  return { op: Class.STX | Mode.ATOMIC | Size[sz], dst: reg(dst, 'base register'), src: reg(src, 'source register'), off: off16(off), imm: code };
}
