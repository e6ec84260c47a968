/**
 * CO-RE against libbpf: test/fixtures/btf/core.c (every relocation kind clang 14 emits, local
 * types unlike the kernel's) is built with clang, and each relocation resolved by
 * src/btf/core.ts against this kernel's BTF must give the value libbpf patches in (bpftool -d
 * prints "relo #N: patched insn #M (…) imm A -> B"), or be poisoned where libbpf poisons it.
 */
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_POISON_IMM, coreField, coreRelocateSections, corePoisonAt, decodeBtf, decodeBtfExt, elfSections } from '../../src/btf/index.ts';
import { runningKernelBtf } from '../../src/btf/kernel.ts';
import { ensureBpffs } from '../../src/syscall/index.ts';
import { readElf } from '../../src/elf/reader.ts';
import { loadObject } from '../../src/attach/object.ts';
import { kernelSuite, uniqueName } from '../support/kernel.ts';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'btf', 'core.c');
const s = kernelSuite('CO-RE against libbpf');

s('every relocation kind: our value is libbpf\'s, and the one libbpf poisons we poison', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-core-'));
  const pin = path.join(ensureBpffs(), uniqueName('tsbpfcore'));
  try {
    const obj = path.join(dir, 'core.o');
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-c', fixture, '-o', obj]);
    // libbpf's verdicts, from its debug log (the load itself may fail: only the relocations matter).
    const r = spawnSync('bpftool', ['-d', 'prog', 'load', obj, pin], { encoding: 'utf8' });
    const log = r.stderr + r.stdout;
    const theirs = new Map<number, { insn: number; value?: bigint; poisoned?: true }>();
    for (const m of log.matchAll(/relo #(\d+): patched insn #(\d+) \([^)]*\) (?:imm|imm64|off) (-?\d+) -> (-?\d+)/g)) {
      theirs.set(Number(m[1]), { insn: Number(m[2]), value: BigInt(m[4]!) });
    }
    for (const m of log.matchAll(/relo #(\d+): substituting insn #(\d+) w\/ invalid insn/g)) theirs.set(Number(m[1]), { insn: Number(m[2]), poisoned: true });
    assert.ok(theirs.size >= 20, `libbpf reported ${theirs.size} relocations:\n${log}`);

    const secs = elfSections(new Uint8Array(readFileSync(obj)));
    const local = decodeBtf(secs.get('.BTF')!);
    const ext = decodeBtfExt(secs.get('.BTF.ext')!, local);
    const relos = ext.coreRelo.find((x) => x.section === 'tc')!.records;
    const vmlinux = decodeBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
    const done = coreRelocateSections(local, ext, secs, vmlinux);
    const results = done.results.get('tc')!, insns = done.sections.get('tc')!;
    assert.is(relos.length, theirs.size);
    assert.is(results.length, relos.length);
    // The DSL's spelling resolves the same fields to the same offsets.
    assert.is(BigInt(coreField('sk_buff', 'len', vmlinux).off), theirs.get(1)!.value);
    assert.is(BigInt(coreField('sk_buff', 'hash', vmlinux).off), theirs.get(7)!.value);
    results.forEach((ours, i) => {
      const want = theirs.get(i)!;
      assert.is(ours.insn, want.insn, `relo #${i} instruction`);
      const v = new DataView(insns.buffer, insns.byteOffset + ours.insn * 8, 8);
      if (want.poisoned) {
        assert.ok(ours.poison, `relo #${i} (${ours.kind}) is poisoned by libbpf`);
        assert.equal([insns[ours.insn * 8], v.getInt32(4, true)], [0x85, CORE_POISON_IMM]);
        assert.match(corePoisonAt(done.results, 'tc', ours.insn)!, /field_byte_offset of struct sk_buff.not_in_the_kernel \(access 0:4\): the running kernel's BTF has no sk_buff with it/);
      } else {
        assert.is(ours.poison, undefined, `relo #${i}: ${ours.poison}`);
        assert.is(ours.target, want.value, `relo #${i} ${ours.kind} ${relos[i]!.access}`);
        // The patched instruction carries it: LD_IMM64's constant, a load's offset, or an ALU imm.
        const op = insns[ours.insn * 8]!;
        const carried = op === 0x18 ? BigInt(v.getUint32(4, true)) : (op & 7) === 1 ? BigInt(v.getInt16(2, true)) : BigInt(v.getInt32(4, true));
        assert.is(carried, want.value, `relo #${i}: the patched instruction`);
      }
    });
  } finally {
    rmSync(pin, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

const build = (name: string, dir: string): string => {
  const obj = path.join(dir, `${name}.o`);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-c', path.join(path.dirname(fixture), `${name}.c`), '-o', obj]);
  return obj;
};

s('a CO-RE object loads through readElf + loadObject and returns what the libbpf-loaded copy returns', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-core-'));
  const pin = path.join(ensureBpffs(), uniqueName('tsbpfcore'));
  try {
    const obj = build('core_run', dir);
    const packet = path.join(dir, 'pkt');
    writeFileSync(packet, new Uint8Array(64));
    execFileSync('bpftool', ['prog', 'load', obj, pin]);
    const theirs = /Return value: (\d+)/.exec(execFileSync('bpftool', ['prog', 'run', 'pinned', pin, 'data_in', packet, 'repeat', '1'], { encoding: 'utf8' }))![1];
    const coll = readElf(new Uint8Array(readFileSync(obj)), { coreTarget: runningKernelBtf });
    assert.is(coll.corePoisons?.length, 1, 'the guarded access is poisoned (and never runs)');
    using loaded = loadObject(coll);
    const ours = loaded.programs['core_run']!.testRun({ data: new Uint8Array(64) }).retval;
    assert.is(String(ours), theirs);
    const vmlinux = decodeBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
    const skb = vmlinux.type(vmlinux.find('sk_buff', 'STRUCT')[0]!);
    assert.ok(skb.kind === 'STRUCT');
    const len = skb.kind === 'STRUCT' ? skb.members.find((m) => m.name === 'len')!.bitOffset / 8 : 0;
    assert.is(ours, len + 1000 * 4 + 10000 * 61 + 3 * (skb.kind === 'STRUCT' ? skb.size : 0) + 100000 * 1, 'the value is the kernel\'s own layout');
  } finally {
    rmSync(pin, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

s('an unguarded access to a field this kernel lacks: poisoned like libbpf, and the load error names the relocation', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-core-'));
  const pin = path.join(ensureBpffs(), uniqueName('tsbpfcore'));
  try {
    const obj = build('core_poison', dir);
    const libbpf = spawnSync('bpftool', ['-d', 'prog', 'load', obj, pin], { encoding: 'utf8' });
    assert.is.not(libbpf.status, 0);
    assert.match(libbpf.stderr, /substituting insn #0 w\/ invalid insn/);
    // libbpf rewrites the verifier's "invalid func unknown#195896080" into this:
    assert.match(libbpf.stderr, /failed to resolve CO-RE relocation <byte_off> \[\d+\] struct sk_buff\.field_linux_never_had/);
    const coll = readElf(new Uint8Array(readFileSync(obj)), { coreTarget: runningKernelBtf });
    const insn = coll.programs[0]!.insns[0]!;
    assert.equal([insn.op, insn.imm], [0x85, CORE_POISON_IMM]);
    assert.throws(() => loadObject(coll).close(),
      /invalid func unknown#195896080\nthe verifier reached an instruction CO-RE poisoned[^]*tc instruction 0: field_byte_offset of struct sk_buff\.field_linux_never_had/);
  } finally {
    rmSync(pin, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
