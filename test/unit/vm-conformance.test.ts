/**
 * The VM against the conformance vectors: the project's 735 generated vectors (expected values
 * from scripts/gen-vectors.ts's own RFC 9669 evaluator), the 88 external RFC 9669 vectors when
 * TSBPF_CONFORMANCE_DIR names them, and, when TSBPF_BPF_CONFORMANCE_TESTS points at the `tests`
 * directory of a bpf_conformance checkout (github.com/Alan-Jowett/bpf_conformance; never copied
 * into this repository), every vector of the public suite, including those the kernel refuses.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findVectorFiles, parseVector, readVector } from '../../src/conformance/vector.ts';
import { runVectorInVm, suiteDialect, vmInstructions } from '../../src/conformance/vm-engine.ts';
import { CallKind, Class, JmpOp, Source } from '../../src/asm/opcode.ts';
import { externalConformanceDir, PROJECT_VECTORS } from '../support/conformance.ts';

const failures = (dir: string): string[] => findVectorFiles([dir]).map(readVector).map((v) => runVectorInVm(v))
  .filter((r) => r.status !== 'passed').map((r) => `${r.name}: ${r.status}: ${r.reason}`);

test('every one of the project\'s generated vectors passes in the VM', () => {
  assert.ok(findVectorFiles([PROJECT_VECTORS]).length >= 700);
  assert.equal(failures(PROJECT_VECTORS), []);
});

const rfc = externalConformanceDir('vm-conformance: the 88 external RFC 9669 vectors in the VM');
if (rfc) {
  test('every external RFC 9669 vector passes in the VM', () => {
    assert.is(findVectorFiles([rfc]).length, 88);
    assert.equal(failures(rfc), []);
  });
}

const suite = process.env.TSBPF_BPF_CONFORMANCE_TESTS;
if (suite) {
  test(`every bpf_conformance vector in ${suite} passes in the VM`, () => {
    assert.ok(findVectorFiles([suite]).length >= 300, 'the suite has 300+ vectors');
    assert.equal(failures(suite), []);
  });
} else {
  console.log('vm-conformance: TSBPF_BPF_CONFORMANCE_TESTS is not set; the public bpf_conformance suite is not run');
}

// The suite's dialect, on vectors written here.

test('the suite\'s `exit` label names the first exit; `call %rN` becomes callx', () => {
  const v = parseVector(['-- asm', 'mov %r0, 1', 'mov %r2, 5', 'call %r2', 'jeq %r0, 1, exit', 'mov %r0, 9', 'exit', 'mov %r0, 3', 'exit', '-- result', '0x9'].join('\n'), 'mine.data');
  assert.match(suiteDialect(v).vector.asm!, /exit: exit/);
  const insns = vmInstructions(v);
  const callx = insns[2]!;
  assert.is(callx.op, Class.JMP | JmpOp.call | Source.X);
  assert.is(callx.dst, 2);
  assert.is(callx.src, CallKind.helper);
  // callx ran ktime_get_ns (helper 5): r0 is the VM clock, not 1, so the jump to exit is not taken
  assert.is(runVectorInVm(v).status, 'passed');
});

test('a vector that must be refused passes when the VM faults, fails when it runs', () => {
  const bad = parseVector(['-- asm', 'ldxdw %r0, [%r1]', 'exit', '-- error', 'out of bounds'].join('\n'), 'bad.data');
  assert.is(runVectorInVm(bad).status, 'passed');
  const runs = parseVector(['-- asm', 'mov %r0, 1', 'exit', '-- error', 'must fail'].join('\n'), 'runs.data');
  assert.is(runVectorInVm(runs).status, 'failed');
});

test('a vector reading past its -- mem faults instead of reading garbage', () => {
  const v = parseVector(['-- asm', 'ldxdw %r0, [%r1+4]', 'exit', '-- mem', '00 01 02 03 04 05 06 07', '-- result', '0x0'].join('\n'), 'oob.data');
  const r = runVectorInVm(v);
  assert.is(r.status, 'failed');
  assert.match(r.reason ?? '', /VM fault: instruction 0 \(oob\.data:2(:\d+)?\): load of 8 bytes at 0x3000004: running 4 byte\(s\) past the end of the input memory/);
});

test.run();
