/**
 * explain and xlated against the real kernel: the verifier's state beside each instruction of
 * mes_start, a rejected lesson's failing instruction, the kernel's rewrites of mes_start, and
 * the shapes of the CLIs' --json output.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mesStart } from '../../programs/mes_pkt/probe.ts';
import { broken as noBoundsCheck } from '../../programs/lessons/no-bounds-check.ts';
import { compareXlated, explainProgram, renderExplain, renderSideBySide } from '../../src/verifier/index.ts';
import { kernelSuite } from '../support/kernel.ts';

const t = kernelSuite('explain');

/** Run a CLI through tsx, as a user would. */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t('explain mes_start: R1=ctx() at 0, pkt pointers after the data loads, source lines in probe.ts', async () => {
  const x = await explainProgram(mesStart);
  assert.ok(x.loaded);
  assert.is(x.insns.length, mesStart.insns.length);
  assert.ok(x.entry?.regs.some((r) => r.name === 'R1' && r.text === 'ctx()'));
  const at = (slot: number) => x.insns.find((i) => i.slot === slot)!;
  const reg = (slot: number, name: string) => at(slot).visits[0]!.after!.regs.find((r) => r.name === name);
  assert.is(reg(0, 'R1')?.text, 'ctx()');
  assert.is(reg(0, 'R2')?.type, 'pkt_end');
  assert.is(reg(1, 'R1')?.type, 'pkt');
  assert.is(reg(4, 'R3')?.fields.r, '42', 'after the data_end check 42 bytes are proven');
  // the packet check lives in check.ts (check_pkt() of the tutorial), the rest in probe.ts
  for (const i of x.insns) assert.match(i.source ?? '', /^programs\/mes_pkt\/(probe|check)\.ts:\d+$/);
  assert.ok(x.insns.some((i) => i.source?.startsWith('programs/mes_pkt/probe.ts')));
  assert.ok((x.stats.processed ?? 0) > 0);
  const text = renderExplain(x);
  assert.match(text, /start: R1=ctx\(\) R10=fp0/);
  assert.match(text, /0: r2 = \*\(u32 \*\)\(r1 \+ 80\) +programs\/mes_pkt\/check\.ts:\d+ +R1=ctx\(\) R2(_w)?=pkt_end\(\)/);
});

t('explain a rejected lesson: the failing instruction is marked, with the message and why', async () => {
  const x = await explainProgram(noBoundsCheck);
  assert.not.ok(x.loaded);
  const failing = x.insns.filter((i) => i.failing);
  assert.equal(failing.map((i) => i.text), ['r2 = *(u16 *)(r1 + 12)']);
  assert.match(x.error!.message, /invalid access to packet/);
  assert.is(x.error!.lesson?.id, 'packet-no-check');
  const text = renderExplain(x);
  assert.match(text, />> +2: r2 = \*\(u16 \*\)\(r1 \+ 12\)/);
  assert.match(text, /why \(a packet read with no data_end check\)/);
});

t('xlated mes_start: the +76 load becomes a u64 sk_buff load, the lookup is inlined', async () => {
  const s = await compareXlated(mesStart);
  const data = s.rows.find((r) => r.orig?.text === 'r1 = *(u32 *)(r1 + 76)')!;
  assert.is(data.kind, 'rewritten');
  assert.match(data.xlated!.text, /^r1 = \*\(u64 \*\)\(r1 \+ \d+\)$/);
  assert.not.match(data.xlated!.text, /\+ 76\)/);
  const lookup = s.rows.find((r) => r.orig?.text === 'call bpf_map_lookup_elem#1')!;
  assert.is(lookup.kind, 'rewritten');
  assert.match(lookup.note!, /inlined/);
  assert.ok(s.rows.filter((r) => r.kind === 'inserted').length >= 4);
  assert.ok(s.counts.xlated > s.counts.orig);
  assert.ok(s.rows.some((r) => r.kind === 'rewritten' && /direct call/.test(r.note ?? '')), 'helper calls become direct calls');
  assert.match(renderSideBySide(s), /~ +1: r1 = \*\(u32 \*\)\(r1 \+ 76\)/);
});

t('CLI: explain --json, xlated --json, lessons --json, and a module with two programs', () => {
  const ex = cli(['src/cli.ts', 'explain', 'programs/mes_pkt/probe.ts', '--entry', 'mes_start', '--json']);
  assert.is(ex.status, 0, ex.stderr);
  const x = JSON.parse(ex.stdout);
  assert.is(x.program, 'mes_start');
  assert.is(x.export, 'mesStart');
  assert.is(x.loaded, true);
  for (const k of ['index', 'slot', 'text', 'source', 'labels', 'visits', 'failing']) assert.ok(k in x.insns[0], `explain --json rows have ${k}`);
  assert.is(x.insns[0].visits[0].after.regs[0].name, 'R1');
  assert.is(typeof x.log, 'string');

  const bad = cli(['src/cli.ts', 'explain', 'programs/lessons/no-bounds-check.ts', '--entry', 'broken', '--json']);
  assert.is(bad.status, 1, 'a rejection exits 1');
  const b = JSON.parse(bad.stdout);
  assert.is(b.loaded, false);
  assert.is(b.error.slot, 2);
  assert.is(b.insns.find((i: { failing: boolean }) => i.failing).slot, 2);

  const xl = cli(['src/cli.ts', 'xlated', 'programs/mes_pkt/probe.ts', '--entry', 'mesStart', '--json']);
  assert.is(xl.status, 0, xl.stderr);
  const s = JSON.parse(xl.stdout);
  assert.is(s.program, 'mes_start');
  assert.ok(s.rows.every((r: { kind: string }) => ['same', 'rewritten', 'inserted', 'removed'].includes(r.kind)));
  assert.equal(Object.keys(s.counts).sort(), ['inserted', 'orig', 'origSlots', 'removed', 'rewritten', 'same', 'xlated', 'xlatedSlots']);

  const two = cli(['src/cli.ts', 'explain', 'programs/mes_pkt/probe.ts']);
  assert.is(two.status, 2);
  assert.match(two.stderr, /exports 2 programs: pick one with --entry NAME/);
  assert.match(two.stderr, /mesStart +mes_start/);

  const ls = cli(['programs/lessons.ts', 'no-bounds-check', 'r0-not-set', '--json']);
  assert.is(ls.status, 0, ls.stderr);
  const entries = JSON.parse(ls.stdout);
  assert.is(entries.length, 2);
  for (const e of entries) {
    for (const k of ['name', 'rejected', 'message', 'expected', 'fixed_loads']) assert.ok(k in e, `lessons --json entry has ${k}`);
    assert.ok(e.rejected && e.fixed_loads && e.message.includes(e.expected));
  }
});

t.run();
