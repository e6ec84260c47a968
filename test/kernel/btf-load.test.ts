/**
 * BTF in the kernel: our re-encoding of vmlinux passes BPF_BTF_LOAD; a DSL program loads with
 * BTF, and the kernel's own tools (bpftool's linum listing, the verifier log) quote its
 * TypeScript lines; our `btf dump prog` is bpftool's; a kernel that refuses the BTF still
 * gets the program, with a warning.
 */
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { program, r0, r1, r2, TC_ACT_OK } from '../../src/asm/index.ts';
import { decodeBtf, decodeLineInfo, encodeBtf, formatRaw } from '../../src/btf/index.ts';
import {
  BtfLoadError, Cmd, VerifierError, btfById, defaultSys, loadBtf, loadProgram, progBtfInfo, type Sys,
} from '../../src/syscall/index.ts';
import { explainProgram } from '../../src/verifier/index.ts';
import { kernelSuite, sh } from '../support/kernel.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const s = kernelSuite('btf in the kernel');
const HERE = 'test/kernel/btf-load.test.ts';

/** A program with a subprogram: two FUNCs, line info in both. */
const twoFuncs = program({ name: 'btf_two', type: 'sched_cls' }, (b) => {
  b.mov(r1, 7);
  b.callLocal('double_it');
  b.mov(r0, TC_ACT_OK);
  b.exit();
  b.label('double_it');
  b.mov(r0, r1);
  b.add(r0, r1);
  b.exit();
});

s('vmlinux decoded and encoded again is accepted by BPF_BTF_LOAD, and reads back the same', () => {
  const original = decodeBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
  using h = loadBtf(encodeBtf(original.types()));
  const back = btfById(h.id);
  assert.is(formatRaw(decodeBtf(back.bytes)), formatRaw(original));
});

s('the kernel refuses broken BTF with its log: a BtfLoadError', () => {
  // A struct member of type 9 in a blob of 1 type: the kernel's "Invalid member" check.
  const bad = encodeBtf([{ kind: 'STRUCT', name: 's', size: 4, kflag: false, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }] }]);
  new DataView(bad.buffer).setUint32(24 + 16, 9, true);
  let err: unknown;
  try { loadBtf(bad).close(); } catch (e) { err = e; }
  assert.instance(err, BtfLoadError);
  assert.match((err as BtfLoadError).log, /\S/);
});

s('bpftool prog dump xlated linum shows the .ts file, line number and line text', () => {
  using p = loadProgram(twoFuncs);
  assert.ok(p.hasBtf);
  const out = sh('bpftool', ['prog', 'dump', 'xlated', 'id', String(p.id), 'linum']);
  const src = readFileSync(path.join(root, HERE), 'utf8').split('\n');
  const lineOf = (text: string) => src.findIndex((l) => l.includes(text)) + 1;
  assert.match(out, /int btf_two\(struct __sk_buff \* ctx\):/);
  assert.match(out, /int double_it\(\):/);
  for (const call of ["b.callLocal('double_it');", 'b.add(r0, r1);']) {
    assert.ok(out.includes(`; ${call} [file:${HERE} line_num:${lineOf(call)} line_col:3]`), `${call} at line ${lineOf(call)} in:\n${out}`);
  }
  // Our reading of the kernel's line_info agrees.
  const info = progBtfInfo(p.fd);
  const lines = decodeLineInfo(info.lineInfo, info.lineInfoRecSize, decodeBtf(btfById(info.btfId).bytes));
  assert.equal(lines.map((l) => l.line.trim()),
    ['b.mov(r1, 7);', "b.callLocal('double_it');", 'b.mov(r0, TC_ACT_OK);', 'b.exit();', 'b.mov(r0, r1);', 'b.add(r0, r1);', 'b.exit();']);
  assert.equal(lines.map((l) => l.insnOff), [0, 1, 2, 3, 4, 5, 6]);
  assert.ok(lines.every((l) => l.file === HERE && src[l.lineNum - 1] === l.line));
});

s('the verifier log at level 2 quotes the TypeScript line before its instructions', () => {
  using p = loadProgram(twoFuncs, { logLevel: 2 });
  // The kernel prints the file's base name.
  assert.match(p.verifierLog, /; b\.add\(r0, r1\); @ btf-load\.test\.ts:\d+\n5: \(0f\) r0 \+= r1/);
});

s('a rejected program: the verifier log quotes the TypeScript line that failed', () => {
  const broken = program({ name: 'btf_bad', type: 'sched_cls' }, (b) => {
    b.ldx('u32', r0, r2, 0); // r2 is not initialised
    b.exit();
  });
  let err: unknown;
  try { loadProgram(broken).close(); } catch (e) { err = e; }
  assert.instance(err, VerifierError);
  assert.match((err as VerifierError).log, /; b\.ldx\('u32', r0, r2, 0\); \/\/ r2 is not initialised @ btf-load\.test\.ts:\d+\n0: \(61\) r0 = \*\(u32 \*\)\(r2 \+0\)/);
});

s('explain takes each instruction\'s line from the kernel\'s own line mapping', async () => {
  const x = await explainProgram(twoFuncs);
  assert.ok(x.loaded);
  const src = readFileSync(path.join(root, HERE), 'utf8').split('\n');
  for (const i of x.insns) {
    assert.ok(i.kernelLine, `slot ${i.slot} has a kernel line`);
    assert.is(i.kernelLine!.file, 'btf-load.test.ts');
    assert.is(src[i.kernelLine!.line - 1]!.trim(), i.kernelLine!.text);
    assert.is(i.source, `${HERE}:${i.kernelLine!.line}`);
  }
});

s('tsbpf btf dump prog N is bpftool btf dump prog id N, line for line', () => {
  using p = loadProgram(twoFuncs);
  const ours = execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), 'btf', 'dump', 'prog', String(p.id)], { cwd: root, encoding: 'utf8' });
  assert.is(ours, sh('bpftool', ['btf', 'dump', 'prog', 'id', String(p.id)]));
  assert.match(ours, /FUNC 'double_it' type_id=4 linkage=static/);
});

s('a kernel that refuses the BTF still gets the program, and stderr says so', () => {
  const refusing: Sys = { ...defaultSys, bpf: (cmd, attr) => (cmd === Cmd.BTF_LOAD ? -22 : defaultSys.bpf(cmd, attr)) };
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => { written.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    using p = loadProgram(twoFuncs, { sys: refusing, btf: true });
    assert.not.ok(p.hasBtf);
    assert.is(progBtfInfo(p.fd).btfId, 0);
  } finally {
    process.stderr.write = write;
  }
  assert.match(written.join(''), /program 'btf_two' is loaded WITHOUT BTF/);
});

s.run();
