/**
 * src/syscall without a kernel: a fake Sys plays the kernel, so attr bytes, log growth, batch
 * end handling, error mapping and the pin mismatch message are checked byte for byte, as any
 * user can run them (no root).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { program, r0, r1 } from '../../src/asm/index.ts';
import {
  GET_ID, MAP_BATCH, MAP_ELEM, MAP_INFO, OBJ, PROG_INFO, PROG_LOAD, TEST_RUN, INFO, alloc, dv, readU32, readU64, write,
} from '../../src/syscall/attr.ts';
import * as raw from '../../src/syscall/bpf.ts';
import {
  BPF_F_MMAPABLE, BPF_F_RDONLY, BPF_NOEXIST, BpfError, BpfMap, Cmd, LOG_INITIAL_SIZE, LOG_MAX_SIZE, PinMismatchError,
  VerifierError, createMap, ensureBpffs, findBpffs, loadProgram, mapInfo, nextLogSize, openPinnedMap, parseMounts,
  parseVerifierLog, progInfo, resolveMaps, struct, u32, u64, u8,
} from '../../src/syscall/index.ts';
import { parseCpuList } from '../../src/syscall/cpus.ts';
import { FakeSys } from '../support/fake-sys.ts';

const ENOENT = 2, EPERM = 1, EACCES = 13, ENOSPC = 28, EEXIST = 17;

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
/** Golden bytes written as "u32 u32 … | u64" groups: hex with spaces ignored. */
const golden = (s: string): string => s.replace(/\s+/g, '');

// ---- attr layouts, byte for byte --------------------------------------------------------------

test('MAP_CREATE attr: type, sizes, flags and the NUL-terminated name', () => {
  const k = new FakeSys(() => 7);
  const fd = raw.mapCreate(k, { type: 2, keySize: 4, valueSize: 8, maxEntries: 1, flags: BPF_F_MMAPABLE, name: 'cnt' });
  assert.is(fd, 7);
  assert.is(k.calls[0]!.cmd, Cmd.MAP_CREATE);
  assert.is(k.calls[0]!.attr.length, 72);
  assert.is(hex(k.calls[0]!.attr), golden(`
    02000000 04000000 08000000 01000000  00040000 00000000 00000000 636e7400
    00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000
    0000000000000000`));
});

test('MAP_ELEM attrs: lookup/update/delete/next_key point at key and value, flags at 24', () => {
  const k = new FakeSys(() => 0);
  const key = new Uint8Array(new ArrayBuffer(4)), val = new Uint8Array(new ArrayBuffer(8));
  raw.mapUpdateElem(k, 5, key, val, BPF_NOEXIST);
  const a = k.calls[0]!.attr;
  assert.is(a.length, 32);
  assert.is(hex(a), golden('05000000 00000000  0000010000000000  0000020000000000  0100000000000000'));
  raw.mapDeleteElem(k, 5, key);
  assert.is(hex(k.calls[1]!.attr), golden('05000000 00000000  0000010000000000  0000000000000000  0000000000000000'));
  raw.mapGetNextKey(k, 5, null, key);
  assert.is(hex(k.calls[2]!.attr), golden('05000000 00000000  0000000000000000  0000010000000000  0000000000000000'));
});

test('BpfMap.get reuses one attr: key encoded in place, value decoded from the same buffer', () => {
  const k = new FakeSys((cmd, attr, kk) => {
    if (cmd === Cmd.MAP_CREATE) return 9;
    const view = dv(attr);
    const key = dv(kk.mem(view.getBigUint64(8, true))).getUint32(0, true);
    if (key === 3) { dv(kk.mem(view.getBigUint64(16, true))).setBigUint64(0, 42n, true); return 0; }
    return -ENOENT;
  });
  const m = createMap({ name: 'h', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }, { key: u32, value: u64, sys: k });
  assert.is(m.get(3), 42n);
  assert.is(m.get(4), undefined);
  assert.is(k.calls[1]!.attr.length, MAP_ELEM.size);
  // Same key/value addresses on both calls: nothing was allocated per call.
  assert.is(hex(k.calls[1]!.attr.subarray(8, 24)), hex(k.calls[2]!.attr.subarray(8, 24)));
  m.close();
  assert.equal(k.closed, [9]);
});

test('MAP_BATCH attr: in/out batch tokens, keys, values, count, map_fd', () => {
  const k = new FakeSys(() => 0);
  const tok = new Uint8Array(new ArrayBuffer(8)), keys = new Uint8Array(new ArrayBuffer(16)), vals = new Uint8Array(new ArrayBuffer(32));
  raw.mapLookupBatch(k, 4, { inBatch: null, outBatch: tok, keys, values: vals, count: 4 });
  assert.is(k.calls[0]!.attr.length, 56);
  assert.is(hex(k.calls[0]!.attr), golden(`
    0000000000000000 0000010000000000 0000020000000000 0000030000000000
    04000000 04000000 0000000000000000 0000000000000000`));
});

test('PROG_LOAD attr: type, insns, license, log, name, attach type, kern_version; log_true_size at 140', () => {
  const k = new FakeSys(() => 3);
  const insns = new Uint8Array(new ArrayBuffer(16));
  raw.progLoad(k, { type: 3, insns, license: 'GPL', name: 'mes_start', expectedAttachType: 46, kernVersion: 0x61200, logLevel: 1, logSize: 4096 });
  const a = k.calls[0]!.attr;
  assert.is(a.length, 144);
  assert.is(readU32(PROG_LOAD, a, 'prog_type'), 3);
  assert.is(readU32(PROG_LOAD, a, 'insn_cnt'), 2);
  assert.is(readU64(PROG_LOAD, a, 'insns'), 0x10000n);
  assert.is(new TextDecoder().decode(k.mem(readU64(PROG_LOAD, a, 'license'))), 'GPL\0');
  assert.is(readU32(PROG_LOAD, a, 'log_level'), 1);
  assert.is(readU32(PROG_LOAD, a, 'log_size'), 4096);
  assert.is(readU64(PROG_LOAD, a, 'log_buf'), 0x30000n);
  assert.is(readU32(PROG_LOAD, a, 'kern_version'), 0x61200);
  assert.is(hex(a.subarray(48, 64)), hex(new TextEncoder().encode('mes_start\0\0\0\0\0\0\0')));
  assert.is(readU32(PROG_LOAD, a, 'expected_attach_type'), 46);
  assert.is(dv(a).getUint32(140, true), 0);
});

test('OBJ attr: pathname pointer to a C string, fd, file_flags', () => {
  const k = new FakeSys(() => 11);
  raw.objGet(k, '/sys/fs/bpf/x', BPF_F_RDONLY);
  const a = k.calls[0]!.attr;
  assert.is(hex(a), golden('0000010000000000 00000000 08000000'));
  assert.is(new TextDecoder().decode(k.mem(0x10000n)), '/sys/fs/bpf/x\0');
  raw.objPin(k, 5, '/sys/fs/bpf/y');
  assert.is(hex(k.calls[1]!.attr), golden('0000020000000000 05000000 00000000'));
});

test('TEST_RUN attr and result: data in/out, ctx, repeat; retval and duration read back', () => {
  const k = new FakeSys((_c, attr) => {
    write(TEST_RUN, attr, { retval: 2, duration: 123, data_size_out: 64 });
    return 0;
  });
  const data = new Uint8Array(new ArrayBuffer(64)), out = new Uint8Array(new ArrayBuffer(128));
  const r = raw.progTestRun(k, 6, { data, dataOut: out, repeat: 512 });
  assert.equal(r, { retval: 2, duration: 123, dataSizeOut: 64, ctxSizeOut: 0 });
  assert.is(hex(k.calls[0]!.attr), golden(`
    06000000 00000000 40000000 80000000 0000010000000000 0000020000000000
    00020000 00000000 00000000 00000000 0000000000000000 0000000000000000
    00000000 00000000 00000000 00000000`));
});

test('TEST_RUN ENOSPC is not retried (side effects) and says how big data_out must be', () => {
  const k = new FakeSys((_c, attr) => { write(TEST_RUN, attr, { data_size_out: 9000 }); return -ENOSPC; });
  const e = catchErr(() => raw.progTestRun(k, 6, { data: new Uint8Array(10), dataOut: new Uint8Array(100) }));
  assert.instance(e, BpfError);
  assert.match(e.message, /dataOutSize >= 9000/);
  assert.is(k.calls.length, 1);
});

test('GET_ID / INFO attrs', () => {
  const k = new FakeSys((cmd, attr) => { if (cmd === Cmd.PROG_GET_NEXT_ID) write(GET_ID, attr, { next_id: 17 }); return 0; });
  assert.is(raw.getNextId(k, Cmd.PROG_GET_NEXT_ID, 16), 17);
  assert.is(hex(k.calls[0]!.attr), golden('10000000 00000000 00000000 00000000'));
  raw.getFdById(k, Cmd.MAP_GET_FD_BY_ID, 29, BPF_F_RDONLY);
  assert.is(hex(k.calls[1]!.attr), golden('1d000000 00000000 08000000 00000000'));
  const info = alloc(MAP_INFO);
  raw.objGetInfoByFd(k, 8, info);
  assert.is(hex(k.calls[2]!.attr), golden('08000000 58000000 0000010000000000'));
  assert.is(INFO.size, 16);
  assert.is(OBJ.size, 16);
});

test('program info: two calls, the second with buffers sized from the first', () => {
  const xl = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const k = new FakeSys((_c, attr, kk) => {
    const info = kk.mem(readU64(INFO, attr, 'info'));
    const wantX = readU32(PROG_INFO, info, 'xlated_prog_len') && readU64(PROG_INFO, info, 'xlated_prog_insns');
    write(PROG_INFO, info, { type: 3, id: 44, tag: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 0xff]), name: 'p', xlated_prog_len: 16, nr_map_ids: 1, gpl_compatible: 1 });
    if (wantX) {
      kk.mem(readU64(PROG_INFO, info, 'xlated_prog_insns')).set(xl);
      dv(kk.mem(readU64(PROG_INFO, info, 'map_ids'))).setUint32(0, 29, true);
    }
    return 0;
  });
  const i = progInfo(3, { xlated: true, sys: k });
  assert.is(k.calls.length, 2);
  assert.is(i.type, 'sched_cls');
  assert.is(i.tag, '01020304050607ff');
  assert.equal(i.mapIds, [29]);
  assert.is(i.gplCompatible, true);
  assert.is(hex(i.xlated!), hex(xl));
});

// ---- the verifier log ------------------------------------------------------------------------

test('log growth: ENOSPC grows to log_true_size when the kernel reports it', () => {
  const k = new FakeSys((_c, attr) => {
    if (readU32(PROG_LOAD, attr, 'log_size') < 200_000) { write(PROG_LOAD, attr, { log_true_size: 200_000 }); return -ENOSPC; }
    return 5;
  });
  const r = raw.progLoad(k, { type: 3, insns: new Uint8Array(8), license: 'GPL', logLevel: 2 });
  assert.is(r.fd, 5);
  assert.equal(r.logSizes, [LOG_INITIAL_SIZE, 200_000]);
});

test('log growth: without log_true_size (before 6.4) the buffer quadruples, and stops at the kernel maximum', () => {
  const k = new FakeSys(() => -ENOSPC);
  const e = catchErr(() => raw.progLoad(k, { type: 3, insns: new Uint8Array(8), license: 'GPL', logLevel: 1 }));
  assert.instance(e, BpfError);
  assert.is((e as BpfError).code, 'ENOSPC');
  const sizes = k.calls.map((c) => readU32(PROG_LOAD, c.attr, 'log_size'));
  assert.is(sizes[0], LOG_INITIAL_SIZE);
  assert.is(sizes[1], LOG_INITIAL_SIZE * 4);
  assert.is(sizes.at(-1), LOG_MAX_SIZE);
  assert.ok(sizes.every((s) => s <= LOG_MAX_SIZE));
  assert.is(nextLogSize(LOG_MAX_SIZE), null);
  assert.is(nextLogSize(100), 400);
  assert.is(nextLogSize(1000, 5000), 5000);
});

const REJECTED_LOG = `func#0 @0
0: R1=ctx() R10=fp0
0: (b7) r0 = 0                        ; R0_w=0
1: (61) r0 = *(u32 *)(r2 +0)
R2 !read_ok
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
`;

/** A kernel that rejects every load, writing REJECTED_LOG when given a log buffer. */
const rejecting = (): FakeSys => new FakeSys((_c, attr, kk) => {
  const size = readU32(PROG_LOAD, attr, 'log_size');
  if (size) {
    const text = new TextEncoder().encode(REJECTED_LOG);
    kk.mem(readU64(PROG_LOAD, attr, 'log_buf')).set(text.subarray(0, size - 1));
    write(PROG_LOAD, attr, { log_true_size: text.length + 1 });
  }
  return -EACCES;
});

test('a failed load without a log is retried at level 1 and becomes a VerifierError', () => {
  const k = rejecting();
  const spec = program({ name: 'bad', type: 'sched_cls' }, (b) => { b.mov(r0, 0); b.ldx('u32', r0, 'r2', 0); b.exit(); });
  const e = catchErr(() => loadProgram(spec, { sys: k }));
  assert.instance(e, VerifierError);
  const v = e as VerifierError;
  assert.equal(k.calls.map((c) => readU32(PROG_LOAD, c.attr, 'log_level')), [0, 1]);
  assert.is(v.summary, 'R2 !read_ok');
  assert.is(v.index, 1);
  assert.is(v.log, REJECTED_LOG);
  assert.is(v.code, 'EACCES');
  assert.match(v.source ?? '', /syscall\.test\.ts:\d+/);
  assert.match(v.message, /^verifier rejected program 'bad' at instruction 1 \(.*syscall\.test\.ts:\d+\): R2 !read_ok/);
});

test('a rejected load whose log overflowed is retried to get the whole log', () => {
  const k = rejecting();
  const e = catchErr(() => raw.progLoad(k, { type: 3, insns: new Uint8Array(8), license: 'GPL', logLevel: 1, logSize: 128 }));
  assert.instance(e, VerifierError);
  assert.equal(k.calls.map((c) => readU32(PROG_LOAD, c.attr, 'log_size')), [128, REJECTED_LOG.length + 1]);
  assert.is((e as VerifierError).log, REJECTED_LOG);
});

test('parseVerifierLog: summary skips the trailer; index from the last instruction line or the message', () => {
  assert.equal(parseVerifierLog(REJECTED_LOG), { summary: 'R2 !read_ok', index: 1 });
  assert.equal(parseVerifierLog('unreachable insn 5\nprocessed 0 insns (limit 1000000)\n'), { summary: 'unreachable insn 5', index: 5 });
  assert.equal(parseVerifierLog('').summary, 'the verifier gave no message');
});

// ---- batch lookups ---------------------------------------------------------------------------

/** A fake hash map of u32 -> u64 answering MAP_LOOKUP_BATCH the kernel's way. */
function batchKernel(entries: number, opts: { bucket?: number } = {}): FakeSys {
  return new FakeSys((cmd, attr, kk) => {
    if (cmd === Cmd.MAP_CREATE) return 3;
    if (cmd !== Cmd.MAP_LOOKUP_BATCH) return -22;
    const inAddr = readU64(MAP_BATCH, attr, 'in_batch');
    const start = inAddr ? dv(kk.mem(inAddr)).getUint32(0, true) : 0;
    const count = readU32(MAP_BATCH, attr, 'count');
    if (opts.bucket && count < opts.bucket) return -ENOSPC;
    const n = Math.min(count, entries - start);
    const keys = dv(kk.mem(readU64(MAP_BATCH, attr, 'keys'))), vals = dv(kk.mem(readU64(MAP_BATCH, attr, 'values')));
    for (let i = 0; i < n; i++) { keys.setUint32(i * 4, start + i, true); vals.setBigUint64(i * 8, BigInt((start + i) * 10), true); }
    write(MAP_BATCH, attr, { count: n });
    dv(kk.mem(readU64(MAP_BATCH, attr, 'out_batch'))).setUint32(0, start + n, true);
    // The end: ENOENT, with this call's entries still copied.
    return start + n >= entries ? -ENOENT : 0;
  });
}

test('batch: ENOENT at the end still carries the last partial chunk', () => {
  const k = batchKernel(5);
  const m = createMap({ name: 'h', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 }, { key: u32, value: u64, sys: k });
  const got = m.batchRead({ chunk: 2 });
  assert.equal(got, [[0, 0n], [1, 10n], [2, 20n], [3, 30n], [4, 40n]]);
  const counts = k.calls.filter((c) => c.cmd === Cmd.MAP_LOOKUP_BATCH).map((c) => readU64(MAP_BATCH, c.attr, 'in_batch') === 0n);
  assert.equal(counts, [true, false, false]);
});

test('batch: ENOENT with count 0 (the end falls on a chunk boundary) and an empty map', () => {
  assert.equal(createMap({ name: 'h', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 }, { key: u32, value: u64, sys: batchKernel(4) }).batchRead({ chunk: 2 }).length, 4);
  assert.equal(createMap({ name: 'h', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 }, { key: u32, value: u64, sys: batchKernel(0) }).batchRead({ chunk: 2 }), []);
});

test('batch: ENOSPC (a bucket larger than the chunk) retries with a bigger chunk', () => {
  const k = batchKernel(6, { bucket: 4 });
  const got = createMap({ name: 'h', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 }, { key: u32, value: u64, sys: k }).batchRead({ chunk: 1 });
  assert.is(got.length, 6);
  const counts = k.calls.filter((c) => c.cmd === Cmd.MAP_LOOKUP_BATCH).map((c) => readU32(MAP_BATCH, c.attr, 'count'));
  assert.equal(counts.slice(0, 3), [1, 2, 4]);
});

// ---- errors and hints ------------------------------------------------------------------------

test('BpfError names the command, errno and a hint: EPERM needs root or CAP_BPF + CAP_NET_ADMIN', () => {
  const e = catchErr(() => raw.mapCreate(new FakeSys(() => -EPERM), { type: 2, keySize: 4, valueSize: 4, maxEntries: 1, name: 'm' }));
  assert.instance(e, BpfError);
  const b = e as BpfError;
  assert.is(b.command, 'BPF_MAP_CREATE');
  assert.is(b.errno, 1);
  assert.is(b.code, 'EPERM');
  assert.match(b.message, /^BPF_MAP_CREATE \(map 'm'\) failed: EPERM \(1\): .*CAP_BPF \+ CAP_NET_ADMIN/);
});

test('ENOENT on a pin: nothing is pinned at that path; EEXIST on pin: already pinned', () => {
  const e = catchErr(() => raw.objGet(new FakeSys(() => -ENOENT), '/sys/fs/bpf/tc/globals/cnt'));
  assert.is((e as BpfError).code, 'ENOENT');
  assert.match(e.message, /nothing is pinned at \/sys\/fs\/bpf\/tc\/globals\/cnt/);
  const p = catchErr(() => raw.objPin(new FakeSys(() => -EEXIST), 3, '/sys/fs/bpf/x'));
  assert.match(p.message, /already pinned at \/sys\/fs\/bpf\/x/);
});

test('E2BIG, EINVAL on MAP_CREATE and unknown errnos map to names', () => {
  assert.match(catchErr(() => raw.mapCreate(new FakeSys(() => -7), { type: 2, keySize: 4, valueSize: 4, maxEntries: 1 })).message, /E2BIG \(7\)/);
  assert.match(catchErr(() => raw.mapCreate(new FakeSys(() => -22), { type: 2, keySize: 4, valueSize: 4, maxEntries: 1 })).message, /EINVAL \(22\): .*array keys are 4 bytes/);
  assert.is((catchErr(() => raw.enableStats(new FakeSys(() => -524))) as BpfError).code, 'ENOTSUPP');
});

test('lookups of a missing key are undefined / false, not errors', () => {
  const k = new FakeSys(() => -ENOENT);
  assert.is(raw.mapLookupElem(k, 3, new Uint8Array(4), new Uint8Array(8)), false);
  assert.is(raw.mapDeleteElem(k, 3, new Uint8Array(4)), false);
  assert.is(raw.getNextId(k, Cmd.MAP_GET_NEXT_ID, 0), null);
});

// ---- pins ------------------------------------------------------------------------------------

/** OBJ_GET returns fd 12; INFO describes an array u32 -> 16-byte values, 4 entries. */
const pinnedKernel = (): FakeSys => new FakeSys((cmd, attr, kk) => {
  if (cmd === Cmd.OBJ_GET) return 12;
  if (cmd === Cmd.OBJ_GET_INFO_BY_FD) {
    write(MAP_INFO, kk.mem(readU64(INFO, attr, 'info')), { type: 2, id: 77, key_size: 4, value_size: 16, max_entries: 4, name: 'cnt' });
    return 0;
  }
  return -22;
});

test('opening a pin with another layout: PinMismatchError names each difference and what to do', () => {
  const k = pinnedKernel();
  const e = catchErr(() => openPinnedMap('/sys/fs/bpf/tc/globals/cnt', { expect: { type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 }, sys: k }));
  assert.instance(e, PinMismatchError);
  assert.is(e.message,
    "the map 'cnt' pinned at /sys/fs/bpf/tc/globals/cnt does not match its spec: value size is 16, expected 8; max entries is 4, expected 1. " +
    'It was probably left by an older build: remove the pin (rm /sys/fs/bpf/tc/globals/cnt) or choose another path, then create it again.');
  assert.equal((e as PinMismatchError).differences.map((d) => d.field), ['value size', 'max entries']);
  assert.equal(k.closed, [12], 'the fd of the rejected pin is closed');
});

test('opening a matching pin read-only passes BPF_F_RDONLY and keeps the fd', () => {
  const k = pinnedKernel();
  const m = openPinnedMap('/p', { expect: { type: 'array', keySize: 4, valueSize: 16, maxEntries: 4 }, readonly: true, sys: k });
  assert.is(readU32(OBJ, k.calls[0]!.attr, 'file_flags'), BPF_F_RDONLY);
  assert.is(m.fd, 12);
  assert.is(m.readonly, true);
  assert.is(m.spec.valueSize, 16);
  assert.equal(k.closed, []);
  assert.is(mapInfo(12, k).id, 77);
});

// ---- loading: map references ------------------------------------------------------------------

test('map references resolve to the ref when it is live, else from opts.maps by spec, name or Map', () => {
  const k = new FakeSys(() => 21);
  const spec = { name: 'cnt', type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 } as const;
  const live = new BpfMap(33, spec, { sys: k });
  const p = program({ name: 'p', type: 'sched_cls' }, (b) => { b.ldMap(r1, spec); b.ldMapValue(r1, spec, 0); b.mov(r0, 0); b.exit(); });
  for (const maps of [[live], { cnt: live }, new Map([[spec, live]])] as const) {
    const insns = resolveMaps(p, maps);
    assert.is(insns[0]!.imm, 33);
    assert.is(insns[1]!.imm, 33);
  }
  const direct = program({ name: 'p', type: 'sched_cls' }, (b) => { b.ldMap(r1, live); b.mov(r0, 0); b.exit(); });
  assert.is(resolveMaps(direct)[0]!.imm, 33);
  const e = catchErr(() => resolveMaps(p, {}));
  assert.match(e.message, /references map 'cnt' at instruction 0 \(.*\), but no live map was given for it: .*\{ maps: \{ cnt: map \} \}/);
});

// ---- codecs, bpffs, cpus ---------------------------------------------------------------------

test('struct codecs follow C alignment', () => {
  const s = struct({ a: u8, b: u64, c: u32 });
  assert.is(s.size, 24);
  assert.equal(s.offsets, { a: 0, b: 8, c: 16 });
  const buf = new Uint8Array(24);
  s.encode({ a: 1, b: 2n, c: 3 }, dv(buf), 0);
  assert.equal(s.decode(dv(buf), 0), { a: 1, b: 2n, c: 3 });
});

test('bpffs: found in the mount table; mounted at /sys/fs/bpf with mode=0700 when absent', () => {
  const mounts = 'sysfs /sys sysfs rw 0 0\nbpf /tmp/my\\040fs bpf rw 0 0\nbpf /sys/fs/bpf bpf rw,mode=700 0 0\n';
  assert.equal(findBpffs(mounts), ['/tmp/my fs', '/sys/fs/bpf']);
  assert.is(parseMounts(mounts)[0]!.fstype, 'sysfs');
  assert.is(ensureBpffs({ mountsText: mounts }), '/sys/fs/bpf');
  const calls: unknown[][] = [];
  const got = ensureBpffs({ mountsText: 'sysfs /sys sysfs rw 0 0\n', mountFn: (...a) => { calls.push(a); return 0; } });
  assert.is(got, '/sys/fs/bpf');
  assert.equal(calls, [['bpf', '/sys/fs/bpf', 'bpf', 0, 'mode=0700']]);
  assert.throws(() => ensureBpffs({ mountsText: '', mount: false }), /not mounted at \/sys\/fs\/bpf/);
  assert.throws(() => ensureBpffs({ mountsText: '', mountFn: () => -EPERM }), /EPERM: mounting needs root/);
});

test('possible CPU lists', () => {
  assert.is(parseCpuList('0-3\n'), 4);
  assert.is(parseCpuList('0,2-3,7'), 4);
  assert.is(parseCpuList('0'), 1);
});

function catchErr(fn: () => unknown): Error {
  try { fn(); } catch (e) { return e as Error; }
  throw new Error('expected an error');
}

test.run();
