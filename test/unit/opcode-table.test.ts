/**
 * The opcode table (src/asm/opcode.ts) as data: every valid instruction has exactly one row,
 * rows sharing an opcode byte are told apart, and the derived lists keep the DSL's names.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { instructionForms } from '../../src/asm/forms.ts';
import { invalidReason } from '../../src/asm/instruction.ts';
import {
  AtomicOp, BINARY_ALU_OPS, COND_JUMPS, OPCODE_TABLE, opcodeRow, opcodesOf, type OpcodeRow,
} from '../../src/asm/opcode.ts';

test('every golden form belongs to exactly one row, and every row has a form', () => {
  const used = new Set<OpcodeRow>();
  for (const f of instructionForms()) {
    const matches = OPCODE_TABLE.filter((r) => opcodesOf(r).includes(f.insn.op)
      && (r.off === undefined || r.off === f.insn.off) && (r.src === undefined || r.src === f.insn.src) && (r.imm === undefined || r.imm === f.insn.imm));
    assert.is(matches.length, 1, `${f.name}: ${matches.map((r) => r.name).join(', ')}`);
    assert.is(opcodeRow(f.insn), matches[0], f.name);
    used.add(matches[0]!);
  }
  for (const r of OPCODE_TABLE) assert.ok(used.has(r), `${r.name} (${r.form}) has no golden form`);
});

test('an opcode byte no row lists is never valid', () => {
  const listed = new Set(OPCODE_TABLE.flatMap(opcodesOf));
  for (let op = 0; op < 256; op++) {
    if (listed.has(op)) continue;
    for (const [src, off, imm] of [[0, 0, 0], [2, 0, 0], [0, 0, 16], [1, 0, 0], [0, 1, 0], [0, 0, 1]] as const) {
      assert.ok(invalidReason({ op, dst: 1, src, off, imm, imm2: 0 }) !== null, `0x${op.toString(16)} is valid but in no row`);
    }
  }
});

test('the derived lists keep the DSL names and the atomic imm values', () => {
  assert.equal([...BINARY_ALU_OPS], ['add', 'sub', 'mul', 'div', 'sdiv', 'mod', 'smod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh', 'mov']);
  assert.equal([...COND_JUMPS], ['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jsgt', 'jsge', 'jslt', 'jsle', 'jset']);
  assert.equal({ ...AtomicOp }, {
    add: 0x00, or: 0x40, and: 0x50, xor: 0xa0, fetch_add: 0x01, fetch_or: 0x41, fetch_and: 0x51, fetch_xor: 0xa1, xchg: 0xe1, cmpxchg: 0xf1,
  });
});

test('llvm symbols and ubpf mnemonics are unique where a parser looks them up', () => {
  const uniq = (forms: readonly string[], key: (r: OpcodeRow) => string): void => {
    const rows = OPCODE_TABLE.filter((r) => forms.includes(r.form));
    assert.is(new Set(rows.map(key)).size, rows.length, forms.join('/'));
  };
  uniq(['binary'], (r) => r.llvm);
  uniq(['jcond'], (r) => r.llvm);
  uniq(['atomic', 'fetch', 'xchg', 'cmpxchg'], (r) => r.llvm);
  uniq(['atomic', 'fetch', 'xchg', 'cmpxchg'], (r) => r.ubpf);
  uniq(['binary', 'unary', 'movsx', 'endian', 'jcond', 'ja', 'gotol', 'exit', 'ld_imm64', 'ldx', 'ldxsx', 'st', 'stx', 'ld_abs', 'ld_ind'], (r) => r.ubpf);
});

test.run();
