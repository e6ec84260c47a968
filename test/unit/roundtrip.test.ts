/**
 * Every instruction form survives bytes -> Instruction -> bytes and bytes -> text -> bytes,
 * in every listing mode, with edge immediates and offsets.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assemble, parseInstruction } from '../../src/asm/assembler.ts';
import { disassemble, formatInstruction, type ListingOptions } from '../../src/asm/disasm.ts';
import { instructionForms } from '../../src/asm/forms.ts';
import { decode, encode, invalidReason, toHex, type Instruction } from '../../src/asm/instruction.ts';
import { branchField } from '../../src/asm/link.ts';
import { AluOp, Class, JmpOp, LD_IMM64, Mode, opClass, opCode, opMode, opSource, Source } from '../../src/asm/opcode.ts';

const EXIT: Instruction = { op: Class.JMP | JmpOp.exit, dst: 0, src: 0, off: 0, imm: 0 };
const raw = ({ op, dst, src, off, imm, imm2 }: Instruction): Instruction =>
  op === LD_IMM64 ? { op, dst, src, off, imm, imm2: imm2 ?? 0 } : { op, dst, src, off, imm };
const hex = (insns: readonly Instruction[]): string => toHex(encode(insns));

const MODES: Record<string, ListingOptions> = {
  plain: {},
  index: { index: true },
  bytes: { bytes: true },
  'index+bytes': { index: true, bytes: true },
  'no labels': { labels: false },
  alu32: { alu32: true },
  llvm: { style: 'llvm' },
  'llvm index+bytes': { style: 'llvm', index: true, bytes: true },
  'llvm alu32 no labels': { style: 'llvm', alu32: true, labels: false },
  'comments+source': { source: true },
};

const forms = instructionForms();

test('the form table covers every opcode class and is valid', () => {
  assert.ok(forms.length > 150, `${forms.length} forms`);
  for (const f of forms) assert.is(invalidReason(f.insn), null, f.name);
  const classes = new Set(forms.map((f) => opClass(f.insn.op)));
  assert.is(classes.size, 8);
});

test('decode(encode(i)) = i for every form', () => {
  for (const f of forms) assert.equal(decode(encode([f.insn])).map(raw), [raw(f.insn)], f.name);
});

test('asm(disasm(bytes)) = bytes for every form, in every listing mode', () => {
  for (const [mode, opts] of Object.entries(MODES)) {
    // Jumps in the table go +1, so two exits after each form keep every target in the program.
    for (const f of forms) {
      const prog = [{ ...f.insn, comment: 'note' }, EXIT, EXIT];
      const text = disassemble(prog, opts);
      let got: string;
      try {
        got = hex(assemble(text).insns);
      } catch (e) {
        throw new Error(`${f.name} [${mode}]: ${(e as Error).message}\n${text}`);
      }
      assert.is(got, hex(prog), `${f.name} [${mode}]:\n${text}`);
    }
  }
});

test('all forms in one program, with labels synthesized for every target', () => {
  const prog = [...forms.map((f) => f.insn), EXIT, EXIT];
  const bytes = encode(prog);
  for (const opts of Object.values(MODES)) assert.is(toHex(encode(assemble(disassemble(bytes, opts)).insns)), toHex(bytes));
});

/** Every field a form has that can hold an edge value, and the edge values to try. */
const S32_EDGES = [0, 1, -1, 0x7fffffff, -0x80000000];
const S16_EDGES = [0, 1, -1, 0x7fff, -0x8000];

function variants(i: Instruction): Instruction[] {
  const cls = opClass(i.op), code = opCode(i.op), out: Instruction[] = [];
  const k = opSource(i.op) === Source.K;
  if ((cls === Class.ALU || cls === Class.ALU64) && k && code !== AluOp.neg && code !== AluOp.end) for (const imm of S32_EDGES) out.push({ ...i, imm });
  if ((cls === Class.JMP || cls === Class.JMP32) && code !== JmpOp.exit) {
    const field = branchField(i);
    if (field === 'off') for (const off of S16_EDGES) out.push({ ...i, off });
    if (field === 'imm') for (const imm of S32_EDGES) out.push({ ...i, imm });
    if (k && code !== JmpOp.call && code !== JmpOp.ja) for (const imm of S32_EDGES) out.push({ ...i, imm });
    if (code === JmpOp.call && i.src !== 1) for (const imm of S32_EDGES) out.push({ ...i, imm });
    if (code === JmpOp.call && i.src === 2) for (const off of S16_EDGES) out.push({ ...i, off });
  }
  if (cls === Class.LDX || cls === Class.ST || cls === Class.STX) for (const off of S16_EDGES) out.push({ ...i, off });
  if (cls === Class.ST) for (const imm of S32_EDGES) out.push({ ...i, imm });
  if (cls === Class.LD && i.op !== LD_IMM64) for (const imm of S32_EDGES) out.push({ ...i, imm });
  if (i.op === LD_IMM64) for (const imm of S32_EDGES) for (const imm2 of S32_EDGES) out.push({ ...i, imm, imm2 });
  return out;
}

test('edge immediates and offsets: text -> instruction -> same bytes, every form', () => {
  let n = 0;
  for (const f of forms) {
    for (const v of variants(f.insn)) {
      assert.is(invalidReason(v), null, `${f.name} ${JSON.stringify(v)}`);
      for (const style of ['tsbpf', 'llvm'] as const) {
        const text = formatInstruction(v, { style });
        const back = parseInstruction(text);
        assert.is(hex([back]), hex([v]), `${f.name} [${style}] ${text}`);
        n++;
      }
    }
  }
  assert.ok(n > 1000, `${n} variants`);
});

test('jumps at the edge of the 16-bit range assemble through link()', () => {
  const fill = Array.from({ length: 0x7fff }, () => EXIT);
  const back: Instruction = { op: Class.JMP | JmpOp.ja, dst: 0, src: 0, off: -0x8000, imm: 0 };
  const fwd: Instruction = { op: Class.JMP32 | JmpOp.jsgt | Source.K, dst: 3, src: 0, off: 0x7fff, imm: -1 };
  for (const prog of [[...fill, back], [fwd, ...fill, EXIT]]) {
    const bytes = encode(prog);
    assert.is(toHex(encode(assemble(disassemble(bytes, { labels: false })).insns)), toHex(bytes));
    assert.is(toHex(encode(assemble(disassemble(bytes)).insns)), toHex(bytes));
  }
});

test('32-bit operations accept unsigned immediates; 64-bit ones say what to do instead', () => {
  assert.is(hex([parseInstruction('w1 += 0xffffffff')]), hex([parseInstruction('w1 += -1')]));
  assert.is(hex([parseInstruction('if w1 == 4294967295 goto +1')]), hex([parseInstruction('if w1 == -1 goto +1')]));
  assert.is(hex([parseInstruction('*(u32 *)(r10 - 4) = 0x80000000')]), hex([parseInstruction('*(u32 *)(r10 - 4) = -2147483648')]));
  assert.is(hex([parseInstruction('r1 = 0xffffffffffffffff ll')]), hex([parseInstruction('r1 = -1 ll')]));
  assert.throws(() => parseInstruction('r1 += 0xffffffff'), /does not fit .*sign-extend/);
  assert.throws(() => parseInstruction('if r1 > 0x80000000 goto +1'), /does not fit/);
  assert.throws(() => parseInstruction('*(u64 *)(r10 - 8) = 0x80000000'), /does not fit/);
  assert.throws(() => parseInstruction('r1 = 0x10000000000000000 ll'), /does not fit in 64 bits/);
  assert.throws(() => parseInstruction('r1 = *(u8 *)(r2 + 32768)'), /offset 32768 does not fit in \[-32768, 32767\]/);
});

test('equivalent spellings give the same bytes', () => {
  const same = (a: string, b: string) => assert.is(hex([parseInstruction(a)]), hex([parseInstruction(b)]), `${a} vs ${b}`);
  same('w2 = *(u32 *)(r1 + 80)', 'r2 = *(u32 *)(r1 + 80)');
  same('*(u16 *)(r10 - 2) = w1', '*(u16 *)(r10 - 2) = r1');
  same('lock *(u32 *)(r10 - 8) += r1', 'lock *(u32 *)(r10 - 8) += w1');
  same('call bpf_ktime_get_ns#5', 'call 5');
  same('call ktime_get_ns', 'call bpf_ktime_get_ns');
  same('r1 = 0x2a', 'r1 = 42');
  same('goto 3', 'goto +3');
  same('r0 = *(u8 *)skb[r1 + 0]', 'r0 = *(u8 *)skb[r1]');
  same('r1 = map[fd:3][0] + 0 ll', 'r1 = map[fd:3][0] ll');
  same('ld_pseudo r1, 1, 3', 'r1 = map[fd:3] ll');
  same('ld_pseudo r1, 0, -1, -1', 'r1 = -1 ll');
  same('r1 = *(u64 *)(r2)', 'r1 = *(u64 *)(r2 + 0)');
});

test('every ALU/JMP opcode decodes to a form the table has', () => {
  // Guards the table itself: a valid opcode the forms miss would escape the round-trip tests.
  const ops = new Set(forms.map((f) => f.insn.op));
  for (let op = 0; op < 256; op++) {
    const cls = opClass(op);
    const probe: Instruction = { op, dst: 1, src: opSource(op) === Source.X || (cls >= Class.LDX && cls <= Class.STX) ? 2 : 0, off: 0, imm: 0 };
    const tries: Instruction[] = [probe, { ...probe, imm: 16 }, { ...probe, imm: 1 }, { ...probe, src: 0 }, { ...probe, dst: 0, src: 0 }, { ...probe, dst: 0 }];
    if (cls === Class.LD && opMode(op) === Mode.IMM) tries.push({ ...probe, src: 0, imm2: 0 });
    if (tries.some((t) => invalidReason(t) === null)) assert.ok(ops.has(op), `opcode 0x${op.toString(16)} has no form`);
  }
});

test.run();
