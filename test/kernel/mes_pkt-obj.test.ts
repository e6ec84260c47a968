/**
 * `mes_pkt attach --obj mes_pkt.o`: the tutorial's own clang-built object (test/fixtures/elf/
 * mes_pkt.c, built with clang when it is installed, else the committed clang 14 seed) run
 * through tsbpf's loader on a private testbed. Its maps are pinned at <bpffs>/tc/globals, as tc
 * pins them, on a private bpffs mount (the machine's /sys/fs/bpf/tc/globals is shared with every
 * tc user); `show`, `reset`, `dump` and bpftool read them; `detach` leaves no pin, link, filter
 * or qdisc behind, and no pin it did not create. Everything is torn down in `finally`.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelSuite, sh, uniqueName } from '../support/kernel.ts';
import { createMap, ensureBpffs, openPinnedMap, removePinDir, u32 } from '../../src/syscall/index.ts';
import { hasTcx, tcxQuery } from '../../src/attach/index.ts';
import { attach, detach, show, stateFile } from '../../programs/mes_pkt/control.ts';
import { maps } from '../../programs/mes_pkt/layout.ts';
import { testbedDown, testbedUp, type Testbed } from '../../programs/mes_pkt/testbed.ts';
import { send } from '../../programs/mes_pkt/send.ts';
import { buildFixture, clangMissing } from '../fixtures/elf/build.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const test = kernelSuite('mes_pkt attach --obj');

/** The tutorial-style object: a fresh clang build, or the committed seed without clang. */
const object = (): string => (clangMissing ? path.join(root, 'test', 'fixtures', 'elf', 'mes_pkt.seed.o') : buildFixture('mes_pkt'));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'programs', 'mes_pkt.ts'), ...args], { cwd: root, encoding: 'utf8' });
}
function ok(...args: string[]): string {
  const r = cli(...args);
  assert.is(r.status, 0, `mes_pkt ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Files under a bpffs mount but the kernel's own iterators (progs.debug, maps.debug). */
const pinsUnder = (mnt: string): string[] => sh('find', [mnt, '-mindepth', '1', '-not', '-type', 'd', '-not', '-name', '*.debug']).split('\n').filter(Boolean).sort();

/** A private testbed and a private bpffs; the pin dir is its tc/globals. */
function bed<R>(fn: (t: Testbed, globals: string, mnt: string) => R): R {
  const prefix = uniqueName('o').slice(0, 8);
  const mnt = mkdtempSync(path.join(tmpdir(), 'tsbpf-mesobj-'));
  const globals = path.join(ensureBpffs({ path: mnt }), 'tc', 'globals');
  let t: Testbed | undefined;
  try {
    t = testbedUp(prefix);
    return fn(t, globals, mnt);
  } finally {
    if (t) { try { detach([t.v1, t.v2], { pinDir: globals }); } catch { /* the test's own assertions report failures */ } }
    rmSync(stateFile(globals), { force: true });
    testbedDown(prefix);
    removePinDir(path.join(mnt, 'tc'));
    sh('umount', [mnt], { allowFail: true });
    rmSync(mnt, { recursive: true, force: true });
  }
}

const prefixOf = (t: Testbed): string => t.ns1.slice(0, -3);

for (const method of ['tcx', 'tc'] as const) {
  test(`${method}: the object on the testbed records N pairs into tc/globals pins that show and bpftool read; detach leaves nothing`, () => {
    if (method === 'tcx' && !hasTcx()) return;
    bed((t, globals, mnt) => {
      const obj = object();
      const r = JSON.parse(ok('attach', t.v1, t.v2, '--obj', obj, '--attach', method, '--pin-dir', globals, '--json'));
      assert.is(r.mode, 'tutorial');
      assert.is(r.object, obj);
      assert.equal(r.programs.map((p: { name: string; dev: string; hook: string }) => `${p.name} ${p.dev} ${p.hook}`), [`mes_start ${t.v1} ingress`, `mes_end ${t.v2} egress`]);
      assert.equal(r.maps.map((m: { path: string; created: boolean }) => [m.path, m.created]).sort(),
        ['map_mes_cnt', 'map_mes_end', 'map_mes_start'].map((n) => [path.join(globals, n), true]));
      assert.equal(r.qdiscsCreated.sort(), method === 'tc' ? [t.v1, t.v2].sort() : []);
      // the programs on the hooks are the object's: bpftool names them and their maps
      for (const p of r.programs as { id: number }[]) {
        const info = JSON.parse(sh('bpftool', ['--json', 'prog', 'show', 'id', String(p.id)])) as { type: string; map_ids: number[] };
        assert.is(info.type, 'sched_cls');
        assert.ok(info.map_ids.length >= 2);
      }

      const N = 20;
      send({ prefix: prefixOf(t), count: N, intervalUs: 200, port: 5001, size: 16 });
      send({ prefix: prefixOf(t), count: 5, intervalUs: 0, port: 5002, size: 16 });
      send({ prefix: prefixOf(t), count: 5, intervalUs: 0, port: 9, size: 16 });

      const s = JSON.parse(ok('show', '--json', '--pin-dir', globals));
      assert.is(s.mode, 'tutorial');
      assert.equal([s.start_count, s.end_count, s.pairs], [N, N, N]);
      assert.ok(s.min_ns > 0 && s.max_ns < 1e9, `latencies ${s.min_ns}..${s.max_ns}`);
      assert.match(s.measured, /programs from .*mes_pkt.*'ingress'.*'egress'/);
      assert.match(s.attached, method === 'tcx' ? /tcx links/ : /cls_bpf/);
      // bpftool reads the same pins: both counters at N
      const cnt = JSON.parse(sh('bpftool', ['--json', 'map', 'dump', 'pinned', path.join(globals, 'map_mes_cnt')])) as { key: string[]; value: string[] }[];
      const le = (xs: string[]) => xs.reduceRight((v, x) => v * 256 + parseInt(x, 16), 0);
      assert.equal(cnt.map((e) => [le(e.key), le(e.value)]), [[0, N], [1, N]]);

      // dump lists the object's programs and what the kernel runs
      const d = ok('dump', '--pin-dir', globals);
      assert.match(d, /mes_start \(section 'ingress' of /);
      assert.match(d, /mes_end \(section 'egress' of /);
      assert.match(d, /mes_start as the kernel runs it \(prog id \d+, xlated\)/);
      assert.match(d, /mes_end as the kernel runs it/);

      assert.match(ok('reset', '--pin-dir', globals), /zeroed \(tutorial\)/);
      assert.is(show({ pinDir: globals }).start_count, 0);

      const out = JSON.parse(ok('detach', '--pin-dir', globals, '--json'));
      assert.is(out.filters.length, 2);
      const links = method === 'tcx' ? ['mes_pkt_end_link', 'mes_pkt_start_link'] : [];
      assert.equal(out.pins.sort(), ['map_mes_cnt', 'map_mes_end', 'map_mes_start', ...links].map((n) => path.join(globals, n)));
      assert.equal(pinsUnder(mnt), [], 'no pins left');
      assert.not.ok(existsSync(stateFile(globals)), 'no state left');
      for (const [dev, hook] of [[t.v1, 'ingress'], [t.v2, 'egress']] as const) {
        assert.is(sh('tc', ['filter', 'show', 'dev', dev, hook]).trim(), '', `no filter on ${dev} ${hook}`);
        if (hasTcx()) assert.equal(tcxQuery(dev, hook).progIds, [], `no tcx program on ${dev} ${hook}`);
        assert.not.match(sh('tc', ['qdisc', 'show', 'dev', dev]), /clsact/);
      }
      for (const p of r.programs as { id: number }[]) {
        assert.is(spawnSync('bpftool', ['prog', 'show', 'id', String(p.id)]).status, 255, `prog ${p.id} is gone`);
      }
    });
  });
}

test('a pin that was there before is shared, and detach leaves it; one of another layout is refused before anything is made', () => {
  bed((t, globals) => {
    const obj = object();
    // someone else's map_mes_cnt (tc's, say): same layout, so the object shares it
    mkdirSync(globals, { recursive: true });
    const theirs = createMap<number, number>(maps.cnt);
    try { theirs.pin(path.join(globals, 'map_mes_cnt')); } finally { theirs.close(); }
    const r = attach(t.v1, t.v2, { obj, pinDir: globals, attach: 'tc' });
    assert.equal(Object.fromEntries(r.maps.map((m) => [m.name, m.created])), { map_mes_start: true, map_mes_end: true, map_mes_cnt: false });
    send({ prefix: prefixOf(t), count: 3, intervalUs: 200, port: 5001, size: 16 });
    using cnt = openPinnedMap<number, number>(path.join(globals, 'map_mes_cnt'), { key: u32, value: u32 });
    assert.equal([cnt.get(0), cnt.get(1)], [3, 3]);
    const d = detach([], { pinDir: globals });
    assert.equal(d.pins.sort(), [path.join(globals, 'map_mes_end'), path.join(globals, 'map_mes_start')]);
    assert.equal(readdirSync(globals), ['map_mes_cnt'], 'the pin attach did not create stays');
    rmSync(path.join(globals, 'map_mes_cnt'));

    // a stale map_mes_start of another layout: one line naming detach, nothing created
    const stale = createMap({ name: 'map_mes_start', type: 'array', keySize: 4, valueSize: 4, maxEntries: 512 });
    stale.pin(path.join(globals, 'map_mes_start'));
    stale.close();
    const bad = cli('attach', t.v1, t.v2, '--obj', obj, '--pin-dir', globals);
    assert.is(bad.status, 1);
    assert.match(bad.stderr, /value size is 4, expected 8.*'npx tsx programs\/mes_pkt\.ts detach'/s);
    assert.equal(readdirSync(globals), ['map_mes_start']);
    assert.not.ok(existsSync(stateFile(globals)));
    assert.is(sh('tc', ['filter', 'show', 'dev', t.v1, 'ingress']).trim(), '');
  });
});

test('bad --obj input is one line and leaves nothing: options that do not apply, a missing section, a file that is not an object', () => {
  bed((t, globals, mnt) => {
    const obj = object();
    const usage = (args: string[], re: RegExp) => {
      const r = cli('attach', t.v1, t.v2, ...args, '--pin-dir', globals);
      assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    };
    usage(['--obj', obj, '--match', 'headers'], /--obj runs the object's own programs .*: --match does not apply/);
    usage(['--obj', obj, '--port', '5002', '--proto', 'tcp'], /--port, --proto do not apply/);
    usage(['--obj', obj, '--mode', 'v2'], /--mode v2 does not apply/);
    usage(['--sec-ingress', 'ingress'], /need --obj/);
    const fail = (args: string[], re: RegExp) => {
      const r = cli('attach', t.v1, t.v2, ...args, '--pin-dir', globals);
      assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    };
    fail(['--obj', obj, '--sec-ingress', 'tc'], /no program in section 'tc'; its program sections are 'ingress', 'egress': name one with --sec-ingress/);
    fail(['--obj', obj, '--sec-egress', 'ingress', '--sec-ingress', 'ingress'], /the ingress and egress programs are one/);
    fail(['--obj', path.join(root, 'package.json')], /ElfError|not an ELF|magic/i);
    fail(['--obj', path.join(path.dirname(obj), 'missing.o')], /missing\.o: cannot read it \(ENOENT\)/);
    assert.equal(pinsUnder(mnt), []);
    assert.not.ok(existsSync(stateFile(globals)));
    assert.is(sh('tc', ['filter', 'show', 'dev', t.v1, 'ingress']).trim(), '');
  });
});

test.run();
