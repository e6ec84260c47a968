/**
 * Bad input: 12,000 mutated BTF blobs and 3,000 mutated .BTF.ext blobs through every reader
 * (decode, every type, the raw, C and JSON dumps). The only error allowed is BtfError; loops in
 * the type graph (a typedef of itself, an anonymous struct containing itself) end in a
 * BtfError or a dump, never in a stack overflow; and the whole run is bounded (no hangs).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BtfError, StringTable, decodeBtf, decodeBtfExt, encodeBtf, encodeBtfExt, formatC, formatJson, formatRaw, formatRawBytes, type BtfType,
} from '../../src/btf/index.ts';
import { randomTypes, rng } from '../support/btf-gen.ts';

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 12, 16, 24];

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  let b = src.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * b.length);
    switch (Math.floor(r() * 6)) {
      case 0: b[at] = Math.floor(r() * 256); break;
      case 1: b[at] = b[at]! ^ (1 << Math.floor(r() * 8)); break;
      case 2: if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at & ~3, INTERESTING[Math.floor(r() * INTERESTING.length)]!, true); break;
      case 3: b = b.slice(0, at); break; // truncate
      case 4: { const h = 4 * (1 + Math.floor(r() * 5)); if (h + 4 <= b.length) new DataView(b.buffer).setUint32(h, Math.floor(r() * 64), true); break; } // header fields
      default: { const extra = new Uint8Array(Math.floor(r() * 16)).map(() => Math.floor(r() * 256)); const c = new Uint8Array(b.length + extra.length); c.set(b); c.set(extra, b.length); b = c; }
    }
  }
  return b;
}

/** Read a blob every way we can; anything but BtfError escapes to fail the test. */
function readAll(bytes: Uint8Array): 'ok' | 'BtfError' {
  try {
    const btf = decodeBtf(bytes);
    btf.types();
    formatRaw(btf);
    formatRawBytes(btf);
    formatJson(btf);
    formatC(btf);
    return 'ok';
  } catch (e) {
    if (e instanceof BtfError) return 'BtfError';
    throw new Error(`not a BtfError: ${(e as Error).stack}\nblob: ${Buffer.from(bytes).toString('hex')}`);
  }
}

test('12,000 mutated BTF blobs: only BtfError, every time', () => {
  const r = rng(0xb7f);
  const seeds: Uint8Array[] = [];
  for (let s = 1; s <= 60; s++) seeds.push(encodeBtf(randomTypes(s * 7919)));
  const counts = { ok: 0, BtfError: 0 };
  const t0 = Date.now();
  for (let i = 0; i < 12000; i++) counts[readAll(mutate(seeds[i % seeds.length]!, r))]++;
  assert.ok(counts.BtfError > 1000 && counts.ok > 100, `mutations both pass and fail: ${JSON.stringify(counts)}`);
  assert.ok(Date.now() - t0 < 120_000, 'bounded');
});

test('type loops: a typedef of itself, an anonymous struct containing itself, a const chain', () => {
  const loops: BtfType[][] = [
    [{ kind: 'TYPEDEF', name: 't', type: 1 }],
    [{ kind: 'STRUCT', name: '', size: 4, kflag: false, members: [{ name: 'x', type: 1, bitOffset: 0, bitfieldSize: 0 }] }, { kind: 'TYPEDEF', name: 'u', type: 1 }],
    [{ kind: 'CONST', name: '', type: 2 }, { kind: 'VOLATILE', name: '', type: 1 }, { kind: 'TYPEDEF', name: 'w', type: 1 }],
    [{ kind: 'STRUCT', name: 'a', size: 4, kflag: false, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }] }],
  ];
  for (const types of loops) {
    const got = readAll(encodeBtf(types));
    assert.ok(got === 'ok' || got === 'BtfError');
  }
});

test('3,000 mutated .BTF.ext blobs: only BtfError', () => {
  const r = rng(42);
  const strings = new StringTable();
  const ext = encodeBtfExt({
    funcInfo: [{ section: 'tc', records: [{ insnOff: 0, typeId: 1 }, { insnOff: 40, typeId: 1 }] }],
    lineInfo: [{ section: 'tc', records: Array.from({ length: 6 }, (_, i) => ({ insnOff: i * 8, file: 'x.ts', line: `line ${i}`, lineNum: i + 1, column: i })) }],
    coreRelo: [{ section: 'tc', records: [{ insnOff: 8, typeId: 1, access: '0:1', kind: 0 }] }],
  }, strings);
  const btf = decodeBtf(encodeBtf([{ kind: 'INT', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 }], { strings }));
  let failures = 0;
  for (let i = 0; i < 3000; i++) {
    try { decodeBtfExt(mutate(ext, r), btf); } catch (e) {
      if (!(e instanceof BtfError)) throw e;
      failures++;
    }
  }
  assert.ok(failures > 300, `${failures} rejected`);
});

test.run();
