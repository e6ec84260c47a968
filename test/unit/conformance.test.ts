/**
 * Conformance without a kernel: the project's generated vectors (up to date with their script,
 * covering every instruction form in scope, results hand-checked against RFC 9669's rules), the
 * .data format, the prologue that wraps each vector (its listing is the golden), the plugin's
 * argument and base16 conventions, and the ubpf-dialect printer, which must assemble back to
 * the same bytes for every form it can spell. The external RFC 9669 vectors are read only from
 * TSBPF_CONFORMANCE_DIR.
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
import { findVectorFiles, parseVector, readVector, vectorProgram, VectorError, type Vector } from '../../src/conformance/vector.ts';
import { AluOp, Mode, opClass, opCode, opMode } from '../../src/asm/opcode.ts';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_HEADER, generatedFiles } from '../../scripts/gen-vectors.ts';
import { PROJECT_VECTORS, externalConformanceDir } from '../support/conformance.ts';

const files = findVectorFiles([PROJECT_VECTORS]);
const vectors = files.map(readVector);
const byName = new Map(vectors.map((v) => [v.name, v]));
const vector = (name: string) => {
  const v = byName.get(name);
  if (!v) throw new Error(`no project vector ${name}: regenerate with npx tsx scripts/gen-vectors.ts`);
  return v;
};
const EXIT: Instruction = { op: Class.JMP | JmpOp.exit, dst: 0, src: 0, off: 0, imm: 0 };
const hex = (insns: readonly Instruction[]): string => toHex(encode(insns));
const result = { name: RESULT_MAP.name };

// ---------------------------------------------------------------------------------------------
// The .data files

test('the project vectors are what scripts/gen-vectors.ts writes (do not edit them by hand)', () => {
  const want = generatedFiles();
  const have = readdirSync(PROJECT_VECTORS).filter((f) => f.endsWith('.data')).sort();
  assert.equal(have, [...want.keys()].sort(), 'the same files');
  for (const [f, text] of want) assert.is(readFileSync(path.join(PROJECT_VECTORS, f), 'utf8'), text, `${f} differs: run npx tsx scripts/gen-vectors.ts`);
  assert.ok(vectors.length > 500, `${vectors.length} vectors`);
});

test('every project vector parses and assembles with the ubpf dialect, and says it is generated', () => {
  for (const v of vectors) {
    assert.ok(readFileSync(v.file, 'utf8').startsWith(GENERATED_HEADER), v.name);
    assert.ok(v.asm !== undefined, v.name);
    assert.is(v.error, undefined, v.name);
    assert.ok(typeof v.result === 'bigint', v.name);
    assert.ok(v.description && /^(RFC 9669 §|bpf_conformance convention)/.test(v.description), `${v.name}: ${v.description}`);
    assert.ok(vectorProgram(v).insns.length > 0, v.name);
  }
  assert.ok(vectors.some((v) => v.mem.length > 0), 'some use -- mem');
});

test('the vectors cover every instruction form RFC 9669 defines (forms.ts), but legacy packet loads, helpers and map loads', () => {
  const key = (i: Instruction): string => {
    const cls = opClass(i.op);
    if (cls === Class.ALU || cls === Class.ALU64) return `${i.op}/${i.off}${opCode(i.op) === AluOp.end ? `/${i.imm}` : ''}`;
    if (cls === Class.STX && opMode(i.op) === Mode.ATOMIC) return `${i.op}/${i.imm}`;
    if (i.op === LD_IMM64 || i.op === (Class.JMP | JmpOp.call)) return `${i.op}/${i.src}`;
    return `${i.op}`;
  };
  const seen = new Set(vectors.flatMap((v) => vectorProgram(v).insns.map(key)));
  const outOfScope = /^(ld_abs|ld_ind|call helper|call kfunc|ld_imm64 (?!imm))/;
  const missing = instructionForms().filter((f) => !outOfScope.test(f.name) && !seen.has(key(f.insn))).map((f) => f.name);
  assert.equal(missing, [], `forms no vector uses: ${missing.join(', ')}`);
  assert.ok(seen.size >= 150, `${seen.size} distinct forms`);
});

test('expected results follow RFC 9669\'s rules (hand-checked)', () => {
  const r = (name: string) => vector(name).result;
  assert.is(r('alu64_sdiv_reg_5'), 0x8000000000000000n, 'INT64_MIN / -1 wraps ("overflow ... will wrap")');
  assert.is(r('alu64_smod_reg_5'), 0n, 'INT64_MIN % -1 = 0');
  assert.is(r('alu64_smod_reg_1'), 0xfffffffffffffffen, '-100 % 7 = -2: truncated, the sign of the dividend');
  assert.is(r('alu64_sdiv_reg_2'), 0xfffffffffffffff2n, '100 / -7 = -14');
  assert.is(r('alu64_div_reg_4'), 0n, 'division by zero gives 0');
  assert.is(r('alu64_mod_reg_4'), 0xfedcba9876543210n, 'ALU64 modulo by zero leaves dst');
  assert.is(r('alu32_mod_reg_4'), 0x76543210n, 'ALU modulo by zero zeroes the upper 32 bits');
  assert.is(r('alu64_div_imm_2'), 0n, 'ALU64 DIV K: imm -7 sign-extended, then unsigned: 100 / 0xfffffffffffffff9 = 0');
  assert.is(r('alu32_div_imm_2'), 0n, 'ALU DIV K: imm -7 as u32');
  assert.is(r('alu64_lsh_reg_5'), 0x123456789abcdef0n & 0xffffffffffffffffn, 'shift by 68 is masked to 4');
  assert.is(r('alu32_mov_k_neg'), 0xfffffffen, 'ALU MOV K zero-extends');
  assert.is(r('alu64_mov_k_neg'), 0xfffffffffffffffen, 'ALU64 MOV K sign-extends');
  assert.is(r('alu32_movsx8_0'), 0xffffffffn, 'MOVSX ALU from 8 bits: (u32)(s32)(s8)');
  assert.is(r('end_le16'), 0xcdefn);
  assert.is(r('end_be16'), 0xefcdn);
  assert.is(r('end_bswap64'), 0xefcdab8967452301n);
  assert.is(r('mem_ldxsb_neg'), 0xfffffffffffffff8n);
  assert.is(r('mem_input_ldxw'), 0x88878685n, 'the input memory is little-endian');
  assert.is(r('jmp32_jeq_reg_5'), 1n, 'JMP32 compares the low halves only');
  assert.is(r('jmp64_jeq_reg_5'), 0n);
  assert.is(r('call_local_args'), 12345n);
  assert.is(r('call_local_callee_saved'), 1_500_000n + 6789n);
});

test('result values: hex or decimal, 64 bits unsigned', () => {
  assert.is(parseVector('-- asm\nexit\n-- result\n0x1122334455667788\n').result, 0x1122334455667788n);
  assert.is(parseVector('-- asm\nexit\n-- result\n42\n').result, 42n, 'decimal without 0x');
  assert.is(parseVector('-- asm\nexit\n-- result\n-1\n').result, 0xffffffffffffffffn, 'negative wraps to u64');
});

test('comments: the header and # lines are not code; the first asm comment is the description', () => {
  const v = vector('lddw_0');
  assert.is(v.description, 'RFC 9669 §5.4: LDDW loads the 64-bit immediate 0x1122334455667788.');
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
  const v = vector('lddw_0');
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

const callLocal = vectorProgram(vector('call_local_args'));

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
  20: call pc+1 <f>
  21: exit
f:
  22: r0 = r1
  23: r0 *= 10
  24: r0 += r2
  25: r0 *= 10
  26: r0 += r3
  27: r0 *= 10
  28: r0 += r4
  29: r0 *= 10
  30: r0 += r5
  31: exit
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

const printsBack = (vs: readonly Vector[]) => {
  for (const v of vs) {
    const p = vectorProgram(v);
    const text = disassembleUbpf(p.insns, { labels: p.labels });
    assert.is(hex(assemble(text, { dialect: 'ubpf' }).insns), hex(p.insns), v.name);
  }
};

test('ubpf printer: every vector prints back to its own bytes, with its labels', () => {
  printsBack(vectors);
  const text = disassembleUbpf(callLocal.insns, { labels: callLocal.labels, comments: false });
  assert.match(text, /^call local f$/m);
  assert.match(text, /^mul %r0, 10$/m);
});

// ---------------------------------------------------------------------------------------------
// The external RFC 9669 vectors (bpf_conformance's), when TSBPF_CONFORMANCE_DIR names them.

const externalDir = externalConformanceDir('unit: the RFC 9669 vectors parse, assemble and print back');
if (externalDir) {
  const external = findVectorFiles([externalDir]).map(readVector);
  test('RFC 9669 vectors: each parses and assembles with the ubpf dialect', () => {
    assert.ok(external.length > 0);
    for (const v of external) {
      assert.ok(v.asm !== undefined || v.raw !== undefined, v.name);
      assert.ok(v.error !== undefined || typeof v.result === 'bigint', v.name);
      if (v.error === undefined) assert.ok(vectorProgram(v).insns.length > 0, v.name);
    }
  });
  test('RFC 9669 vectors: the ubpf printer gives back their bytes', () => printsBack(external.filter((v) => v.error === undefined)));
  test('RFC 9669 vectors: wrapped, the vector follows the prologue byte for byte', () => {
    for (const v of external.filter((x) => x.error === undefined)) {
      const p = vectorProgram(v);
      const spec = wrapVector(p.insns, { memLength: v.mem.length, result, labels: p.labels });
      assert.is(toHex(encode(spec.insns).subarray(prologueSlots(v.mem.length) * 8)), hex(p.insns), v.name);
    }
  });
}

test.run();
