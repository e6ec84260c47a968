/**
 * Control flow: JMP (64-bit compares) and JMP32 (compares the low 32 bits).
 *   op|s|cls   if dst op src|imm goto pc + 1 + off
 * ja is JMP|JA with a 16-bit off; gotol is JMP32|JA with a 32-bit offset in imm.
 * Targets are labels, resolved at link time with range checks, or raw slot offsets.
 */
import { AsmError } from './errors.ts';
import { imm32, off16, reg } from './imm.ts';
import type { Instruction } from './instruction.ts';
import { COND_JUMPS, Class, JmpOp, Source, type CondJump } from './opcode.ts';
import { isRegister, type Register } from './register.ts';

export type Target = string | number;

const withTarget = (i: Omit<Instruction, 'target'>, t: Target, field: 'off' | 'imm'): Instruction => {
  if (typeof t === 'string') {
    if (t === '') throw new AsmError('empty label');
    return { ...i, target: t };
  }
  return { ...i, [field]: field === 'off' ? off16(t) : imm32(t) };
};

export function ja(t: Target): Instruction {
  return withTarget({ op: Class.JMP | JmpOp.ja, dst: 0, src: 0, off: 0, imm: 0 }, t, 'off');
}

/** goto with a 32-bit offset (JMP32|JA), for targets beyond ±32K slots. */
export function gotol(t: Target): Instruction {
  return withTarget({ op: Class.JMP32 | JmpOp.ja, dst: 0, src: 0, off: 0, imm: 0 }, t, 'imm');
}

export function jcond(op: CondJump, width: 32 | 64, dst: Register, src: Register | number, t: Target): Instruction {
  const code = JmpOp[op];
  if (!(COND_JUMPS as readonly string[]).includes(op)) throw new AsmError(`unknown conditional jump '${op}': use one of ${COND_JUMPS.join(', ')}`);
  const cls = width === 32 ? Class.JMP32 : Class.JMP;
  const d = reg(dst, 'compared register');
  const i = isRegister(src)
    ? { op: cls | code | Source.X, dst: d, src: reg(src, 'source register'), off: 0, imm: 0 }
    : { op: cls | code | Source.K, dst: d, src: 0, off: 0, imm: imm32(src as number, width === 32) };
  return withTarget(i, t, 'off');
}

export function exit(): Instruction {
  return { op: Class.JMP | JmpOp.exit, dst: 0, src: 0, off: 0, imm: 0 };
}
