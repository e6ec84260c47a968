/**
 * The example programs without privilege: one needs-root line up front, not EPERM dressed as a
 * verifier rejection, and no "loaded WITHOUT BTF" warning for a load that failed for want of
 * privilege. Runs them as nobody with no capabilities (setpriv; needs root to drop to it).
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { kernelSuite } from '../support/kernel.ts';

const t = kernelSuite('programs without root');

const asNobody = (args: string[]) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
  process.execPath, '--import', 'tsx', ...args], { encoding: 'utf8', timeout: 60_000 });

for (const [name, args, caps] of [
  ['lessons', ['programs/lessons.ts'], 'CAP_BPF \\+ CAP_NET_ADMIN'],
  ['sockfilter', ['programs/sockfilter.ts', '--count', '1', '--timeout', '1'], 'CAP_BPF \\+ CAP_NET_ADMIN'],
  ['uprobe-count', ['programs/uprobe-count.ts', '--', 'true'], 'CAP_BPF \\+ CAP_PERFMON'],
] as const) {
  t(`${name} as nobody: one needs-root line`, () => {
    const r = asNobody(args as unknown as string[]);
    assert.is(r.status, 1, r.stderr);
    assert.is(r.stderr.trim(), `error: ${name} needs root (or ${caps.replace('\\+', '+')}): run it with sudo`);
    assert.not.match(r.stdout, /verifier|EPERM/);
  });
}

t('a load refused with EPERM gives no BTF-fallback warning', () => {
  const code = `import { loadProgram } from './src/syscall/program.ts';
import { udpPortFilter } from './programs/sockfilter.ts';
try { loadProgram(udpPortFilter(5001)); } catch (e) { console.log('refused', e.code ?? e.errnoName); }`;
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
    process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  assert.match(r.stdout, /refused EPERM/, r.stdout + r.stderr);
  assert.not.match(r.stderr, /WITHOUT BTF/);
});

t.run();
