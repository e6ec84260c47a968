/**
 * BTF for DSL programs (src/btf/from-program.ts): which slots start functions, the FUNCs and
 * their names, line_info only where the TypeScript line changes (and at every function start),
 * and how `explain` reads the kernel's line marks back out of a verifier log.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { program, r0, r1 } from '../../src/asm/index.ts';
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

test.run();
