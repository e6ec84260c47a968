/**
 * Reading clang-built objects: every feature of the fixtures in test/fixtures/elf (built here
 * by clang when it is installed), and each kind of bad input as a typed ElfError that names its
 * section and offset.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encode, type Instruction } from '../../src/asm/instruction.ts';
import { Pseudo, LD_IMM64 } from '../../src/asm/opcode.ts';
import { ElfError, parseElfFile, readElf, sectionType, type ElfCollection } from '../../src/elf/index.ts';
import { clangMesStart } from '../../programs/mes_pkt/probe-clang.ts';
import { buildWithLlc, clangMissing, fixtureBytes, seedBytes } from '../fixtures/elf/build.ts';
import { decodeBtf, encodeBtf } from '../../src/btf/index.ts';
import { kernelRequired } from '../support/kernel.ts';

/** A test that needs clang: skipped without it, a failure without it under CI. */
function withClang(name: string, fn: () => void): void {
  if (!clangMissing) test(name, fn);
  else if (kernelRequired) test(name, () => { throw new Error(`${clangMissing} (required: CI=true or TSBPF_REQUIRE_KERNEL=1)`); });
  else { console.log(`skip: ${name}: ${clangMissing}`); test.skip(name, fn); }
}

const prog = (c: ElfCollection, name: string) => {
  const p = c.programs.find((x) => x.name === name);
  if (!p) throw new Error(`no program ${name} (have ${c.programs.map((x) => x.name).join(', ')})`);
  return p;
};
const map = (c: ElfCollection, name: string) => {
  const m = c.maps.find((x) => x.name === name);
  if (!m) throw new Error(`no map ${name} (have ${c.maps.map((x) => x.name).join(', ')})`);
  return m;
};
const mapLoads = (insns: readonly Instruction[]) => insns.filter((i) => i.map).map((i) => `${i.map!.name}${i.src === Pseudo.map_value ? `+${i.imm2}` : ''}`);

withClang('BTF-defined maps: type, sizes from key/value types or key_size/value_size, max_entries, flags', () => {
  const c = readElf(fixtureBytes('btf_maps'));
  const counts = map(c, 'counts');
  assert.equal({ type: counts.type, keySize: counts.keySize, valueSize: counts.valueSize, maxEntries: counts.maxEntries, flags: counts.flags, origin: counts.origin },
    { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, flags: 1, origin: 'btf' });
  const slots = map(c, 'slots');
  assert.equal([slots.type, slots.keySize, slots.valueSize, slots.maxEntries], ['array', 4, 16, 4]);
  assert.is(counts.pin, undefined);
});

withClang('a map value type bigger than u32 (8 GiB) is an ElfError, not a size the loader wraps', () => {
  let err: unknown;
  try { readElf(fixtureBytes('huge_value')); } catch (e) { err = e; }
  assert.instance(err, ElfError);
  assert.match((err as Error).message, /8589934592 bytes.*u32/);
});

withClang('global data: .rodata frozen and read-only to programs, .data with its initial value, .bss zeroed', () => {
  const c = readElf(fixtureBytes('btf_maps'));
  const ro = map(c, '.rodata'), data = map(c, '.data'), bss = map(c, '.bss');
  assert.equal([ro.type, ro.keySize, ro.valueSize, ro.maxEntries, ro.freeze, ro.flags], ['array', 4, 4, 1, true, (1 << 7) | (1 << 10)]);
  assert.equal([...ro.contents!], [3, 0, 0, 0]); // volatile const __u32 scale = 3
  assert.equal([...data.contents!], [7, 0, 0, 0, 0, 0, 0, 0]); // __u64 runs = 7
  assert.is(data.freeze, undefined);
  assert.is(bss.contents, undefined);
  assert.is(bss.valueSize, 8);
  assert.equal(mapLoads(prog(c, 'count_len').insns), ['.data+0', '.bss+0', '.rodata+0', 'counts', 'counts']);
});

withClang('two programs in one "tc" section, xdp and socket; the .text callee appended once to each', () => {
  const c = readElf(fixtureBytes('btf_maps'));
  assert.equal(c.programs.map((p) => [p.name, p.section, p.type, p.expectedAttachType ?? null]), [
    ['count_len', 'tc', 'sched_cls', null], ['count_one', 'tc', 'sched_cls', null],
    ['xdp_pass', 'xdp', 'xdp', 'xdp'], ['sock_keep', 'socket', 'socket_filter', null],
  ]);
  for (const name of ['count_len', 'count_one', 'xdp_pass']) {
    const p = prog(c, name);
    assert.equal(p.callees, ['bump'], name);
    // the one local call lands on the first instruction of bump
    const at = p.labels.get('bump')!;
    let slot = 0, callSlot = -1, bumpSlot = -1;
    p.insns.forEach((i, n) => { if (n === at) bumpSlot = slot; if (i.target === 'bump') callSlot = slot; slot += i.op === LD_IMM64 ? 2 : 1; });
    const call = p.insns.find((i) => i.target === 'bump')!;
    assert.is(callSlot + 1 + call.imm, bumpSlot, name);
  }
  assert.equal(prog(c, 'sock_keep').callees, []);
  assert.is(c.license, 'GPL');
});

withClang('BTF passthrough: DATASEC sizes filled in, func_info per function and line_info in program slots', () => {
  const c = readElf(fixtureBytes('btf_maps'));
  assert.ok(c.btf && c.btf.length > 24);
  const p = prog(c, 'count_len');
  const bump = p.labels.get('bump')!;
  let slot = 0;
  for (let n = 0; n < bump; n++) slot += p.insns[n]!.op === LD_IMM64 ? 2 : 1;
  assert.equal(p.btfInfo!.funcInfo.map((f) => f.insnOff), [0, slot]);
  assert.ok(p.btfInfo!.lineInfo.length > 5);
  assert.match(p.insns[0]!.source ?? '', /^btf_maps\.c:\d+$/);
});

withClang('the tutorial-style object: bpf_elf_map in "maps" pinned PIN_GLOBAL_NS, sections ingress/egress', () => {
  const c = readElf(fixtureBytes('mes_pkt'), { defaultType: 'sched_cls' });
  assert.equal(c.maps.map((m) => [m.name, m.origin, m.type, m.keySize, m.valueSize, m.maxEntries, m.pin?.path]), [
    ['map_mes_start', 'bpf_elf_map', 'array', 4, 8, 512, 'tc/globals/map_mes_start'],
    ['map_mes_end', 'bpf_elf_map', 'array', 4, 8, 512, 'tc/globals/map_mes_end'],
    ['map_mes_cnt', 'bpf_elf_map', 'array', 4, 4, 2, 'tc/globals/map_mes_cnt'],
  ]);
  assert.equal(c.programs.map((p) => [p.name, p.section, p.type, p.typeSource]), [['mes_start', 'ingress', 'sched_cls', 'default'], ['mes_end', 'egress', 'sched_cls', 'default']]);
  assert.equal(mapLoads(prog(c, 'mes_start').insns), ['map_mes_cnt', 'map_mes_start']);
  assert.equal(mapLoads(prog(c, 'mes_end').insns), ['map_mes_cnt', 'map_mes_end']);
});

test('the committed clang 14 build of the tutorial object gives the bytes of the reference listing', () => {
  const c = readElf(seedBytes('mes_pkt'), { defaultType: 'sched_cls' });
  const p = prog(c, 'mes_start');
  const ref = clangMesStart({ name: 'map_mes_cnt' }, { name: 'map_mes_start' });
  assert.equal(encode(p.insns), encode(ref.insns));
  assert.equal(mapLoads(p.insns), ['map_mes_cnt', 'map_mes_start']);
});

test('a section libbpf does not know needs a type: the error says to pass one', () => {
  try {
    readElf(seedBytes('mes_pkt'));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ElfError);
    assert.is((e as ElfError).section, 'ingress');
    assert.match((e as Error).message, /--type sched_cls/);
  }
});

test('an explicit type overrides the section name', () => {
  const c = readElf(seedBytes('btf_maps'), { type: 'sched_act' });
  assert.ok(c.programs.every((p) => p.type === 'sched_act' && p.typeSource === 'explicit'));
  assert.is(prog(c, 'xdp_pass').expectedAttachType, undefined);
});

withClang('libbpf bpf_map_def maps, a version section, attach points in section names, nested .text calls', () => {
  const c = readElf(fixtureBytes('map_def'));
  assert.equal(c.maps.map((m) => [m.name, m.origin, m.type, m.keySize, m.valueSize, m.maxEntries]), [
    ['hits', 'bpf_map_def', 'array', 4, 8, 8], ['seen', 'bpf_map_def', 'hash', 8, 4, 128],
  ]);
  assert.is(c.kernelVersion, 0x060c00);
  assert.is(c.license, 'Dual BSD/GPL');
  assert.equal(c.programs.map((p) => [p.name, p.type, p.expectedAttachType ?? null, p.attachTo ?? null]), [
    ['on_sleep', 'kprobe', null, 'do_nanosleep'],
    ['on_getpid', 'kprobe', null, '/usr/lib/x86_64-linux-gnu/libc.so.6:getpid'],
    ['on_tp', 'tracepoint', null, 'syscalls/sys_enter_getpid'],
    ['tcx_in', 'sched_cls', 'tcx_ingress', null],
    ['cls', 'sched_cls', null, null],
  ]);
  // on_tp -> inc_twice -> inc: both appended, each once, in object order
  assert.equal(prog(c, 'on_tp').callees, ['inc', 'inc_twice']);
  assert.is(prog(c, 'on_tp').insns.filter((i) => i.target === 'inc').length, 2);
  assert.equal(prog(c, 'tcx_in').maps.map((m) => m.name), ['seen', 'hits']);
});

withClang('a bpf_loop callback: an LD_IMM64 function reference to .text', () => {
  const c = readElf(fixtureBytes('callback'));
  const p = prog(c, 'loop_sum');
  assert.equal(p.callees, ['add_one']);
  const ref = p.insns.find((i) => i.op === LD_IMM64 && i.src === Pseudo.func)!;
  assert.is(ref.target, 'add_one');
});

withClang('llc output (no BTF, no debug info) reads the same programs and maps', () => {
  const viaLlc = readElf(buildWithLlc('mes_pkt'), { defaultType: 'sched_cls' });
  const viaClang = readElf(fixtureBytes('mes_pkt'), { defaultType: 'sched_cls' });
  assert.is(viaLlc.btf, undefined);
  assert.equal(viaLlc.programs.map((p) => p.name), ['mes_start', 'mes_end']);
  assert.equal(encode(prog(viaLlc, 'mes_start').insns), encode(prog(viaClang, 'mes_start').insns));
  assert.equal(viaLlc.maps.map((m) => m.name), viaClang.maps.map((m) => m.name));
});

withClang('CO-RE relocations are resolved against the target BTF (src/btf/core.ts): t->pid lands at task_struct.pid', () => {
  // The target: a task_struct whose pid is at byte 8 (the local struct has it at 0).
  const target = decodeBtf(encodeBtf([
    { kind: 'INT', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 },
    { kind: 'STRUCT', name: 'task_struct', size: 12, kflag: false, members: [{ name: 'state', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'pid', type: 1, bitOffset: 64, bitfieldSize: 0 }] },
  ]));
  const c = readElf(fixtureBytes('core'), { coreTarget: () => target });
  const load = c.programs[0]!.insns.find((i) => (i.op & 7) === 1)!; // the LDX of t->pid
  assert.is(load.off, 8);
  assert.is(c.corePoisons, undefined);
  // A kernel without task_struct: the load is poisoned, and the collection says why.
  const bare = readElf(fixtureBytes('core'), { coreTarget: () => decodeBtf(encodeBtf([{ kind: 'INT', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 }])) });
  assert.match(bare.corePoisons?.[0]?.reason ?? '', /field_byte_offset of struct task_struct\.pid \(access 0:0\)/);
  assert.ok(bare.programs[0]!.insns.some((i) => i.op === 0x85 && i.imm === 0xbad2310));
});

withClang('CO-RE relocations and no coreTarget: an ElfError that says to pass one (the pure reader reads no vmlinux)', () => {
  let err: unknown;
  try { readElf(fixtureBytes('core')); } catch (e) { err = e; }
  assert.instance(err, ElfError);
  assert.match((err as Error).message, /CO-RE relocations.*pass coreTarget \(e\.g\. runningKernelBtf\(\)\)/);
  assert.is(readElf(fixtureBytes('btf_maps')).programs.length > 0, true, 'an object without CO-RE needs none');
});

test('section names: libbpf convention', () => {
  const rows: [string, string | undefined, string | undefined, string | undefined][] = [
    ['tc', 'sched_cls', undefined, undefined],
    ['classifier', 'sched_cls', undefined, undefined],
    ['tcx/ingress', 'sched_cls', 'tcx_ingress', undefined],
    ['tc/egress', 'sched_cls', 'tcx_egress', undefined],
    ['xdp', 'xdp', 'xdp', undefined],
    ['xdp.frags', 'xdp', 'xdp', undefined],
    ['socket', 'socket_filter', undefined, undefined],
    ['kprobe/tcp_connect', 'kprobe', undefined, 'tcp_connect'],
    ['uprobe/bin:func', 'kprobe', undefined, 'bin:func'],
    ['tracepoint/sched/sched_switch', 'tracepoint', undefined, 'sched/sched_switch'],
    ['raw_tp/sys_enter', 'raw_tracepoint', undefined, 'sys_enter'],
    ['cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress', undefined],
    ['cgroup/connect4', 'cgroup_sock_addr', 'cgroup_inet4_connect', undefined],
    ['fentry/do_unlinkat', 'tracing', 'trace_fentry', 'do_unlinkat'],
    ['ingress', undefined, undefined, undefined],
    ['tcx', undefined, undefined, undefined],
    ['kprobex/foo', undefined, undefined, undefined],
  ];
  for (const [name, type, attach, to] of rows) {
    const t = sectionType(name);
    assert.equal([t?.type, t?.expectedAttachType, t?.attachTo], [type, attach, to], name);
  }
  assert.is(sectionType('uprobe.s/x')!.flags, 1 << 4);
  assert.is(sectionType('fentry/x')!.needsAttachBtf, true);
});

// ---- bad input: each a typed ElfError naming where ----

/** A copy of an object with one edit applied through a DataView. */
function edit(bytes: Uint8Array, f: (v: DataView, file: ReturnType<typeof parseElfFile>) => void, cut?: number): Uint8Array {
  const copy = bytes.slice(0, cut ?? bytes.length);
  f(new DataView(copy.buffer), parseElfFile(bytes));
  return copy;
}
const shdr = (file: ReturnType<typeof parseElfFile>, name: string, bytes: Uint8Array) => {
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  const shoff = Number(v.getBigUint64(40, true));
  const s = file.sections.find((x) => x.name === name)!;
  return shoff + s.index * 64;
};

function expectElfError(bytes: Uint8Array, re: RegExp, where: { section?: string; offset?: number } = {}, opts = {}): void {
  try {
    readElf(bytes, opts);
  } catch (e) {
    if (!(e instanceof ElfError)) throw e;
    assert.match(e.message, re);
    if ('section' in where) assert.is(e.section, where.section);
    if ('offset' in where) assert.is(e.offset, where.offset);
    return;
  }
  assert.unreachable(`no error (wanted ${re})`);
}

test('bad input: truncated header, truncated sections', () => {
  const o = seedBytes('btf_maps');
  expectElfError(o.slice(0, 40), /truncated: 40 bytes/, { offset: 40 });
  expectElfError(o.slice(0, 0x300), /past the end of the file .* truncated/);
  expectElfError(new Uint8Array(0), /truncated/);
});

test('bad input: wrong class, byte order, machine and type', () => {
  const o = seedBytes('btf_maps');
  expectElfError(edit(o, (v) => v.setUint8(4, 1)), /ELFCLASS64/, { offset: 4 });
  expectElfError(edit(o, (v) => v.setUint8(5, 2)), /little-endian/, { offset: 5 });
  expectElfError(edit(o, (v) => v.setUint16(18, 62, true)), /machine 62 \(x86-64\), not BPF.*-target bpf/, { offset: 18 });
  expectElfError(edit(o, (v) => v.setUint16(16, 2, true)), /not a relocatable object/, { offset: 16 });
  expectElfError(edit(o, (v) => v.setUint8(0, 0)), /not an ELF file/);
});

test('bad input: overlapping sections', () => {
  const o = seedBytes('btf_maps');
  const bad = edit(o, (v, f) => {
    const tc = f.sections.find((s) => s.name === 'tc')!;
    v.setBigUint64(shdr(f, 'xdp', o) + 24, BigInt(tc.offset + 8), true);
  });
  expectElfError(bad, /section 'xdp' .* overlaps section 'tc'/, { section: 'xdp' });
});

test('bad input: symbol in a section that does not exist; relocation naming a symbol out of range', () => {
  const o = seedBytes('btf_maps');
  const f = parseElfFile(o);
  const symtab = f.sections.find((s) => s.name === '.symtab')!;
  const sym = f.symbols.find((s) => s.name === 'count_len')!;
  expectElfError(edit(o, (v) => v.setUint16(symtab.offset + sym.index * 24 + 6, 999, true)), /symbol \d+ is in section 999/,
    { section: '.symtab', offset: sym.index * 24 });
  const rel = f.sections.find((s) => s.name === '.reltc')!;
  expectElfError(edit(o, (v) => v.setUint32(rel.offset + 12, 5000, true)), /names symbol 5000, but the symbol table has \d+/, { section: '.reltc', offset: 0 });
});

test('bad input: a relocation outside its section', () => {
  const o = seedBytes('btf_maps');
  const f = parseElfFile(o);
  const rel = f.sections.find((s) => s.name === '.reltc')!;
  expectElfError(edit(o, (v) => v.setBigUint64(rel.offset + 16, 0x10000n, true)), /relocation at 0x10000 is outside section 'tc'/, { section: '.reltc', offset: 16 });
});

test('bad input: a map section of the wrong size', () => {
  const o = seedBytes('mes_pkt');
  const bad = edit(o, (v, f) => v.setBigUint64(shdr(f, 'maps', o) + 32, 107n, true));
  expectElfError(bad, /wrong size: 107 bytes do not divide into 3 map definitions/, { section: 'maps', offset: 0 }, { defaultType: 'sched_cls' });
  const small = edit(o, (v, f) => v.setBigUint64(shdr(f, 'maps', o) + 32, 48n, true));
  expectElfError(small, /less than struct bpf_map_def/, { section: 'maps' }, { defaultType: 'sched_cls' });
});

test('bad input: a call to a missing function', () => {
  const o = seedBytes('btf_maps');
  const f = parseElfFile(o);
  const tc = f.sections.find((s) => s.name === 'tc')!;
  const call = f.relocations.get(tc.index)!.find((r) => r.type === 10)!;
  // the call's imm: -1 + 1 lands on bump; +3 lands inside it, where no function starts
  expectElfError(edit(o, (v) => v.setInt32(tc.offset + call.offset + 4, 2, true)), /no function starts at offset 24 of section '.text' \(a call to a missing function\)/,
    { section: 'tc', offset: call.offset });
});

test('bad input: an unsupported relocation type is named', () => {
  const o = seedBytes('btf_maps');
  const f = parseElfFile(o);
  const rel = f.sections.find((s) => s.name === '.reltc')!;
  expectElfError(edit(o, (v) => v.setUint32(rel.offset + 8, 3, true)), /R_BPF_64_ABS32 against 'runs' is not supported in code/, { section: 'tc', offset: 8 });
  expectElfError(edit(o, (v) => v.setUint32(rel.offset + 8, 77, true)), /relocation type 77/);
});

test.run();
