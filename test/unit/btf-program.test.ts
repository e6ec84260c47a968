/**
 * BTF for DSL programs (src/btf/from-program.ts): which slots start functions, the FUNCs and
 * their names, line_info only where the TypeScript line changes (and at every function start),
 * and how `explain` reads the kernel's line marks back out of a verifier log.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { program, r0, r1, skb, TC_ACT_OK, TC_ACT_SHOT } from '../../src/asm/index.ts';
import { decodeBtf, formatRaw, funcName, programBtf, subprogramStarts } from '../../src/btf/index.ts';
import { kernelLines } from '../../src/verifier/explain.ts';

const HERE = 'test/unit/btf-program.test.ts';

const spec = program({ name: 'two.funcs', type: 'sched_cls' }, (b) => {
  b.ld64(r1, 7n); b.callLocal('twice'); b.exit();
  b.label('twice');
  b.mov(r0, r1);
  b.add(r0, r1);
  b.exit();
});

/** The program docs/btf.md takes apart byte by byte. */
const tiny = program({ name: 'tiny', type: 'sched_cls' }, (b) => {
  b.ldx('u32', r0, r1, skb.len);
  b.jgt(r0, 1500, 'drop');
  b.mov(r0, TC_ACT_OK);
  b.exit();
  b.label('drop');
  b.mov(r0, TC_ACT_SHOT);
  b.exit();
});

const hexdump = (u: Uint8Array) => {
  const out: string[] = [];
  for (let i = 0; i < u.length; i += 16) out.push(`${i.toString(16).padStart(4, '0')}: ${Array.from(u.subarray(i, i + 16), (x) => x.toString(16).padStart(2, '0')).join(' ')}`);
  return out.join('\n');
};

test('golden: the BTF, func_info and line_info of a 6-instruction program (docs/btf.md)', () => {
  const pb = programBtf(tiny);
  assert.fixture(hexdump(pb.btf), GOLDEN_BTF);
  assert.is(hexdump(pb.funcInfo), '0000: 00 00 00 00 06 00 00 00');
  assert.fixture(hexdump(pb.lineInfo), GOLDEN_LINES);
});

test('functions start at slot 0 and at each bpf-to-bpf call target (LD_IMM64 counts two slots)', () => {
  assert.equal(subprogramStarts(spec.insns), [0, 4]);
});

test('one FUNC per function, named after the program and the label; the entry takes struct __sk_buff *', () => {
  const pb = programBtf(spec);
  assert.equal(pb.funcs.map((f) => [f.name, f.insnOff]), [['two_funcs', 0], ['twice', 4]]);
  assert.is(formatRaw(decodeBtf(pb.btf)).split('\n').slice(0, 8).join('\n'), [
    "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED",
    "[2] PTR '(anon)' type_id=5",
    "[3] FUNC_PROTO '(anon)' ret_type_id=1 vlen=1",
    "\t'ctx' type_id=2",
    "[4] FUNC_PROTO '(anon)' ret_type_id=1 vlen=0",
    "[5] STRUCT '__sk_buff' size=0 vlen=0",
    "[6] FUNC 'two_funcs' type_id=3 linkage=global",
    "[7] FUNC 'twice' type_id=4 linkage=static",
  ].join('\n'));
  assert.equal(pb.funcInfoCount, 2);
  assert.is(funcName('9lives.x'), '_9lives_x');
});

test('line_info: one record per TypeScript line, plus one at each function start', () => {
  const pb = programBtf(spec);
  // Line 1 of the body holds three calls (slots 0, 2, 3): one record. Then a record per line.
  assert.equal(pb.lines.map((l) => l.insnOff), [0, 4, 5, 6]);
  assert.ok(pb.lines.every((l) => l.file === HERE));
  assert.is(pb.lines[0]!.line.trim(), "b.ld64(r1, 7n); b.callLocal('twice'); b.exit();");
  assert.is(pb.lines[0]!.column, 3);
  assert.is(pb.lineInfo.length, 16 * 4);
});

test('instructions without a source still get a line_info at function starts', () => {
  const pb = programBtf({ name: 'raw', insns: spec.insns.map(({ source: _s, ...i }) => i), labels: spec.labels });
  assert.equal(pb.lines.map((l) => [l.insnOff, l.file, l.lineNum]), [[0, '', 0], [4, '', 0]]);
});

test('kernelLines: the verifier log\'s "; text @ file:line" marks, carried to the unmarked slots after them', () => {
  const log = [
    '0: R1=ctx() R10=fp0',
    '; b.mov(r1, 7); @ two.ts:5',
    '0: (b7) r1 = 7                        ; R1=7',
    '1: (07) r1 += 1',
    '; b.exit(); @ two.ts:8',
    '2: (95) exit',
  ].join('\n');
  const m = kernelLines(log, [0, 1, 2]);
  assert.equal(m.get(0), { text: 'b.mov(r1, 7);', file: 'two.ts', line: 5 });
  assert.equal(m.get(1), m.get(0));
  assert.equal(m.get(2), { text: 'b.exit();', file: 'two.ts', line: 8 });
  assert.is(kernelLines('0: (b7) r1 = 7', [0]).size, 0);
});

const GOLDEN_BTF = `0000: 9f eb 01 00 18 00 00 00 00 00 00 00 54 00 00 00
0010: 54 00 00 00 b0 00 00 00 99 00 00 00 00 00 00 01
0020: 04 00 00 00 20 00 00 01 00 00 00 00 00 00 00 02
0030: 05 00 00 00 00 00 00 00 01 00 00 0d 01 00 00 00
0040: 9d 00 00 00 02 00 00 00 00 00 00 00 00 00 00 0d
0050: 01 00 00 00 a1 00 00 00 00 00 00 04 00 00 00 00
0060: ab 00 00 00 01 00 00 0c 03 00 00 00 00 74 65 73
0070: 74 2f 75 6e 69 74 2f 62 74 66 2d 70 72 6f 67 72
0080: 61 6d 2e 74 65 73 74 2e 74 73 00 20 20 62 2e 6c
0090: 64 78 28 27 75 33 32 27 2c 20 72 30 2c 20 72 31
00a0: 2c 20 73 6b 62 2e 6c 65 6e 29 3b 00 20 20 62 2e
00b0: 6a 67 74 28 72 30 2c 20 31 35 30 30 2c 20 27 64
00c0: 72 6f 70 27 29 3b 00 20 20 62 2e 6d 6f 76 28 72
00d0: 30 2c 20 54 43 5f 41 43 54 5f 4f 4b 29 3b 00 20
00e0: 20 62 2e 65 78 69 74 28 29 3b 00 20 20 62 2e 6d
00f0: 6f 76 28 72 30 2c 20 54 43 5f 41 43 54 5f 53 48
0100: 4f 54 29 3b 00 69 6e 74 00 63 74 78 00 5f 5f 73
0110: 6b 5f 62 75 66 66 00 74 69 6e 79 00`;
const GOLDEN_LINES = `0000: 00 00 00 00 01 00 00 00 1f 00 00 00 03 60 00 00
0010: 01 00 00 00 01 00 00 00 40 00 00 00 03 64 00 00
0020: 02 00 00 00 01 00 00 00 5b 00 00 00 03 68 00 00
0030: 03 00 00 00 01 00 00 00 73 00 00 00 03 6c 00 00
0040: 04 00 00 00 01 00 00 00 7f 00 00 00 03 74 00 00
0050: 05 00 00 00 01 00 00 00 73 00 00 00 03 78 00 00`;

test.run();
