/**
 * The BTF codec: golden bytes for one small graph, decode(encode(x)) = x for generated graphs
 * of every kind, .BTF.ext both ways, and the errors a bad blob gets.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BtfError, StringTable, decodeBtf, decodeBtfExt, decodeLineInfo, encodeBtf, encodeBtfExt, encodeLineInfo, formatRaw, formatRawBytes, lineCol, type BtfType,
} from '../../src/btf/index.ts';
import { randomTypes } from '../support/btf-gen.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').replace(/(.{8})/g, '$1 ').trim();

test('golden: int and a pointer to it, byte for byte', () => {
  const bytes = encodeBtf([
    { kind: 'INT', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 },
    { kind: 'PTR', name: '', type: 1 },
  ]);
  assert.is(hex(bytes),
    '9feb0100 18000000 00000000 1c000000 1c000000 05000000 ' + // header: magic eb9f v1, hdr 24, types 0+28, strings 28+5
    '01000000 00000001 04000000 20000001 ' + // [1] INT 'int' (name 1) size 4, encoding SIGNED bits 32
    '00000000 00000002 01000000 ' + // [2] PTR -> 1
    '00696e74 00'); // "\0int\0"
  assert.is(formatRaw(decodeBtf(bytes)), "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n[2] PTR '(anon)' type_id=1\n");
});

test('every kind survives encode then decode (2,000 generated graphs, loops included)', () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 2000; seed++) {
    const types = randomTypes(seed);
    for (const t of types) seen.add(t.kind);
    const back = decodeBtf(encodeBtf(types)).types();
    assert.equal(back, types, `seed ${seed}`);
  }
  assert.is(seen.size, 19, `kinds generated: ${[...seen].join(' ')}`);
});

test('the byte-writing raw dump is the readable one, byte for byte (every kind)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const btf = decodeBtf(encodeBtf(randomTypes(seed)));
    assert.is(new TextDecoder().decode(formatRawBytes(btf)), formatRaw(btf), `seed ${seed}`);
  }
});

test('a struct that contains a pointer to itself encodes and decodes (BTF graphs have loops)', () => {
  const types: BtfType[] = [
    { kind: 'STRUCT', name: 'node', size: 8, kflag: false, members: [{ name: 'next', type: 2, bitOffset: 0, bitfieldSize: 0 }] },
    { kind: 'PTR', name: '', type: 1 },
  ];
  assert.equal(decodeBtf(encodeBtf(types)).types(), types);
});

test('names are shared in the string table and looked up lazily', () => {
  const b = decodeBtf(encodeBtf([
    { kind: 'INT', name: 'u32', size: 4, encoding: 0, offset: 0, bits: 32 },
    { kind: 'TYPEDEF', name: 'u32', type: 1 },
  ]));
  assert.is(b.header.strLen, 5);
  assert.is(b.nameOf(2), 'u32');
  assert.equal(b.find('u32', 'TYPEDEF'), [2]);
});

test('.BTF.ext: func_info, line_info and core_relo round-trip through the .BTF strings', () => {
  const strings = new StringTable();
  const ext = {
    funcInfo: [{ section: 'tc', records: [{ insnOff: 0, typeId: 3 }, { insnOff: 64, typeId: 5 }] }],
    lineInfo: [{ section: 'tc', records: [{ insnOff: 0, file: 'a.ts', line: '  b.mov(r0, 0)', lineNum: 12, column: 5 }, { insnOff: 8, file: 'a.ts', line: 'b.exit()', lineNum: 13, column: 3 }] }],
    coreRelo: [{ section: 'tc', records: [{ insnOff: 16, typeId: 2, access: '0:1', kind: 0 }] }],
  };
  const extBytes = encodeBtfExt(ext, strings);
  const btf = decodeBtf(encodeBtf([{ kind: 'INT', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 }], { strings }));
  assert.equal(decodeBtfExt(extBytes, btf), ext);
  assert.is(lineCol(12, 5), (12 << 10) | 5);
});

const bad = (bytes: Uint8Array, re: RegExp) => {
  try { decodeBtf(bytes).types(); } catch (e) { assert.instance(e, BtfError); assert.match((e as Error).message, re); return; }
  assert.unreachable('decoded');
};

test('bad blobs: one clear BtfError each', () => {
  const good = encodeBtf([{ kind: 'PTR', name: '', type: 0 }]);
  bad(good.subarray(0, 10), /shorter than the 24-byte header/);
  const m = good.slice(); m[0] = 0; bad(m, /bad magic/);
  const v = good.slice(); v[2] = 2; bad(v, /version 2/);
  const r = good.slice(); new DataView(r.buffer).setUint32(32, 7, true); bad(r, /refers to type 7, but the last type is 1/);
  const k = good.slice(); k[31] = 25; bad(k, /unknown kind 25/);
  const named = encodeBtf([{ kind: 'FWD', name: 'x', union: false }]);
  const s = named.slice(); s[s.length - 1] = 0x41; bad(s, /does not end with a NUL/);
  const z = good.slice(); z[z.length - 1] = 0x41; bad(z, /must start with the empty name/);
  const big = good.slice(); new DataView(big.buffer).setUint32(12, 100, true); bad(big, /runs past the data/);
});

test('encode refuses what the kernel would: dangling ids, bitfields without kflag, NUL in names', () => {
  assert.throws(() => encodeBtf([{ kind: 'PTR', name: '', type: 9 }]), (e: unknown) => e instanceof BtfError && /refers to type 9/.test((e as Error).message));
  assert.throws(() => encodeBtf([{ kind: 'STRUCT', name: 's', size: 4, kflag: false, members: [{ name: 'a', type: 0, bitOffset: 0, bitfieldSize: 3 }] }]), /needs kflag/);
  assert.throws(() => encodeBtf([{ kind: 'INT', name: 'a\0b', size: 4, encoding: 0, offset: 0, bits: 32 }]), /NUL/);
});

test('kernel line_info records: decoded with their strings; an offset past the strings is a BtfError', () => {
  const strings = new StringTable();
  const records = [{ insnOff: 0, file: 'a.c', line: 'return 0;', lineNum: 3, column: 2 }];
  const info = encodeLineInfo(records, strings);
  const btf = decodeBtf(encodeBtf([{ kind: 'INT', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 }], { strings }));
  assert.equal(decodeLineInfo(info, 16, btf), records);
  new DataView(info.buffer).setUint32(4, btf.stringsEnd + 100, true);
  assert.throws(() => decodeLineInfo(info, 16, btf), (e: Error) => e instanceof BtfError && /past the BTF string section/.test(e.message));
});

test.run();
