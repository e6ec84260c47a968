/**
 * One example of every instruction form, generated from the opcode tables: each ALU op in 32
 * and 64 bits with an immediate and a register, every load/store size, every atomic op in u32
 * and u64, every conditional jump in JMP and JMP32, every LD_IMM64 source kind, the three call
 * kinds, and so on. The round-trip and llvm oracle tests walk this list, so a form added to
 * opcode.ts without a text form fails them.
 */
import type { Instruction } from './instruction.ts';
import {
  AluOp, AtomicOp, CallKind, Class, COND_JUMPS, JmpOp, LD_IMM64, Mode, Pseudo, Size, Source, SIZE_NAMES,
  type AtomicOpName,
} from './opcode.ts';

export interface Form {
  /** e.g. 'alu64 add K', 'jmp32 jsgt X', 'ld_imm64 map_value' */
  readonly name: string;
  readonly insn: Instruction;
}

const I = (op: number, dst: number, src: number, off: number, imm: number, imm2?: number): Instruction =>
  imm2 === undefined ? { op, dst, src, off, imm } : { op, dst, src, off, imm, imm2 };

const ALU_FORMS = [
  ['add', AluOp.add, 0], ['sub', AluOp.sub, 0], ['mul', AluOp.mul, 0], ['div', AluOp.div, 0], ['sdiv', AluOp.div, 1],
  ['mod', AluOp.mod, 0], ['smod', AluOp.mod, 1], ['or', AluOp.or, 0], ['and', AluOp.and, 0], ['xor', AluOp.xor, 0],
  ['lsh', AluOp.lsh, 0], ['rsh', AluOp.rsh, 0], ['arsh', AluOp.arsh, 0], ['mov', AluOp.mov, 0],
] as const;

/** Jump offsets in these forms are +1: link() accepts them in a program with one more slot after. */
export function instructionForms(): Form[] {
  const out: Form[] = [];
  const add = (name: string, insn: Instruction): void => { out.push({ name, insn }); };
  for (const [cls, w] of [[Class.ALU, 'alu'], [Class.ALU64, 'alu64']] as const) {
    for (const [name, code, off] of ALU_FORMS) {
      const shift = name === 'lsh' || name === 'rsh' || name === 'arsh';
      add(`${w} ${name} K`, I(cls | code | Source.K, 1, 0, off, shift ? 3 : 7));
      add(`${w} ${name} X`, I(cls | code | Source.X, 1, 2, off, 0));
    }
    for (const bits of cls === Class.ALU64 ? [8, 16, 32] : [8, 16]) add(`${w} movsx${bits}`, I(cls | AluOp.mov | Source.X, 1, 2, bits, 0));
    add(`${w} neg`, I(cls | AluOp.neg, 1, 0, 0, 0));
  }
  for (const bits of [16, 32, 64]) {
    add(`le${bits}`, I(Class.ALU | AluOp.end | Source.K, 1, 0, 0, bits));
    add(`be${bits}`, I(Class.ALU | AluOp.end | Source.X, 1, 0, 0, bits));
    add(`bswap${bits}`, I(Class.ALU64 | AluOp.end | Source.K, 1, 0, 0, bits));
  }
  for (const s of SIZE_NAMES) {
    add(`ldx ${s}`, I(Class.LDX | Mode.MEM | Size[s], 2, 1, 76, 0));
    if (s !== 'u64') add(`ldxsx ${s}`, I(Class.LDX | Mode.MEMSX | Size[s], 2, 1, -4, 0));
    add(`st ${s}`, I(Class.ST | Mode.MEM | Size[s], 10, 0, -8, 7));
    add(`stx ${s}`, I(Class.STX | Mode.MEM | Size[s], 10, 1, -8, 0));
    if (s !== 'u64') {
      add(`ld_abs ${s}`, I(Class.LD | Mode.ABS | Size[s], 0, 0, 0, 12));
      add(`ld_ind ${s}`, I(Class.LD | Mode.IND | Size[s], 0, 1, 0, 4));
      add(`ld_ind ${s} no offset`, I(Class.LD | Mode.IND | Size[s], 0, 1, 0, 0));
    }
  }
  for (const s of ['u32', 'u64'] as const) {
    for (const name of Object.keys(AtomicOp) as AtomicOpName[]) {
      add(`atomic ${s} ${name}`, I(Class.STX | Mode.ATOMIC | Size[s], 10, 1, -8, AtomicOp[name]));
    }
  }
  for (const [cls, w] of [[Class.JMP, 'jmp'], [Class.JMP32, 'jmp32']] as const) {
    for (const j of COND_JUMPS) {
      add(`${w} ${j} K`, I(cls | JmpOp[j] | Source.K, 1, 0, 1, j === 'jset' ? 4 : -5));
      add(`${w} ${j} X`, I(cls | JmpOp[j] | Source.X, 1, 2, 1, 0));
    }
  }
  add('ja', I(Class.JMP | JmpOp.ja, 0, 0, 1, 0));
  add('gotol', I(Class.JMP32 | JmpOp.ja, 0, 0, 0, 1));
  add('call helper', I(Class.JMP | JmpOp.call, 0, CallKind.helper, 0, 5));
  add('call helper unknown id', I(Class.JMP | JmpOp.call, 0, CallKind.helper, 0, 100000));
  add('call local', I(Class.JMP | JmpOp.call, 0, CallKind.local, 0, 1));
  add('call kfunc', I(Class.JMP | JmpOp.call, 0, CallKind.kfunc, 0, 1234));
  add('call kfunc in module', I(Class.JMP | JmpOp.call, 0, CallKind.kfunc, 2, 1234));
  add('exit', I(Class.JMP | JmpOp.exit, 0, 0, 0, 0));
  add('ld_imm64 imm', I(LD_IMM64, 1, Pseudo.imm, 0, 0x55667788, 0x11223344));
  add('ld_imm64 imm negative', I(LD_IMM64, 1, Pseudo.imm, 0, -1, -1));
  add('ld_imm64 map_fd', I(LD_IMM64, 1, Pseudo.map_fd, 0, 3, 0));
  add('ld_imm64 map_fd with imm2', I(LD_IMM64, 1, Pseudo.map_fd, 0, 3, 9));
  add('ld_imm64 map_value', I(LD_IMM64, 1, Pseudo.map_value, 0, 3, 8));
  add('ld_imm64 map_value offset 0', I(LD_IMM64, 1, Pseudo.map_value, 0, 3, 0));
  add('ld_imm64 btf_id', I(LD_IMM64, 1, Pseudo.btf_id, 0, 5, 0));
  add('ld_imm64 btf_id in module', I(LD_IMM64, 1, Pseudo.btf_id, 0, 5, 7));
  add('ld_imm64 func', I(LD_IMM64, 1, Pseudo.func, 0, 1, 0));
  add('ld_imm64 func with imm2', I(LD_IMM64, 1, Pseudo.func, 0, 1, 2));
  add('ld_imm64 map_idx', I(LD_IMM64, 1, Pseudo.map_idx, 0, 2, 0));
  add('ld_imm64 map_idx with imm2', I(LD_IMM64, 1, Pseudo.map_idx, 0, 2, 4));
  add('ld_imm64 map_idx_value', I(LD_IMM64, 1, Pseudo.map_idx_value, 0, 2, 8));
  add('ld_imm64 map_idx_value negative offset', I(LD_IMM64, 1, Pseudo.map_idx_value, 0, 2, -8));
  return out;
}
