/**
 * One example of every instruction form, generated from the opcode table (opcode.ts): each row
 * in each class, source and size it lists, so every ALU op in 32 and 64 bits with an immediate
 * and a register, every load/store size, every atomic op in u32 and u64, every conditional
 * jump in JMP and JMP32, the three call kinds, and so on; then every LD_IMM64 source kind and
 * a few operand variants the text forms spell differently. The round-trip, ubpf and llvm
 * oracle tests walk this list, so a row added to the table without a text form fails them.
 */
import type { Instruction } from './instruction.ts';
import {
  CallKind, Class, JmpOp, LD_IMM64, Mode, OPCODE_TABLE, Pseudo, Size, Source, opClass, opSource, sizeName,
  type OpcodeRow,
} from './opcode.ts';

export interface Form {
  /** e.g. 'alu64 add K', 'jmp32 jsgt X', 'ld_imm64 map_value' */
  readonly name: string;
  readonly insn: Instruction;
}

const I = (op: number, dst: number, src: number, off: number, imm: number, imm2?: number): Instruction =>
  imm2 === undefined ? { op, dst, src, off, imm } : { op, dst, src, off, imm, imm2 };

const WIDTH: Readonly<Record<number, string>> = { [Class.ALU]: 'alu', [Class.ALU64]: 'alu64', [Class.JMP]: 'jmp', [Class.JMP32]: 'jmp32' };

/** The example instruction of a row for one opcode byte, and its name. */
function example(row: OpcodeRow, op: number): Form {
  const w = WIDTH[opClass(op)] ?? '', x = opSource(op) === Source.X, s = sizeName(op);
  const off = row.off ?? 0;
  switch (row.form) {
    case 'binary': {
      const shift = row.name === 'lsh' || row.name === 'rsh' || row.name === 'arsh';
      return { name: `${w} ${row.name} ${x ? 'X' : 'K'}`, insn: x ? I(op, 1, 2, off, 0) : I(op, 1, 0, off, shift ? 3 : 7) };
    }
    case 'movsx': return { name: `${w} ${row.name}`, insn: I(op, 1, 2, off, 0) };
    case 'unary': return { name: `${w} ${row.name}`, insn: I(op, 1, 0, 0, 0) };
    case 'endian': return { name: row.name, insn: I(op, 1, 0, 0, 0) };
    case 'jcond': return { name: `${w} ${row.name} ${x ? 'X' : 'K'}`, insn: x ? I(op, 1, 2, 1, 0) : I(op, 1, 0, 1, row.name === 'jset' ? 4 : -5) };
    case 'ja': return { name: row.name, insn: I(op, 0, 0, 1, 0) };
    case 'gotol': return { name: row.name, insn: I(op, 0, 0, 0, 1) };
    case 'call': {
      const kind = row.src ?? CallKind.helper;
      const name = kind === CallKind.helper ? 'call helper' : kind === CallKind.local ? 'call local' : 'call kfunc';
      return { name, insn: I(op, 0, kind, 0, kind === CallKind.helper ? 5 : kind === CallKind.local ? 1 : 1234) };
    }
    case 'exit': return { name: row.name, insn: I(op, 0, 0, 0, 0) };
    case 'ldx': return { name: `ldx ${s}`, insn: I(op, 2, 1, 76, 0) };
    case 'ldxsx': return { name: `ldxsx ${s}`, insn: I(op, 2, 1, -4, 0) };
    case 'st': return { name: `st ${s}`, insn: I(op, 10, 0, -8, 7) };
    case 'stx': return { name: `stx ${s}`, insn: I(op, 10, 1, -8, 0) };
    case 'atomic': case 'fetch': case 'xchg': case 'cmpxchg':
      return { name: `atomic ${s} ${row.name}`, insn: I(op, 10, 1, -8, row.imm ?? 0) };
    case 'ld_imm64': return { name: 'ld_imm64 imm', insn: I(op, 1, Pseudo.imm, 0, 0x55667788, 0x11223344) };
    case 'ld_abs': return { name: `ld_abs ${s}`, insn: I(op, 0, 0, 0, 12) };
    case 'ld_ind': return { name: `ld_ind ${s}`, insn: I(op, 0, 1, 0, 4) };
  }
}

/** Jump offsets in these forms are +1: link() accepts them in a program with one more slot after. */
export function instructionForms(): Form[] {
  const out: Form[] = [];
  const add = (name: string, insn: Instruction): void => { out.push({ name, insn }); };
  for (const row of OPCODE_TABLE) {
    for (const cls of row.classes) {
      const variants: number[] = row.sizes ? row.sizes.map((s) => cls | row.code | Size[s]) : (row.sources ?? [Source.K]).map((s) => cls | row.code | s);
      for (const op of variants) {
        if (row.form === 'endian') {
          for (const bits of [16, 32, 64]) add(`${row.name}${bits}`, I(op, 1, 0, 0, bits));
          continue;
        }
        const f = example(row, op);
        add(f.name, f.insn);
      }
    }
  }
  // Operand variants that print differently.
  const NARROW_LD = [Size.u8, Size.u16, Size.u32];
  for (const sz of NARROW_LD) add(`ld_ind ${sizeName(sz)} no offset`, I(Class.LD | Mode.IND | sz, 0, 1, 0, 0));
  const CALL = Class.JMP | JmpOp.call;
  add('call helper unknown id', I(CALL, 0, CallKind.helper, 0, 100000));
  add('call kfunc in module', I(CALL, 0, CallKind.kfunc, 2, 1234));
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
