/**
 * Typed maps: a spec with C key and value types is created with BTF, so bpftool prints its
 * entries by field name, and `tsbpf map dump` prints the same "formatted" values; `btf dump
 * map` agrees with bpftool's.
 */
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ctypes } from '../../src/btf/index.ts';
import { bytes, createMap, mapBtfIds, u32, type MapSpec } from '../../src/syscall/index.ts';
import { kernelSuite, sh } from '../support/kernel.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const s = kernelSuite('typed maps');
const tsbpf = (...args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), ...args], { cwd: root, encoding: 'utf8' });

const flow = ctypes.struct('flow', { packets: ctypes.u64, last_len: ctypes.u32, port: ctypes.u16, tos: ctypes.array(ctypes.u8, 2) });
const spec: MapSpec = { name: 'btf_flows', type: 'hash', keySize: 4, valueSize: flow.size, maxEntries: 8, keyType: ctypes.u32, valueType: flow };

function value(packets: bigint, len: number, port: number, tos: [number, number]): Uint8Array {
  const b = new Uint8Array(flow.size), v = new DataView(b.buffer);
  v.setBigUint64(0, packets, true); v.setUint32(8, len, true); v.setUint16(12, port, true); b[14] = tos[0]; b[15] = tos[1];
  return b;
}

s('bpftool map dump prints a typed map\'s fields by name', () => {
  using m = createMap<number, Uint8Array>(spec, { key: u32, value: bytes(flow.size) });
  m.set(7, value(3n, 1500, 5001, [1, 2]));
  const ids = mapBtfIds(m.fd);
  assert.ok(ids.btfId > 0 && ids.keyTypeId > 0 && ids.valueTypeId > 0);
  const text = sh('bpftool', ['map', 'dump', 'id', String(m.info().id)]);
  for (const field of ['"packets": 3', '"last_len": 1500', '"port": 5001', '"key": 7']) assert.ok(text.includes(field), `${field} in\n${text}`);
});

s('tsbpf map dump --json gives bpftool\'s "formatted" values; the text dump names the fields', () => {
  using m = createMap<number, Uint8Array>(spec, { key: u32, value: bytes(flow.size) });
  m.set(1, value(10n, 60, 53, [0, 0]));
  m.set(2, value(2n ** 40n, 9000, 443, [4, 8]));
  const id = String(m.info().id);
  const theirs = JSON.parse(sh('bpftool', ['-j', 'map', 'dump', 'id', id])) as { key: string[]; formatted: unknown }[];
  const ours = JSON.parse(tsbpf('map', 'dump', id, '--json')) as { key: string[]; formatted: unknown }[];
  const byKey = (xs: { key: string[]; formatted: unknown }[]) => new Map(xs.map((x) => [x.key.join(' '), x.formatted]));
  assert.equal(byKey(ours), byKey(theirs));
  const text = tsbpf('map', 'dump', id);
  assert.match(text, /key: 2 {2}value: \{"packets": 1099511627776, "last_len": 9000, "port": 443, "tos": \[4, 8\]\}/);
});

s('tsbpf btf dump map N is bpftool btf dump map id N', () => {
  using m = createMap(spec, { key: u32, value: bytes(flow.size) });
  const id = String(m.info().id);
  assert.is(tsbpf('btf', 'dump', 'map', id), sh('bpftool', ['btf', 'dump', 'map', 'id', id]));
  assert.is(tsbpf('btf', 'dump', 'map', id, 'all'), sh('bpftool', ['btf', 'dump', 'map', 'id', id, 'all']));
});

s('a per-CPU array with a typed value: per-CPU formatted values match bpftool', () => {
  const pc: MapSpec = { name: 'btf_pcpu', type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2, valueType: ctypes.struct('cnt', { n: ctypes.u64 }) };
  using m = createMap(pc);
  const id = String(m.info().id);
  const pick = (xs: { formatted?: unknown }[]) => xs.map((x) => x.formatted);
  assert.equal(pick(JSON.parse(tsbpf('map', 'dump', id, '--json'))), pick(JSON.parse(sh('bpftool', ['-j', 'map', 'dump', 'id', id]))));
});

s('a type whose size is not the map\'s is refused before the kernel sees it', () => {
  assert.throws(() => createMap({ ...spec, valueSize: 8 }), /valueType is 16 bytes, valueSize is 8/);
});

s.run();
