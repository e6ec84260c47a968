/**
 * LLVM 14's llvm-mc as an independent oracle: for every instruction LLVM 14 knows, our bytes
 * equal the bytes llvm-mc assembles from our llvm-style text, and our llvm-style text equals
 * what llvm-mc disassembles from our bytes. One llvm-mc run per direction.
 *
 * LLVM 14 predates cpu v4 and lacks some forms, which are left out here (and covered by the
 * round-trip tests): sdiv/smod/mod, movsx, sign-extending loads, bswap, gotol, jset, store of
 * an immediate. Its text loses fields for others, compared in one direction only: pseudo
 * LD_IMM64 (prints `ld_pseudo`, cannot parse it), LD_IND with an offset (ignores imm), local and
 * kfunc calls (`call N` for all kinds), and the fetch/xchg/cmpxchg atomics (it prints them,
 * the u32 ones only with +alu32, but its parser rejects `r1 = atomic_fetch_add(...)`).
 */
import { clangMesStart } from '../../programs/mes_pkt/probe-clang.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { assemble } from '../../src/asm/assembler.ts';
import { disassemble, formatInstruction } from '../../src/asm/disasm.ts';
import { instructionForms } from '../../src/asm/forms.ts';
import { encode, toHex, type Instruction } from '../../src/asm/instruction.ts';
import {
  AluOp, AtomicOp, CallKind, Class, JmpOp, LD_IMM64, Mode, Pseudo, Size, Source, opClass, opCode, opMode, opSource,
} from '../../src/asm/opcode.ts';
import { kernelRequired } from '../support/kernel.ts';

const LLVM_MC = process.env.LLVM_MC ?? 'llvm-mc';
const probe = spawnSync(LLVM_MC, ['--version'], { encoding: 'utf8' });
const missing = probe.error || probe.status !== 0 ? `${LLVM_MC} not found (install llvm-14 or set LLVM_MC)` : null;

/** A test that needs llvm-mc: skipped without it, failing without it when CI=true / TSBPF_REQUIRE_KERNEL=1. */
function oracle(name: string, fn: () => void): void {
  if (!missing) test(name, fn);
  else if (kernelRequired) test(name, () => { throw new Error(`${missing} (required: CI=true or TSBPF_REQUIRE_KERNEL=1)`); });
  else { console.log(`skip: ${name}: ${missing}`); test.skip(name, fn); }
}

function llvmMc(args: string[], input: string): { stdout: string; stderr: string } {
  const r = spawnSync(LLVM_MC, ['-triple=bpfel', '-mcpu=v3', '-mattr=+alu32', ...args], { input, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Does LLVM 14 know this instruction at all? */
function llvmKnows(i: Instruction): boolean {
  const cls = opClass(i.op), code = opCode(i.op);
  if (cls === Class.ALU || cls === Class.ALU64) {
    if (code === AluOp.mod || i.off !== 0) return false; // mod, sdiv/smod, movsx
    if (code === AluOp.end && cls === Class.ALU64) return false; // bswap
    return true;
  }
  if (cls === Class.JMP32 && code === JmpOp.ja) return false; // gotol
  if ((cls === Class.JMP || cls === Class.JMP32) && code === JmpOp.jset) return false;
  if (cls === Class.LDX && opMode(i.op) === Mode.MEMSX) return false;
  if (cls === Class.ST) return false;
  return true;
}

/** Can llvm-mc 14 parse our text for it, and does its own text keep every field? */
function llvmParses(i: Instruction): boolean {
  if (i.op === LD_IMM64 && i.src !== Pseudo.imm) return false;
  if (i.op === (Class.JMP | JmpOp.call) && i.src !== CallKind.helper) return false;
  if (opMode(i.op) === Mode.IND && opClass(i.op) === Class.LD && i.imm !== 0) return false;
  if (opClass(i.op) === Class.STX && opMode(i.op) === Mode.ATOMIC && (i.imm & AtomicOp.fetch_add) !== 0) return false;
  return true;
}
function llvmPrintsAll(i: Instruction): boolean {
  if (i.op === LD_IMM64 && i.src !== Pseudo.imm) return (i.imm2 ?? 0) === 0;
  if (i.op === (Class.JMP | JmpOp.call) && i.src !== CallKind.helper) return false;
  if (opMode(i.op) === Mode.IND && opClass(i.op) === Class.LD && i.imm !== 0) return false;
  return true;
}

/** The forms LLVM knows, plus edge immediates and offsets on them. */
function cases(): Instruction[] {
  const out: Instruction[] = [];
  for (const { insn: i } of instructionForms()) {
    if (!llvmKnows(i)) continue;
    out.push(i);
    const cls = opClass(i.op), k = opSource(i.op) === Source.K;
    if ((cls === Class.ALU || cls === Class.ALU64) && k && opCode(i.op) !== AluOp.neg && opCode(i.op) !== AluOp.end) {
      for (const imm of [0, -1, 0x7fffffff, -0x80000000]) out.push({ ...i, imm });
    }
    if ((cls === Class.JMP || cls === Class.JMP32) && opCode(i.op) !== JmpOp.call && opCode(i.op) !== JmpOp.exit) {
      for (const off of [0, -1, 0x7fff, -0x8000]) out.push({ ...i, off });
      if (k && opCode(i.op) !== JmpOp.ja) for (const imm of [0, 0x7fffffff, -0x80000000]) out.push({ ...i, imm });
    }
    if (cls === Class.LDX || cls === Class.STX) for (const off of [0, 0x7fff, -0x8000]) out.push({ ...i, off });
    if (cls === Class.LD && i.op !== LD_IMM64 && opMode(i.op) === Mode.ABS) for (const imm of [0, 0x7fffffff]) out.push({ ...i, imm });
    if (i.op === LD_IMM64 && i.src === Pseudo.imm) {
      for (const [imm, imm2] of [[0, 0], [-0x80000000, 0], [0, -0x80000000], [-1, 0x7fffffff], [0x7fffffff, 0]]) out.push({ ...i, imm: imm!, imm2: imm2! });
    }
    if (i.op === (Class.JMP | JmpOp.call) && i.src === CallKind.helper) for (const imm of [0, 1, 211, -1]) out.push({ ...i, imm });
  }
  // Registers other than r1/r2 in every role.
  out.push({ op: Class.ALU64 | AluOp.mov | Source.X, dst: 10, src: 9, off: 0, imm: 0 });
  out.push({ op: Class.LDX | Mode.MEM | Size.u64, dst: 0, src: 10, off: -512, imm: 0 });
  return out;
}

const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();

oracle('llvm-mc assembles our llvm-style text to our bytes', () => {
  const insns = cases().filter(llvmParses);
  const lines = insns.flatMap((i) => [formatInstruction(i, { style: 'llvm' }), formatInstruction(i, { style: 'llvm', alu32: true })]);
  const { stdout, stderr } = llvmMc(['-show-encoding'], lines.join('\n') + '\n');
  assert.is(stderr.trim(), '', 'llvm-mc rejected some of our text');
  const enc = [...stdout.matchAll(/# encoding: \[([^\]]*)\]/g)].map((m) => m[1]!.split(',').map((b) => Number(b)));
  assert.is(enc.length, lines.length, 'one encoding per line');
  insns.forEach((i, n) => {
    const want = Array.from(encode([i]));
    assert.equal(enc[2 * n], want, lines[2 * n]);
    assert.equal(enc[2 * n + 1], want, lines[2 * n + 1]);
  });
  assert.ok(insns.length > 250, `${insns.length} instructions`);
});

oracle('llvm-mc disassembles our bytes to our llvm-style text', () => {
  const insns = cases().filter(llvmPrintsAll);
  const input = insns.map((i) => Array.from(encode([i]), (b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ')).join('\n') + '\n';
  const { stdout, stderr } = llvmMc(['-disassemble'], input);
  assert.is(stderr.trim(), '', 'llvm-mc could not decode some of our bytes');
  const got = stdout.split('\n').map(norm).filter((l) => l !== '' && l !== '.text');
  assert.is(got.length, insns.length, 'one line per instruction');
  insns.forEach((i, n) => assert.is(norm(formatInstruction(i, { style: 'llvm', alu32: true })), got[n], toHex(encode([i])).trim()));
});

oracle('the clang -O2 reference: llvm-style listing of the DSL program matches llvm-objdump', () => {
  const ref = readFileSync(new URL('../fixtures/reference/clang-O2-listing.txt', import.meta.url), 'utf8');
  const section = ref.split('Disassembly of section egress:')[0]!;
  // The hex column, slot by slot; relocated LD_IMM64 slots get src = map_fd, as libbpf does.
  const refBytes: number[] = [];
  const relocated = new Set<number>();
  for (const line of section.split('\n')) {
    const m = /^\s*(\d+):\t((?:[0-9a-f]{2} )+[0-9a-f]{2})\t/.exec(line);
    if (m) refBytes.push(...m[2]!.split(' ').map((h) => parseInt(h, 16)));
    if (/R_BPF_64_64/.test(line)) relocated.add(refBytes.length - 16);
  }
  for (const at of relocated) refBytes[at + 1] = (refBytes[at + 1]! & 0x0f) | (Pseudo.map_fd << 4);
  const spec = mesStart();
  assert.is(toHex(encode(spec.insns)), toHex(Uint8Array.from(refBytes)));
  // Our assembler reads llvm-objdump's output (labels, relocations) into the same program.
  const fromListing = assemble(section);
  assert.is(toHex(encode(fromListing.insns)), toHex(Uint8Array.from(refBytes)));
  assert.equal(fromListing.maps.map((m) => m.name), ['map_mes_cnt', 'map_mes_start']);
  // Line by line, the llvm-style listing is llvm-objdump's, except the map loads (there `r1 = 0 ll`
  // plus a relocation; here the loaded form `ld_pseudo r1, 1, 0`).
  const ours = disassemble(spec.insns, { style: 'llvm', index: true, bytes: true, labels: new Map([['mes_start', 0], ['LBB0_7', spec.labels.get('pass')!]]) });
  const strip = (s: string) => s.split('\n').filter((l) => /^\s*\d+:\t/.test(l) && !/\t18 /.test(l) || /^[0-9a-f]{16} </.test(l));
  assert.equal(strip(ours), strip(section));
});

const mesStart = () => clangMesStart();

test.run();
