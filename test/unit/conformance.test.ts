/**
 * Conformance without a kernel: the .data format, the prologue that wraps each vector (its
 * listing is the golden), the plugin's argument and base16 conventions, and the ubpf-dialect
 * printer, which must assemble back to the same bytes for every form it can spell.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assemble } from '../../src/asm/assembler.ts';
import { disassemble } from '../../src/asm/disasm.ts';
import { AsmError } from '../../src/asm/errors.ts';
import { instructionForms } from '../../src/asm/forms.ts';
import { encode, toHex, type Instruction } from '../../src/asm/instruction.ts';
import { disassembleUbpf, formatUbpf, ubpfUnsupported } from '../../src/asm/listing-ubpf.ts';
import { CallKind, Class, JmpOp, LD_IMM64, Pseudo } from '../../src/asm/opcode.ts';
import { decodeBase16, parsePluginArgs } from '../../src/conformance/plugin.ts';
import { RESULT_MAP, prologueSlots, wrapVector } from '../../src/conformance/prologue.ts';
import { findVectorFiles, parseVector, readVector, vectorProgram, VectorError } from '../../src/conformance/vector.ts';
import { sharedPath } from '../support/shared.ts';

// The vectors stay in the shared checkout (read-only inputs, never copied into the repo).
const DIR = sharedPath('conformance', 'rfc9669');
const files = findVectorFiles([DIR]);
const vectors = files.map(readVector);
const EXIT: Instruction = { op: Class.JMP | JmpOp.exit, dst: 0, src: 0, off: 0, imm: 0 };
const hex = (insns: readonly Instruction[]): string => toHex(encode(insns));
const result = { name: RESULT_MAP.name };

// ---------------------------------------------------------------------------------------------
// The .data files

test('all 88 RFC 9669 vectors parse, and each assembles with the ubpf dialect', () => {
  assert.is(files.length, 88);
  for (const v of vectors) {
    assert.ok(v.asm !== undefined, v.name);
    assert.is(v.error, undefined, v.name);
    assert.is(v.mem.length, 0, `${v.name}: this subset has no -- mem`);
    assert.ok(typeof v.result === 'bigint', v.name);
    assert.ok(vectorProgram(v).insns.length > 0, v.name);
  }
});

test('result values: hex as written, 64 bits unsigned', () => {
  const byName = new Map(vectors.map((v) => [v.name, v.result]));
  assert.is(byName.get('rfc9669_add32'), 1n);
  assert.is(byName.get('rfc9669_lddw'), 0x1122334455667788n);
  assert.is(byName.get('rfc9669_ldxsw'), 0xffffffff80000001n);
  assert.is(byName.get('rfc9669_ldxsb'), 0xffffffffffffff80n);
  assert.is(byName.get('rfc9669_stdw'), 0x11223344n);
  assert.is(vectors.filter((v) => v.result === 1n).length, 72);
  assert.is(parseVector('-- asm\nexit\n-- result\n42\n').result, 42n, 'decimal without 0x');
  assert.is(parseVector('-- asm\nexit\n-- result\n-1\n').result, 0xffffffffffffffffn, 'negative wraps to u64');
});

test('comments: the header and # lines are not code; the first asm comment is the description', () => {
  const v = vectors.find((x) => x.name === 'rfc9669_exit')!;
  assert.is(v.description, 'RFC 9669 Section 4.3: EXIT returns from program.');
  const text = `# Copyright (c) Someone
# SPDX-License-Identifier: MIT
-- asm
# the description
mov32 %r0, 1   # trailing comment
# a whole-line comment
exit
-- result
0x1
`;
  const p = vectorProgram(parseVector(text, 'x.data'));
  assert.is(p.insns.length, 2);
  assert.is(p.insns[0]!.comment, 'trailing comment');
});

test('instructions keep the .data file line, so errors point into the file', () => {
  const v = vectors.find((x) => x.name === 'rfc9669_exit')!;
  const p = vectorProgram(v);
  const lines = (v.asm ?? '').split('\n');
  const exitAt = lines.findIndex((l) => l.trim() === 'exit') + 1;
  assert.is(p.insns[1]!.source, `${v.file}:${exitAt}`);
  try {
    vectorProgram(parseVector('# header\n-- asm\nmov %r0, 1\nfrob %r0\nexit\n-- result\n0x1\n', 'bad.data'));
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /bad\.data:4:1/);
  }
});

test('-- mem, -- raw, -- error and the ignored sections', () => {
  const v = parseVector('-- asm\nmov r0, r2\nexit\n-- mem\n00 00 00 01\n00 00 00 02\n-- no register offset\n-- result\n0x8\n', 'mem-len.data');
  assert.equal([...v.mem], [0, 0, 0, 1, 0, 0, 0, 2]);
  assert.is(v.name, 'mem-len');
  assert.is(v.result, 8n);
  const r = parseVector('-- raw\n0x00000001000000b7\n0x0000000000000095\n-- result\n0x1\n');
  assert.is(hex(vectorProgram(r).insns), 'b7 00 00 00 01 00 00 00\n95 00 00 00 00 00 00 00\n');
  const e = parseVector('-- asm\nexit\n-- error\nFailed to load program\n');
  assert.is(e.error, 'Failed to load program');
  assert.is(e.result, undefined);
  const c = parseVector('-- asm\nmov %r0, 1\nexit\n-- c\nint main() { return 1; }\n-- result\n0x1\n');
  assert.is(vectorProgram(c).insns.length, 2);
  const bad = (e: unknown): boolean => e instanceof VectorError;
  assert.throws(() => parseVector('-- asm\nexit\n'), bad);
  assert.throws(() => parseVector('-- result\n0x1\n'), bad);
  assert.throws(() => parseVector('-- asm\nexit\n-- result\nzz\n'), bad);
});

// ---------------------------------------------------------------------------------------------
// The prologue

const callLocal = vectorProgram(vectors.find((v) => v.name === 'rfc9669_call_local')!);

test('prologue without memory: r1 = r2 = 0, call the vector, store r0 in the result map', () => {
  const spec = wrapVector(callLocal.insns, { memLength: 0, result, labels: callLocal.labels });
  assert.is(spec.type, 'xdp');
  assert.equal(spec.maps.map((m) => m.name), ['conformance_r0']);
  assert.is(disassemble(spec.insns, { labels: spec.labels, index: true }).split('vector:')[0], `\
   0: r1 = 0                              # no memory: r1 = NULL
   1: r2 = 0                              # r2 = 0
   2: call pc+5 <vector>
   3: r1 = map[conformance_r0][0] ll
   5: *(u64 *)(r1 + 0) = r0
   6: r0 = 2                              # XDP_PASS: r0 was stored
   7: exit
`);
  assert.is(prologueSlots(0), 8);
});

test('prologue with memory: bounds check, then r1 = the packet and r2 = its length', () => {
  const spec = wrapVector(callLocal.insns, { memLength: 8, result, labels: callLocal.labels });
  assert.is(disassemble(spec.insns, { labels: spec.labels, index: true }), `\
   0: r2 = *(u32 *)(r1 + 0)               # xdp_md->data
   1: r3 = *(u32 *)(r1 + 4)               # xdp_md->data_end
   2: r1 = r2
   3: r1 += 8
   4: if r1 > r3 goto +8 <no_mem>         # the bounds check the verifier wants
   5: r1 = r2                             # r1 = the memory (the packet)
   6: r2 = 8                              # r2 = its length
   7: call pc+7 <vector>
   8: r1 = map[conformance_r0][0] ll
  10: *(u64 *)(r1 + 0) = r0
  11: r0 = 2                              # XDP_PASS: r0 was stored
  12: exit
no_mem:
  13: r0 = 0                              # XDP_ABORTED
  14: exit
vector:
  15: r1 = 1
  16: r2 = 2
  17: r3 = 3
  18: r4 = 4
  19: r5 = 5
  20: call pc+5 <func1>
  21: if r0 != 15 goto +2 <fail>
  22: r0 = 1
  23: exit
fail:
  24: r0 = 0
  25: exit
func1:
  26: r0 = 0
  27: r0 += r1
  28: r0 += r2
  29: r0 += r3
  30: r0 += r4
  31: r0 += r5
  32: exit
`);
});

test('the wrapped program is the prologue then the vector, byte for byte', () => {
  for (const v of vectors) {
    const p = vectorProgram(v);
    const spec = wrapVector(p.insns, { memLength: 0, result, labels: p.labels });
    const bytes = encode(spec.insns);
    assert.is(toHex(bytes.subarray(prologueSlots(0) * 8)), hex(p.insns), v.name);
  }
  assert.throws(() => wrapVector([EXIT], { memLength: 0x10000, result }), (e: unknown) => e instanceof RangeError);
});

// ---------------------------------------------------------------------------------------------
// The plugin protocol's conventions

test('plugin arguments: as the suite passes them (empty memory and options allowed)', () => {
  assert.equal(parsePluginArgs(['', '']), { program: undefined, memory: '', debug: false, help: false });
  assert.equal(parsePluginArgs(['00  01  ', '--debug']), { program: undefined, memory: '00  01  ', debug: true, help: false });
  assert.equal(parsePluginArgs(['--program', 'b7 00', '0a']), { program: 'b7 00', memory: '0a', debug: false, help: false });
  assert.equal(parsePluginArgs(['', ' --debug ']).debug, true);
  assert.throws(() => parsePluginArgs(['--elf']), /not supported/);
  assert.throws(() => parsePluginArgs(['--frob']), /unknown option/);
});

test('base16: the suite\'s spaced bytes, or runs of hex digits', () => {
  assert.equal([...decodeBase16('b7  00  00  00  2a  00  00  00  \n')], [0xb7, 0, 0, 0, 0x2a, 0, 0, 0]);
  assert.equal([...decodeBase16('b700002a 0x95 a')], [0xb7, 0, 0, 0x2a, 0x95, 0x0a]);
  assert.equal([...decodeBase16('')], []);
  assert.throws(() => decodeBase16('zz'), /not base16/);
});

// ---------------------------------------------------------------------------------------------
// The ubpf-dialect printer

const forms = instructionForms();

test('ubpf printer: every form it can spell assembles back to the same bytes (labels and offsets)', () => {
  let printed = 0;
  for (const f of forms) {
    if (ubpfUnsupported(f.insn)) continue;
    for (const opts of [{}, { labels: false, index: true }]) {
      // Jumps in the table go +1: two exits after each form keep every target in the program.
      const prog = [{ ...f.insn, comment: 'note' }, EXIT, EXIT];
      const text = disassembleUbpf(prog, opts);
      let got: string;
      try {
        got = hex(assemble(text, { dialect: 'ubpf' }).insns);
      } catch (e) {
        throw new Error(`${f.name}: ${(e as Error).message}\n${text}`);
      }
      assert.is(got, hex(prog), `${f.name}:\n${text}`);
    }
    printed++;
  }
  assert.ok(printed > 150, `${printed} forms`);
});

test('ubpf printer: what the dialect cannot spell is an AsmError that says so', () => {
  const unsupported = forms.filter((f) => ubpfUnsupported(f.insn)).map((f) => f.name);
  assert.ok(unsupported.includes('call kfunc'));
  assert.ok(unsupported.includes('ld_imm64 map_fd'));
  assert.ok(!unsupported.includes('ld_imm64 imm'));
  assert.ok(unsupported.every((n) => n.startsWith('call kfunc') || n.startsWith('ld_imm64')), unsupported.join(', '));
  const mapLoad: Instruction = { op: LD_IMM64, dst: 1, src: Pseudo.map_fd, off: 0, imm: 3, imm2: 0 };
  assert.throws(() => formatUbpf(mapLoad), (e: unknown) => e instanceof AsmError && /llvm dialect/.test(e.message));
  assert.throws(() => disassembleUbpf([EXIT, mapLoad]), (e: unknown) => e instanceof AsmError && e.index === 1);
});

test('ubpf printer: spelled as bpf_conformance spells it', () => {
  const one = (text: string): string => formatUbpf(assemble(text, { dialect: 'ubpf' }).insns[0]!);
  assert.is(one('mov32 %r1, 0xffffffff'), 'mov32 %r1, -1');
  assert.is(one('mov %r1, 0x80000000'), 'mov %r1, 0x80000000');
  assert.is(one('add %r1, 42'), 'add %r1, 0x2a');
  assert.is(one('ldxdw %r2, [%r10-8]'), 'ldxdw %r2, [%r10-8]');
  assert.is(one('ldxsb %r0, [%r1]'), 'ldxsb %r0, [%r1]');
  assert.is(one('lock fetch_add32 [%r10-4], %r1'), 'lock fetch add32 [%r10-4], %r1');
  assert.is(one('swap16 %r0'), 'bswap16 %r0');
  assert.is(one('lddw %r1, 0xffffffffffffffff'), 'lddw %r1, 0xffffffffffffffff');
  assert.is(formatUbpf({ op: Class.JMP | JmpOp.call, dst: 0, src: CallKind.local, off: 0, imm: 3 }), 'call local +3');
});

test('ubpf printer: every vector prints back to its own bytes, with its labels', () => {
  for (const v of vectors) {
    const p = vectorProgram(v);
    const text = disassembleUbpf(p.insns, { labels: p.labels });
    assert.is(hex(assemble(text, { dialect: 'ubpf' }).insns), hex(p.insns), v.name);
  }
  const text = disassembleUbpf(callLocal.insns, { labels: callLocal.labels, comments: false });
  assert.match(text, /^call local func1$/m);
  assert.match(text, /^jne %r0, 0xf, fail$/m);
});

test.run();
