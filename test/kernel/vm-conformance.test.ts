/**
 * `tsbpf conformance --engine both`: the VM and the kernel on the same vectors, and no
 * disagreement. The project's generated vectors always; the 88 external RFC 9669 vectors with
 * TSBPF_CONFORMANCE_DIR; the public bpf_conformance suite with TSBPF_BPF_CONFORMANCE_TESTS.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kernelSuite } from '../support/kernel.ts';
import { externalConformanceDir, PROJECT_VECTORS } from '../support/conformance.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const t = kernelSuite('vm-conformance');

interface Row { name: string; vm: { status: string; actual: string | null }; kernel: { status: string; actual: string | null; reason: string | null }; agree: boolean }

function both(dir: string): Row[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'conformance', dir, '--engine', 'both', '--json'], { cwd: root, encoding: 'utf8' });
  assert.is(r.stderr, '', 'no disagreement printed');
  assert.is(r.status, 0, r.stdout);
  return JSON.parse(r.stdout) as Row[];
}

function agreeAll(rows: Row[]): void {
  for (const r of rows) {
    assert.ok(r.agree, r.name);
    assert.is(r.vm.status, 'passed', r.name);
    assert.is(r.kernel.status, 'passed', `${r.name}: ${r.kernel.reason}`);
    assert.is(r.vm.actual, r.kernel.actual, r.name);
  }
}

t('the project\'s vectors: the VM and the kernel agree on every one, r0 for r0', () => {
  const rows = both(PROJECT_VECTORS);
  assert.ok(rows.length >= 700);
  agreeAll(rows);
});

const rfc = externalConformanceDir('vm-conformance: --engine both on the 88 external RFC 9669 vectors');
if (rfc) {
  t('RFC 9669: the VM and the kernel agree on all 88 vectors, r0 for r0', () => {
    const rows = both(rfc);
    assert.is(rows.length, 88);
    agreeAll(rows);
  });
}

const suite = process.env.TSBPF_BPF_CONFORMANCE_TESTS;
if (suite) {
  t('bpf_conformance: every vector passes in the VM; the kernel passes or its verifier refuses (shift immediates, callx)', () => {
    const rows = both(suite);
    assert.ok(rows.length >= 300);
    for (const r of rows) {
      assert.is(r.vm.status, 'passed', r.name);
      assert.ok(r.kernel.status === 'passed' || r.kernel.status === 'rejected', `${r.name}: kernel ${r.kernel.status}`);
      if (r.kernel.status === 'rejected') assert.match(r.kernel.reason ?? '', /invalid shift|callx/, r.name);
    }
  });
}

t.run();
