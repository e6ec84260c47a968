/**
 * Loading objects in the kernel, with libbpf as the referee:
 *   - the same clang-built object through `bpftool prog loadall` + `bpftool prog run` and
 *     through `tsbpf prog loadall` + `tsbpf prog run`: the same return values, and the same map
 *     contents afterwards (global data included);
 *   - an object tsbpf writes is loaded by bpftool and by Debian's tc, and runs;
 *   - the tutorial-style object (legacy bpf_elf_map maps, which libbpf 1.x refuses) loads,
 *     attaches in a namespace and records packets into pins at <bpffs>/tc/globals, which both
 *     tsbpf and bpftool read.
 * Each test uses its own pin directories (and a private bpffs for the tc/globals pins) and
 * removes them in `finally`.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readElf, toElf } from '../../src/elf/index.ts';
import { loadObject } from '../../src/attach/object.ts';
import { attachTc } from '../../src/attach/index.ts';
import { attrs, Cmd, createMap, defaultSys, ensureBpffs, openPinnedMap, progInfo, progTypeId, removePinDir, resolveMaps, u32, u64 } from '../../src/syscall/index.ts';
import { encode } from '../../src/asm/instruction.ts';
import { buildFixture, clangMissing } from '../fixtures/elf/build.ts';
import { collection } from '../fixtures/elf/dsl.ts';
import { kernelSuite, sh, uniqueName } from '../support/kernel.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const test = kernelSuite('elf-load');

function tsbpf(...args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), ...args], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsbpf ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** An object: a fresh clang build, or the committed clang 14 seed when clang is missing (CI installs clang). */
function object(name: string): string {
  if (!clangMissing) return buildFixture(name);
  return path.join(root, 'test', 'fixtures', 'elf', `${name}.seed.o`);
}

/** A 64-byte frame: Ethernet + IPv4 + UDP to port 5001. */
function frame(port = 5001): Uint8Array {
  const f = new Uint8Array(64);
  f.set([0x08, 0x00], 12); // ETH_P_IP
  f[14] = 0x45; f[23] = 17; // IPv4, UDP
  f[36] = port >> 8; f[37] = port & 0xff;
  return f;
}

/**
 * A veth pair a <-> b in ns, both up, a at <net>.1/24 with a static neighbour entry for <net>.2
 * at b's MAC: a datagram sent from a to <net>.2 leaves a's egress and arrives at b's ingress.
 */
function vethPair(ns: string, a: string, b: string, net: string): void {
  sh('ip', ['-n', ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  sh('ip', ['-n', ns, 'addr', 'add', `${net}.1/24`, 'dev', a]);
  sh('ip', ['-n', ns, 'link', 'set', a, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', b, 'up']);
  const mac = /link\/ether (\S+)/.exec(sh('ip', ['-n', ns, 'link', 'show', b]))![1]!;
  sh('ip', ['-n', ns, 'neigh', 'add', `${net}.2`, 'lladdr', mac, 'dev', a]);
}

const retval = (out: string) => Number(/Return value: (\d+)/.exec(out)?.[1] ?? NaN);
/** `bpftool map dump` as { key hex: value hex }. */
function dump(pin: string): Record<string, string> {
  const rows = JSON.parse(sh('bpftool', ['--json', 'map', 'dump', 'pinned', pin])) as { key: string[]; value: string[] }[];
  const hex = (xs: string[]) => xs.map((x) => x.replace(/^0x/, '')).join('');
  return Object.fromEntries(rows.map((r) => [hex(r.key), hex(r.value)]));
}

test('bpftool and tsbpf load the same clang object: same return values, same maps afterwards', () => {
  const obj = object('btf_maps');
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-elfk-'));
  const pkt = path.join(dir, 'pkt.bin');
  writeFileSync(pkt, frame());
  const bpffs = ensureBpffs();
  const A = path.join(bpffs, uniqueName('elfA')), B = path.join(bpffs, uniqueName('elfB'));
  try {
    sh('bpftool', ['prog', 'loadall', obj, A, 'pinmaps', `${A}/maps`]);
    tsbpf('prog', 'loadall', obj, B, '--pinmaps', `${B}/maps`);
    const runs = ['count_len', 'count_len', 'count_one', 'xdp_pass', 'count_one', 'sock_keep'];
    const viaBpftool = runs.map((p) => retval(sh('bpftool', ['prog', 'run', 'pinned', `${A}/${p}`, 'data_in', pkt, 'repeat', '1'])));
    const viaTsbpf = runs.map((p) => retval(tsbpf('prog', 'run', `${B}/${p}`, '--data', pkt)));
    assert.equal(viaTsbpf, viaBpftool);
    assert.equal(viaTsbpf, [192, 128, 1, 2, 2, 50]); // len 64 * scale 3, cumulative; slot counts; XDP_PASS; a socket sees the frame without its Ethernet header
    for (const m of ['counts', 'slots', 'btf_maps_data', 'btf_maps_bss', 'btf_maps_rodata']) {
      assert.equal(dump(`${B}/maps/${m}`), dump(`${A}/maps/${m}`), m);
    }
    // .data ran twice from 7; .bss holds the last length; .rodata is frozen with 3
    assert.equal(dump(`${B}/maps/btf_maps_data`), { '00000000': '0900000000000000' });
    assert.equal(dump(`${B}/maps/btf_maps_rodata`), { '00000000': '03000000' });
    const frozen = JSON.parse(sh('bpftool', ['--json', 'map', 'show', 'pinned', `${B}/maps/btf_maps_rodata`])) as { frozen?: number };
    assert.is(frozen.frozen, 1);
  } finally {
    removePinDir(A);
    removePinDir(B);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prog load takes one program by section and pins it; unknown section names need --type', () => {
  const bpffs = ensureBpffs();
  const D = path.join(bpffs, uniqueName('elfL'));
  try {
    const out = tsbpf('prog', 'load', object('map_def'), `${D}/p`, '--section', 'tcx/ingress', '--json');
    const r = JSON.parse(out) as { programs: { name: string; id: number }[] };
    assert.equal(r.programs.map((p) => p.name), ['tcx_in']);
    const shown = JSON.parse(sh('bpftool', ['--json', 'prog', 'show', 'pinned', `${D}/p`])) as { name: string; type: string };
    assert.equal([shown.name, shown.type], ['tcx_in', 'sched_cls']);
    // every section kind of map_def.o loads (kprobe and uprobe programs too: this kernel has uprobes)
    tsbpf('prog', 'loadall', object('map_def'), `${D}/all`);
    const types = ['on_sleep', 'on_getpid', 'on_tp', 'tcx_in', 'cls'].map((n) => (JSON.parse(sh('bpftool', ['--json', 'prog', 'show', 'pinned', `${D}/all/${n}`])) as { type: string }).type);
    assert.equal(types, ['kprobe', 'kprobe', 'tracepoint', 'sched_cls', 'sched_cls']);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), 'prog', 'loadall', object('mes_pkt'), `${D}/x`], { cwd: root, encoding: 'utf8' });
    assert.is(bad.status, 1);
    assert.match(bad.stderr, /section 'ingress'.*--type sched_cls/);
    assert.is(bad.stderr.trim().split('\n').length, 1);
  } finally {
    removePinDir(D);
  }
});

test('an object tsbpf writes: bpftool loads it and runs it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-elfw-'));
  const file = path.join(dir, 'dsl.o');
  writeFileSync(file, toElf(collection));
  writeFileSync(path.join(dir, 'pkt.bin'), frame());
  const D = path.join(ensureBpffs(), uniqueName('elfW'));
  try {
    sh('bpftool', ['prog', 'loadall', file, D, 'pinmaps', `${D}/maps`]);
    const run = (p: string) => retval(sh('bpftool', ['prog', 'run', 'pinned', `${D}/${p}`, 'data_in', path.join(dir, 'pkt.bin')]));
    assert.equal([run('count_a'), run('count_a'), run('count_b'), run('xdp_pass')], [1, 2, 1, 2]);
    assert.equal(dump(`${D}/maps/hits`), { '01000000': '0200000000000000', '02000000': '0100000000000000' });
  } finally {
    removePinDir(D);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an object tsbpf writes: Debian's tc loads it (filter add … bpf da obj F sec S), and it runs", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-elfw-'));
  const file = path.join(dir, 'dsl.o');
  writeFileSync(file, toElf(collection));
  writeFileSync(path.join(dir, 'pkt.bin'), frame());
  const ns = uniqueName('elfns'), a = uniqueName('ea'), b = uniqueName('eb');
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['-n', ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    sh('ip', ['-n', ns, 'link', 'set', a, 'up']);
    sh('tc', ['-n', ns, 'qdisc', 'add', 'dev', a, 'clsact']);
    sh('tc', ['-n', ns, 'filter', 'add', 'dev', a, 'ingress', 'bpf', 'da', 'obj', file, 'sec', 'tc']);
    const shown = sh('tc', ['-n', ns, 'filter', 'show', 'dev', a, 'ingress']);
    const id = /\bid (\d+)/.exec(shown)?.[1];
    assert.ok(id, shown);
    assert.match(shown, /dsl\.o:\[tc\]/);
    const r = retval(sh('bpftool', ['prog', 'run', 'id', id!, 'data_in', path.join(dir, 'pkt.bin')]));
    assert.is(r, 1);
  } finally {
    sh('ip', ['netns', 'del', ns], { allowFail: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the tutorial-style object: loads, attaches on a namespace testbed, records packets into tc/globals pins that bpftool reads', () => {
  const mnt = mkdtempSync(path.join(tmpdir(), 'tsbpf-bpffs-'));
  const ns = uniqueName('elfmp'), a = uniqueName('ma'), b = uniqueName('mb');
  sh('ip', ['netns', 'add', ns]);
  const handles: { detach(): void }[] = [];
  let obj: ReturnType<typeof loadObject> | undefined;
  try {
    const bpffs = ensureBpffs({ path: mnt });
    // bpftool and tc both refuse this object: libbpf 1.x has no legacy maps
    const refused = spawnSync('bpftool', ['prog', 'loadall', object('mes_pkt'), path.join(bpffs, 'x'), 'type', 'tc'], { encoding: 'utf8' });
    assert.match(refused.stderr, /legacy map definitions in 'maps' section are not supported/);

    vethPair(ns, a, b, '10.77.0');

    const coll = readElf(new Uint8Array(readFileSync(object('mes_pkt'))), { defaultType: 'sched_cls' });
    obj = loadObject(coll, { bpffs });
    assert.equal([...obj.objectPins.values()].sort(), ['map_mes_cnt', 'map_mes_end', 'map_mes_start'].map((m) => path.join(bpffs, 'tc', 'globals', m)));
    handles.push(attachTc(obj.program('mes_end'), a, 'egress', { netns: ns }));
    handles.push(attachTc(obj.program('mes_start'), b, 'ingress', { netns: ns }));
    const send = (port: number, n: number) => sh('ip', ['netns', 'exec', ns, process.execPath, '-e',
      `const s=require('dgram').createSocket('udp4');let k=0;const go=()=>{if(k++>=${n})return s.close();s.send(Buffer.alloc(16),${port},'10.77.0.2',go)};go()`]);
    send(5001, 5);
    send(5002, 3); // another port: not recorded

    using cnt = openPinnedMap<number, number>(path.join(bpffs, 'tc', 'globals', 'map_mes_cnt'), { key: u32, value: u32 });
    assert.equal([cnt.get(0), cnt.get(1)], [5, 5]);
    using start = openPinnedMap<number, bigint>(path.join(bpffs, 'tc', 'globals', 'map_mes_start'), { key: u32, value: u64 });
    using end = openPinnedMap<number, bigint>(path.join(bpffs, 'tc', 'globals', 'map_mes_end'), { key: u32, value: u64 });
    for (let i = 0; i < 5; i++) {
      const t0 = start.get(i)!, t1 = end.get(i)!;
      assert.ok(t0 > 0n && t1 > 0n && t1 <= t0, `packet ${i}: egress at ${t1} before ingress at ${t0}`);
    }
    assert.is(start.get(5), 0n);
    // bpftool reads the same pins
    assert.equal(dump(path.join(bpffs, 'tc', 'globals', 'map_mes_cnt'))['00000000'], '05000000');
  } finally {
    for (const h of handles) { try { h.detach(); } catch { /* the namespace goes next */ } }
    obj?.close();
    sh('ip', ['netns', 'del', ns], { allowFail: true });
    removePinDir(path.join(mnt, 'tc'));
    sh('umount', [mnt], { allowFail: true });
    rmSync(mnt, { recursive: true, force: true });
  }
});

test('a failed load leaves nothing behind: no maps pinned, no pins in tc/globals', () => {
  const mnt = mkdtempSync(path.join(tmpdir(), 'tsbpf-bpffs-'));
  try {
    const bpffs = ensureBpffs({ path: mnt });
    const coll = readElf(new Uint8Array(readFileSync(object('mes_pkt'))), { type: 'xdp' }); // skb offsets in an XDP program: rejected
    assert.throws(() => loadObject(coll, { bpffs, pinDir: path.join(bpffs, 'maps') }), /mes_start|invalid bpf_context access|permission denied/i);
    // (a fresh bpffs shows the kernel's progs.debug and maps.debug iterators)
    assert.equal(sh('find', [mnt, '-mindepth', '1', '-not', '-type', 'd', '-not', '-name', '*.debug']).trim(), '');
  } finally {
    removePinDir(path.join(mnt, 'tc'));
    sh('umount', [mnt], { allowFail: true });
    rmSync(mnt, { recursive: true, force: true });
  }
});

test('tsbpf tc attach --obj: two sections of one object share their maps through tc/globals pins, as with tc', () => {
  const legacy = readElf(new Uint8Array(readFileSync(object('mes_pkt'))), { defaultType: 'sched_cls' });
  // unique map names: /sys/fs/bpf/tc/globals is shared with every other tc user on the machine
  const names = new Map(legacy.maps.map((m) => [m.name, uniqueName('emp')]));
  const maps = legacy.maps.map((m) => ({ ...m, name: names.get(m.name)!, symbol: names.get(m.name)! }));
  const programs = legacy.programs.map((p) => ({ ...p, insns: p.insns.map((i) => (i.map ? { ...i, map: maps.find((m) => m.name === names.get(i.map!.name))! } : i)) }));
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-elfw-'));
  const file = path.join(dir, 'mes.o');
  writeFileSync(file, toElf({ maps, programs }, { license: 'GPL' }));
  const ns = uniqueName('elfta'), a = uniqueName('ta'), b = uniqueName('tb');
  const globals = path.join(ensureBpffs(), 'tc', 'globals');
  sh('ip', ['netns', 'add', ns]);
  try {
    vethPair(ns, a, b, '10.78.0');
    tsbpf('tc', 'attach', b, 'ingress', '--obj', file, '--sec', 'ingress', '--netns', ns, '--mode', 'cls_bpf');
    tsbpf('tc', 'attach', a, 'egress', '--obj', file, '--sec', 'egress', '--netns', ns, '--mode', 'cls_bpf');
    sh('ip', ['netns', 'exec', ns, process.execPath, '-e',
      "const s=require('dgram').createSocket('udp4');let k=0;const go=()=>{if(k++>=4)return s.close();s.send(Buffer.alloc(8),5001,'10.78.0.2',go)};go()"]);
    const cnt = dump(path.join(globals, names.get('map_mes_cnt')!));
    assert.equal([cnt['00000000'], cnt['01000000']], ['04000000', '04000000']);
  } finally {
    sh('ip', ['netns', 'del', ns], { allowFail: true });
    for (const n of names.values()) rmSync(path.join(globals, n), { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The object's own BTF, as the reader hands it over (collection.btf, program.objectBtf), is what
 * the kernel takes: BPF_BTF_LOAD accepts the fixed-up .BTF, BPF_PROG_LOAD the func_info and
 * line_info, and the verifier log and `bpftool prog dump xlated linum` quote the C lines. The
 * loader does not pass them yet (loadProgram takes no object BTF), so this test makes the two
 * calls itself.
 */
test('the passed-through BTF: the kernel takes it and quotes the C source lines', () => {
  const coll = readElf(new Uint8Array(readFileSync(object('btf_maps'))));
  const spec = coll.programs.find((p) => p.name === 'count_len')!;
  const ob = spec.objectBtf!;
  assert.ok(ob && ob.funcInfoCount === 2 && ob.lineInfoCount > 5);
  const sys = defaultSys;
  const log = new Uint8Array(new ArrayBuffer(1 << 16));
  const btfAttr = new Uint8Array(new ArrayBuffer(32));
  const bv = new DataView(btfAttr.buffer);
  const btfBytes = ob.btf.slice();
  bv.setBigUint64(0, sys.addressOf(btfBytes), true);
  bv.setBigUint64(8, sys.addressOf(log), true);
  bv.setUint32(16, btfBytes.length, true);
  bv.setUint32(20, log.length, true);
  bv.setUint32(24, 1, true);
  const btfFd = sys.bpf(Cmd.BTF_LOAD, btfAttr);
  assert.ok(btfFd >= 0, `BTF_LOAD: ${-btfFd}: ${new TextDecoder().decode(log).replace(/\0+$/, '')}`);
  const maps = coll.maps.map((m) => createMap(m));
  let progFd = -1;
  try {
    const insns = encode(resolveMaps(spec, maps));
    const license = new TextEncoder().encode('GPL\0');
    const funcInfo = ob.funcInfo.slice(), lineInfo = ob.lineInfo.slice();
    const a = attrs.attr(attrs.PROG_LOAD, {
      prog_type: progTypeId(spec.type), insn_cnt: insns.length / 8, insns: sys.addressOf(insns), license: sys.addressOf(license),
      log_level: 1, log_size: log.length, log_buf: sys.addressOf(log), prog_name: spec.name, prog_btf_fd: btfFd,
      func_info_rec_size: 8, func_info: sys.addressOf(funcInfo), func_info_cnt: ob.funcInfoCount,
      line_info_rec_size: 16, line_info: sys.addressOf(lineInfo), line_info_cnt: ob.lineInfoCount,
    });
    log.fill(0);
    progFd = sys.bpf(Cmd.PROG_LOAD, a);
    const text = new TextDecoder().decode(log).replace(/\0+$/, '');
    assert.ok(progFd >= 0, `PROG_LOAD: ${-progFd}: ${text}`);
    assert.match(text, /; runs\+\+; @ btf_maps\.c:\d+/);
    const id = progInfo(progFd).id;
    const xlated = sh('bpftool', ['prog', 'dump', 'xlated', 'id', String(id), 'linum']);
    assert.match(xlated, /\[file:.*btf_maps\.c line_num:\d+/);
    assert.match(xlated, /bump\(/);
  } finally {
    if (progFd >= 0) sys.close(progFd);
    sys.close(btfFd);
    for (const m of maps) m.close();
  }
});

test.run();
