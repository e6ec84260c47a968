/**
 * The verifier lessons: broken variants of the mes_pkt probe, what the kernel says about each,
 * why, and the fix.
 *
 *   npx tsx programs/lessons.ts                 every lesson, readably
 *   npx tsx programs/lessons.ts no-bounds-check one lesson
 *   npx tsx programs/lessons.ts --list          names and titles
 *   npx tsx programs/lessons.ts --json          [{name, rejected, message, expected, fixed_loads, …}]
 *
 * Needs root (it loads programs). docs/verifier.md walks through them.
 */
import { parseArgs } from 'node:util';
import { renderExplain, wrap } from '../src/verifier/index.ts';
import { lessons, runLesson, type LessonResult } from './lessons/index.ts';
import { needsRootMessage, privileged } from './mes_pkt/privilege.ts';

function show(r: LessonResult): string {
  const out = [`=== ${r.name}: ${r.title} ===`, ''];
  if (r.assembler) out.push(`tsbpf's assembler refuses it: ${r.assembler}`, 'Built without link(), the kernel gets it and says:', '');
  if (r.root_loads !== undefined) out.push(`Loaded by root (CAP_PERFMON) it ${r.root_loads ? 'loads' : 'is rejected too'}; loaded without CAP_PERFMON / CAP_SYS_ADMIN:`, '');
  out.push(renderExplain(r.explain, { paths: 0, lesson: false }).trimEnd(), '');
  out.push(`kernel: ${r.message.split('\n').join(' / ') || '(no message)'}`);
  out.push(`expected: ${r.expected}  ->  ${r.rejected && r.message.includes(r.expected) ? 'as expected' : 'NOT as expected'}`);
  out.push('why:', ...wrap(r.explanation, 96).map((l) => `  ${l}`));
  out.push(`fix: ${r.fixed_loads ? 'the fixed program loads' : `the fixed program does NOT load: ${r.fixed_error ?? ''}`}`, '');
  return out.join('\n') + '\n';
}

const { values, positionals } = parseArgs({ options: { json: { type: 'boolean' }, list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
if (values.help) {
  process.stdout.write('usage: npx tsx programs/lessons.ts [name…] [--json] [--list]\n');
  process.exit(0);
}
if (values.list) {
  for (const l of lessons) process.stdout.write(`${l.name.padEnd(22)} ${l.id}\n`);
  process.exit(0);
}
const unknown = positionals.filter((n) => !lessons.some((l) => l.name === n));
if (unknown.length) {
  process.stderr.write(`error: no lesson ${unknown.join(', ')}; the lessons are: ${lessons.map((l) => l.name).join(', ')}\n`);
  process.exit(2);
}
// each lesson loads programs (and drops privileges with setpriv to show one): without root every
// load fails with EPERM, which would read as the lessons' verifier rejections
if (!privileged()) {
  process.stderr.write(`error: ${needsRootMessage('lessons')}\n`);
  process.exit(1);
}
const chosen = positionals.length ? lessons.filter((l) => positionals.includes(l.name)) : lessons;
const results: LessonResult[] = [];
for (const l of chosen) {
  const r = await runLesson(l);
  results.push(r);
  if (!values.json) process.stdout.write(show(r));
}
if (values.json) {
  process.stdout.write(JSON.stringify(results.map((r) => ({
    name: r.name, rejected: r.rejected, message: r.message, expected: r.expected, fixed_loads: r.fixed_loads,
    title: r.title, ...(r.slot !== undefined ? { slot: r.slot } : {}), ...(r.instruction ? { instruction: r.instruction } : {}),
    ...(r.source ? { source: r.source } : {}), ...(r.assembler ? { assembler: r.assembler } : {}),
    ...(r.root_loads !== undefined ? { root_loads: r.root_loads } : {}), explanation: r.explanation,
  })), null, 2) + '\n');
}
const ok = results.every((r) => r.rejected && r.message.includes(r.expected) && r.fixed_loads);
process.exitCode = ok ? 0 : 1;
