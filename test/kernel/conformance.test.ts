/**
 * Conformance vectors in the kernel, one test per vector (so the totals count them): the
 * project's generated ones (test/fixtures/conformance) always, the external RFC 9669 ones when
 * TSBPF_CONFORMANCE_DIR names them. Then the plugin protocol: in process for every vector, and
 * end to end through bin/tsbpf-conformance-plugin.mjs as bpf_conformance would start it.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from '../../src/asm/instruction.ts';
import { parsePluginArgs, runPlugin } from '../../src/conformance/plugin.ts';
import { ConformanceRunner } from '../../src/conformance/runner.ts';
import { findVectorFiles, parseVector, readVector, vectorProgram, type Vector } from '../../src/conformance/vector.ts';
import { kernelSuite } from '../support/kernel.ts';
import { PROJECT_VECTORS, externalConformanceDir } from '../support/conformance.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PLUGIN = path.join(ROOT, 'bin', 'tsbpf-conformance-plugin.mjs');
const projectVectors = findVectorFiles([PROJECT_VECTORS]).map(readVector);

/** Bytes as bpf_conformance's runner writes them (_base_16_encode: two digits and two spaces). */
const base16 = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0') + '  ').join('');

// One runner (one result map) for the whole file, made on first use: without a kernel the
// gated tests never call it.
let runner: ConformanceRunner | undefined;
const kernel = (): ConformanceRunner => (runner ??= new ConformanceRunner());

/** One kernel test per vector. */
function vectorSuite(name: string, vectors: readonly Vector[]): Vector[] {
  const suite = kernelSuite(name);
  suite.after(() => { runner?.close(); runner = undefined; });
  for (const v of vectors) {
    suite(v.name, () => {
      const r = kernel().run(v);
      assert.is(r.status, 'passed', `${v.name}: ${r.status}: ${r.reason ?? ''}`);
      if (v.error === undefined) assert.is(r.actual, r.expected);
    });
  }
  suite.run();
  return [...vectors];
}

vectorSuite('conformance: the project\'s vectors', projectVectors);
const externalDir = externalConformanceDir('kernel: RFC 9669 vectors and their plugin runs');
const externalVectors = externalDir ? vectorSuite('conformance: RFC 9669 vectors', findVectorFiles([externalDir]).map(readVector)) : [];

const runs = kernelSuite('conformance: runner');
runs.after(() => { runner?.close(); runner = undefined; });

runs('a wrong result fails, with both values', () => {
  const r = kernel().run(parseVector('-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n', 'wrong.data'));
  assert.is(r.status, 'failed');
  assert.is(r.reason, 'r0 is 0x1, expected 0x2');
});

runs('-- mem: r1 points at the memory, r2 is its length (suite convention)', () => {
  const len = kernel().run(parseVector('-- asm\nmov r0, r2\nexit\n-- mem\n00 00 00 01\n00 00 00 02\n-- result\n0x8\n', 'mem-len.data'));
  assert.is(len.status, 'passed', len.reason);
  const load = kernel().run(parseVector('-- asm\nldxw %r0, [%r1+4]\nstb [%r1], 7\nldxb %r2, [%r1]\nadd %r0, %r2\nexit\n-- mem\n00 00 00 01 02 03 04 05\n-- result\n0x05040309\n', 'ldx.data'));
  assert.is(load.status, 'passed', load.reason);
});

runs('a vector the kernel refuses is "rejected", with the verifier\'s message and the .data line', () => {
  const r = kernel().run(parseVector('-- asm\nldxdw %r0, [%r1+4]\nexit\n-- mem\n00 00 00 01 02 03 04 05\n-- result\n0x0\n', 'oob.data'));
  assert.is(r.status, 'rejected');
  assert.is(r.reason, 'R1 offset is outside of the packet (at oob.data:2)');
  assert.match(r.log ?? '', /processed \d+ insns/);
});

runs('-- error: passes when refused, by tsbpf or by the kernel', () => {
  const kernelRefuses = kernel().run(parseVector('-- asm\nmov %r0, %r6\nexit\n-- error\nFailed to load program\n', 'uninit.data'));
  assert.is(kernelRefuses.status, 'passed');
  assert.is(kernelRefuses.reason, 'refused by the kernel: R6 !read_ok (at uninit.data:2)');
  const tsbpfRefuses = kernel().run(parseVector('-- asm\nmov %r11, 1\nexit\n-- error\nbad register\n', 'r11.data'));
  assert.is(tsbpfRefuses.status, 'passed');
  assert.match(tsbpfRefuses.reason ?? '', /^refused by tsbpf: /);
  const runsAnyway = kernel().run(parseVector('-- asm\nmov %r0, 1\nexit\n-- error\nshould not load\n', 'runs.data'));
  assert.is(runsAnyway.status, 'failed');
});

runs.run();

const plugin = kernelSuite('conformance: plugin protocol');
plugin.after(() => { runner?.close(); runner = undefined; });

plugin('every vector through runPlugin, its bytes in base16 as the suite sends them', () => {
  for (const v of [...projectVectors, ...externalVectors].filter((x) => x.error === undefined)) {
    const text = base16(encode(vectorProgram(v).insns)) + '\n';
    const out = runPlugin(kernel(), parsePluginArgs([base16(v.mem), '']), text);
    assert.is(out.exitCode, 0, `${v.name}: ${out.stderr}`);
    assert.is(out.stdout, `${v.result!.toString(16)}\n`, v.name);
  }
});

const spawnPlugin = (args: string[], input?: string) =>
  spawnSync(process.execPath, [PLUGIN, ...args], { input: input ?? '', encoding: 'utf8', cwd: '/' });

plugin('bin: the program on stdin, empty memory and options as the suite passes them', () => {
  // mov r0, 42; exit
  const r = spawnPlugin(['', ''], 'b7  00  00  00  2a  00  00  00  95  00  00  00  00  00  00  00  \n');
  assert.is(r.stderr, '');
  assert.is(r.status, 0);
  assert.is(r.stdout, '2a\n');
});

plugin('bin: --program and memory (r2 = its length), and a 64-bit r0 in full', () => {
  // mov r0, r2; exit
  const len = spawnPlugin(['--program', 'bf 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00', '00  00  00  01  00  00  00  02  ']);
  assert.is(len.status, 0, len.stderr);
  assert.is(len.stdout, '8\n');
  // lddw r0, 0x123456789abcdef0; exit
  const wide = spawnPlugin(['--program', '18 00 00 00 f0 de bc 9a 00 00 00 00 78 56 34 12 95 00 00 00 00 00 00 00']);
  assert.is(wide.status, 0, wide.stderr);
  assert.is(wide.stdout, '123456789abcdef0\n');
});

plugin('bin: a refused program exits 1; --debug prints the verifier log', () => {
  // mov r0, r6 (uninitialised in the subprogram); exit
  const prog = 'bf 60 00 00 00 00 00 00 95 00 00 00 00 00 00 00';
  const quiet = spawnPlugin(['--program', prog]);
  assert.is(quiet.status, 1);
  assert.is(quiet.stdout, '');
  const debug = spawnPlugin(['--program', prog, '', '--debug']);
  assert.is(debug.status, 1);
  assert.match(debug.stdout, /^Failed to load program: R6 !read_ok\n/);
  assert.match(debug.stdout, /processed \d+ insns/);
});

plugin.run();
