/**
 * CO-RE rules on hand-made BTF, for what clang 14 cannot emit or this kernel cannot show:
 * type_matches, ___flavor candidates, two candidates that disagree (an error), a field whose size changed
 * (the load's size follows it), enum64 values, and LD_IMM64 poisoning both slots.
 * (test/kernel/btf-core.test.ts holds every kind clang emits against libbpf on the real kernel.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CORE_POISON_IMM, applyCoreRelo, coreField, decodeBtf, encodeBtf, resolveCoreRelo, type BtfType } from '../../src/btf/index.ts';

const int = (name: string, size: number, signed = false): BtfType => ({ kind: 'INT', name, size, encoding: signed ? 1 : 0, offset: 0, bits: size * 8 });
const member = (name: string, type: number, bitOffset: number) => ({ name, type, bitOffset, bitfieldSize: 0 });
const K = { field_byte_offset: 0, field_byte_size: 1, field_exists: 2, type_id_target: 7, type_size: 9, enumval_value: 11, type_matches: 12 } as const;

// Local: [1] u32  [2] struct task___v1 { u32 pid; u32 tgid; }  [3] u64  [4] enum64 e___x { BIG = 1 }
const local = decodeBtf(encodeBtf([
  int('unsigned int', 4),
  { kind: 'STRUCT', name: 'task___v1', size: 8, kflag: false, members: [member('pid', 1, 0), member('tgid', 1, 32)] },
  int('long long unsigned int', 8),
  { kind: 'ENUM64', name: 'e___x', size: 8, signed: false, values: [{ name: 'BIG', value: 1n }] },
]));
// Target: [1] u32 [2] u64 [3] struct task { u64 pid; u32 tgid; } [4] struct task___other { u32 tgid; }
//         [5] enum64 e { BIG = 2^40 }
const target = decodeBtf(encodeBtf([
  int('unsigned int', 4), int('long long unsigned int', 8),
  { kind: 'STRUCT', name: 'task', size: 16, kflag: false, members: [member('pid', 2, 0), member('tgid', 1, 64)] },
  { kind: 'STRUCT', name: 'task___other', size: 4, kflag: false, members: [member('tgid', 1, 0)] },
  { kind: 'ENUM64', name: 'e', size: 8, signed: false, values: [{ name: 'BIG', value: 1n << 40n }] },
]));

test('flavors: task___v1 looks for task, and both task and task___other are candidates', () => {
  const r = resolveCoreRelo(local, { insnOff: 0, typeId: 2, access: '0:0', kind: K.field_byte_offset }, target);
  // pid only exists in [3] task: one answer.
  assert.is(r.target, 0n);
  assert.is(r.targetId, 3);
});

test('two candidates that disagree: an error, as libbpf refuses the load', () => {
  assert.throws(() => resolveCoreRelo(local, { insnOff: 8, typeId: 2, access: '0:1', kind: K.field_byte_offset }, target),
    /instruction 1 \(field_byte_offset, access 0:1\) is ambiguous: kernel types \[3\] and \[4\] give 8 and 0/);
});

test('a field whose size changed: the load is rewritten to the new size', () => {
  const r = resolveCoreRelo(local, { insnOff: 0, typeId: 2, access: '0:0', kind: K.field_byte_offset }, target);
  assert.equal([r.localSize, r.targetSize], [4, 8]);
  const insn = new Uint8Array([0x61, 0x21, 0, 0, 0, 0, 0, 0]); // r1 = *(u32 *)(r2 + 0)
  applyCoreRelo(insn, r);
  assert.is(insn[0], 0x79); // r1 = *(u64 *)(r2 + 0)
});

test('type_size and type_id_target come from the target; type_matches compares structure', () => {
  const sz = resolveCoreRelo(local, { insnOff: 0, typeId: 2, access: '0', kind: K.type_size }, target, [3]);
  assert.is(sz.target, 16n);
  const m = resolveCoreRelo(local, { insnOff: 0, typeId: 2, access: '0', kind: K.type_matches }, target, [3]);
  assert.is(m.target, 0n, 'pid is u32 locally and u64 in the target: no match');
  const same = resolveCoreRelo(local, { insnOff: 0, typeId: 1, access: '0', kind: K.type_matches }, target);
  assert.is(same.target, 1n);
});

test('enum64 values, into both halves of an LD_IMM64', () => {
  const r = resolveCoreRelo(local, { insnOff: 0, typeId: 4, access: '0', kind: K.enumval_value }, target);
  assert.is(r.target, 1n << 40n);
  const insns = new Uint8Array(16); insns[0] = 0x18; insns[1] = 0x01;
  applyCoreRelo(insns, r);
  const v = new DataView(insns.buffer);
  assert.equal([v.getUint32(4, true), v.getUint32(12, true)], [0, 256]);
});

test('an LD_IMM64 that cannot be relocated is poisoned in both slots, as libbpf does', () => {
  const r = resolveCoreRelo(local, { insnOff: 0, typeId: 2, access: '0', kind: K.type_id_target }, decodeBtf(encodeBtf([int('int', 4, true)])));
  assert.match(r.poison ?? '', /type_id_target of struct task___v1 \(access 0\): the running kernel's BTF has no task/);
  const insns = new Uint8Array(16); insns[0] = 0x18;
  applyCoreRelo(insns, r);
  const v = new DataView(insns.buffer);
  assert.equal([insns[0], v.getInt32(4, true), insns[8], v.getInt32(12, true)], [0x85, CORE_POISON_IMM, 0x85, CORE_POISON_IMM]);
});

test('existence kinds answer 0 instead of poisoning', () => {
  const r = resolveCoreRelo(local, { insnOff: 0, typeId: 2, access: '0:1', kind: K.field_exists }, target, [3]);
  assert.is(r.target, 1n);
  const none = resolveCoreRelo(local, { insnOff: 0, typeId: 2, access: '0:0', kind: K.field_exists }, target, [4]);
  assert.equal([none.target, none.poison], [0n, undefined]);
});

test('coreField: a DSL load of a kernel struct field, resolved by name through anonymous members', () => {
  const btf = decodeBtf(encodeBtf([
    int('unsigned int', 4), int('long long unsigned int', 8),
    { kind: 'STRUCT', name: '', size: 8, kflag: false, members: [member('hash', 1, 0), member('mark', 1, 32)] },
    { kind: 'STRUCT', name: 'pkt', size: 24, kflag: true, members: [member('len', 1, 0), { name: 'bits', type: 1, bitOffset: 32, bitfieldSize: 3 }, member('', 3, 64), member('stamp', 2, 128)] },
  ]));
  assert.equal(coreField('pkt', 'len', btf), { off: 0, size: 'u32' });
  assert.equal(coreField('pkt', 'mark', btf), { off: 12, size: 'u32' });
  assert.equal(coreField('pkt', 'stamp', btf), { off: 16, size: 'u64' });
  assert.throws(() => coreField('pkt', 'bits', btf), /3-bit bitfield/);
  assert.throws(() => coreField('pkt', 'nope', btf), /pkt has no member 'nope' \(it has len, bits, \(anon\), stamp/);
  assert.throws(() => coreField('sk_buff', 'len', btf), /no struct or union 'sk_buff'/);
});

test.run();
