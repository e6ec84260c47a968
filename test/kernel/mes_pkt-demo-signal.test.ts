/**
 * Ctrl-C on the README's newcomer command, `npx tsx programs/mes_pkt.ts demo`, through tsx's CLI
 * wrapper: the wrapper relays the signal and SIGKILLs a child that does not acknowledge it within
 * ~60 ms, so the demo must keep its event loop free while the sender runs and before it rolls
 * back. Each run is its own process group (as a terminal's Ctrl-C reaches every process in it);
 * whatever the demo leaves is removed in finally, and the assertions say what was left.
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { kernelSuite, sh } from '../support/kernel.ts';
import { testbedDown, testbedNames } from '../../programs/mes_pkt/testbed.ts';

const t = kernelSuite('Ctrl-C during `npx tsx programs/mes_pkt.ts demo`');

async function interruptDemo(afterLine: string, delayMs: number): Promise<void> {
  const child = spawn('npx', ['tsx', 'programs/mes_pkt.ts', 'demo', '--count', '3000'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<string>((r) => child.on('close', (code, sig) => r(sig ?? String(code))));
  let prefix: string | undefined;
  let pinDir: string | undefined;
  try {
    const deadline = Date.now() + 60_000;
    while (!out.includes(afterLine) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    assert.ok(out.includes(afterLine), `the demo never printed '${afterLine}':\n${out}`);
    await new Promise((r) => setTimeout(r, delayMs));
    process.kill(-child.pid!, 'SIGINT');
    const code = await exited;
    prefix = /testbed up \(prefix (\w+)\)/.exec(out)?.[1];
    pinDir = /pins in (\S+)\)/.exec(out)?.[1];
    assert.ok(prefix && pinDir, out);
    // npx itself dies of the SIGINT; tsx and the demo exit 130
    assert.ok(code === 'SIGINT' || code === '130', `exit ${code}:\n${out}`);
    // The signal reaches the whole group: when the sender dies of it first, the demo takes its
    // normal cleanup path (step 5) before the SIGINT handler reports; either way nothing may stay.
    assert.match(out, /interrupted by SIGINT: rolled back|5\. detach and testbed down/, out);
    const names = testbedNames(prefix);
    const ns = sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]);
    assert.equal(ns.filter((n) => n === names.ns1 || n === names.ns2), [], `namespaces left behind:\n${out}`);
    const links = sh('ip', ['-br', 'link']).split('\n').map((l) => l.split(/[\s@]/)[0]);
    assert.equal(links.filter((l) => [names.br, names.v1, names.v2].includes(l!)), [], `links left behind:\n${out}`);
    assert.not.ok(existsSync(pinDir), `pin dir ${pinDir} left behind:\n${out}`);
  } finally {
    if (child.exitCode === null) { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } await exited; }
    if (prefix) testbedDown(prefix);
    if (pinDir) rmSync(pinDir, { recursive: true, force: true });
  }
}

t('SIGINT to the group right as the sender starts: everything is rolled back', async () => {
  await interruptDemo('3. send', 0);
});

t('SIGINT to the group while the sender runs: everything is rolled back', async () => {
  await interruptDemo('3. send', 700);
});

t.run();
