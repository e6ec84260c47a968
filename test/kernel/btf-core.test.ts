/**
 * CO-RE against libbpf: test/fixtures/btf/core.c (every relocation kind clang 14 emits, local
 * types unlike the kernel's) is built with clang, and each relocation resolved by
 * src/btf/core.ts against this kernel's BTF must give the value libbpf patches in (bpftool -d
 * prints "relo #N: patched insn #M (…) imm A -> B"), or be poisoned where libbpf poisons it.
 */
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_POISON_IMM, applyCoreRelo, coreCandidates, decodeBtf, decodeBtfExt, elfSections, resolveCoreRelo } from '../../src/btf/index.ts';
import { ensureBpffs } from '../../src/syscall/index.ts';
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
    const insns = secs.get('tc')!.slice();
    const cands = new Map<number, number[]>();
    assert.is(relos.length, theirs.size);
    relos.forEach((relo, i) => {
      if (!cands.has(relo.typeId) && relo.kind !== 6) cands.set(relo.typeId, coreCandidates(local, relo.typeId, vmlinux));
      const ours = resolveCoreRelo(local, relo, vmlinux, cands.get(relo.typeId) ?? []);
      const want = theirs.get(i)!;
      assert.is(ours.insn, want.insn, `relo #${i} instruction`);
      if (want.poisoned) {
        assert.ok(ours.poison, `relo #${i} (${ours.kind}) is poisoned by libbpf`);
      } else {
        assert.is(ours.poison, undefined, `relo #${i}: ${ours.poison}`);
        assert.is(ours.target, want.value, `relo #${i} ${ours.kind} ${relo.access}`);
      }
      applyCoreRelo(insns, ours);
      const v = new DataView(insns.buffer, insns.byteOffset + ours.insn * 8, 8);
      if (want.poisoned) assert.equal([insns[ours.insn * 8], v.getInt32(4, true)], [0x85, CORE_POISON_IMM]);
    });
  } finally {
    rmSync(pin, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
