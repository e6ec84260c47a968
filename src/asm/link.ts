/**
 * Link time: labels become slot offsets. A label names the instruction defined after it; offsets
 * count 8-byte slots from the instruction after the jump, so an LD_IMM64 in between counts twice.
 * Every offset is range-checked (s16 for jumps, s32 for gotol, calls and func references), and a
 * raw offset that lands outside the program or inside an LD_IMM64 is an error, not a surprise
 * for the verifier.
 */
import { AsmError } from './errors.ts';
import { slots, type Instruction } from './instruction.ts';
import { CallKind, Class, JmpOp, LD_IMM64, Pseudo, opClass, opCode } from './opcode.ts';
import { S16, S32 } from './imm.ts';

/** Which field holds the pc-relative offset of an instruction, or null if it has none. */
export function branchField(i: Instruction): 'off' | 'imm' | null {
  const cls = opClass(i.op);
  if (i.op === LD_IMM64) return i.src === Pseudo.func ? 'imm' : null;
  if (cls !== Class.JMP && cls !== Class.JMP32) return null;
  const code = opCode(i.op);
  if (code === JmpOp.exit) return null;
  if (code === JmpOp.call) return i.src === CallKind.local ? 'imm' : null;
  if (code === JmpOp.ja && cls === Class.JMP32) return 'imm';
  return 'off';
}

/** Slot index of every instruction, plus the total slot count at the end. */
export function slotIndex(insns: readonly Instruction[]): number[] {
  const at: number[] = [];
  let s = 0;
  for (const i of insns) { at.push(s); s += slots(i); }
  at.push(s);
  return at;
}

/** The nearest label at or before an instruction index, for error messages. */
export function nearestLabel(labels: ReadonlyMap<string, number>, index: number): string | undefined {
  let best: string | undefined, bestAt = -1;
  for (const [name, at] of labels) if (at <= index && at > bestAt) { best = name; bestAt = at; }
  return best;
}

/**
 * Resolve label targets into offsets and check every offset.
 * labels: label name -> index of the instruction it marks.
 */
export function link(insns: readonly Instruction[], labels: ReadonlyMap<string, number>): Instruction[] {
  const at = slotIndex(insns);
  const total = at[insns.length]!;
  const startsInsn = new Set(at.slice(0, insns.length));
  for (const [name, idx] of labels) {
    if (idx >= insns.length) throw new AsmError(`label '${name}' marks no instruction (it is at the end of the program)`, { label: name });
  }
  return insns.map((i, idx) => {
    const field = branchField(i);
    const origin = { index: idx, label: nearestLabel(labels, idx), source: i.source };
    if (field === null) {
      if (i.target !== undefined) throw new AsmError(`this instruction cannot take a label ('${i.target}')`, origin);
      return i;
    }
    let dest: number;
    if (i.target !== undefined) {
      const t = labels.get(i.target);
      if (t === undefined) throw new AsmError(`unknown label '${i.target}'`, origin);
      dest = at[t]!;
    } else {
      dest = at[idx]! + 1 + i[field];
      if (dest < 0 || dest >= total) throw new AsmError(`offset ${i[field] >= 0 ? '+' : ''}${i[field]} jumps to slot ${dest}, outside the program (0..${total - 1})`, origin);
      if (!startsInsn.has(dest)) throw new AsmError(`offset ${i[field] >= 0 ? '+' : ''}${i[field]} jumps into the middle of the LD_IMM64 at slot ${dest - 1}`, origin);
      return i;
    }
    const rel = dest - at[idx]! - 1;
    const [lo, hi] = field === 'off' ? S16 : S32;
    if (rel < lo || rel > hi) {
      throw new AsmError(`label '${i.target}' is ${rel} slots away, beyond the ${field === 'off' ? '16-bit jump offset (use gotol)' : '32-bit offset'} range`, origin);
    }
    return { ...i, [field]: rel };
  });
}
