/**
 * The VM's semantics, each row worked out by hand from RFC 9669 (not from another engine):
 * ALU and ALU64 edge cases, jumps, sign-extending loads, atomics, calls with their own stack
 * frames, tail calls, and the faults a program gets instead of a wrong answer.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { program, type Builder, type ProgramSpec } from '../../src/asm/program.ts';
import { r0, r1, r2, r3, r6, r10 } from '../../src/asm/register.ts';
import { Class, AluOp, JmpOp, Source, CallKind } from '../../src/asm/opcode.ts';
import { encode, invalidReason, type Instruction } from '../../src/asm/instruction.ts';
import { Vm, VmError, VmFault, VmMapError, VM_HELPERS } from '../../src/vm/index.ts';
import { helperId } from '../../src/asm/helpers.ts';
const helperIdOf = (n: string): number => helperId(n) ?? helperId(`bpf_${n}`) ?? -1;
import { Memory } from '../../src/vm/memory.ts';

const raw = (b: (b: Builder) => void): ProgramSpec => program({ name: 't', type: 'socket_filter' }, b);
const run = (b: (b: Builder) => void, vm = new Vm()): bigint => vm.load(raw(b), { type: 'raw' }).run().r0;
const M64 = (1n << 64n) - 1n;
const u = (v: bigint): bigint => BigInt.asUintN(64, v);
const I = (op: number, dst: number, src: number, off: number, imm: number): Instruction => ({ op, dst, src, off, imm });
const EXIT = I(Class.JMP | JmpOp.exit, 0, 0, 0, 0);

// ---------------------------------------------------------------------------------------------
// ALU / ALU64: { name, program, r0 } — expected values computed by hand

const alu: [string, (b: Builder) => void, bigint][] = [
  ['add64 carries into the high half', (b) => { b.mov32(r0, -1); b.add(r0, 1); }, 0x1_0000_0000n],
  ['add32 wraps and zero-extends', (b) => { b.mov(r0, -1); b.add32(r0, 2); }, 1n],
  ['sub64 borrows', (b) => { b.ld64(r0, 0x1_0000_0000n); b.sub(r0, 1); }, 0xffff_ffffn],
  ['mul64 keeps the low 64 bits', (b) => { b.ld64(r0, 0x1234_5678_9abc_def1n); b.ld64(r1, 0xfedc_ba98_7654_3211n); b.mul(r0, r1); }, u(0x1234_5678_9abc_def1n * 0xfedc_ba98_7654_3211n)],
  ['mul32 of INT_MIN by -1', (b) => { b.mov32(r0, -0x80000000); b.mul32(r0, -1); }, 0x8000_0000n],
  ['div64 by register 0 gives 0', (b) => { b.mov(r0, 7); b.mov(r1, 0); b.div(r0, r1); }, 0n],
  ['mod64 by register 0 leaves dst', (b) => { b.mov(r0, -7); b.mov(r1, 0); b.mod(r0, r1); }, u(-7n)],
  ['mod32 by register 0 truncates dst', (b) => { b.mov(r0, -7); b.mov(r1, 0); b.mod32(r0, r1); }, 0xffff_fff9n],
  ['div64 is unsigned (imm sign-extended)', (b) => { b.mov(r0, -1); b.div(r0, -2); }, 1n],
  ['div64 with a 64-bit dividend', (b) => { b.ld64(r0, 0xffff_ffff_ffff_fff0n); b.div(r0, 16); }, 0x0fff_ffff_ffff_ffffn],
  ['sdiv64 truncates towards zero', (b) => { b.mov(r0, -7); b.sdiv(r0, 2); }, u(-3n)],
  ['sdiv64 INT64_MIN / -1 wraps', (b) => { b.ld64(r0, 0x8000_0000_0000_0000n); b.mov(r1, -1); b.sdiv(r0, r1); }, 0x8000_0000_0000_0000n],
  ['smod64 INT64_MIN % -1 is 0', (b) => { b.ld64(r0, 0x8000_0000_0000_0000n); b.mov(r1, -1); b.smod(r0, r1); }, 0n],
  ['smod64 takes the dividend\'s sign', (b) => { b.mov(r0, -7); b.smod(r0, 3); }, u(-1n)],
  ['smod64 of a 64-bit value', (b) => { b.ld64(r0, -0x1_0000_0005n); b.smod(r0, 0x10); }, u(-0x1_0000_0005n % 16n)],
  ['sdiv32 INT_MIN / -1', (b) => { b.mov32(r0, -0x80000000); b.mov32(r1, -1); b.sdiv32(r0, r1); }, 0x8000_0000n],
  ['smod32 by 0 zero-extends dst', (b) => { b.mov(r0, -5); b.mov(r1, 0); b.smod32(r0, r1); }, 0xffff_fffbn],
  ['lsh64 by a register masks the count to 6 bits', (b) => { b.mov(r0, 1); b.mov(r1, 65); b.lsh(r0, r1); }, 2n],
  ['rsh32 by a register masks the count to 5 bits', (b) => { b.mov32(r0, 0x80); b.mov(r1, 33); b.rsh32(r0, r1); }, 0x40n],
  ['arsh64 keeps the sign', (b) => { b.ld64(r0, 0x8000_0000_0000_0000n); b.arsh(r0, 63); }, M64],
  ['arsh32 works on the low half and zero-extends', (b) => { b.mov(r0, -16); b.arsh32(r0, 2); }, 0xffff_fffcn],
  ['rsh64 across the halves', (b) => { b.ld64(r0, 0x1_0000_0000n); b.rsh(r0, 4); }, 0x1000_0000n],
  ['neg64 of 0 is 0, of 1 is all ones', (b) => { b.mov(r0, 1); b.neg(r0); }, M64],
  ['neg32 zero-extends', (b) => { b.mov(r0, 1); b.neg32(r0); }, 0xffff_ffffn],
  ['movsx 8 -> 64', (b) => { b.mov(r1, 0x80); b.movsx(r0, r1, 8); }, u(-128n)],
  ['movsx32 16 zero-extends past bit 31', (b) => { b.mov(r1, 0x8000); b.movsx32(r0, r1, 16); }, 0xffff_8000n],
  ['movsx 32 -> 64', (b) => { b.mov32(r1, -2); b.movsx(r0, r1, 32); }, u(-2n)],
  ['mov32 zero-extends', (b) => { b.mov(r1, -1); b.mov32(r0, r1); }, 0xffff_ffffn],
  ['be16 swaps and truncates', (b) => { b.ld64(r0, 0x1122_3344_5566_7788n); b.be(r0, 16); }, 0x8877n],
  ['be32', (b) => { b.ld64(r0, 0x1122_3344_5566_7788n); b.be(r0, 32); }, 0x8877_6655n],
  ['be64', (b) => { b.ld64(r0, 0x1122_3344_5566_7788n); b.be(r0, 64); }, 0x8877_6655_4433_2211n],
  ['le16 truncates on a little-endian machine', (b) => { b.ld64(r0, 0x1122_3344_5566_7788n); b.le(r0, 16); }, 0x7788n],
  ['le64 is a no-op', (b) => { b.ld64(r0, 0x1122_3344_5566_7788n); b.le(r0, 64); }, 0x1122_3344_5566_7788n],
  ['bswap64 (ALU64)', (b) => { b.ld64(r0, 0x0102_0304_0506_0708n); b.bswap(r0, 64); }, 0x0807_0605_0403_0201n],
];
for (const [name, body, want] of alu) {
  test(`alu: ${name}`, () => {
    assert.is(run((b) => { body(b); b.exit(); }), want);
  });
}

test('alu: shift immediates out of range are masked (the kernel refuses them; RFC semantics)', () => {
  const vm = new Vm();
  const lsh64 = [I(Class.ALU64 | AluOp.mov | Source.K, 0, 0, 0, 1), I(Class.ALU64 | AluOp.lsh | Source.K, 0, 0, 0, 68), EXIT];
  assert.is(vm.load(lsh64).run().r0, 16n);
  const rsh32 = [I(Class.ALU | AluOp.mov | Source.K, 0, 0, 0, 0x100), I(Class.ALU | AluOp.rsh | Source.K, 0, 0, 0, 36), EXIT];
  assert.is(vm.load(rsh32).run().r0, 0x10n);
  const div0 = [I(Class.ALU64 | AluOp.mov | Source.K, 0, 0, 0, 9), I(Class.ALU64 | AluOp.div | Source.K, 0, 0, 0, 0), EXIT];
  assert.is(vm.load(div0).run().r0, 0n, 'div by the immediate 0');
});

// ---------------------------------------------------------------------------------------------
// Jumps

const jumps: [string, (b: Builder) => void, bigint][] = [
  ['jgt is unsigned: -1 > 1', (b) => { b.mov(r1, -1); b.jgt(r1, 1, 'y'); }, 1n],
  ['jsgt is signed: -1 > 1 is false', (b) => { b.mov(r1, -1); b.jsgt(r1, 1, 'y'); }, 0n],
  ['jsgt decides on the high half first', (b) => { b.ld64(r1, 0x1_0000_0000n); b.jsgt(r1, 0x7fffffff, 'y'); }, 1n],
  ['jeq compares all 64 bits', (b) => { b.ld64(r1, 0x1_0000_0001n); b.jeq(r1, 1, 'y'); }, 0n],
  ['jeq32 compares the low 32 bits', (b) => { b.ld64(r1, 0x1_0000_0001n); b.jeq32(r1, 1, 'y'); }, 1n],
  ['jslt32 is signed on 32 bits', (b) => { b.mov32(r1, -1); b.jslt32(r1, 0, 'y'); }, 1n],
  ['jlt32 is unsigned on 32 bits', (b) => { b.mov32(r1, -1); b.jlt32(r1, 0, 'y'); }, 0n],
  ['jset tests any common bit of 64', (b) => { b.ld64(r1, 0x8000_0000_0000_0000n); b.ld64(r2, 0x8000_0000_0000_0000n); b.jset(r1, r2, 'y'); }, 1n],
  ['jset32 ignores the high half', (b) => { b.ld64(r1, 0x8000_0000_0000_0000n); b.jset32(r1, -1, 'y'); }, 0n],
  ['jsle with the immediate sign-extended', (b) => { b.mov(r1, -5); b.jsle(r1, -5, 'y'); }, 1n],
  ['gotol jumps with a 32-bit offset', (b) => { b.mov(r1, 0); b.gotol('y'); }, 1n],
];
for (const [name, body, want] of jumps) {
  test(`jmp: ${name}`, () => {
    assert.is(run((b) => { b.mov(r0, 0); body(b); b.exit(); b.label('y'); b.mov(r0, 1); b.exit(); }), want);
  });
}

// ---------------------------------------------------------------------------------------------
// Memory: loads, stores, atomics

test('ldxsx sign-extends; ldx zero-extends', () => {
  const r = (sx: boolean) => run((b) => {
    b.st('u16', r10, -2, 0x8001);
    if (sx) b.ldxsx('u16', r0, r10, -2); else b.ldx('u16', r0, r10, -2);
    b.exit();
  });
  assert.is(r(true), u(-0x7fffn));
  assert.is(r(false), 0x8001n);
});

test('st u64 sign-extends its immediate; stx/ldx round-trip every size', () => {
  assert.is(run((b) => { b.st('u64', r10, -8, -2); b.ldx('u64', r0, r10, -8); b.exit(); }), u(-2n));
  assert.is(run((b) => { b.ld64(r1, 0x1122_3344_5566_7788n); b.stx('u64', r10, -8, r1); b.ldx('u8', r0, r10, -1); b.exit(); }), 0x11n, 'little-endian');
});

test('atomics: fetch_add returns the old value, cmpxchg compares with r0, u32 ops zero-extend', () => {
  assert.is(run((b) => {
    b.st('u64', r10, -8, 40); b.mov(r1, 2); b.atomic('fetch_add', 'u64', r10, -8, r1);
    b.ldx('u64', r0, r10, -8); b.lsh(r0, 8); b.or(r0, r1); b.exit(); // (42 << 8) | 40
  }), (42n << 8n) | 40n);
  assert.is(run((b) => {
    b.st('u64', r10, -8, 5); b.mov(r0, 5); b.mov(r1, 9); b.atomic('cmpxchg', 'u64', r10, -8, r1);
    b.ldx('u64', r2, r10, -8); b.lsh(r2, 8); b.or(r0, r2); b.exit(); // r0 = old 5, mem = 9
  }), (9n << 8n) | 5n);
  assert.is(run((b) => {
    b.st('u32', r10, -4, -1); b.mov(r0, 0); b.mov(r1, 9); b.atomic('cmpxchg', 'u32', r10, -4, r1); b.exit(); // no match: r0 = old, zero-extended
  }), 0xffff_ffffn);
  assert.is(run((b) => {
    b.st('u32', r10, -4, 3); b.mov(r1, -1); b.atomic('xchg', 'u32', r10, -4, r1); b.mov(r0, r1); b.exit();
  }), 3n);
  assert.is(run((b) => {
    b.st('u32', r10, -4, 0xf0); b.mov(r1, 0x0f); b.atomic('or', 'u32', r10, -4, r1); b.ldx('u32', r0, r10, -4); b.exit();
  }), 0xffn);
});

// ---------------------------------------------------------------------------------------------
// Faults: never a silent wrong answer

function fault(f: () => unknown): VmFault {
  try { f(); } catch (e) { if (e instanceof VmFault) return e; throw e; }
  throw new Error('expected a VmFault');
}

test('a read below the stack frame faults with the index, TS line, address and region', () => {
  const f = fault(() => run((b) => { b.mov(r0, 0); b.ldx('u64', r0, r10, -520); b.exit(); }));
  assert.is(f.kind, 'memory');
  assert.is(f.index, 1);
  assert.match(f.source ?? '', /vm-core\.test\.ts:\d+/);
  assert.is(f.region, 'stack frame 0');
  assert.is(f.address, 0x100200n - 520n);
  assert.match(f.message, /load of 8 bytes at 0xffff8: 8 byte\(s\) before stack frame 0/);
});

test('a NULL pointer and a scalar used as a pointer fault', () => {
  assert.match(fault(() => run((b) => { b.mov(r1, 0); b.ldx('u32', r0, r1, 0); b.exit(); })).message, /NULL/);
  assert.match(fault(() => run((b) => { b.mov(r1, -1); b.ldx('u32', r0, r1, 0); b.exit(); })).message, /not an address/);
});

test('a packet read past data_end faults naming the packet', () => {
  const vm = new Vm();
  const p = vm.load(program({ name: 'p', type: 'sched_cls' }, (b) => {
    b.ldx('u32', r2, r1, 76); b.ldx('u8', r0, r2, 14); b.exit();
  }));
  assert.is(p.run({ data: new Uint8Array(15).fill(7) }).r0, 7n);
  const f = fault(() => p.run({ data: new Uint8Array(14) }));
  assert.is(f.region, 'packet data..data_end');
  assert.match(f.message, /0 byte\(s\) past the end of packet data/);
});

test('__sk_buff: reads work, tc may write mark, nobody writes len; socket filters have no data pointers, cgroup_skb a read-only packet', () => {
  const vm = new Vm();
  const mark = vm.load(program({ name: 'm', type: 'sched_cls' }, (b) => { b.st('u32', r1, 8, 77); b.ldx('u32', r0, r1, 0); b.exit(); }));
  const r = mark.run({ data: new Uint8Array(60) });
  assert.is(r.r0, 60n, 'len');
  assert.is(r.skb?.mark, 77);
  const len = vm.load(program({ name: 'l', type: 'sched_cls' }, (b) => { b.st('u32', r1, 0, 1); b.mov(r0, 0); b.exit(); }));
  assert.match(fault(() => len.run({ data: new Uint8Array(60) })).message, /offset 0 is not writable/);
  const sf = vm.load(program({ name: 's', type: 'socket_filter' }, (b) => { b.ldx('u32', r2, r1, 76); b.mov(r0, 0); b.exit(); }));
  assert.match(fault(() => sf.run({ data: new Uint8Array(60) })).message, /socket_filter program cannot read __sk_buff data\/data_end\/data_meta: use LD_ABS/);
  const cg = vm.load(program({ name: 'c', type: 'cgroup_skb' }, (b) => { b.ldx('u32', r2, r1, 76); b.st('u8', r2, 0, 1); b.mov(r0, 0); b.exit(); }));
  assert.match(fault(() => cg.run({ data: new Uint8Array(60) })).message, /packet data\.\.data_end is read-only/);
});

test('an array map value: an access crossing into the next value faults', () => {
  const vm = new Vm();
  const spec = { name: 'arr', type: 'array', keySize: 4, valueSize: 4, maxEntries: 4 } as const;
  const f = fault(() => vm.load(raw((b) => {
    b.st('u32', r10, -4, 0); b.mov(r2, r10); b.add(r2, -4); b.ldMap(r1, spec); b.call('map_lookup_elem');
    b.jeq(r0, 0, 'out'); b.ldx('u64', r0, r0, 0); b.label('out'); b.exit();
  }), { type: 'raw' }).run());
  assert.match(f.message, /crosses the end of a 4-byte value of map 'arr'/);
});

test('runaway loops and deep recursion hit the limits', () => {
  const loop = fault(() => new Vm({ maxInsns: 10_000 }).load(raw((b) => { b.label('l'); b.ja('l'); })).run());
  assert.is(loop.kind, 'insn-limit');
  assert.match(loop.message, /--max-insns/, 'the message names the CLI flag too');
  const rec = fault(() => run((b) => { b.label('f'); b.callLocal('f'); b.exit(); }));
  assert.is(rec.kind, 'call-depth');
});

test('bytes that do not decode: one "instruction N:" in the message, not two', () => {
  let err: unknown;
  try { new Vm().load(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0])); } catch (e) { err = e; }
  assert.instance(err, VmError);
  assert.is((err as VmError).index, 0);
  assert.is((err as Error).message.match(/instruction 0/g)?.length, 1, (err as Error).message);
});

test('VM_HELPERS lists exactly the helpers a program can call in the VM', () => {
  const runs: string[] = [];
  for (let id = 1; id < 256; id++) {
    const call = [I(Class.JMP | JmpOp.call, 0, CallKind.helper, 0, id), EXIT];
    try { new Vm().load(call).run(); runs.push(String(id)); } catch (e) {
      if (!(e instanceof VmFault && /is not available in the VM/.test(e.message))) runs.push(String(id));
    }
  }
  const named = VM_HELPERS.map((n) => String(helperIdOf(n)));
  assert.equal([...named].sort(), [...runs].sort());
});

test('an unknown helper is a clear fault when reached, not at load', () => {
  const vm = new Vm();
  const p = vm.load(raw((b) => { b.mov(r0, 0); b.jeq(r0, 0, 'ok'); b.call('get_func_ip'); b.label('ok'); b.exit(); }));
  assert.is(p.run().r0, 0n);
  const f = fault(() => run((b) => { b.call('get_func_ip'); b.exit(); }));
  assert.is(f.kind, 'helper');
  assert.match(f.message, /bpf_get_func_ip is not available in the VM \(helper id \d+\); the VM has: map_lookup_elem/);
});

test('a program that writes r10 or names a missing map is refused at load', () => {
  const vm = new Vm();
  assert.throws(() => vm.load([I(Class.ALU64 | AluOp.mov | Source.K, 10, 0, 0, 0), EXIT]), (e: unknown) => e instanceof VmError && /frame pointer is read-only/.test(e.message));
  assert.throws(() => vm.load([{ op: 0x18, dst: 1, src: 1, off: 0, imm: 42, imm2: 0 }, EXIT]), /map fd 42/);
});

// ---------------------------------------------------------------------------------------------
// Calls

test('bpf-to-bpf calls: the callee has its own stack frame, r6..r9 survive, r0 comes back', () => {
  assert.is(run((b) => {
    b.st('u64', r10, -8, 100);
    b.mov(r6, 7);
    b.mov(r1, 5);
    b.callLocal('f');
    b.ldx('u64', r2, r10, -8); // still 100: the callee wrote its own frame
    b.add(r0, r2);
    b.add(r0, r6); // 7: restored
    b.exit();
    b.label('f');
    b.st('u64', r10, -8, 999);
    b.mov(r6, 1000);
    b.mov(r0, r1);
    b.mul(r0, 2);
    b.exit();
  }), 10n + 100n + 7n);
});

test('callx calls the helper whose id is in dst (bpf_conformance semantics)', () => {
  const vm = new Vm({ clock: 123n });
  const callx = [I(Class.ALU64 | AluOp.mov | Source.K, 2, 0, 0, 5), I(Class.JMP | JmpOp.call | Source.X, 2, CallKind.helper, 0, 0), EXIT];
  assert.is(vm.load(callx).run().r0, 123n, 'helper 5 is ktime_get_ns');
});

test('tail calls replace the program, keep the context, stop after 33', () => {
  const vm = new Vm();
  const jt = vm.createMap({ name: 'jt', type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 2 });
  const target = vm.load(program({ name: 'target', type: 'sched_cls' }, (b) => { b.ldx('u32', r0, r1, 8); b.add(r0, 1000); b.exit(); }));
  const caller = vm.load(program({ name: 'caller', type: 'sched_cls' }, (b) => {
    b.mov(r6, r1);
    b.ldMap(r2, jt); b.mov(r3, 0); b.call('tail_call');
    b.mov(r0, 1); b.exit(); // reached only when the slot is empty
  }));
  assert.is(caller.run({ data: new Uint8Array(20), ctx: { mark: 5 } }).r0, 1n, 'empty slot: falls through');
  jt.setProgram(0, target);
  const r = caller.run({ data: new Uint8Array(20), ctx: { mark: 5 } });
  assert.is(r.r0, 1005n);
  assert.is(r.tailCalls, 1);
  const self = vm.load(program({ name: 'self', type: 'sched_cls' }, (b) => {
    b.ldMap(r2, jt); b.mov(r3, 1); b.call('tail_call'); b.mov(r0, 7); b.exit();
  }));
  jt.setProgram(1, self);
  const s = self.run({ data: new Uint8Array(20) });
  assert.is(s.tailCalls, 33);
  assert.is(s.r0, 7n);
});

// ---------------------------------------------------------------------------------------------
// Maps and helpers

const lookupOrInit = (spec: { name: string; type: string; keySize: number; valueSize: number; maxEntries: number }) => raw((b) => {
  b.ldx('u64', r6, r1, 0); // key from the input memory
  b.stx('u64', r10, -8, r6);
  b.st('u64', r10, -16, 1);
  b.mov(r2, r10); b.add(r2, -8); b.ldMap(r1, spec); b.call('map_lookup_elem');
  b.jne(r0, 0, 'hit');
  b.mov(r2, r10); b.add(r2, -8); b.mov(r3, r10); b.add(r3, -16); b.ldMap(r1, spec); b.mov(r4, 0); b.call('map_update_elem');
  b.mov(r0, 0); b.exit();
  b.label('hit');
  b.mov(r1, 1); b.atomic('add', 'u64', r0, 0, r1); b.mov(r0, 1); b.exit();
});
import { r4 } from '../../src/asm/register.ts';
const key = (k: number) => { const m = new Uint8Array(8); new DataView(m.buffer).setBigUint64(0, BigInt(k), true); return m; };

test('hash map: the program inserts then counts; the test reads it like a BpfMap', () => {
  const vm = new Vm();
  const spec = { name: 'counts', type: 'hash', keySize: 8, valueSize: 8, maxEntries: 2 };
  const p = vm.load(lookupOrInit(spec), { type: 'raw' });
  for (const k of [1, 1, 1, 2]) p.run({ mem: key(k) });
  const m = vm.map<bigint, bigint>(spec);
  assert.equal([...m.entries()], [[1n, 3n], [2n, 1n]]);
  p.run({ mem: key(3) }); // full: the update fails with E2BIG, nothing inserted
  assert.is(m.size, 2);
  assert.ok(m.delete(1n));
  assert.not.ok(m.delete(1n));
});

test('lru_hash evicts the least recently used key; percpu maps keep a value per CPU', () => {
  const vm = new Vm({ ncpus: 2 });
  const lru = { name: 'lru', type: 'lru_hash', keySize: 8, valueSize: 8, maxEntries: 2 };
  const p = vm.load(lookupOrInit(lru), { type: 'raw' });
  p.run({ mem: key(1) }); p.run({ mem: key(2) }); p.run({ mem: key(1) }); p.run({ mem: key(3) });
  assert.equal([...vm.map<bigint, bigint>(lru).keys()].sort(), [1n, 3n]);
  const pc = { name: 'pc', type: 'percpu_hash', keySize: 8, valueSize: 8, maxEntries: 4 };
  const q = vm.load(lookupOrInit(pc), { type: 'raw' });
  vm.cpu = 0; q.run({ mem: key(9) }); q.run({ mem: key(9) });
  vm.cpu = 1; q.run({ mem: key(9) });
  assert.equal(vm.map<bigint, bigint>(pc).getPerCpu(9n), [2n, 1n]);
  assert.throws(() => vm.map(pc).get(9n), /per-CPU/);
});

test('ringbuf: reserve, write, submit; output; discard leaves no record', () => {
  const vm = new Vm();
  const rb = vm.createMap({ name: 'rb', type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
  vm.load(raw((b) => {
    b.ldMap(r1, rb); b.mov(r2, 8); b.mov(r3, 0); b.call('ringbuf_reserve');
    b.jeq(r0, 0, 'out');
    b.st('u64', r0, 0, 0x1234); b.mov(r1, r0); b.mov(r2, 0); b.call('ringbuf_submit');
    b.ldMap(r1, rb); b.mov(r2, 16); b.mov(r3, 0); b.call('ringbuf_reserve');
    b.jeq(r0, 0, 'out');
    b.mov(r1, r0); b.mov(r2, 0); b.call('ringbuf_discard');
    b.st('u32', r10, -4, 0xabcd); b.ldMap(r1, rb); b.mov(r2, r10); b.add(r2, -4); b.mov(r3, 4); b.mov(r4, 0); b.call('ringbuf_output');
    b.label('out'); b.mov(r0, 0); b.exit();
  })).run();
  assert.equal(rb.drain().map((r) => Array.from(r)), [[0x34, 0x12, 0, 0, 0, 0, 0, 0], [0xcd, 0xab, 0, 0]]);
  assert.equal(rb.drain(), []);
});

test('a record used after submit faults (its region is gone)', () => {
  const vm = new Vm();
  const rb = vm.createMap({ name: 'rb', type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
  const f = fault(() => vm.load(raw((b) => {
    b.ldMap(r1, rb); b.mov(r2, 8); b.mov(r3, 0); b.call('ringbuf_reserve'); b.jeq(r0, 0, 'out');
    b.mov(r6, r0); b.mov(r1, r0); b.mov(r2, 0); b.call('ringbuf_submit');
    b.st('u64', r6, 0, 1);
    b.label('out'); b.mov(r0, 0); b.exit();
  })).run());
  assert.is(f.kind, 'memory');
});

test('a small LRU hash takes a million updates with random keys (freed value slots are reused)', () => {
  const vm = new Vm();
  const m = vm.createMap({ name: 'lru', type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 16 });
  const h = vm.createMap({ name: 'h', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 });
  const key = new Uint8Array(4), dv = new DataView(key.buffer), value = new Uint8Array(8);
  let x = 12345;
  for (let i = 0; i < 1_000_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    dv.setUint32(0, x, true);
    assert.is(m.updateRaw(key, value, 0), 0);
    assert.is(h.updateRaw(key, value, 0), 0);
    assert.is(h.deleteRaw(key), 0);
  }
  assert.is(m.size, 16);
  assert.is(h.size, 0);
});

test('address space exhaustion is a VmError that says what to lower', () => {
  const mem = new Memory();
  const one = new Uint8Array(1);
  let err: unknown, n = 0;
  try { for (; n < 1_000_000; n++) mem.alloc('v', 'map-value', one); } catch (e) { err = e; }
  assert.instance(err, VmError);
  assert.match((err as Error).message, /lower max_entries or value_size/);
  assert.ok(n > 400_000, `${n} regions before the end`);
});

test('maps too big for the VM are a VmMapError that says to lower max_entries; sizes past u32 are refused', () => {
  const vm = new Vm();
  const err = (f: () => unknown): Error => { try { f(); } catch (e) { return e as Error; } throw new Error('no error'); };
  const big = err(() => vm.createMap({ name: 'big', type: 'array', keySize: 4, valueSize: 64, maxEntries: 0x7fffffff }));
  assert.instance(big, VmMapError);
  assert.match(big.message, /lower max_entries for the VM/);
  // 2^31 bytes: (n + 7) & ~7 made this negative, and the typed array threw a RangeError
  assert.instance(err(() => vm.createMap({ name: 'v', type: 'array', keySize: 4, valueSize: 2 ** 31, maxEntries: 1 })), VmMapError);
  assert.instance(err(() => vm.createMap({ name: 'h', type: 'hash', keySize: 4, valueSize: 2 ** 31, maxEntries: 1 })), VmMapError);
  assert.match(err(() => vm.createMap({ name: 'w', type: 'hash', keySize: 4, valueSize: 2 ** 33, maxEntries: 1 })).message, /u32/);
  const ok = vm.createMap({ name: 'ok', type: 'array', keySize: 4, valueSize: 2 ** 20 + 1, maxEntries: 2 });
  assert.is(ok.updateRaw(new Uint8Array([1, 0, 0, 0]), new Uint8Array(2 ** 20 + 1).fill(1), 0), 0, 'a value past 1 MiB + 1 still fits its stride');
});

test('clock, random, CPU and trace_printk are the test\'s', () => {
  const vm = new Vm({ clock: { ns: 1000n, step: 10n, bootOffset: 5n }, seed: 42, cpu: 3 });
  const p = vm.load(raw((b) => {
    b.call('ktime_get_ns'); b.mov(r6, r0);
    b.call('ktime_get_boot_ns'); b.sub(r0, r6); // (1010 + 5) - 1000 = 15
    b.exit();
  }));
  assert.is(p.run().r0, 15n);
  const rnd = (seed: number) => new Vm({ seed }).load(raw((b) => { b.call('get_prandom_u32'); b.exit(); })).run().r0;
  assert.is(rnd(7), rnd(7));
  assert.is.not(rnd(7), rnd(8));
  assert.is(vm.load(raw((b) => { b.call('get_smp_processor_id'); b.exit(); })).run().r0, 3n);
  const fmt = 'n=%d x=%llx\n\0';
  const r = vm.load(raw((b) => {
    const bytes = new TextEncoder().encode(fmt);
    for (let i = 0; i < bytes.length; i++) b.st('u8', r10, -32 + i, bytes[i]!);
    b.mov(r1, r10); b.add(r1, -32); b.mov(r2, bytes.length); b.mov(r3, -2); b.ld64(r4, 0xdeadbeef0n);
    b.call('trace_printk'); b.exit();
  })).run();
  assert.equal(r.printk, ['n=-2 x=deadbeef0\n']);
});

test('trace_printk %s prints the whole string when it ends at the end of its region', () => {
  const vm = new Vm();
  const name = vm.createMap({ name: '.rodata', type: 'array', keySize: 4, valueSize: 12, maxEntries: 1 });
  name.updateRaw(new Uint8Array(4), new TextEncoder().encode('hello world\0'), 0);
  const fmt = new TextEncoder().encode('name=%s\0');
  const r = vm.load(raw((b) => {
    for (let i = 0; i < fmt.length; i++) b.st('u8', r10, -16 + i, fmt[i]!);
    b.mov(r1, r10); b.add(r1, -16); b.mov(r2, fmt.length); b.ldMapValue(r3, name, 0);
    b.call('trace_printk'); b.exit();
  })).run();
  assert.equal(r.printk, ['name=hello world']);
  const unterminated = vm.createMap({ name: 'u', type: 'array', keySize: 4, valueSize: 3, maxEntries: 1 });
  unterminated.updateRaw(new Uint8Array(4), new TextEncoder().encode('abc'), 0);
  const f = fault(() => vm.load(raw((b) => {
    for (let i = 0; i < fmt.length; i++) b.st('u8', r10, -16 + i, fmt[i]!);
    b.mov(r1, r10); b.add(r1, -16); b.mov(r2, fmt.length); b.ldMapValue(r3, unterminated, 0);
    b.call('trace_printk'); b.exit();
  })).run());
  assert.is(f.kind, 'memory', 'a string with no NUL before the end of its region is a fault, as in the kernel');
});

test('skb_load_bytes copies from the packet and refuses out-of-range reads', () => {
  const vm = new Vm();
  const p = vm.load(program({ name: 'lb', type: 'sched_cls' }, (b) => {
    b.mov(r2, 2); b.mov(r3, r10); b.add(r3, -4); b.mov(r4, 4); b.call('skb_load_bytes');
    b.jne(r0, 0, 'err'); b.ldx('u32', r0, r10, -4); b.be(r0, 32); b.exit();
    b.label('err'); b.mov(r0, 0xeee); b.exit();
  }));
  assert.is(p.run({ data: Uint8Array.from([0, 0, 1, 2, 3, 4]) }).r0, 0x01020304n);
  assert.is(p.run({ data: Uint8Array.from([0, 0, 1]) }).r0, 0xeeen);
});

test('--trace: each step has the registers it changed, the memory it touched and the TS line', () => {
  const vm = new Vm();
  const r = vm.load(raw((b) => { b.mov(r1, 5); b.stx('u64', r10, -8, r1); b.ldx('u64', r0, r10, -8); b.exit(); }), { type: 'raw' }).run({ trace: true });
  const t = r.trace!;
  assert.is(t.length, 4);
  assert.equal(t[0]!.changed, [{ reg: 1, before: 0n, after: 5n }]);
  assert.equal(t[1]!.mem.map((a) => [a.write, a.size, a.value, a.region]), [[true, 8, 5n, 'stack frame 0']]);
  assert.equal(t[2]!.changed, [{ reg: 0, before: 0n, after: 5n }]);
  assert.match(t[2]!.source ?? '', /vm-core\.test\.ts:\d+/);
  assert.is(t[3]!.text, 'exit');
  assert.is(r.insns, 4);
  const f = fault(() => vm.load(raw((b) => { b.mov(r1, 0); b.ldx('u8', r0, r1, 0); b.exit(); }), { type: 'raw' }).run({ trace: true }));
  assert.equal(f.trace?.map((s) => s.text), ['r1 = 0', 'r0 = *(u8 *)(r1 + 0)'], 'a fault carries the steps up to it');
});

test('LD_ABS reads big-endian from the packet; out of range ends the program with r0 = 0', () => {
  const vm = new Vm();
  const p = vm.load(program({ name: 'abs', type: 'socket_filter' }, (b) => { b.mov(r6, r1); b.ldAbs('u16', 12); b.add(r0, 1); b.exit(); }));
  assert.is(p.run({ data: Uint8Array.from([...new Array(12).fill(0), 0x08, 0x00]) }).r0, 0x801n);
  assert.is(p.run({ data: new Uint8Array(13) }).r0, 0n);
});

test('fuzz: random instruction words either do not decode, or load and run to a result, a VmError or a VmFault — nothing else', () => {
  let seed = 12345;
  const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
  // opcodes worth hitting often: every class, plus calls to real helpers and exits
  const ops = [0x07, 0x0f, 0x04, 0x0c, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x57, 0x67, 0x6f, 0x77, 0x7f, 0x87, 0x97, 0x9f, 0xa7,
    0xb7, 0xbf, 0xc7, 0xcf, 0xd4, 0xdc, 0xd7, 0x05, 0x06, 0x15, 0x1d, 0x25, 0x56, 0x5e, 0x85, 0x95, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89,
    0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x18, 0x20, 0x28, 0x30, 0x40];
  let ran = 0, faulted = 0, refused = 0;
  for (let n = 0; n < 3000; n++) {
    const len = 1 + (rnd() % 12);
    const insns: Instruction[] = [];
    while (insns.length < len - 1) {
      // a random word that decodes: registers in range, the reserved fields mostly 0
      for (let tries = 0; tries < 50; tries++) {
        const op = rnd() % 4 === 0 ? rnd() & 0xff : ops[rnd() % ops.length]!;
        const i: Instruction = {
          op, dst: rnd() % 10, src: rnd() % 3 === 0 ? 0 : rnd() % 11, off: rnd() % 3 === 0 ? 0 : rnd() % 2 ? (rnd() % 9) - 4 : ((rnd() & 0xffff) << 16) >> 16,
          imm: rnd() % 3 === 0 ? 0 : rnd() % 2 ? (rnd() % 70) - 2 : rnd() | 0, ...(op === 0x18 ? { imm2: rnd() % 2 ? 0 : rnd() | 0 } : {}),
        };
        if (invalidReason(i) === null) { insns.push(i); break; }
      }
    }
    insns.push(EXIT);
    const bytes = encode(insns);
    const vm = new Vm({ maxInsns: 5000 });
    try {
      vm.load(bytes, { type: n % 3 === 0 ? 'sched_cls' : n % 3 === 1 ? 'xdp' : 'raw' }).run({ data: new Uint8Array(64), mem: new Uint8Array(16), trace: n % 10 === 0 });
      ran++;
    } catch (e) {
      if (e instanceof VmFault) faulted++;
      else if (e instanceof VmError) refused++;
      else throw new Error(`program ${n} (${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}) threw ${(e as Error).stack}`);
    }
  }
  console.log(`vm fuzz: ${ran} ran, ${faulted} faulted, ${refused} refused at load`);
  assert.ok(ran > 300 && faulted > 300, `ran ${ran}, faulted ${faulted}, refused ${refused}`);
});

test.run();
