/**
 * Golden encodings: one row per opcode of RFC 9669 (the kernel's
 * Documentation/bpf/standardization/instruction-set.rst), in the style of cilium/ebpf's
 * asm/dsl_test.go. `have` is the DSL call, `want` the 8 (or 16) bytes the kernel reads.
 *
 * Every `want` was written by hand from the spec's opcode tables (linux/bpf.h values), not by
 * running our encoder; where llvm-mc 14 knows the instruction it was cross-checked with
 * `llvm-mc -triple bpfel -mattr=+alu32 -show-encoding`. Reading a row:
 *
 *   c3 1a fc ff 01 00 00 00        r1 = atomic_fetch_add((u32 *)(r10 - 4), r1)
 *   |  |  |     '---------- imm, s32 little endian (1 = BPF_ADD | BPF_FETCH)
 *   |  |  '---------------- off, s16 little endian (0xfffc = -4)
 *   |  '------------------- dst in the low nibble (10), src in the high nibble (1)
 *   '---------------------- opcode: 0xc3 = BPF_STX | BPF_ATOMIC | BPF_W
 *
 * Jumps use raw slot offsets here; labels are resolved by link() and tested in dsl.test.ts.
 */
import { clangMesStart } from '../../programs/mes_pkt/probe-clang.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AsmError, Builder, decode, encode, r0, r1, r2, r3, r6, r7, r9, r10, skb,
  type Instruction, type MapRef,
} from '../../src/asm/index.ts';

interface Row {
  readonly name: string;
  readonly have: (b: Builder) => unknown;
  /** hex bytes, one 8-byte slot per group; spaces are ignored */
  readonly want: string;
}

const table = (family: string, rows: readonly Row[]): void => {
  for (const row of rows) {
    test(`${family}: ${row.name}`, () => {
      const b = new Builder({ trackSource: false });
      row.have(b);
      assert.is(b.insns.length, 1, 'one DSL call makes one instruction');
      const insn = b.insns[0]!;
      const want = unhex(row.want);
      assert.is(hex(encode([insn])), hex(want), 'encode(have) = want');
      const back = decode(want);
      assert.is(back.length, 1, 'want decodes to one instruction');
      assert.equal(back[0], fields(insn), 'decode(want) = have');
      assert.is(hex(encode(back)), hex(want), 'encode(decode(want)) = want');
    });
  }
};

// Written here rather than imported, so the expected side shares no code with the encoder.
function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/.test(clean) || clean.length % 16 !== 0) throw new Error(`bad golden hex '${s}'`);
  return Uint8Array.from(clean.match(/../g)!, (h) => parseInt(h, 16));
}
function hex(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += 8) {
    parts.push(Array.from(bytes.subarray(i, i + 8), (x) => x.toString(16).padStart(2, '0')).join(' '));
  }
  return parts.join(' | ');
}
/** The encoded fields of an instruction, without target/map/comment/source metadata. */
function fields(i: Instruction): Instruction {
  const { op, dst, src, off, imm, imm2 } = i;
  return imm2 === undefined ? { op, dst, src, off, imm } : { op, dst, src, off, imm, imm2 };
}

// ---------------------------------------------------------------------------------------------
// ALU64 (class 0x07) and ALU (class 0x04): opcode = op | source | class.
// op: add 0x00 sub 0x10 mul 0x20 div 0x30 or 0x40 and 0x50 lsh 0x60 rsh 0x70 neg 0x80 mod 0x90
//     xor 0xa0 mov 0xb0 arsh 0xc0 end 0xd0; source: K (imm) 0x00, X (register) 0x08.
// sdiv/smod are div/mod with off = 1; movsx is mov X with off = 8, 16 or 32.

table('alu64 imm', [
  { name: 'add r1, 42', have: (b) => b.add(r1, 42), want: '07 01 00 00 2a 00 00 00' },
  { name: 'sub r1, 2', have: (b) => b.sub(r1, 2), want: '17 01 00 00 02 00 00 00' },
  { name: 'mul r1, 3', have: (b) => b.mul(r1, 3), want: '27 01 00 00 03 00 00 00' },
  { name: 'div r1, 4', have: (b) => b.div(r1, 4), want: '37 01 00 00 04 00 00 00' },
  { name: 'sdiv r1, -4', have: (b) => b.sdiv(r1, -4), want: '37 01 01 00 fc ff ff ff' },
  { name: 'mod r1, 5', have: (b) => b.mod(r1, 5), want: '97 01 00 00 05 00 00 00' },
  { name: 'smod r1, -5', have: (b) => b.smod(r1, -5), want: '97 01 01 00 fb ff ff ff' },
  { name: 'or r1, 0x100', have: (b) => b.or(r1, 0x100), want: '47 01 00 00 00 01 00 00' },
  { name: 'and r1, 0xff', have: (b) => b.and(r1, 0xff), want: '57 01 00 00 ff 00 00 00' },
  { name: 'xor r1, -1', have: (b) => b.xor(r1, -1), want: 'a7 01 00 00 ff ff ff ff' },
  { name: 'lsh r1, 63', have: (b) => b.lsh(r1, 63), want: '67 01 00 00 3f 00 00 00' },
  { name: 'rsh r1, 32', have: (b) => b.rsh(r1, 32), want: '77 01 00 00 20 00 00 00' },
  { name: 'arsh r1, 1', have: (b) => b.arsh(r1, 1), want: 'c7 01 00 00 01 00 00 00' },
  { name: 'mov r9, 0x12345678', have: (b) => b.mov(r9, 0x12345678), want: 'b7 09 00 00 78 56 34 12' },
  { name: 'mov r0, -2147483648 (s32 min)', have: (b) => b.mov(r0, -0x80000000), want: 'b7 00 00 00 00 00 00 80' },
  { name: 'neg r1', have: (b) => b.neg(r1), want: '87 01 00 00 00 00 00 00' },
]);

table('alu64 reg', [
  { name: 'add r1, r2', have: (b) => b.add(r1, r2), want: '0f 21 00 00 00 00 00 00' },
  { name: 'sub r1, r2', have: (b) => b.sub(r1, r2), want: '1f 21 00 00 00 00 00 00' },
  { name: 'mul r1, r2', have: (b) => b.mul(r1, r2), want: '2f 21 00 00 00 00 00 00' },
  { name: 'div r1, r2', have: (b) => b.div(r1, r2), want: '3f 21 00 00 00 00 00 00' },
  { name: 'sdiv r1, r2', have: (b) => b.sdiv(r1, r2), want: '3f 21 01 00 00 00 00 00' },
  { name: 'mod r1, r2', have: (b) => b.mod(r1, r2), want: '9f 21 00 00 00 00 00 00' },
  { name: 'smod r1, r2', have: (b) => b.smod(r1, r2), want: '9f 21 01 00 00 00 00 00' },
  { name: 'or r1, r2', have: (b) => b.or(r1, r2), want: '4f 21 00 00 00 00 00 00' },
  { name: 'and r1, r2', have: (b) => b.and(r1, r2), want: '5f 21 00 00 00 00 00 00' },
  { name: 'xor r1, r2', have: (b) => b.xor(r1, r2), want: 'af 21 00 00 00 00 00 00' },
  { name: 'lsh r1, r2', have: (b) => b.lsh(r1, r2), want: '6f 21 00 00 00 00 00 00' },
  { name: 'rsh r1, r2', have: (b) => b.rsh(r1, r2), want: '7f 21 00 00 00 00 00 00' },
  { name: 'arsh r1, r2', have: (b) => b.arsh(r1, r2), want: 'cf 21 00 00 00 00 00 00' },
  { name: 'mov r6, r10 (r10 is readable)', have: (b) => b.mov(r6, r10), want: 'bf a6 00 00 00 00 00 00' },
  { name: 'movsx r1, r2, 8', have: (b) => b.movsx(r1, r2, 8), want: 'bf 21 08 00 00 00 00 00' },
  { name: 'movsx r1, r2, 16', have: (b) => b.movsx(r1, r2, 16), want: 'bf 21 10 00 00 00 00 00' },
  { name: 'movsx r1, r2, 32', have: (b) => b.movsx(r1, r2, 32), want: 'bf 21 20 00 00 00 00 00' },
]);

table('alu32 imm', [
  { name: 'add32 r1, 42', have: (b) => b.add32(r1, 42), want: '04 01 00 00 2a 00 00 00' },
  { name: 'sub32 r1, 2', have: (b) => b.sub32(r1, 2), want: '14 01 00 00 02 00 00 00' },
  { name: 'mul32 r1, 3', have: (b) => b.mul32(r1, 3), want: '24 01 00 00 03 00 00 00' },
  { name: 'div32 r1, 4', have: (b) => b.div32(r1, 4), want: '34 01 00 00 04 00 00 00' },
  { name: 'sdiv32 r1, -4', have: (b) => b.sdiv32(r1, -4), want: '34 01 01 00 fc ff ff ff' },
  { name: 'mod32 r1, 5', have: (b) => b.mod32(r1, 5), want: '94 01 00 00 05 00 00 00' },
  { name: 'smod32 r1, -5', have: (b) => b.smod32(r1, -5), want: '94 01 01 00 fb ff ff ff' },
  { name: 'or32 r1, 0x100', have: (b) => b.or32(r1, 0x100), want: '44 01 00 00 00 01 00 00' },
  { name: 'and32 r1, 0xffff0000 (u32 allowed)', have: (b) => b.and32(r1, 0xffff0000), want: '54 01 00 00 00 00 ff ff' },
  { name: 'xor32 r1, -1', have: (b) => b.xor32(r1, -1), want: 'a4 01 00 00 ff ff ff ff' },
  { name: 'lsh32 r1, 31', have: (b) => b.lsh32(r1, 31), want: '64 01 00 00 1f 00 00 00' },
  { name: 'rsh32 r1, 16', have: (b) => b.rsh32(r1, 16), want: '74 01 00 00 10 00 00 00' },
  { name: 'arsh32 r1, 1', have: (b) => b.arsh32(r1, 1), want: 'c4 01 00 00 01 00 00 00' },
  { name: 'mov32 r1, 0xffffffff (u32 allowed)', have: (b) => b.mov32(r1, 0xffffffff), want: 'b4 01 00 00 ff ff ff ff' },
  { name: 'neg32 r1', have: (b) => b.neg32(r1), want: '84 01 00 00 00 00 00 00' },
]);

table('alu32 reg', [
  { name: 'add32 r1, r2', have: (b) => b.add32(r1, r2), want: '0c 21 00 00 00 00 00 00' },
  { name: 'sub32 r1, r2', have: (b) => b.sub32(r1, r2), want: '1c 21 00 00 00 00 00 00' },
  { name: 'mul32 r1, r2', have: (b) => b.mul32(r1, r2), want: '2c 21 00 00 00 00 00 00' },
  { name: 'div32 r1, r2', have: (b) => b.div32(r1, r2), want: '3c 21 00 00 00 00 00 00' },
  { name: 'sdiv32 r1, r2', have: (b) => b.sdiv32(r1, r2), want: '3c 21 01 00 00 00 00 00' },
  { name: 'mod32 r1, r2', have: (b) => b.mod32(r1, r2), want: '9c 21 00 00 00 00 00 00' },
  { name: 'smod32 r1, r2', have: (b) => b.smod32(r1, r2), want: '9c 21 01 00 00 00 00 00' },
  { name: 'or32 r1, r2', have: (b) => b.or32(r1, r2), want: '4c 21 00 00 00 00 00 00' },
  { name: 'and32 r1, r2', have: (b) => b.and32(r1, r2), want: '5c 21 00 00 00 00 00 00' },
  { name: 'xor32 r1, r2', have: (b) => b.xor32(r1, r2), want: 'ac 21 00 00 00 00 00 00' },
  { name: 'lsh32 r1, r2', have: (b) => b.lsh32(r1, r2), want: '6c 21 00 00 00 00 00 00' },
  { name: 'rsh32 r1, r2', have: (b) => b.rsh32(r1, r2), want: '7c 21 00 00 00 00 00 00' },
  { name: 'arsh32 r1, r2', have: (b) => b.arsh32(r1, r2), want: 'cc 21 00 00 00 00 00 00' },
  { name: 'mov32 r3, r9', have: (b) => b.mov32(r3, r9), want: 'bc 93 00 00 00 00 00 00' },
  { name: 'movsx32 r1, r2, 8', have: (b) => b.movsx32(r1, r2, 8), want: 'bc 21 08 00 00 00 00 00' },
  { name: 'movsx32 r1, r2, 16', have: (b) => b.movsx32(r1, r2, 16), want: 'bc 21 10 00 00 00 00 00' },
]);

// Byte swaps: op END (0xd0). ALU|K = to little endian (0xd4), ALU|X = to big endian (0xdc),
// ALU64|K = unconditional swap (0xd7). The width (16, 32, 64) is in imm.
table('byte swap', [
  { name: 'le16 r1', have: (b) => b.le(r1, 16), want: 'd4 01 00 00 10 00 00 00' },
  { name: 'le32 r1', have: (b) => b.le(r1, 32), want: 'd4 01 00 00 20 00 00 00' },
  { name: 'le64 r1', have: (b) => b.le(r1, 64), want: 'd4 01 00 00 40 00 00 00' },
  { name: 'be16 r1', have: (b) => b.be(r1, 16), want: 'dc 01 00 00 10 00 00 00' },
  { name: 'be32 r1', have: (b) => b.be(r1, 32), want: 'dc 01 00 00 20 00 00 00' },
  { name: 'be64 r1', have: (b) => b.be(r1, 64), want: 'dc 01 00 00 40 00 00 00' },
  { name: 'bswap16 r1', have: (b) => b.bswap(r1, 16), want: 'd7 01 00 00 10 00 00 00' },
  { name: 'bswap32 r1', have: (b) => b.bswap(r1, 32), want: 'd7 01 00 00 20 00 00 00' },
  { name: 'bswap64 r1', have: (b) => b.bswap(r1, 64), want: 'd7 01 00 00 40 00 00 00' },
]);

// ---------------------------------------------------------------------------------------------
// Loads and stores: opcode = mode | size | class. size: W (u32) 0x00, H (u16) 0x08, B (u8) 0x10,
// DW (u64) 0x18; mode: IMM 0x00, ABS 0x20, IND 0x40, MEM 0x60, MEMSX 0x80, ATOMIC 0xc0;
// class: LD 0, LDX 1, ST 2, STX 3.

table('ldx', [
  { name: 'ldx u8 r2, [r1+23]', have: (b) => b.ldx('u8', r2, r1, 23), want: '71 12 17 00 00 00 00 00' },
  { name: 'ldx u16 r2, [r1+12]', have: (b) => b.ldx('u16', r2, r1, 12), want: '69 12 0c 00 00 00 00 00' },
  { name: 'ldx u32 r2, [r1+80]', have: (b) => b.ldx('u32', r2, r1, skb.data_end), want: '61 12 50 00 00 00 00 00' },
  { name: 'ldx u64 r0, [r10-8]', have: (b) => b.ldx('u64', r0, r10, -8), want: '79 a0 f8 ff 00 00 00 00' },
  { name: 'ldx u16 r2, [r1+32767] (off s16 max)', have: (b) => b.ldx('u16', r2, r1, 0x7fff), want: '69 12 ff 7f 00 00 00 00' },
]);

table('ldxsx', [
  { name: 'ldxsx u8 r2, [r1+0]', have: (b) => b.ldxsx('u8', r2, r1, 0), want: '91 12 00 00 00 00 00 00' },
  { name: 'ldxsx u16 r2, [r1+2]', have: (b) => b.ldxsx('u16', r2, r1, 2), want: '89 12 02 00 00 00 00 00' },
  { name: 'ldxsx u32 r2, [r1+4]', have: (b) => b.ldxsx('u32', r2, r1, 4), want: '81 12 04 00 00 00 00 00' },
]);

table('stx', [
  { name: 'stx u8 [r10-1], r1', have: (b) => b.stx('u8', r10, -1, r1), want: '73 1a ff ff 00 00 00 00' },
  { name: 'stx u16 [r10-2], r1', have: (b) => b.stx('u16', r10, -2, r1), want: '6b 1a fe ff 00 00 00 00' },
  { name: 'stx u32 [r10-4], r1', have: (b) => b.stx('u32', r10, -4, r1), want: '63 1a fc ff 00 00 00 00' },
  { name: 'stx u64 [r10-16], r0', have: (b) => b.stx('u64', r10, -16, r0), want: '7b 0a f0 ff 00 00 00 00' },
]);

table('st imm', [
  { name: 'st u8 [r10-1], 0x7f', have: (b) => b.st('u8', r10, -1, 0x7f), want: '72 0a ff ff 7f 00 00 00' },
  { name: 'st u16 [r10-2], 0x1234', have: (b) => b.st('u16', r10, -2, 0x1234), want: '6a 0a fe ff 34 12 00 00' },
  { name: 'st u32 [r10-4], 0xdeadbeef (u32 allowed)', have: (b) => b.st('u32', r10, -4, 0xdeadbeef), want: '62 0a fc ff ef be ad de' },
  { name: 'st u64 [r10-8], -1 (sign-extended)', have: (b) => b.st('u64', r10, -8, -1), want: '7a 0a f8 ff ff ff ff ff' },
]);

// Legacy packet loads (class LD): r0 = ntoh(*(size *)(skb->data + imm [+ src])).
table('ld_abs / ld_ind', [
  { name: 'ld_abs u8 [23]', have: (b) => b.ldAbs('u8', 23), want: '30 00 00 00 17 00 00 00' },
  { name: 'ld_abs u16 [12]', have: (b) => b.ldAbs('u16', 12), want: '28 00 00 00 0c 00 00 00' },
  { name: 'ld_abs u32 [26]', have: (b) => b.ldAbs('u32', 26), want: '20 00 00 00 1a 00 00 00' },
  { name: 'ld_ind u8 [r7+14]', have: (b) => b.ldInd('u8', r7, 14), want: '50 70 00 00 0e 00 00 00' },
  { name: 'ld_ind u16 [r7+14]', have: (b) => b.ldInd('u16', r7, 14), want: '48 70 00 00 0e 00 00 00' },
  { name: 'ld_ind u32 [r7+14]', have: (b) => b.ldInd('u32', r7, 14), want: '40 70 00 00 0e 00 00 00' },
]);

// Atomics: STX | ATOMIC | W (0xc3) or DW (0xdb); the operation is in imm:
// add 0x00 or 0x40 and 0x50 xor 0xa0, | FETCH 0x01; xchg 0xe1; cmpxchg 0xf1.
table('atomic u32', [
  { name: 'lock add u32 [r10-4], r1', have: (b) => b.atomic('add', 'u32', r10, -4, r1), want: 'c3 1a fc ff 00 00 00 00' },
  { name: 'lock or u32 [r10-4], r1', have: (b) => b.atomic('or', 'u32', r10, -4, r1), want: 'c3 1a fc ff 40 00 00 00' },
  { name: 'lock and u32 [r10-4], r1', have: (b) => b.atomic('and', 'u32', r10, -4, r1), want: 'c3 1a fc ff 50 00 00 00' },
  { name: 'lock xor u32 [r10-4], r1', have: (b) => b.atomic('xor', 'u32', r10, -4, r1), want: 'c3 1a fc ff a0 00 00 00' },
  { name: 'fetch_add u32 [r10-4], r1', have: (b) => b.atomic('fetch_add', 'u32', r10, -4, r1), want: 'c3 1a fc ff 01 00 00 00' },
  { name: 'fetch_or u32 [r10-4], r1', have: (b) => b.atomic('fetch_or', 'u32', r10, -4, r1), want: 'c3 1a fc ff 41 00 00 00' },
  { name: 'fetch_and u32 [r10-4], r1', have: (b) => b.atomic('fetch_and', 'u32', r10, -4, r1), want: 'c3 1a fc ff 51 00 00 00' },
  { name: 'fetch_xor u32 [r10-4], r1', have: (b) => b.atomic('fetch_xor', 'u32', r10, -4, r1), want: 'c3 1a fc ff a1 00 00 00' },
  { name: 'xchg u32 [r10-4], r1', have: (b) => b.atomic('xchg', 'u32', r10, -4, r1), want: 'c3 1a fc ff e1 00 00 00' },
  { name: 'cmpxchg u32 [r10-4], r1', have: (b) => b.atomic('cmpxchg', 'u32', r10, -4, r1), want: 'c3 1a fc ff f1 00 00 00' },
]);

table('atomic u64', [
  { name: 'lock add u64 [r10-8], r1', have: (b) => b.atomic('add', 'u64', r10, -8, r1), want: 'db 1a f8 ff 00 00 00 00' },
  { name: 'lock or u64 [r10-8], r1', have: (b) => b.atomic('or', 'u64', r10, -8, r1), want: 'db 1a f8 ff 40 00 00 00' },
  { name: 'lock and u64 [r10-8], r1', have: (b) => b.atomic('and', 'u64', r10, -8, r1), want: 'db 1a f8 ff 50 00 00 00' },
  { name: 'lock xor u64 [r10-8], r1', have: (b) => b.atomic('xor', 'u64', r10, -8, r1), want: 'db 1a f8 ff a0 00 00 00' },
  { name: 'fetch_add u64 [r10-8], r1', have: (b) => b.atomic('fetch_add', 'u64', r10, -8, r1), want: 'db 1a f8 ff 01 00 00 00' },
  { name: 'fetch_or u64 [r10-8], r1', have: (b) => b.atomic('fetch_or', 'u64', r10, -8, r1), want: 'db 1a f8 ff 41 00 00 00' },
  { name: 'fetch_and u64 [r10-8], r1', have: (b) => b.atomic('fetch_and', 'u64', r10, -8, r1), want: 'db 1a f8 ff 51 00 00 00' },
  { name: 'fetch_xor u64 [r10-8], r1', have: (b) => b.atomic('fetch_xor', 'u64', r10, -8, r1), want: 'db 1a f8 ff a1 00 00 00' },
  { name: 'xchg u64 [r10-8], r1', have: (b) => b.atomic('xchg', 'u64', r10, -8, r1), want: 'db 1a f8 ff e1 00 00 00' },
  { name: 'cmpxchg u64 [r1+0], r2', have: (b) => b.atomic('cmpxchg', 'u64', r1, 0, r2), want: 'db 21 00 00 f1 00 00 00' },
]);

// ---------------------------------------------------------------------------------------------
// Jumps: opcode = op | source | class, class JMP 0x05 (64-bit compare) or JMP32 0x06.
// op: ja 0x00 jeq 0x10 jgt 0x20 jge 0x30 jset 0x40 jne 0x50 jsgt 0x60 jsge 0x70 call 0x80
//     exit 0x90 jlt 0xa0 jle 0xb0 jslt 0xc0 jsle 0xd0. off counts slots from the next one.

table('jmp imm', [
  { name: 'jeq r1, 0, +3', have: (b) => b.jeq(r1, 0, 3), want: '15 01 03 00 00 00 00 00' },
  { name: 'jne r1, 8, +30', have: (b) => b.jne(r1, 8, 30), want: '55 01 1e 00 08 00 00 00' },
  { name: 'jgt r1, 511, +15', have: (b) => b.jgt(r1, 511, 15), want: '25 01 0f 00 ff 01 00 00' },
  { name: 'jge r1, 2, +3', have: (b) => b.jge(r1, 2, 3), want: '35 01 03 00 02 00 00 00' },
  { name: 'jlt r1, 2, +3', have: (b) => b.jlt(r1, 2, 3), want: 'a5 01 03 00 02 00 00 00' },
  { name: 'jle r1, 2, +3', have: (b) => b.jle(r1, 2, 3), want: 'b5 01 03 00 02 00 00 00' },
  { name: 'jsgt r1, -1, +3', have: (b) => b.jsgt(r1, -1, 3), want: '65 01 03 00 ff ff ff ff' },
  { name: 'jsge r1, -2, +3', have: (b) => b.jsge(r1, -2, 3), want: '75 01 03 00 fe ff ff ff' },
  { name: 'jslt r1, -1, -1', have: (b) => b.jslt(r1, -1, -1), want: 'c5 01 ff ff ff ff ff ff' },
  { name: 'jsle r1, 0, -2', have: (b) => b.jsle(r1, 0, -2), want: 'd5 01 fe ff 00 00 00 00' },
  { name: 'jset r1, 0x80, +3', have: (b) => b.jset(r1, 0x80, 3), want: '45 01 03 00 80 00 00 00' },
]);

table('jmp reg', [
  { name: 'jeq r1, r2, +3', have: (b) => b.jeq(r1, r2, 3), want: '1d 21 03 00 00 00 00 00' },
  { name: 'jne r1, r2, +3', have: (b) => b.jne(r1, r2, 3), want: '5d 21 03 00 00 00 00 00' },
  { name: 'jgt r3, r2, +32', have: (b) => b.jgt(r3, r2, 32), want: '2d 23 20 00 00 00 00 00' },
  { name: 'jge r1, r2, +3', have: (b) => b.jge(r1, r2, 3), want: '3d 21 03 00 00 00 00 00' },
  { name: 'jlt r1, r2, +3', have: (b) => b.jlt(r1, r2, 3), want: 'ad 21 03 00 00 00 00 00' },
  { name: 'jle r1, r2, +3', have: (b) => b.jle(r1, r2, 3), want: 'bd 21 03 00 00 00 00 00' },
  { name: 'jsgt r1, r2, +3', have: (b) => b.jsgt(r1, r2, 3), want: '6d 21 03 00 00 00 00 00' },
  { name: 'jsge r1, r2, +3', have: (b) => b.jsge(r1, r2, 3), want: '7d 21 03 00 00 00 00 00' },
  { name: 'jslt r1, r2, +3', have: (b) => b.jslt(r1, r2, 3), want: 'cd 21 03 00 00 00 00 00' },
  { name: 'jsle r1, r2, +3', have: (b) => b.jsle(r1, r2, 3), want: 'dd 21 03 00 00 00 00 00' },
  { name: 'jset r1, r2, -32768 (off s16 min)', have: (b) => b.jset(r1, r2, -0x8000), want: '4d 21 00 80 00 00 00 00' },
]);

table('jmp32 imm', [
  { name: 'jeq32 r1, 0, +3', have: (b) => b.jeq32(r1, 0, 3), want: '16 01 03 00 00 00 00 00' },
  { name: 'jne32 r1, 8, +3', have: (b) => b.jne32(r1, 8, 3), want: '56 01 03 00 08 00 00 00' },
  { name: 'jgt32 r1, 0xffffffff, +3 (u32 allowed)', have: (b) => b.jgt32(r1, 0xffffffff, 3), want: '26 01 03 00 ff ff ff ff' },
  { name: 'jge32 r1, 2, +3', have: (b) => b.jge32(r1, 2, 3), want: '36 01 03 00 02 00 00 00' },
  { name: 'jlt32 r1, 2, +3', have: (b) => b.jlt32(r1, 2, 3), want: 'a6 01 03 00 02 00 00 00' },
  { name: 'jle32 r1, 2, +3', have: (b) => b.jle32(r1, 2, 3), want: 'b6 01 03 00 02 00 00 00' },
  { name: 'jsgt32 r1, -1, +3', have: (b) => b.jsgt32(r1, -1, 3), want: '66 01 03 00 ff ff ff ff' },
  { name: 'jsge32 r1, -2, +3', have: (b) => b.jsge32(r1, -2, 3), want: '76 01 03 00 fe ff ff ff' },
  { name: 'jslt32 r1, 0, +3', have: (b) => b.jslt32(r1, 0, 3), want: 'c6 01 03 00 00 00 00 00' },
  { name: 'jsle32 r1, 0, +3', have: (b) => b.jsle32(r1, 0, 3), want: 'd6 01 03 00 00 00 00 00' },
  { name: 'jset32 r1, 1, +3', have: (b) => b.jset32(r1, 1, 3), want: '46 01 03 00 01 00 00 00' },
]);

table('jmp32 reg', [
  { name: 'jeq32 r1, r2, +3', have: (b) => b.jeq32(r1, r2, 3), want: '1e 21 03 00 00 00 00 00' },
  { name: 'jne32 r1, r2, +3', have: (b) => b.jne32(r1, r2, 3), want: '5e 21 03 00 00 00 00 00' },
  { name: 'jgt32 r1, r2, +3', have: (b) => b.jgt32(r1, r2, 3), want: '2e 21 03 00 00 00 00 00' },
  { name: 'jge32 r1, r2, +3', have: (b) => b.jge32(r1, r2, 3), want: '3e 21 03 00 00 00 00 00' },
  { name: 'jlt32 r1, r2, +3', have: (b) => b.jlt32(r1, r2, 3), want: 'ae 21 03 00 00 00 00 00' },
  { name: 'jle32 r1, r2, +3', have: (b) => b.jle32(r1, r2, 3), want: 'be 21 03 00 00 00 00 00' },
  { name: 'jsgt32 r1, r2, +3', have: (b) => b.jsgt32(r1, r2, 3), want: '6e 21 03 00 00 00 00 00' },
  { name: 'jsge32 r1, r2, +3', have: (b) => b.jsge32(r1, r2, 3), want: '7e 21 03 00 00 00 00 00' },
  { name: 'jslt32 r1, r2, +3', have: (b) => b.jslt32(r1, r2, 3), want: 'ce 21 03 00 00 00 00 00' },
  { name: 'jsle32 r1, r2, +3', have: (b) => b.jsle32(r1, r2, 3), want: 'de 21 03 00 00 00 00 00' },
  { name: 'jset32 r1, r2, +3', have: (b) => b.jset32(r1, r2, 3), want: '4e 21 03 00 00 00 00 00' },
]);

// ja keeps its offset in off (s16); gotol (JMP32 | JA) keeps it in imm (s32).
table('ja / gotol', [
  { name: 'ja +5', have: (b) => b.ja(5), want: '05 00 05 00 00 00 00 00' },
  { name: 'ja -1 (to itself)', have: (b) => b.ja(-1), want: '05 00 ff ff 00 00 00 00' },
  { name: 'gotol +100000', have: (b) => b.gotol(100000), want: '06 00 00 00 a0 86 01 00' },
  { name: 'gotol -40000', have: (b) => b.gotol(-40000), want: '06 00 00 00 c0 63 ff ff' },
]);

// call (0x85): src 0 = helper id in imm, 1 = bpf-to-bpf (pc-relative imm), 2 = kfunc (BTF id in
// imm, module BTF fd index in off). exit (0x95) has every field zero.
table('call / exit', [
  { name: 'call map_lookup_elem', have: (b) => b.call('map_lookup_elem'), want: '85 00 00 00 01 00 00 00' },
  { name: 'call bpf_ktime_get_ns', have: (b) => b.call('bpf_ktime_get_ns'), want: '85 00 00 00 05 00 00 00' },
  { name: 'call 12 (tail_call by id)', have: (b) => b.call(12), want: '85 00 00 00 0c 00 00 00' },
  { name: 'call local +4', have: (b) => b.callLocal(4), want: '85 10 00 00 04 00 00 00' },
  { name: 'call local -10', have: (b) => b.callLocal(-10), want: '85 10 00 00 f6 ff ff ff' },
  { name: 'kfunc btf id 12345', have: (b) => b.kfunc(12345), want: '85 20 00 00 39 30 00 00' },
  { name: 'kfunc btf id 12345 in module fd index 2', have: (b) => b.kfunc(12345, 2), want: '85 20 02 00 39 30 00 00' },
  { name: 'exit', have: (b) => b.exit(), want: '95 00 00 00 00 00 00 00' },
]);

// ---------------------------------------------------------------------------------------------
// LD_IMM64 (0x18 = LD | IMM | DW): two slots. The second has opcode, registers and off zero; its
// imm holds the upper 32 bits. src is the pseudo kind (linux/bpf.h BPF_PSEUDO_*).
const cnt: MapRef = { name: 'cnt' };

table('ld_imm64', [
  { name: 'ld64 r0, 0x1122334455667788', have: (b) => b.ld64(r0, 0x1122334455667788n), want: '18 00 00 00 88 77 66 55 00 00 00 00 44 33 22 11' },
  { name: 'ld64 r1, -1', have: (b) => b.ld64(r1, -1n), want: '18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff' },
  { name: 'ld64 r1, 0xffffffffffffffff (u64)', have: (b) => b.ld64(r1, 0xffffffffffffffffn), want: '18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff' },
  { name: 'ld64 r1, 0x80000000 (number)', have: (b) => b.ld64(r1, 0x80000000), want: '18 01 00 00 00 00 00 80 00 00 00 00 00 00 00 00' },
  { name: 'ld64 r1, 2^32 (upper slot only)', have: (b) => b.ld64(r1, 1n << 32n), want: '18 01 00 00 00 00 00 00 00 00 00 00 01 00 00 00' },
  { name: 'src 1 map_fd: ldMap r1, fd 7', have: (b) => b.ldMap(r1, 7), want: '18 11 00 00 07 00 00 00 00 00 00 00 00 00 00 00' },
  { name: 'src 1 map_fd: ldMap r1, map (fd patched at load)', have: (b) => b.ldMap(r1, cnt), want: '18 11 00 00 00 00 00 00 00 00 00 00 00 00 00 00' },
  { name: 'src 2 map_value: ldMapValue r1, fd 7, +16', have: (b) => b.ldMapValue(r1, 7, 16), want: '18 21 00 00 07 00 00 00 00 00 00 00 10 00 00 00' },
  { name: 'src 2 map_value: ldMapValue r1, map, +4', have: (b) => b.ldMapValue(r1, cnt, 4), want: '18 21 00 00 00 00 00 00 00 00 00 00 04 00 00 00' },
  { name: 'src 3 btf_id: ldBtfId r1, 12345', have: (b) => b.ldBtfId(r1, 12345), want: '18 31 00 00 39 30 00 00 00 00 00 00 00 00 00 00' },
  { name: 'src 4 func: ldFunc r1, +4', have: (b) => b.ldFunc(r1, 4), want: '18 41 00 00 04 00 00 00 00 00 00 00 00 00 00 00' },
  { name: 'src 5 map_idx: ldMapIdx r1, 2', have: (b) => b.ldMapIdx(r1, 2), want: '18 51 00 00 02 00 00 00 00 00 00 00 00 00 00 00' },
  { name: 'src 6 map_idx_value: ldMapIdxValue r1, 2, +8', have: (b) => b.ldMapIdxValue(r1, 2, 8), want: '18 61 00 00 02 00 00 00 00 00 00 00 08 00 00 00' },
]);

// ---------------------------------------------------------------------------------------------
// A whole program against clang: the tutorial's ingress probe, written in the DSL, must give the
// bytes of `llvm-objdump -d` on clang -O2's object (test/fixtures/reference/clang-O2-listing.txt,
// mes_start), except for the two map loads (slots 15 and 30). In the ELF object they are
// `18 01 …` with an R_BPF_64_64 relocation against the map symbol; libbpf rewrites them to
// src = 1 (BPF_PSEUDO_MAP_FD) before loading, which is what the DSL emits directly: `18 11 …`.
// imm stays 0 in both until the map's fd is known.
test('program: mes_start matches clang -O2 byte for byte', () => {
  const cntMap: MapRef = { name: 'mes_cnt' }, startMap: MapRef = { name: 'mes_start' };
  const spec = clangMesStart(cntMap, startMap);
  const clang = `
    61 12 50 00 00 00 00 00  61 11 4c 00 00 00 00 00  bf 13 00 00 00 00 00 00  07 03 00 00 2a 00 00 00
    2d 23 20 00 00 00 00 00  69 12 0c 00 00 00 00 00  55 02 1e 00 08 00 00 00  71 12 17 00 00 00 00 00
    55 02 1c 00 11 00 00 00  69 11 24 00 00 00 00 00  55 01 1a 00 13 89 00 00  b7 01 00 00 00 00 00 00
    63 1a fc ff 00 00 00 00  bf a2 00 00 00 00 00 00  07 02 00 00 fc ff ff ff
    18 11 00 00 00 00 00 00  00 00 00 00 00 00 00 00  85 00 00 00 01 00 00 00  bf 06 00 00 00 00 00 00
    15 06 11 00 00 00 00 00  61 61 00 00 00 00 00 00  25 01 0f 00 ff 01 00 00  85 00 00 00 05 00 00 00
    7b 0a f0 ff 00 00 00 00  61 61 00 00 00 00 00 00  63 1a fc ff 00 00 00 00  bf a2 00 00 00 00 00 00
    07 02 00 00 fc ff ff ff  bf a3 00 00 00 00 00 00  07 03 00 00 f0 ff ff ff
    18 11 00 00 00 00 00 00  00 00 00 00 00 00 00 00  b7 04 00 00 00 00 00 00  85 00 00 00 02 00 00 00
    61 61 00 00 00 00 00 00  07 01 00 00 01 00 00 00  63 16 00 00 00 00 00 00  b7 00 00 00 00 00 00 00
    95 00 00 00 00 00 00 00`;
  assert.is(spec.insns.length, 37);
  assert.is(hex(encode(spec.insns)), hex(unhex(clang)));
  assert.equal(spec.maps, [cntMap, startMap]);
});

// ---------------------------------------------------------------------------------------------
// The decoder rejects what the kernel would call an invalid opcode or "uses reserved fields",
// naming the index of the offending slot (the verifier's numbering: byte offset / 8).

const EXIT = '95 00 00 00 00 00 00 00';
const MOV0 = 'b7 00 00 00 00 00 00 00';

/** Decode `hexText` and expect an AsmError at `index` whose message matches `reason`. */
function rejects(hexText: string, index: number | undefined, reason: RegExp): void {
  try {
    decode(unhexAny(hexText));
  } catch (e) {
    assert.instance(e, AsmError);
    const err = e as AsmError;
    assert.match(err.reason, reason);
    assert.is(err.index, index, `index in ${JSON.stringify(err.message)}`);
    if (index !== undefined) assert.match(err.message, `instruction ${index}`);
    return;
  }
  assert.unreachable(`decoded ${hexText}`);
}
/** Like unhex, without the whole-slot check, for truncated inputs. */
function unhexAny(s: string): Uint8Array {
  return Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (h) => parseInt(h, 16));
}

const invalidOpcodes: readonly [string, string, RegExp][] = [
  ['0x00 (LD | IMM | W: only DW exists)', '00 00 00 00 00 00 00 00', /invalid LD opcode 0x00/],
  ['0x10 (LD | IMM | B)', '10 00 00 00 00 00 00 00', /invalid LD opcode 0x10/],
  ['0x38 (LD | ABS | DW)', '38 00 00 00 00 00 00 00', /u8, u16 or u32 only/],
  ['0x60 (LD | MEM)', '60 00 00 00 00 00 00 00', /invalid LD opcode 0x60/],
  ['0x99 (LDX | MEMSX | DW: no sign-extending u64 load)', '99 12 00 00 00 00 00 00', /sign-extending load of u64/],
  ['0x21 (LDX | ABS)', '21 12 00 00 00 00 00 00', /invalid LDX mode 0x20/],
  ['0xc2 (ST | ATOMIC)', 'c2 0a f8 ff 00 00 00 00', /invalid ST mode 0xc0/],
  ['0xd3 (STX | ATOMIC | B)', 'd3 1a f8 ff 00 00 00 00', /u32 or u64 only/],
  ['0xcb (STX | ATOMIC | H)', 'cb 1a f8 ff 00 00 00 00', /u32 or u64 only/],
  ['0xe7 (ALU64 op 0xe0)', 'e7 01 00 00 00 00 00 00', /unknown ALU operation 0xe0/],
  ['0xf4 (ALU op 0xf0)', 'f4 01 00 00 00 00 00 00', /unknown ALU operation 0xf0/],
  ['0x8f (neg with source X)', '8f 21 00 00 00 00 00 00', /neg takes no source/],
  ['0xdf (ALU64 | END | X)', 'df 01 00 00 10 00 00 00', /must use the K form/],
  ['0xe5 (JMP op 0xe0)', 'e5 01 00 00 00 00 00 00', /unknown jump operation 0xe0/],
  ['0xf5 (JMP op 0xf0)', 'f5 01 00 00 00 00 00 00', /unknown jump operation 0xf0/],
  ['0x86 (call in JMP32)', '86 00 00 00 01 00 00 00', /call is not a JMP32/],
  ['0x96 (exit in JMP32)', '96 00 00 00 00 00 00 00', /exit is not a JMP32/],
  ['0x8d (callx)', '8d 10 00 00 00 00 00 00', /callx/],
  ['0x0d (ja with source X)', '0d 00 01 00 00 00 00 00', /ja has no source/],
];
for (const [name, bytes, reason] of invalidOpcodes) {
  test(`decode rejects opcode ${name}`, () => rejects(`${MOV0} ${bytes} ${EXIT}`, 1, reason));
}

const reservedFields: readonly [string, string, RegExp][] = [
  ['add r1, 2 with src 3', '07 31 00 00 02 00 00 00', /reserved field src must be 0, is 3/],
  ['add r1, r2 with imm 1', '0f 21 00 00 01 00 00 00', /reserved field imm must be 0, is 1/],
  ['add r1, 2 with off 1', '07 01 01 00 02 00 00 00', /invalid off 1/],
  ['div r1, 2 with off 2 (only 0 div and 1 sdiv exist)', '37 01 02 00 02 00 00 00', /invalid off 2/],
  ['movsx32 with off 32 (64-bit only)', 'bc 21 20 00 00 00 00 00', /invalid off 32/],
  ['neg r1 with imm 1', '87 01 00 00 01 00 00 00', /reserved field imm/],
  ['le with width 8', 'd4 01 00 00 08 00 00 00', /width must be 16, 32 or 64, is 8/],
  ['bswap16 with off 1', 'd7 01 01 00 10 00 00 00', /reserved field off/],
  ['dst register 11', 'b7 0b 00 00 00 00 00 00', /invalid dst register r11/],
  ['src register 11', 'bf b1 00 00 00 00 00 00', /invalid src register r11/],
  ['ldx with imm 1', '61 12 00 00 01 00 00 00', /reserved field imm/],
  ['st with src 1', '62 1a fc ff 00 00 00 00', /reserved field src/],
  ['stx with imm 1', '63 1a fc ff 01 00 00 00', /reserved field imm/],
  ['atomic op 0x02', 'db 1a f8 ff 02 00 00 00', /unknown atomic operation 0x2/],
  ['exit with imm 1', '95 00 00 00 01 00 00 00', /reserved field imm/],
  ['ja with imm 1', '05 00 00 00 01 00 00 00', /reserved field imm/],
  ['gotol with off 1', '06 00 01 00 00 00 00 00', /reserved field off/],
  ['helper call with off 1', '85 00 01 00 01 00 00 00', /reserved field off/],
  ['kfunc call with dst 1', '85 21 00 00 01 00 00 00', /reserved field dst/],
  ['call kind src 3', '85 30 00 00 01 00 00 00', /unknown call kind src=3/],
  ['jeq r1, 0 with src 2', '15 21 03 00 00 00 00 00', /reserved field src/],
  ['ld_abs with dst 1', '20 01 00 00 0c 00 00 00', /reserved field dst/],
  ['ld_ind with off 1', '40 70 01 00 0e 00 00 00', /reserved field off/],
];
for (const [name, bytes, reason] of reservedFields) {
  test(`decode rejects ${name}`, () => rejects(`${MOV0} ${bytes} ${EXIT}`, 1, reason));
}

test('decode rejects LD_IMM64: unknown source kind 7, off, truncation, bad second slot', () => {
  rejects(`${MOV0} 18 71 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ${EXIT}`, 1, /unknown LD_IMM64 source kind 7/);
  rejects(`${MOV0} 18 01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 ${EXIT}`, 1, /reserved field off/);
  // truncated: the program ends after the first slot
  rejects(`${MOV0} ${MOV0} 18 01 00 00 01 00 00 00`, 2, /missing its second slot/);
  // second slot with an opcode, a register, or an off: the error names the second slot
  rejects(`${MOV0} 18 01 00 00 01 00 00 00 ${EXIT}`, 2, /second slot of LD_IMM64/);
  rejects(`18 01 00 00 01 00 00 00 00 01 00 00 00 00 00 00 ${EXIT}`, 1, /second slot of LD_IMM64/);
  rejects(`18 01 00 00 01 00 00 00 00 00 01 00 00 00 00 00 ${EXIT}`, 1, /second slot of LD_IMM64/);
});

test('decode error index counts slots: an error after an LD_IMM64 is at slot 2, not instruction 1', () => {
  rejects(`18 01 00 00 01 00 00 00 00 00 00 00 00 00 00 00 e7 01 00 00 00 00 00 00`, 2, /unknown ALU operation/);
});

test('decode rejects a length that is not a multiple of 8, naming the truncated instruction', () => {
  // 2 whole slots and 3 bytes of a third: the error is about instruction 2.
  rejects(`${MOV0} ${EXIT} 95 00 00`, 2, /not a whole number of 8-byte instructions/);
  rejects('b7 00 00 00', 0, /4 bytes is not a whole number/);
});

test('decode of nothing is no instructions', () => {
  assert.equal(decode(new Uint8Array(0)), []);
});

test('decode reads from a subarray at a non-zero byteOffset', () => {
  const buf = unhexAny(`ff ff ff ff ff ff ff ff c3 1a fc ff 01 00 00 00`);
  assert.equal(decode(buf.subarray(8)), [{ op: 0xc3, dst: 10, src: 1, off: -4, imm: 1 }]);
});

test.run();
