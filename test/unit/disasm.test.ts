/**
 * Listings as documentation: what disassemble() prints in each mode, what assemble() says
 * about bad text (line:column and what it expected), and the asm/disasm commands.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assemble, assembleBytes, detectDialect, parseInstruction } from '../../src/asm/assembler.ts';
import { disassemble, listing } from '../../src/asm/disasm.ts';
import { AsmSyntaxError } from '../../src/asm/errors.ts';
import { encode, fromHex, toHex } from '../../src/asm/instruction.ts';
import { program } from '../../src/asm/program.ts';
import { r0, r1, r2, r10 } from '../../src/asm/register.ts';
import { PROJECT_VECTORS, externalConformanceDir } from '../support/conformance.ts';

const cnt = { name: 'map_cnt' };
const demo = program({ name: 'demo', type: 'sched_cls' }, (b) => {
  b.ldx('u32', r2, r1, 80).comment('data_end');
  b.jgt(r2, 100, 'out');
  b.ldMap(r1, cnt);
  b.mov(r2, r10);
  b.add(r2, -4);
  b.call('map_lookup_elem');
  b.jeq(r0, 0, 'out');
  b.atomic('fetch_add', 'u64', r0, 0, r1);
  b.label('out');
  b.mov(r0, 0);
  b.exit();
});

test('default listing: labels from the program, helper names, map names, comments', () => {
  assert.fixture(disassemble(demo.insns, { labels: demo.labels }), [
    '  r2 = *(u32 *)(r1 + 80)              # data_end',
    '  if r2 > 100 goto +7 <out>',
    '  r1 = map[map_cnt] ll',
    '  r2 = r10',
    '  r2 += -4',
    '  call bpf_map_lookup_elem#1',
    '  if r0 == 0 goto +1 <out>',
    '  r1 = atomic_fetch_add((u64 *)(r0 + 0), r1)',
    'out:',
    '  r0 = 0',
    '  exit',
    '',
  ].join('\n'));
});

test('index and bytes columns; slots count an LD_IMM64 twice', () => {
  const text = disassemble(demo.insns, { index: true, bytes: true, comments: false });
  const lines = text.split('\n');
  assert.is(lines[2], '   2: 18 11 00 00 00 00 00 00 00 00 00 00 00 00 00 00  r1 = map[map_cnt] ll');
  assert.is(lines[3], '   4: bf a2 00 00 00 00 00 00                          r2 = r10');
  assert.is(lines[8], 'out:');
  assert.is(lines[9], '   9: b7 00 00 00 00 00 00 00                          r0 = 0');
});

test('llvm style: llvm-objdump columns, call N, ld_pseudo, symbol lines', () => {
  assert.fixture(disassemble(demo.insns, { style: 'llvm', index: true, bytes: true, comments: false }), [
    '       0:\t61 12 50 00 00 00 00 00\tr2 = *(u32 *)(r1 + 80)',
    '       1:\t25 02 07 00 64 00 00 00\tif r2 > 100 goto +7 <out>',
    '       2:\t18 11 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tld_pseudo r1, 1, 0',
    '       4:\tbf a2 00 00 00 00 00 00\tr2 = r10',
    '       5:\t07 02 00 00 fc ff ff ff\tr2 += -4',
    '       6:\t85 00 00 00 01 00 00 00\tcall 1',
    '       7:\t15 00 01 00 00 00 00 00\tif r0 == 0 goto +1 <out>',
    '       8:\tdb 10 00 00 01 00 00 00\tr1 = atomic_fetch_add((u64 *)(r0 + 0), r1)',
    '',
    '0000000000000048 <out>:',
    '       9:\tb7 00 00 00 00 00 00 00\tr0 = 0',
    '      10:\t95 00 00 00 00 00 00 00\texit',
    '',
  ].join('\n'));
});

test('raw bytes get llvm basic-block names for jump targets', () => {
  const bytes = fromHex(`
    b7 00 00 00 00 00 00 00   55 01 02 00 00 00 00 00   b7 00 00 00 01 00 00 00
    05 00 01 00 00 00 00 00   b7 00 00 00 02 00 00 00   95 00 00 00 00 00 00 00`);
  assert.fixture(disassemble(bytes), [
    '  r0 = 0',
    '  if r1 != 0 goto +2 <LBB0_2>',
    '  r0 = 1',
    '  goto +1 <LBB0_3>',
    'LBB0_2:',
    '  r0 = 2',
    'LBB0_3:',
    '  exit',
    '',
  ].join('\n'));
  assert.not.match(disassemble(bytes, { labels: false }), /LBB|<|:/);
});

test('structured lines carry what other tools align with', () => {
  const lines = listing(demo.insns, { labels: demo.labels, source: true });
  assert.is(lines.length, 10);
  const jump = lines[1]!;
  assert.is(jump.index, 1);
  assert.is(jump.slot, 1);
  assert.is(jump.text, 'if r2 > 100 goto +7 <out>');
  assert.is(jump.target, 'out');
  assert.match(jump.source ?? '', /disasm\.test\.ts:\d+$/);
  assert.equal(Array.from(jump.bytes), [0x25, 0x02, 0x07, 0x00, 0x64, 0, 0, 0]);
  assert.is(lines[2]!.slots, 2);
  assert.is(lines[3]!.slot, 4);
  assert.is(lines[8]!.label, 'out');
  assert.equal(lines[8]!.labels, ['out']);
  assert.is(lines[0]!.comment, 'data_end');
});

test('a listing assembles back to the program: bytes, labels, map references, comments', () => {
  for (const opts of [{ labels: demo.labels }, { index: true, bytes: true, source: true }, { style: 'llvm' as const }]) {
    const back = assemble(disassemble(demo.insns, opts));
    assert.is(toHex(encode(back.insns)), toHex(encode(demo.insns)));
  }
  const back = assemble(disassemble(demo.insns, { labels: demo.labels }));
  assert.equal([...back.labels], [['out', 8]]);
  assert.equal(back.maps, [{ name: 'map_cnt' }]);
  assert.is(back.insns[2]!.map, back.maps[0]);
  assert.is(back.insns[0]!.comment, 'data_end');
  assert.is(back.insns[0]!.source, '<input>:1');
});

test('assembler: labels and offsets, comments with # and ;, hex and negative immediates', () => {
  const text = `
    # a comment line
    start:  r0 = 0x10          ; trailing comment
            r1 = -5
            if w1 s< w0 goto done
            goto +0
    done:   call bpf_ktime_get_ns#5   # helper by name and id
            exit
  `;
  const a = assemble(text, { file: 'x.s' });
  assert.is(disassemble(a.insns, { labels: a.labels }), [
    'start:',
    '  r0 = 16                             # trailing comment',
    '  r1 = -5',
    '  if w1 s< w0 goto +1 <done>',
    '  goto +0 <done>',
    'done:',
    '  call bpf_ktime_get_ns#5             # helper by name and id',
    '  exit',
    '',
  ].join('\n'));
  assert.is(a.insns[0]!.source, 'x.s:3');
  assert.is(a.insns[0]!.comment, 'trailing comment');
});

test('a <label> suffix wins over a stale offset, so listings can be edited', () => {
  const a = assemble('if r1 == 0 goto +9 <out>\nr0 = 1\nout:\nexit\n');
  assert.is(a.insns[0]!.off, 1);
});

test('bpf-to-bpf calls and function references by label', () => {
  const a = assemble('call sub\nr1 = func(sub) ll\nexit\nsub:\nr0 = 1\nexit\n');
  assert.is(a.insns[0]!.src, 1);
  assert.is(a.insns[0]!.imm, 3);
  assert.is(a.insns[1]!.imm, 2);
  assert.is(disassemble(a.insns, { labels: a.labels }).split('\n')[0], '  call pc+3 <sub>');
});

/** The error assemble() throws for `text`, as 'line:col: message'. */
function asmError(text: string): string {
  try {
    assemble(text, { file: 'bad.s' });
  } catch (e) {
    assert.instance(e, AsmSyntaxError);
    const err = e as AsmSyntaxError;
    return `${err.line}:${err.column}: ${err.reason}`;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

test('assembler errors point at line:column and say what was expected', () => {
  assert.is(asmError('r0 = 0\nr1 ++ 2\n'), "2:4: expected '=' or an operation like += -= *= /= s/= %= s%= |= &= ^= <<= >>= s>>=, found '+'");
  assert.is(asmError('r11 = 1'), "1:1: expected an instruction (rN = ..., *(u32 *)(rN + off) = ..., if, goto, call, exit, lock, ...), found 'r11'");
  assert.is(asmError('r1 = *(u32 *)(r2 + 4'), "1:21: expected ')' after the offset, found end of line");
  assert.is(asmError('r1 = *(u24 *)(r2 + 4)'), "1:8: expected a size (u8, u16, u32, u64, s8, s16, s32), found 'u24'");
  assert.is(asmError('w1 += r2'), '1:7: use w registers on both sides (32-bit operation)');
  assert.is(asmError('r1 += 0x100000000'), '1:7: immediate 4294967296 does not fit in [-2147483648, 2147483647] (64-bit operations sign-extend a 32-bit immediate; use `rN = <value> ll` for 64-bit constants)');
  assert.is(asmError('if r1 > 2 goto\n'), '1:15: expected a jump offset (+N or -N) or a label, found end of line');
  assert.is(asmError('goto nowhere\nexit'), "1:6: unknown label 'nowhere'");
  assert.is(asmError('call bpf_nope\nexit'), "1:6: 'bpf_nope' is neither a label nor a helper name (helpers are named as in linux/bpf.h, e.g. bpf_map_lookup_elem)");
  assert.is(asmError('call bpf_ktime_get_ns#6'), '1:23: bpf_ktime_get_ns is helper #5, not #6');
  assert.is(asmError('a:\nexit\na:\nexit'), "3:1: duplicate label 'a' (first defined at line 1)");
  assert.is(asmError('goto +5\nexit'), '1:1: offset +5 jumps to slot 6, outside the program (0..1)');
  assert.is(asmError('exit\nout:'), "2:1: label 'out' marks no instruction (it is at the end of the program)");
  assert.is(asmError('r1 = 5 ll\ngoto -2'), '2:1: offset -2 jumps into the middle of the LD_IMM64 at slot 0');
  assert.is(asmError('r0 = cmpxchg_64(r10 - 8, r1, r2)'), '1:26: cmpxchg compares with r0: its second operand must be r0');
  assert.is(asmError('r1 = atomic_fetch_add((u64 *)(r10 - 8), r2)'), '1:41: the fetched register must be the same register as the destination (r1)');
  assert.is(asmError('r0 = 1 @'), "1:8: unexpected character '@'");
  assert.is(asmError('exit exit'), "1:6: expected end of line, found 'exit'");
});

test('the error message names the file and position', () => {
  assert.throws(() => assemble('r0 = ', { file: 'prog.s' }), (e: Error) => /prog\.s:1:5: expected a value after =/.test(e.message));
});

/** Every .data file's -- asm section assembles (dialect auto-detected) and survives our llvm-style listing. */
function conformanceProgramsSurvive(dir: string): number {
  const files = readdirSync(dir).filter((f) => f.endsWith('.data'));
  for (const f of files) {
    const data = readFileSync(path.join(dir, f), 'utf8');
    const asmText = /-- asm\n([\s\S]*?)(?=\n-- |$)/.exec(data)?.[1];
    assert.ok(asmText, `${f} has an -- asm section`);
    let a;
    try {
      a = assemble(asmText!, { dialect: 'auto', file: f });
    } catch (e) {
      throw new Error(`${f}: ${(e as Error).message}`);
    }
    assert.ok(a.insns.length > 0, f);
    assert.is(toHex(assembleBytes(disassemble(a.insns, { labels: a.labels }))), toHex(encode(a.insns)), f);
  }
  return files.length;
}

test('ubpf dialect: the project\'s conformance programs assemble, and survive our listing', () => {
  assert.ok(conformanceProgramsSurvive(PROJECT_VECTORS) > 500);
});

const externalDir = externalConformanceDir('unit: RFC 9669 programs survive the llvm-style listing');
if (externalDir) {
  test('ubpf dialect: the RFC 9669 conformance programs assemble, and survive our listing', () => {
    assert.ok(conformanceProgramsSurvive(externalDir) > 0, `no .data files in ${externalDir}`);
  });
}

test('ubpf dialect: each mnemonic means the same instruction as its llvm form', () => {
  const pairs: [string, string][] = [
    ['mov32 %r0, 1', 'w0 = 1'], ['mov %r1, %r2', 'r1 = r2'], ['add32 %r1, 0xffffffff', 'w1 += -1'],
    ['jne %r6, 0xffffff80, +1', 'if r6 != -128 goto +1'], ['sdiv %r1, %r2', 'r1 s/= r2'], ['smod32 %r1, 3', 'w1 s%= 3'],
    ['neg32 %r1', 'w1 = -w1'], ['arsh %r1, 3', 'r1 s>>= 3'], ['movsx832 %r2, %r1', 'w2 = (s8)w1'], ['movsx3264 %r0, %r9', 'r0 = (s32)r9'],
    ['le16 %r0', 'r0 = le16 r0'], ['be64 %r0', 'r0 = be64 r0'], ['swap32 %r0', 'r0 = bswap32 r0'], ['bswap16 %r0', 'r0 = bswap16 r0'],
    ['ldxdw %r2, [%r10-8]', 'r2 = *(u64 *)(r10 - 8)'], ['ldxsh %r0, [%r10-2]', 'r0 = *(s16 *)(r10 - 2)'], ['ldxb %r0, [%r1]', 'r0 = *(u8 *)(r1 + 0)'],
    ['stw [%r10-4], 0x80000001', '*(u32 *)(r10 - 4) = -2147483647'], ['stxh [%r10-2], %r1', '*(u16 *)(r10 - 2) = r1'],
    ['lock add [%r10-8], %r1', 'lock *(u64 *)(r10 - 8) += r1'], ['lock and32 [%r10-4], %r1', 'lock *(u32 *)(r10 - 4) &= w1'],
    ['lock fetch add32 [%r10-4], %r1', 'w1 = atomic_fetch_add((u32 *)(r10 - 4), w1)'], ['lock fetch_xor [%r10-8], %r3', 'r3 = atomic_fetch_xor((u64 *)(r10 - 8), r3)'],
    ['lock xchg32 [%r10-8], %r1', 'w1 = xchg32_32(r10 - 8, w1)'], ['lock cmpxchg [%r10-8], %r1', 'r0 = cmpxchg_64(r10 - 8, r0, r1)'],
    ['lddw %r1, 0x1122334455667788', 'r1 = 0x1122334455667788 ll'], ['jset32 %r1, %r2, -1', 'if w1 & w2 goto -1'],
    ['ja32 +5', 'gotol +5'], ['call 5', 'call bpf_ktime_get_ns#5'], ['call local +2', 'call pc+2'], ['ldabsh 12', 'r0 = *(u16 *)skb[12]'],
    ['ldindw %r1, 4', 'r0 = *(u32 *)skb[r1 + 4]'], ['exit', 'exit'],
  ];
  for (const [u, l] of pairs) assert.is(toHex(encode([parseInstruction(u, { dialect: 'ubpf' })])), toHex(encode([parseInstruction(l)])), u);
  assert.throws(() => parseInstruction('movx %r1, 2', { dialect: 'ubpf' }), /1:1: expected a mnemonic/);
  assert.throws(() => parseInstruction('ldxdw %r2, [%r10-8', { dialect: 'ubpf' }), /1:19: expected '\]' after the offset, found end of line/);
});

test('dialect detection', () => {
  assert.is(detectDialect('mov32 %r0, 1\nexit'), 'ubpf');
  assert.is(detectDialect('w0 = 1\nexit'), 'llvm');
});

// ---------------------------------------------------------------------------------------------
// The commands.

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
function cli(args: string[], input?: string | Uint8Array): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, input });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}
const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-asm-'));
const SRC = 'r2 = *(u32 *)(r1 + 80)\nif r2 > 3 goto out\nr0 = 1\nout:\nexit\n';

test('cli: asm writes raw bytes to -o, or hex; disasm reads them back', () => {
  const src = path.join(dir, 'p.s'), bin = path.join(dir, 'p.bin');
  writeFileSync(src, SRC);
  const a = cli(['asm', src, '-o', bin]);
  assert.is(a.code, 0, a.stderr);
  assert.is(toHex(new Uint8Array(readFileSync(bin))), toHex(assembleBytes(SRC)));
  const h = cli(['asm', '--hex'], SRC);
  assert.is(h.stdout.toString(), toHex(assembleBytes(SRC)));
  const d = cli(['disasm', bin]);
  assert.is(d.code, 0, d.stderr);
  assert.is(d.stdout.toString(), [
    '   0: r2 = *(u32 *)(r1 + 80)',
    '   1: if r2 > 3 goto +1 <LBB0_2>',
    '   2: r0 = 1',
    'LBB0_2:',
    '   3: exit',
    '',
  ].join('\n'));
  const dh = cli(['disasm', '--hex', '--llvm', '--bytes', '-'], '0x95 0x00 0x00 0x00 0x00 0x00 0x00 0x00');
  assert.is(dh.stdout.toString(), '       0:\t95 00 00 00 00 00 00 00\texit\n');
  // The listing with every column assembles back to the same bytes.
  const full = cli(['disasm', '--bytes', bin]).stdout.toString();
  assert.is(toHex(assembleBytes(full)), toHex(assembleBytes(SRC)));
});

test('cli: bad input is one line on stderr and a non-zero exit', () => {
  for (const [args, input, pattern] of [
    [['asm'], 'r0 = = 1\n', /^error: .*<stdin>:1:6: expected/],
    [['disasm', '--hex'], '61 12 zz', /^error: not a hex digit: 'z'/],
    [['disasm', '--hex'], '61 12', /^error: .*byte/],
    [['disasm', '--hex'], 'ff 00 00 00 00 00 00 00', /^error: instruction 0: /],
    [['asm', path.join(dir, 'missing.s')], '', /^error: cannot read .*missing\.s: ENOENT/],
  ] as const) {
    const r = cli([...args], input);
    assert.ok(r.code !== 0, `${args.join(' ')}: exit ${r.code}`);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
});

test('cli: --help', () => {
  for (const cmd of ['asm', 'disasm']) {
    const r = cli([cmd, '--help']);
    assert.is(r.code, 0);
    assert.match(r.stdout.toString(), new RegExp(`^usage: tsbpf ${cmd} `));
  }
});

test.run();
