/**
 * The ubpf dialect against bpf_conformance's own assembler (lib/src/bpf_assembler.cc in
 * Alan-Jowett/bpf_conformance): every mnemonic its table knows, every `lock` operation with and
 * without `fetch`, every call mode, and the rules it applies to operands and labels. The
 * expected bytes are written out here from RFC 9669's field values, not taken from our opcode
 * table, so a wrong row in the table fails this test.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assemble, parseInstruction } from '../../src/asm/assembler.ts';
import { AsmSyntaxError } from '../../src/asm/errors.ts';
import { decode, encode, invalidReason, type Instruction } from '../../src/asm/instruction.ts';
import { OPCODE_TABLE, opcodeRow } from '../../src/asm/opcode.ts';

const hex = (insns: readonly Instruction[]): string => Array.from(encode(insns), (b) => b.toString(16).padStart(2, '0')).join(' ');
const one = (text: string): string => hex([parseInstruction(text, { dialect: 'ubpf' })]);
const prog = (text: string): string => hex(assemble(text, { dialect: 'ubpf' }).insns);

/** Our transcription of bpf_conformance's mnemonics, each with the bytes it must assemble to. */
const MNEMONICS: readonly (readonly [string, string])[] = [
  ['add %r1, 0x12', '07 01 00 00 12 00 00 00'],
  ['add %r1, %r2', '0f 21 00 00 00 00 00 00'],
  ['add32 %r1, 0x12', '04 01 00 00 12 00 00 00'],
  ['add32 %r1, %r2', '0c 21 00 00 00 00 00 00'],
  ['sub %r1, 0x12', '17 01 00 00 12 00 00 00'],
  ['sub %r1, %r2', '1f 21 00 00 00 00 00 00'],
  ['sub32 %r1, 0x12', '14 01 00 00 12 00 00 00'],
  ['sub32 %r1, %r2', '1c 21 00 00 00 00 00 00'],
  ['mul %r1, 0x12', '27 01 00 00 12 00 00 00'],
  ['mul %r1, %r2', '2f 21 00 00 00 00 00 00'],
  ['mul32 %r1, 0x12', '24 01 00 00 12 00 00 00'],
  ['mul32 %r1, %r2', '2c 21 00 00 00 00 00 00'],
  ['div %r1, 0x12', '37 01 00 00 12 00 00 00'],
  ['div %r1, %r2', '3f 21 00 00 00 00 00 00'],
  ['div32 %r1, 0x12', '34 01 00 00 12 00 00 00'],
  ['div32 %r1, %r2', '3c 21 00 00 00 00 00 00'],
  ['or %r1, 0x12', '47 01 00 00 12 00 00 00'],
  ['or %r1, %r2', '4f 21 00 00 00 00 00 00'],
  ['or32 %r1, 0x12', '44 01 00 00 12 00 00 00'],
  ['or32 %r1, %r2', '4c 21 00 00 00 00 00 00'],
  ['and %r1, 0x12', '57 01 00 00 12 00 00 00'],
  ['and %r1, %r2', '5f 21 00 00 00 00 00 00'],
  ['and32 %r1, 0x12', '54 01 00 00 12 00 00 00'],
  ['and32 %r1, %r2', '5c 21 00 00 00 00 00 00'],
  ['lsh %r1, 0x12', '67 01 00 00 12 00 00 00'],
  ['lsh %r1, %r2', '6f 21 00 00 00 00 00 00'],
  ['lsh32 %r1, 0x12', '64 01 00 00 12 00 00 00'],
  ['lsh32 %r1, %r2', '6c 21 00 00 00 00 00 00'],
  ['rsh %r1, 0x12', '77 01 00 00 12 00 00 00'],
  ['rsh %r1, %r2', '7f 21 00 00 00 00 00 00'],
  ['rsh32 %r1, 0x12', '74 01 00 00 12 00 00 00'],
  ['rsh32 %r1, %r2', '7c 21 00 00 00 00 00 00'],
  ['mod %r1, 0x12', '97 01 00 00 12 00 00 00'],
  ['mod %r1, %r2', '9f 21 00 00 00 00 00 00'],
  ['mod32 %r1, 0x12', '94 01 00 00 12 00 00 00'],
  ['mod32 %r1, %r2', '9c 21 00 00 00 00 00 00'],
  ['xor %r1, 0x12', 'a7 01 00 00 12 00 00 00'],
  ['xor %r1, %r2', 'af 21 00 00 00 00 00 00'],
  ['xor32 %r1, 0x12', 'a4 01 00 00 12 00 00 00'],
  ['xor32 %r1, %r2', 'ac 21 00 00 00 00 00 00'],
  ['mov %r1, 0x12', 'b7 01 00 00 12 00 00 00'],
  ['mov %r1, %r2', 'bf 21 00 00 00 00 00 00'],
  ['mov32 %r1, 0x12', 'b4 01 00 00 12 00 00 00'],
  ['mov32 %r1, %r2', 'bc 21 00 00 00 00 00 00'],
  ['arsh %r1, 0x12', 'c7 01 00 00 12 00 00 00'],
  ['arsh %r1, %r2', 'cf 21 00 00 00 00 00 00'],
  ['arsh32 %r1, 0x12', 'c4 01 00 00 12 00 00 00'],
  ['arsh32 %r1, %r2', 'cc 21 00 00 00 00 00 00'],
  ['sdiv %r1, 0x12', '37 01 01 00 12 00 00 00'],
  ['sdiv %r1, %r2', '3f 21 01 00 00 00 00 00'],
  ['sdiv32 %r1, 0x12', '34 01 01 00 12 00 00 00'],
  ['sdiv32 %r1, %r2', '3c 21 01 00 00 00 00 00'],
  ['smod %r1, 0x12', '97 01 01 00 12 00 00 00'],
  ['smod %r1, %r2', '9f 21 01 00 00 00 00 00'],
  ['smod32 %r1, 0x12', '94 01 01 00 12 00 00 00'],
  ['smod32 %r1, %r2', '9c 21 01 00 00 00 00 00'],
  ['neg %r1', '87 01 00 00 00 00 00 00'],
  ['neg32 %r1', '84 01 00 00 00 00 00 00'],
  ['movsx864 %r1, %r2', 'bf 21 08 00 00 00 00 00'],
  ['movsx832 %r1, %r2', 'bc 21 08 00 00 00 00 00'],
  ['movsx1664 %r1, %r2', 'bf 21 10 00 00 00 00 00'],
  ['movsx1632 %r1, %r2', 'bc 21 10 00 00 00 00 00'],
  ['movsx3264 %r1, %r2', 'bf 21 20 00 00 00 00 00'],
  ['le16 %r1', 'd4 01 00 00 10 00 00 00'],
  ['be16 %r1', 'dc 01 00 00 10 00 00 00'],
  ['swap16 %r1', 'd7 01 00 00 10 00 00 00'],
  ['bswap16 %r1', 'd7 01 00 00 10 00 00 00'],
  ['le32 %r1', 'd4 01 00 00 20 00 00 00'],
  ['be32 %r1', 'dc 01 00 00 20 00 00 00'],
  ['swap32 %r1', 'd7 01 00 00 20 00 00 00'],
  ['bswap32 %r1', 'd7 01 00 00 20 00 00 00'],
  ['le64 %r1', 'd4 01 00 00 40 00 00 00'],
  ['be64 %r1', 'dc 01 00 00 40 00 00 00'],
  ['swap64 %r1', 'd7 01 00 00 40 00 00 00'],
  ['bswap64 %r1', 'd7 01 00 00 40 00 00 00'],
  ['jeq %r1, 0x12, +3', '15 01 03 00 12 00 00 00'],
  ['jeq %r1, %r2, -2', '1d 21 fe ff 00 00 00 00'],
  ['jeq32 %r1, 0x12, +3', '16 01 03 00 12 00 00 00'],
  ['jeq32 %r1, %r2, -2', '1e 21 fe ff 00 00 00 00'],
  ['jgt %r1, 0x12, +3', '25 01 03 00 12 00 00 00'],
  ['jgt %r1, %r2, -2', '2d 21 fe ff 00 00 00 00'],
  ['jgt32 %r1, 0x12, +3', '26 01 03 00 12 00 00 00'],
  ['jgt32 %r1, %r2, -2', '2e 21 fe ff 00 00 00 00'],
  ['jge %r1, 0x12, +3', '35 01 03 00 12 00 00 00'],
  ['jge %r1, %r2, -2', '3d 21 fe ff 00 00 00 00'],
  ['jge32 %r1, 0x12, +3', '36 01 03 00 12 00 00 00'],
  ['jge32 %r1, %r2, -2', '3e 21 fe ff 00 00 00 00'],
  ['jset %r1, 0x12, +3', '45 01 03 00 12 00 00 00'],
  ['jset %r1, %r2, -2', '4d 21 fe ff 00 00 00 00'],
  ['jset32 %r1, 0x12, +3', '46 01 03 00 12 00 00 00'],
  ['jset32 %r1, %r2, -2', '4e 21 fe ff 00 00 00 00'],
  ['jne %r1, 0x12, +3', '55 01 03 00 12 00 00 00'],
  ['jne %r1, %r2, -2', '5d 21 fe ff 00 00 00 00'],
  ['jne32 %r1, 0x12, +3', '56 01 03 00 12 00 00 00'],
  ['jne32 %r1, %r2, -2', '5e 21 fe ff 00 00 00 00'],
  ['jsgt %r1, 0x12, +3', '65 01 03 00 12 00 00 00'],
  ['jsgt %r1, %r2, -2', '6d 21 fe ff 00 00 00 00'],
  ['jsgt32 %r1, 0x12, +3', '66 01 03 00 12 00 00 00'],
  ['jsgt32 %r1, %r2, -2', '6e 21 fe ff 00 00 00 00'],
  ['jsge %r1, 0x12, +3', '75 01 03 00 12 00 00 00'],
  ['jsge %r1, %r2, -2', '7d 21 fe ff 00 00 00 00'],
  ['jsge32 %r1, 0x12, +3', '76 01 03 00 12 00 00 00'],
  ['jsge32 %r1, %r2, -2', '7e 21 fe ff 00 00 00 00'],
  ['jlt %r1, 0x12, +3', 'a5 01 03 00 12 00 00 00'],
  ['jlt %r1, %r2, -2', 'ad 21 fe ff 00 00 00 00'],
  ['jlt32 %r1, 0x12, +3', 'a6 01 03 00 12 00 00 00'],
  ['jlt32 %r1, %r2, -2', 'ae 21 fe ff 00 00 00 00'],
  ['jle %r1, 0x12, +3', 'b5 01 03 00 12 00 00 00'],
  ['jle %r1, %r2, -2', 'bd 21 fe ff 00 00 00 00'],
  ['jle32 %r1, 0x12, +3', 'b6 01 03 00 12 00 00 00'],
  ['jle32 %r1, %r2, -2', 'be 21 fe ff 00 00 00 00'],
  ['jslt %r1, 0x12, +3', 'c5 01 03 00 12 00 00 00'],
  ['jslt %r1, %r2, -2', 'cd 21 fe ff 00 00 00 00'],
  ['jslt32 %r1, 0x12, +3', 'c6 01 03 00 12 00 00 00'],
  ['jslt32 %r1, %r2, -2', 'ce 21 fe ff 00 00 00 00'],
  ['jsle %r1, 0x12, +3', 'd5 01 03 00 12 00 00 00'],
  ['jsle %r1, %r2, -2', 'dd 21 fe ff 00 00 00 00'],
  ['jsle32 %r1, 0x12, +3', 'd6 01 03 00 12 00 00 00'],
  ['jsle32 %r1, %r2, -2', 'de 21 fe ff 00 00 00 00'],
  ['ja +3', '05 00 03 00 00 00 00 00'],
  ['ja32 +3', '06 00 00 00 03 00 00 00'],
  ['call 7', '85 00 00 00 07 00 00 00'],
  ['call helper 7', '85 00 00 00 07 00 00 00'],
  ['call helper %r3', '8d 03 00 00 00 00 00 00'],
  ['call local +3', '85 10 00 00 03 00 00 00'],
  ['call runtime 7', '85 20 00 00 07 00 00 00'],
  ['exit', '95 00 00 00 00 00 00 00'],
  ['lddw %r1, 0x1122334455667788', '18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11'],
  ['ldxw %r1, [%r2+8]', '61 21 08 00 00 00 00 00'],
  ['ldxh %r1, [%r2+8]', '69 21 08 00 00 00 00 00'],
  ['ldxb %r1, [%r2+8]', '71 21 08 00 00 00 00 00'],
  ['ldxdw %r1, [%r2+8]', '79 21 08 00 00 00 00 00'],
  ['ldxsw %r1, [%r2+8]', '81 21 08 00 00 00 00 00'],
  ['ldxsh %r1, [%r2+8]', '89 21 08 00 00 00 00 00'],
  ['ldxsb %r1, [%r2+8]', '91 21 08 00 00 00 00 00'],
  ['stw [%r1-8], 0x12', '62 01 f8 ff 12 00 00 00'],
  ['sth [%r1-8], 0x12', '6a 01 f8 ff 12 00 00 00'],
  ['stb [%r1-8], 0x12', '72 01 f8 ff 12 00 00 00'],
  ['stdw [%r1-8], 0x12', '7a 01 f8 ff 12 00 00 00'],
  ['stxw [%r1-8], %r2', '63 21 f8 ff 00 00 00 00'],
  ['stxh [%r1-8], %r2', '6b 21 f8 ff 00 00 00 00'],
  ['stxb [%r1-8], %r2', '73 21 f8 ff 00 00 00 00'],
  ['stxdw [%r1-8], %r2', '7b 21 f8 ff 00 00 00 00'],
  ['lock add [%r1-8], %r2', 'db 21 f8 ff 00 00 00 00'],
  ['lock fetch add [%r1-8], %r2', 'db 21 f8 ff 01 00 00 00'],
  ['lock add32 [%r1-8], %r2', 'c3 21 f8 ff 00 00 00 00'],
  ['lock fetch add32 [%r1-8], %r2', 'c3 21 f8 ff 01 00 00 00'],
  ['lock or [%r1-8], %r2', 'db 21 f8 ff 40 00 00 00'],
  ['lock fetch or [%r1-8], %r2', 'db 21 f8 ff 41 00 00 00'],
  ['lock or32 [%r1-8], %r2', 'c3 21 f8 ff 40 00 00 00'],
  ['lock fetch or32 [%r1-8], %r2', 'c3 21 f8 ff 41 00 00 00'],
  ['lock and [%r1-8], %r2', 'db 21 f8 ff 50 00 00 00'],
  ['lock fetch and [%r1-8], %r2', 'db 21 f8 ff 51 00 00 00'],
  ['lock and32 [%r1-8], %r2', 'c3 21 f8 ff 50 00 00 00'],
  ['lock fetch and32 [%r1-8], %r2', 'c3 21 f8 ff 51 00 00 00'],
  ['lock xor [%r1-8], %r2', 'db 21 f8 ff a0 00 00 00'],
  ['lock fetch xor [%r1-8], %r2', 'db 21 f8 ff a1 00 00 00'],
  ['lock xor32 [%r1-8], %r2', 'c3 21 f8 ff a0 00 00 00'],
  ['lock fetch xor32 [%r1-8], %r2', 'c3 21 f8 ff a1 00 00 00'],
  ['lock xchg [%r1-8], %r2', 'db 21 f8 ff e1 00 00 00'],
  ['lock fetch xchg [%r1-8], %r2', 'db 21 f8 ff e1 00 00 00'],
  ['lock xchg32 [%r1-8], %r2', 'c3 21 f8 ff e1 00 00 00'],
  ['lock fetch xchg32 [%r1-8], %r2', 'c3 21 f8 ff e1 00 00 00'],
  ['lock cmpxchg [%r1-8], %r2', 'db 21 f8 ff f1 00 00 00'],
  ['lock fetch cmpxchg [%r1-8], %r2', 'db 21 f8 ff f1 00 00 00'],
  ['lock cmpxchg32 [%r1-8], %r2', 'c3 21 f8 ff f1 00 00 00'],
  ['lock fetch cmpxchg32 [%r1-8], %r2', 'c3 21 f8 ff f1 00 00 00'],
];

test('every bpf_conformance mnemonic assembles to the bytes bpf_conformance gives it', () => {
  for (const [text, bytes] of MNEMONICS) {
    let got: string;
    try { got = one(text); } catch (e) { throw new Error(`${text}: ${(e as Error).message}`); }
    assert.is(got, bytes, text);
  }
  assert.is(MNEMONICS.length, 167);
});

test('the transcription covers every row of the opcode table (ldabs/ldind are ours, not bpf_conformance\'s)', () => {
  const rows = new Set(MNEMONICS.map(([text]) => opcodeRow(parseInstruction(text, { dialect: 'ubpf' }))));
  for (const row of OPCODE_TABLE) {
    if (row.form === 'ld_abs' || row.form === 'ld_ind') continue;
    assert.ok(rows.has(row), `${row.name} (${row.ubpf}) has no line in the transcription`);
  }
});

test('ubpf text in the default (LLVM) dialect: the error says to pass --dialect ubpf', () => {
  const err = (text: string): string => { try { assemble(text); } catch (e) { assert.instance(e, AsmSyntaxError); return (e as Error).message; } throw new Error('assembled'); };
  assert.match(err('mov %r0, 1\nexit'), /found 'mov' \(ubpf syntax\? pass --dialect ubpf\)/);
  assert.match(err('ldxw %r0, [%r1]'), /found 'ldxw' \(ubpf syntax\? pass --dialect ubpf\)/);
  assert.not.match(err('frobnicate r0'), /ubpf/, 'a word that is no ubpf mnemonic gets no hint');
});

test('the first exit is the label exit, as in bpf_conformance', () => {
  // jeq jumps to the first exit (slot 3), not to the second.
  assert.is(prog('jeq %r1, 0, exit\nmov %r0, 1\nja +0\nexit\nmov %r0, 2\nexit'), prog('jeq %r1, 0, +2\nmov %r0, 1\nja +0\nexit\nmov %r0, 2\nexit'));
  const a = assemble('ja exit\nmov %r0, 1\nexit', { dialect: 'ubpf' });
  assert.is(a.labels.get('exit'), 2);
  // An `exit:` line before the first exit moves to it.
  assert.is(prog('exit:\nmov %r0, 1\nja exit\nexit'), prog('mov %r0, 1\nja +0\nexit'));
  // Not used: not listed.
  assert.is(assemble('mov %r0, 1\nexit', { dialect: 'ubpf' }).labels.size, 0);
  // The llvm dialect has no implicit labels.
  assert.throws(() => assemble('goto exit\nexit'), (e: unknown) => e instanceof AsmSyntaxError && /unknown label 'exit'/.test(e.message));
});

test('labels: jumps and ja count slots, ja32 and call local put the offset in imm', () => {
  const text = 'ja32 l\nlddw %r1, 1\ncall local l\njne %r1, 0, l\nl:\nexit';
  assert.is(prog(text), [
    '06 00 00 00 04 00 00 00', '18 01 00 00 01 00 00 00', '00 00 00 00 00 00 00 00',
    '85 10 00 00 01 00 00 00', '55 01 00 00 00 00 00 00', '95 00 00 00 00 00 00 00',
  ].join(' '));
  assert.throws(() => prog('ja nowhere\nexit'), /unknown label 'nowhere'/);
});

test('operands as bpf_conformance reads them', () => {
  // Hex offsets up to 0xffff are 16-bit patterns, in memory operands and in jumps.
  assert.is(one('ldxw %r1, [%r2+0xffff]'), '61 21 ff ff 00 00 00 00');
  assert.is(one('ldxw %r1, [%r2+0x10]'), '61 21 10 00 00 00 00 00');
  assert.is(one('ja +0xfffe'), '05 00 fe ff 00 00 00 00');
  assert.is(one('jeq %r1, 1, +0x8000'), '15 01 00 80 01 00 00 00');
  assert.is(one('ldxw %r1, [%r2]'), '61 21 00 00 00 00 00 00');
  // Immediates: hex up to 0xffffffff is the 32-bit pattern; negative decimals.
  assert.is(one('mov %r1, 0xffffffff'), 'b7 01 00 00 ff ff ff ff');
  assert.is(one('mov32 %r1, -1'), 'b4 01 00 00 ff ff ff ff');
  assert.is(one('stdw [%r10-8], 0x80000000'), '7a 0a f8 ff 00 00 00 80');
  // lddw: hex is unsigned 64-bit, decimal may be negative.
  assert.is(one('lddw %r1, 0xffffffffffffffff'), '18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff');
  assert.is(one('lddw %r1, -2'), '18 01 00 00 fe ff ff ff 00 00 00 00 ff ff ff ff');
  assert.is(one('lddw %r1, 18446744073709551615'), '18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff');
  // Out of range is an error, not a truncation.
  assert.throws(() => one('ldxw %r1, [%r2+0x10000]'), /does not fit/);
  assert.throws(() => one('ldxw %r1, [%r2+40000]'), /does not fit/);
  assert.throws(() => one('mov %r1, 0x100000000'), /does not fit/);
});

test('negative-test forms bpf_conformance assembles make instructions decode() rejects', () => {
  // Fake registers %r11..%r15.
  assert.is(one('mov %r11, 1'), 'b7 0b 00 00 01 00 00 00');
  assert.is(one('mov %r1, %r15'), 'bf f1 00 00 00 00 00 00');
  assert.throws(() => one('mov %r16, 1'), /register/);
  // callx, a movsx with an immediate.
  assert.is(one('call %r2'), '8d 02 00 00 00 00 00 00');
  assert.is(one('movsx864 %r1, 5'), 'b7 01 08 00 05 00 00 00');
  for (const text of ['mov %r11, 1', 'call helper %r2', 'movsx864 %r1, 5']) {
    const i = parseInstruction(text, { dialect: 'ubpf' });
    assert.ok(invalidReason(i), text);
    assert.throws(() => decode(encode([i])), undefined, text);
  }
  assert.match(invalidReason(parseInstruction('call helper %r2', { dialect: 'ubpf' }))!, /callx/);
  // assemble() refuses them at their line unless asked for their bytes.
  assert.throws(() => assemble('mov %r0, 0\nmov %r11, 1\nexit', { dialect: 'ubpf' }),
    (e: unknown) => e instanceof AsmSyntaxError && e.line === 2 && /invalid dst register r11.*allowInvalid/.test(e.message));
  const raw = assemble('mov %r11, 1\ncall helper %r2\nexit', { dialect: 'ubpf', allowInvalid: true }).insns;
  assert.is(hex(raw), 'b7 0b 00 00 01 00 00 00 8d 02 00 00 00 00 00 00 95 00 00 00 00 00 00 00');
});

test('what bpf_conformance rejects, we reject too', () => {
  for (const text of ['frob %r1', 'lock frob [%r1], %r2', 'lock fetch frob [%r1], %r2', 'movsx3232 %r1, %r2', 'ldxsdw %r1, [%r2]', 'add %r1', 'exit %r1', 'call local']) {
    assert.throws(() => one(text), (e: unknown) => e instanceof AsmSyntaxError, text);
  }
});

test.run();
