/**
 * `tsbpf prog|map … --json` against `bpftool … --json` on the same objects: the fields both
 * print must agree, so scripts can switch between them. bpftool is the independent oracle
 * (apt-get install -y bpftool); without it these tests fail rather than skip.
 */
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TC_ACT_OK, TC_ACT_SHOT } from '../../src/asm/index.ts';
import { createMap, ensureBpffs, loadProgram, removePinDir, u32, u64, type MapSpec } from '../../src/syscall/index.ts';
import { kernelSuite, sh, uniqueName } from '../support/kernel.ts';
import { FRAMES, MATCH_SPEC } from '../support/frames.ts';
import { udpCounter } from '../support/attach-net.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function bpftool(...args: string[]): any {
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('bpftool is not installed: apt-get install -y bpftool');
  }
  return JSON.parse(sh('bpftool', ['--json', ...args]));
}

function tsbpf(...args: string[]): any {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), ...args, '--json'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out);
}

const pick = (o: Record<string, unknown>, keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));

const cntSpec: MapSpec = { name: 'cli_cnt', type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 };
const tupleSpec: MapSpec = { name: 'cli_tuple', type: 'hash', keySize: 6, valueSize: 3, maxEntries: 8 };

/** UDP to 5001 -> TC_ACT_SHOT and cnt[0] += 1; anything else -> TC_ACT_OK. */
const prog = udpCounter('cli_udp', 'sched_cls', cntSpec, TC_ACT_SHOT, 5001, TC_ACT_OK);

const s = kernelSuite('cli vs bpftool');

const PROG_FIELDS = ['id', 'type', 'name', 'tag', 'gpl_compatible', 'uid', 'bytes_xlated', 'jited', 'bytes_jited', 'map_ids'] as const;
const MAP_FIELDS = ['id', 'type', 'name', 'flags', 'bytes_key', 'bytes_value', 'max_entries'] as const;

s('prog show / list / dump / run agree with bpftool', () => {
  using cnt = createMap<number, bigint>(cntSpec, { key: u32, value: u64 });
  using p = loadProgram(prog, { maps: [cnt] });
  const dir = path.join(ensureBpffs(), uniqueName('tsbpfcli'));
  const tmp = mkdtempSync(path.join(tmpdir(), 'tsbpf-cli-'));
  try {
    sh('mkdir', ['-p', dir]);
    const pinned = path.join(dir, 'prog');
    p.pin(pinned);
    const id = p.id;

    const ours = tsbpf('prog', 'show', String(id));
    const theirs = bpftool('prog', 'show', 'id', String(id));
    assert.equal(pick(ours, PROG_FIELDS), pick(theirs, PROG_FIELDS));
    assert.is(ours.bytes_memlock, theirs.bytes_memlock);
    assert.ok(Math.abs(ours.loaded_at - theirs.loaded_at) <= 2, `loaded_at ${ours.loaded_at} vs ${theirs.loaded_at}`);
    assert.equal(pick(tsbpf('prog', 'show', 'pinned', pinned), PROG_FIELDS), pick(bpftool('prog', 'show', 'pinned', pinned), PROG_FIELDS));

    const ourList = (tsbpf('prog', 'list') as any[]).find((x) => x.id === id);
    const theirList = (bpftool('prog', 'list') as any[]).find((x) => x.id === id);
    assert.equal(pick(ourList, PROG_FIELDS), pick(theirList, PROG_FIELDS));

    // One entry per instruction (LD_IMM64 once) in both dumps of the translated program.
    const ourDump = tsbpf('prog', 'dump', String(id), '--xlated') as { disasm: string }[];
    const theirDump = bpftool('prog', 'dump', 'xlated', 'id', String(id)) as { disasm: string }[];
    assert.is(ourDump.length, theirDump.length);
    assert.ok(ourDump.some((l) => l.disasm.includes(`map[id:${cnt.id}]`)), 'map loads show the map id, as bpftool does');
    assert.ok(theirDump.some((l) => l.disasm.includes(`map[id:${cnt.id}]`)));

    // bpftool reads a file; ours takes the file or the frame's description
    const data = path.join(tmp, 'match.bin'), other = path.join(tmp, 'other.bin');
    writeFileSync(data, FRAMES.match);
    writeFileSync(other, FRAMES.otherPort);
    const ourRun = tsbpf('prog', 'run', pinned, '--data', data, '--repeat', '4');
    const theirRun = bpftool('prog', 'run', 'pinned', pinned, 'data_in', data, 'repeat', '4');
    assert.is(ourRun.retval, TC_ACT_SHOT);
    assert.is(ourRun.retval, theirRun.retval);
    assert.is(cnt.get(0), 8n, 'both runs counted 4 packets');
    const described = tsbpf('prog', 'run', pinned, '--data', MATCH_SPEC);
    assert.is(described.retval, TC_ACT_SHOT);
    assert.is(described.data_size_out, FRAMES.match.length, 'the description built the same 64-byte frame');
    assert.is(cnt.get(0), 9n);
    const miss = tsbpf('prog', 'run', String(id), '--data', other);
    assert.is(miss.retval, bpftool('prog', 'run', 'id', String(id), 'data_in', other).retval);
    assert.is(tsbpf('prog', 'run', String(id), '--data', 'udp:dport=5002').retval, miss.retval);
  } finally {
    removePinDir(dir);
    rmSync(tmp, { recursive: true, force: true });
  }
});

s('map show / list / dump / update agree with bpftool', () => {
  using cnt = createMap<number, bigint>(cntSpec, { key: u32, value: u64 });
  using tuple = createMap<Uint8Array, Uint8Array>(tupleSpec);
  cnt.set(1, 5n);
  cnt.set(3, 0x0102030405n);
  tuple.set(new Uint8Array([10, 0, 0, 1, 0x13, 0x89]), new Uint8Array([1, 2, 3]));
  const dir = path.join(ensureBpffs(), uniqueName('tsbpfcli'));
  try {
    sh('mkdir', ['-p', dir]);
    const pinned = path.join(dir, 'tuple');
    tuple.pin(pinned);
    for (const m of [cnt, tuple]) {
      const ours = tsbpf('map', 'show', String(m.id));
      const theirs = bpftool('map', 'show', 'id', String(m.id));
      assert.equal(pick(ours, MAP_FIELDS), pick(theirs, MAP_FIELDS));
      assert.is(ours.bytes_memlock, theirs.bytes_memlock);
      assert.is(ours.frozen, theirs.frozen);
      const ourList = (tsbpf('map', 'list') as any[]).find((x) => x.id === m.id);
      assert.equal(pick(ourList, MAP_FIELDS), pick(theirs, MAP_FIELDS));
    }
    assert.equal(pick(tsbpf('map', 'show', pinned), MAP_FIELDS), pick(bpftool('map', 'show', 'pinned', pinned), MAP_FIELDS));

    // Same key/value hex lists; ours adds "formatted" numbers for u32/u64 (bpftool does with BTF).
    const strip = (xs: any[]) => xs.map((x) => ({ key: x.key, value: x.value }));
    const ourDump = tsbpf('map', 'dump', String(cnt.id)) as any[];
    assert.equal(strip(ourDump), strip(bpftool('map', 'dump', 'id', String(cnt.id))));
    assert.equal(ourDump.map((x) => x.formatted), [{ key: 0, value: 0 }, { key: 1, value: 5 }, { key: 2, value: 0 }, { key: 3, value: 0x0102030405 }]);
    assert.equal(strip(tsbpf('map', 'dump', 'pinned', pinned)), strip(bpftool('map', 'dump', 'pinned', pinned)));

    execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), 'map', 'update', String(cnt.id), '--key', '2', '--value', '0x1234'], { cwd: root });
    execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), 'map', 'update', pinned, '--key', '0a 00 00 01 13 89', '--value', 'hex:ffeedd', '--flags', 'exist'], { cwd: root });
    assert.is(cnt.get(2), 0x1234n);
    const theirs = bpftool('map', 'dump', 'id', String(cnt.id)) as any[];
    assert.equal(theirs[2].value, ['0x34', '0x12', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00']);
    assert.equal(strip(bpftool('map', 'dump', 'pinned', pinned)), [{ key: ['0x0a', '0x00', '0x00', '0x01', '0x13', '0x89'], value: ['0xff', '0xee', '0xdd'] }]);
  } finally {
    removePinDir(dir);
  }
});

s.run();
