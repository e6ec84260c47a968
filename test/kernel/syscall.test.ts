/**
 * src/syscall against the real kernel (root): one test per user-visible behaviour. Pins go in a
 * unique directory under /sys/fs/bpf, removed in a finally; every map and program is closed by
 * `using`, so nothing outlives the run.
 */
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ETH_HLEN, ETH_P_IP, IPPROTO_UDP, IPV4_HLEN, TC_ACT_OK, TC_ACT_SHOT, UDP_HLEN, eth, htons, ipv4, program, r0, r1, r2, r3, r10,
  skb, udp, type ProgramSpec,
} from '../../src/asm/index.ts';
import * as raw from '../../src/syscall/bpf.ts';
import {
  BPF_ANY, BPF_EXIST, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_NOEXIST, BpfError, BpfMap, Cmd, PinMismatchError, VerifierError,
  createMap, createOrOpenPinned, defaultSys, enableStats, ensureBpffs, findBpffs, listMaps, listPrograms, loadProgram, mapIds,
  openMapById, openPinnedMap, openPinnedProgram, openProgramById, pinnedKind, progIds, progTypeId, removePinDir, struct,
  tcGlobals, u32, u64, type MapSpec,
} from '../../src/syscall/index.ts';
import { encode } from '../../src/asm/instruction.ts';
import { kernelSuite, uniqueName } from '../support/kernel.ts';
import { FRAMES } from '../support/frames.ts';

const cntSpec: MapSpec = { name: 'cnt', type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 };
/** One-entry mmapable array: the program writes it through a direct value pointer (BPF_PSEUDO_MAP_VALUE). */
const lastSpec: MapSpec = { name: 'last', type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, flags: BPF_F_MMAPABLE };

/** UDP to port 5001: count it in cnt[0], add the UDP source port to last, return TC_ACT_SHOT. Anything else: TC_ACT_OK. */
const counter: ProgramSpec = program({ name: 'udp5001', type: 'sched_cls' }, (b) => {
  b.ldx('u32', r2, r1, skb.data_end);
  b.ldx('u32', r1, r1, skb.data);
  b.mov(r3, r1);
  b.add(r3, ETH_HLEN + IPV4_HLEN + UDP_HLEN);
  b.jgt(r3, r2, 'pass');
  b.ldField(r2, r1, eth.h_proto);
  b.jne(r2, htons(ETH_P_IP), 'pass');
  b.ldField(r2, r1, ipv4.protocol, ETH_HLEN);
  b.jne(r2, IPPROTO_UDP, 'pass');
  b.ldField(r2, r1, udp.dest, ETH_HLEN + IPV4_HLEN);
  b.jne(r2, htons(5001), 'pass');
  b.ldField(r3, r1, udp.source, ETH_HLEN + IPV4_HLEN);
  b.ldMapValue(r2, lastSpec, 0);
  b.stx('u64', r2, 0, r3);
  b.st('u32', r10, -4, 0);
  b.mov(r2, r10);
  b.add(r2, -4);
  b.ldMap(r1, cntSpec);
  b.call('map_lookup_elem');
  b.jeq(r0, 0, 'pass');
  b.mov(r1, 1);
  b.atomic('add', 'u64', r0, 0, r1);
  b.mov(r0, TC_ACT_SHOT);
  b.exit();
  b.label('pass');
  b.mov(r0, TC_ACT_OK);
  b.exit();
});

/** Reads an uninitialised register: the verifier says "R2 !read_ok". */
const broken = program({ name: 'broken', type: 'sched_cls' }, (b) => {
  b.mov(r0, 0);
  b.ldx('u32', r0, r2, 0);
  b.exit();
});

function withPinDir<T>(fn: (dir: string) => T): T {
  const dir = path.join(ensureBpffs(), uniqueName('tsbpf'));
  try {
    return fn(dir);
  } finally {
    removePinDir(dir);
  }
}

function loadCounter(opts: Parameters<typeof loadProgram>[1] = {}) {
  const cnt = createMap<number, bigint>(cntSpec, { key: u32, value: u64 });
  const last = createMap<number, bigint>(lastSpec, { key: u32, value: u64 });
  const prog = loadProgram(counter, { maps: [cnt, last], ...opts });
  return {
    cnt, last, prog,
    [Symbol.dispose]() { prog.close(); cnt.close(); last.close(); },
  };
}

// ---- maps ------------------------------------------------------------------------------------

const maps = kernelSuite('syscall: maps');

maps('hash map: set / get / delete / keys with BPF_ANY, BPF_NOEXIST and BPF_EXIST', () => {
  using m = createMap<number, bigint>({ name: uniqueName('h'), type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 }, { key: u32, value: u64 });
  m.set(1, 10n);
  m.set(2, 20n, BPF_NOEXIST);
  assert.is(m.get(1), 10n);
  assert.is(m.get(3), undefined);
  const dup = (() => { try { m.set(2, 0n, BPF_NOEXIST); } catch (e) { return e; } })();
  assert.instance(dup, BpfError);
  assert.is((dup as BpfError).code, 'EEXIST');
  const missing = (() => { try { m.set(9, 0n, BPF_EXIST); } catch (e) { return e; } })();
  assert.is((missing as BpfError).code, 'ENOENT');
  m.set(2, 21n, BPF_EXIST);
  assert.equal([...m.keys()].sort(), [1, 2]);
  assert.equal(new Map(m.entries()), new Map([[1, 10n], [2, 21n]]));
  assert.is(m.delete(1), true);
  assert.is(m.delete(1), false);
  m.set(5, 50n, BPF_ANY);
  assert.equal(new Map(m.batchRead()), new Map([[2, 21n], [5, 50n]]));
  using one = createMap({ name: 'one', type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
  one.set(1, 1);
  const full = (() => { try { one.set(2, 2); } catch (e) { return e as BpfError; } })();
  assert.is(full?.code, 'E2BIG');
  assert.match(full!.message, /the map is full/);
});

maps('MAP_LOOKUP_BATCH: arrays and hashes, chunk sizes that do and do not divide the count', () => {
  using a = createMap<number, bigint>({ name: 'arr', type: 'array', keySize: 4, valueSize: 8, maxEntries: 10 }, { key: u32, value: u64 });
  for (let i = 0; i < 10; i++) a.set(i, BigInt(i * i));
  for (const chunk of [1, 3, 5, 10, 64]) {
    assert.equal(a.batchRead({ chunk }), Array.from({ length: 10 }, (_, i) => [i, BigInt(i * i)]), `chunk ${chunk}`);
  }
  using h = createMap<number, bigint>({ name: 'hh', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64 }, { key: u32, value: u64 });
  for (let i = 0; i < 37; i++) h.set(i * 7, BigInt(i));
  for (const chunk of [1, 4, 37, 100]) {
    const got = h.batchRead({ chunk }).sort((x, y) => x[0] - y[0]);
    assert.equal(got, Array.from({ length: 37 }, (_, i) => [i * 7, BigInt(i)]), `chunk ${chunk}`);
  }
  using empty = createMap({ name: 'e', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
  assert.equal(empty.batchRead(), []);
});

maps('struct values and per-CPU values', () => {
  const val = struct({ packets: u64, bytes: u64, last: u32 });
  using m = createMap({ name: 'st', type: 'hash', keySize: 4, valueSize: val.size, maxEntries: 4 }, { key: u32, value: val });
  m.set(1, { packets: 3n, bytes: 300n, last: 9 });
  assert.equal(m.get(1), { packets: 3n, bytes: 300n, last: 9 });
  using pc = createMap<number, bigint>({ name: 'pc', type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2 }, { key: u32, value: u64 });
  pc.setPerCpu(1, 5n);
  const vals = pc.getPerCpu(1)!;
  assert.ok(vals.length >= 1);
  assert.ok(vals.every((v) => v === 5n));
  assert.throws(() => pc.get(1), /per-CPU.*getPerCpu/);
});

maps('map info, ids, open by id, and the walk over every map', () => {
  const name = uniqueName('inf');
  using m = createMap({ name, type: 'hash', keySize: 8, valueSize: 16, maxEntries: 7, flags: 1 /* BPF_F_NO_PREALLOC */ });
  const info = m.info();
  assert.equal({ type: info.type, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.flags, name: info.name },
    { type: 'hash', keySize: 8, valueSize: 16, maxEntries: 7, flags: 1, name });
  assert.ok(mapIds().includes(info.id));
  assert.ok(listMaps().some((x) => x.id === info.id && x.name === name));
  using again = openMapById(info.id);
  assert.is(again.name, name);
  assert.is(again.spec.maxEntries, 7);
  const gone = (() => { try { openMapById(0x7ffffff0); } catch (e) { return e as BpfError; } })();
  assert.is(gone?.code, 'ENOENT');
  assert.match(gone!.message, /no object has that id/);
});

maps('BPF_F_RDONLY_PROG maps are created with the flag kept', () => {
  using m = createMap({ name: 'ro', type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, flags: BPF_F_RDONLY_PROG });
  assert.is(m.info().flags & BPF_F_RDONLY_PROG, BPF_F_RDONLY_PROG);
  m.set(0, 5);
  assert.is(m.get(0), 5);
});

maps.run();

// ---- programs --------------------------------------------------------------------------------

const progs = kernelSuite('syscall: programs');

progs('a DSL SCHED_CLS program counts UDP to port 5001 under BPF_PROG_TEST_RUN', () => {
  using o = loadCounter();
  const hit = o.prog.testRun({ data: FRAMES.match });
  assert.is(hit.retval, TC_ACT_SHOT);
  assert.is(hit.data.length, 64);
  assert.is(o.cnt.get(0), 1n);
  assert.is(o.last.get(0), BigInt(htons(40000)), 'the UDP source port of FRAMES.match, as loaded (network order)');
  for (const miss of ['otherPort', 'tcp', 'arp'] as const) {
    assert.is(o.prog.testRun({ data: FRAMES[miss] }).retval, TC_ACT_OK, miss);
  }
  assert.is(o.cnt.get(0), 1n, 'non-matching frames leave the counter alone');
  const rep = o.prog.testRun({ data: FRAMES.match, repeat: 100 });
  assert.is(o.cnt.get(0), 101n);
  assert.ok(rep.duration > 0 && rep.duration < 1e6, `duration ${rep.duration} ns`);
});

progs('an mmap view sees what the program wrote, with no syscall', () => {
  using o = loadCounter();
  using view = o.last.mmap();
  assert.is(view.get(0), 0n);
  o.prog.testRun({ data: FRAMES.match });
  assert.is(view.get(0), BigInt(htons(40000)));
  view.set(0, 7n);
  assert.is(o.last.get(0), 7n, 'and the kernel sees what we wrote');
});

progs('a rejected program raises VerifierError with the kernel message, the instruction and the DSL line', () => {
  let err: unknown;
  try { loadProgram(broken); } catch (e) { err = e; }
  assert.instance(err, VerifierError);
  const v = err as VerifierError;
  assert.is(v.summary, 'R2 !read_ok');
  assert.is(v.index, 1);
  assert.match(v.source ?? '', /syscall\.test\.ts:\d+/);
  assert.match(v.message, /R2 !read_ok/);
  assert.match(v.log, /processed \d+ insns/);
  assert.is(v.code, 'EACCES');
});

progs('verifier logs at level 1, level 2 and stats; ENOSPC grows the buffer to log_true_size', () => {
  using o1 = loadCounter({ logLevel: 1 });
  using o2 = loadCounter({ logLevel: 2 });
  using os = loadCounter({ logStats: true });
  assert.match(o1.prog.verifierLog, /processed \d+ insns/);
  assert.ok(o2.prog.verifierLog.length > o1.prog.verifierLog.length, 'level 2 logs every instruction');
  assert.match(os.prog.verifierLog, /verification time \d+ usec/);
  // A 128-byte first buffer overflows; the kernel (6.4+) says exactly how big it must be.
  using cnt = createMap(cntSpec), last = createMap(lastSpec);
  const insns = encode(counter.insns.map((i) => (i.map ? { ...i, imm: i.map.name === 'cnt' ? cnt.fd : last.fd } : i)));
  const r = raw.progLoad(defaultSys, { type: progTypeId('sched_cls'), insns, license: 'GPL', name: 'grow', logLevel: 2, logSize: 128 });
  try {
    assert.is(r.logSizes[0], 128);
    assert.is(r.logSizes.length, 2);
    assert.is(r.logSizes[1], r.log.length + 1, 'log_true_size is the log plus its NUL');
  } finally {
    defaultSys.close(r.fd);
  }
});

progs('program info: id, tag, name, type, xlated and jited code, map ids; open by id', () => {
  using o = loadCounter();
  const info = o.prog.info({ xlated: true, jited: true });
  assert.is(info.name, 'udp5001');
  assert.is(info.type, 'sched_cls');
  assert.match(info.tag, /^[0-9a-f]{16}$/);
  assert.ok(info.xlatedLen > 0 && info.xlated!.length === info.xlatedLen);
  assert.ok(info.jitedLen > 0 && info.jited!.length === info.jitedLen);
  assert.equal([...info.mapIds].sort(), [o.cnt.id, o.last.id].sort());
  assert.ok(info.gplCompatible);
  const x = o.prog.xlated();
  assert.ok(x.length > 10);
  assert.match(o.prog.xlatedListing(), /exit/);
  assert.ok(progIds().includes(info.id));
  assert.ok(listPrograms().some((p) => p.id === info.id && p.tag === info.tag));
  using again = openProgramById(info.id);
  assert.is(again.name, 'udp5001');
  assert.is(again.testRun({ data: FRAMES.match }).retval, TC_ACT_SHOT);
});

progs('run time and count are counted while stats are enabled, and only then', () => {
  using o = loadCounter();
  o.prog.testRun({ data: FRAMES.otherPort, repeat: 100 });
  const globallyOn = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() !== '0';
  if (!globallyOn) assert.is(o.prog.info().runCnt, 0n, 'stats are off by default');
  {
    using _stats = enableStats();
    o.prog.testRun({ data: FRAMES.otherPort, repeat: 1000 });
  }
  const info = o.prog.info();
  assert.ok(info.runCnt >= 1000n, `run_cnt ${info.runCnt}`);
  assert.ok(info.runTimeNs > 0n);
  o.prog.testRun({ data: FRAMES.otherPort, repeat: 10 });
  if (!globallyOn) assert.is(o.prog.info().runCnt, 1000n, 'closing the stats fd stops the accounting');
});

progs.run();

// ---- pins and bpffs --------------------------------------------------------------------------

const pins = kernelSuite('syscall: pins');

pins('bpffs is mounted at /sys/fs/bpf (mounting it as tc does if needed), with tc/globals', () => {
  assert.is(ensureBpffs(), '/sys/fs/bpf');
  assert.ok(findBpffs().includes('/sys/fs/bpf'));
  withPinDir((dir) => {
    const g = tcGlobals(dir);
    assert.is(g, path.join(dir, 'tc', 'globals'));
  });
});

pins('pin a map, open it read-only and write-only, and refuse a pin with another layout', () => {
  withPinDir((dir) => {
    const globals = tcGlobals(dir);
    const p = path.join(globals, 'cnt');
    {
      using m = createMap<number, bigint>(cntSpec, { key: u32, value: u64 });
      m.set(0, 99n);
      m.pin(p);
      const again = (() => { try { m.pin(p); } catch (e) { return e as BpfError; } })();
      assert.is(again?.code, 'EEXIST');
    }
    assert.is(pinnedKind(p), 'map');
    {
      using ro = openPinnedMap<number, bigint>(p, { expect: cntSpec, readonly: true, key: u32, value: u64 });
      assert.is(ro.get(0), 99n, 'the pin kept the map and its value');
      const denied = (() => { try { ro.set(0, 1n); } catch (e) { return e as BpfError; } })();
      assert.instance(denied, BpfError);
      assert.is(denied!.code, 'EPERM');
    }
    {
      using wo = openPinnedMap<number, bigint>(p, { expect: cntSpec, writeonly: true, key: u32, value: u64 });
      wo.set(0, 98n);
      const noRead = (() => { try { wo.get(0); } catch (e) { return e as BpfError; } })();
      assert.is(noRead?.code, 'EPERM', 'a BPF_F_WRONLY fd cannot look up');
      wo.set(0, 99n);
    }
    const bad = (() => { try { openPinnedMap(p, { expect: { ...cntSpec, valueSize: 16, maxEntries: 2 } }); } catch (e) { return e as Error; } })();
    assert.instance(bad, PinMismatchError);
    assert.match(bad!.message, /value size is 8, expected 16; max entries is 1, expected 2/);
    assert.match(bad!.message, new RegExp(`rm ${p}`));
    // createOrOpenPinned reuses a matching pin and refuses a stale one.
    using shared = createOrOpenPinned<number, bigint>(cntSpec, p, { key: u32, value: u64 });
    assert.is(shared.get(0), 99n);
    assert.throws(() => createOrOpenPinned({ ...cntSpec, valueSize: 4 }, p), (e: Error) => e instanceof PinMismatchError);
    const fresh = createOrOpenPinned(cntSpec, path.join(globals, 'fresh'));
    fresh.close();
    assert.is(pinnedKind(path.join(globals, 'fresh')), 'map');
  });
});

pins('pin a program and open it by path; opening a missing or wrong-kind pin says so', () => {
  withPinDir((dir) => {
    const globals = tcGlobals(dir);
    const pp = path.join(dir, 'prog');
    {
      using o = loadCounter();
      o.prog.pin(pp);
      o.cnt.pin(path.join(globals, 'cnt'));
    }
    using p = openPinnedProgram(pp);
    assert.is(p.name, 'udp5001');
    assert.is(p.testRun({ data: FRAMES.match }).retval, TC_ACT_SHOT);
    using cnt = openPinnedMap(path.join(globals, 'cnt'), { expect: cntSpec });
    assert.is(cnt.get(0), 1n);
    const missing = (() => { try { openPinnedProgram(path.join(dir, 'nope')); } catch (e) { return e as BpfError; } })();
    assert.is(missing?.code, 'ENOENT');
    assert.match(missing!.message, /nothing is pinned at/);
    assert.throws(() => openPinnedMap(pp), /pinned at .* is a program, not a map/);
  });
});

pins('raw commands line up with the typed objects (OBJ_GET fd, GET_FD_BY_ID)', () => {
  using m = createMap(cntSpec);
  const fd = raw.getFdById(defaultSys, Cmd.MAP_GET_FD_BY_ID, m.id);
  using viaId = new BpfMap(fd, cntSpec);
  assert.is(viaId.id, m.id);
});

pins.run();
