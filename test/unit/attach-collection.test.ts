/**
 * loadCollection without a kernel: a fake Sys creates maps, pins (as files in a temp dir, so
 * rollback can be seen on disk) and loads programs, and fails on cue.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { program, r0, r1, type MapSpec } from '../../src/asm/index.ts';
import { decode } from '../../src/asm/instruction.ts';
import { CollectionError, loadCollection } from '../../src/attach/collection.ts';
import { INFO, MAP_CREATE, MAP_INFO, OBJ, PROG_LOAD, readName, readU32, readU64, write } from '../../src/syscall/attr.ts';
import { Cmd } from '../../src/syscall/constants.ts';
import { BpfError, PinMismatchError, VerifierError } from '../../src/syscall/errors.ts';
import { FakeSys } from '../support/fake-sys.ts';

const ENOENT = 2, EACCES = 13;
const cnt: MapSpec = { name: 'cnt', type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 };
const last: MapSpec = { name: 'last', type: 'hash', keySize: 4, valueSize: 4, maxEntries: 16 };
const both = program({ name: 'both', type: 'sched_cls' }, (b) => { b.ldMap(r1, cnt); b.ldMap(r1, last); b.mov(r0, 0); b.exit(); });
const one = program({ name: 'one', type: 'xdp' }, (b) => { b.ldMap(r1, cnt); b.mov(r0, 2); b.exit(); });

interface World { fds: number; loads: { name: string; imms: number[] }[]; pinned: Map<string, number>; mapsByFd: Map<number, MapSpec>; failLoad?: string }

/**
 * The kernel's part: MAP_CREATE -> a new fd (its layout remembered for INFO), OBJ_PIN -> a file at
 * the path, OBJ_GET -> the pinned fd or ENOENT, PROG_LOAD -> a new fd (the map imms recorded), or
 * EACCES with a log for `failLoad`.
 */
function kernel(w: World): FakeSys {
  return new FakeSys((cmd, attr, k) => {
    switch (cmd) {
      case Cmd.MAP_CREATE: {
        const fd = ++w.fds;
        w.mapsByFd.set(fd, { name: readName(MAP_CREATE, attr, 'map_name'), type: readU32(MAP_CREATE, attr, 'map_type') === 2 ? 'array' : 'hash',
          keySize: readU32(MAP_CREATE, attr, 'key_size'), valueSize: readU32(MAP_CREATE, attr, 'value_size'), maxEntries: readU32(MAP_CREATE, attr, 'max_entries') });
        return fd;
      }
      case Cmd.OBJ_PIN: {
        const p = k.str(readU64(OBJ, attr, 'pathname'));
        writeFileSync(p, '');
        w.pinned.set(p, readU32(OBJ, attr, 'bpf_fd'));
        return 0;
      }
      case Cmd.OBJ_GET: {
        const fd = w.pinned.get(k.str(readU64(OBJ, attr, 'pathname')));
        return fd === undefined ? -ENOENT : fd;
      }
      case Cmd.OBJ_GET_INFO_BY_FD: {
        const s = w.mapsByFd.get(readU32(INFO, attr, 'bpf_fd'))!;
        write(MAP_INFO, k.mem(readU64(INFO, attr, 'info')), { type: s.type === 'array' ? 2 : 1, key_size: s.keySize, value_size: s.valueSize, max_entries: s.maxEntries, name: s.name });
        return 0;
      }
      case Cmd.PROG_LOAD: {
        const insns = decode(k.mem(readU64(PROG_LOAD, attr, 'insns')));
        const name = readName(PROG_LOAD, attr, 'prog_name');
        if (name === w.failLoad) {
          const log = readU64(PROG_LOAD, attr, 'log_buf');
          if (log) k.mem(log).set(new TextEncoder().encode('0: (b7) r0 = 0\nR0 !read_ok\n'));
          return -EACCES;
        }
        w.loads.push({ name, imms: insns.filter((i) => i.op === 0x18).map((i) => i.imm) });
        return ++w.fds;
      }
      default: return -22;
    }
  });
}

const world = (): World => ({ fds: 10, loads: [], pinned: new Map(), mapsByFd: new Map() });
const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'tsbpf-coll-'));

test('maps are created, programs load with their fds patched in, and dispose closes everything', () => {
  const w = world(), k = kernel(w);
  const coll = loadCollection({ maps: { counter: cnt }, programs: { both, one } }, { sys: k });
  // cnt is listed (fd 11); last is referenced only by `both`, and is created because it is a full spec (fd 12).
  assert.is(coll.maps.counter!.fd, 11, 'the record key is an alias');
  assert.is(coll.map('cnt').fd, 11);
  assert.is(coll.map('last').fd, 12);
  assert.equal(w.loads, [{ name: 'both', imms: [11, 12] }, { name: 'one', imms: [11] }]);
  assert.equal(coll.origins.map((o) => [o.name, o.origin, o.path]), [['cnt', 'created', undefined], ['last', 'created', undefined]]);
  assert.is(coll.programs.both.fd, 13);
  coll[Symbol.dispose]();
  assert.equal(k.closed.sort(), [11, 12, 13, 14]);
  coll.close();
  assert.is(k.closed.length, 4, 'closing twice closes nothing more');
});

test('a verifier rejection closes the maps and programs made so far and removes the pins this load made', () => {
  const dir = tmp();
  try {
    const w = { ...world(), failLoad: 'one' }, k = kernel(w);
    const e = (() => { try { loadCollection({ programs: [both, one] }, { pinDir: dir, sys: k }); } catch (x) { return x; } return undefined; })();
    assert.instance(e, VerifierError);
    assert.equal(k.closed.sort(), [11, 12, 13], 'both maps and the first program');
    assert.not.ok(existsSync(path.join(dir, 'cnt')), 'pin removed');
    assert.not.ok(existsSync(path.join(dir, 'last')), 'pin removed');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('with a pinDir: a matching pin is reused, the rest is created and pinned', () => {
  const dir = tmp();
  try {
    const w = world(), k = kernel(w);
    w.mapsByFd.set(5, cnt);
    w.pinned.set(path.join(dir, 'cnt'), 5);
    using coll = loadCollection({ programs: { both } }, { pinDir: dir, sys: k });
    assert.equal(coll.origins.map((o) => [o.name, o.origin, o.path]), [['cnt', 'reused', path.join(dir, 'cnt')], ['last', 'created', path.join(dir, 'last')]]);
    assert.equal(w.loads[0]!.imms, [5, 11]);
    assert.ok(existsSync(path.join(dir, 'last')));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test("pinning 'none' keeps a map out of the pinDir", () => {
  const dir = tmp();
  try {
    const w = world(), k = kernel(w);
    using coll = loadCollection({ maps: [{ ...cnt, pinning: 'none' }] }, { pinDir: dir, sys: k });
    assert.equal(coll.origins, [{ name: 'cnt', path: undefined, origin: 'created' }]);
    assert.not.ok(k.cmds().includes(Cmd.OBJ_PIN));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a pin of another layout is a PinMismatchError naming the difference, and nothing is left', () => {
  const dir = tmp();
  try {
    const w = world(), k = kernel(w);
    w.mapsByFd.set(5, { ...last, maxEntries: 8 });
    w.pinned.set(path.join(dir, 'last'), 5);
    const e = (() => { try { loadCollection({ maps: [cnt, last] }, { pinDir: dir, sys: k }); } catch (x) { return x as Error; } return undefined; })();
    assert.instance(e, PinMismatchError);
    assert.match(e!.message, /pinned at .*last does not match its spec: max entries is 8, expected 16/);
    assert.equal(k.closed.sort(), [11, 5], 'the new cnt and the opened pin');
    assert.not.ok(existsSync(path.join(dir, 'cnt')), 'the cnt pin this load made is removed');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('reuse: false refuses an existing pin with one line saying what to do', () => {
  const dir = tmp();
  try {
    const w = world(), k = kernel(w);
    w.mapsByFd.set(5, cnt);
    w.pinned.set(path.join(dir, 'cnt'), 5);
    const e = (() => { try { loadCollection({ maps: [cnt] }, { pinDir: dir, reuse: false, sys: k }); } catch (x) { return x as Error; } return undefined; })();
    assert.instance(e, CollectionError);
    assert.is(e!.message, `map 'cnt' is already pinned at ${dir}/cnt and reuse is off: pass reuse: true to share it, or remove the pin (rm ${dir}/cnt)`);
    assert.equal(k.closed, [5]);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('two different specs under one name, and a bare MapRef, are refused before any syscall', () => {
  const k = kernel(world());
  const cnt9: MapSpec = { ...cnt, maxEntries: 9 };
  const other = program({ name: 'o', type: 'xdp' }, (b) => { b.ldMap(r1, cnt9); b.mov(r0, 2); b.exit(); });
  assert.throws(() => loadCollection({ programs: [one, other] }, { sys: k }), (e: Error) => e instanceof CollectionError && /two different maps are called 'cnt'/.test(e.message));
  const bare = program({ name: 'b', type: 'xdp' }, (b) => { b.ldMap(r1, { name: 'ghost' }); b.mov(r0, 2); b.exit(); });
  assert.throws(() => loadCollection({ programs: [bare] }, { sys: k }), /references map 'ghost', which is neither .* add its spec to maps/);
  assert.is(k.calls.length, 0);
  // The same spec object, or an equal one, under one name is one map.
  const cntCopy: MapSpec = { ...cnt };
  const again = program({ name: 'a', type: 'xdp' }, (b) => { b.ldMap(r1, cntCopy); b.mov(r0, 2); b.exit(); });
  using c = loadCollection({ programs: [one, again] }, { sys: k });
  assert.equal(Object.keys(c.maps), ['cnt']);
});

test('a failing map create is the BpfError, and the maps before it are closed', () => {
  let n = 0;
  const k = new FakeSys((cmd) => (cmd === Cmd.MAP_CREATE ? (++n === 2 ? -1 : 40 + n) : -22));
  assert.throws(() => loadCollection({ maps: [cnt, last] }, { sys: k }), (e: Error) => e instanceof BpfError && e.code === 'EPERM');
  assert.equal(k.closed, [41]);
});

test.run();
