/**
 * The verifier lessons against the real kernel: each broken program is rejected with a message
 * containing the lesson's expected fragment, at an instruction emitted by the lesson file, and
 * each fixed program loads. One test per lesson.
 */
import * as assert from 'uvu/assert';
import { lessons, runLesson } from '../../programs/lessons/index.ts';
import { kernelSuite } from '../support/kernel.ts';

const t = kernelSuite('lessons');

for (const l of lessons) {
  t(`${l.name}: rejected with "${l.expected}", and the fix loads`, async () => {
    const r = await runLesson(l);
    assert.ok(r.rejected, `${l.name}: the broken program loaded`);
    assert.ok(r.message.includes(l.expected), `${l.name}: kernel said ${JSON.stringify(r.message)}, expected ${JSON.stringify(l.expected)}`);
    assert.ok(r.fixed_loads, `${l.name}: the fixed program was rejected: ${r.fixed_error}`);
    const failing = r.explain.insns.filter((i) => i.failing);
    assert.is(failing.length, 1, `${l.name}: one failing instruction is marked`);
    assert.match(failing[0]!.source ?? '', new RegExp(`programs/lessons/${l.name}\\.ts:\\d+$`));
    assert.is(r.explain.error?.lesson?.id, l.id, `${l.name}: explain finds the same lesson from the message`);
    if (l.name === 'jump-into-ldimm64') assert.match(r.assembler ?? '', /jumps into the middle of the LD_IMM64 at slot 3/);
    if (l.unprivileged) assert.is(r.root_loads, true, 'root (CAP_PERFMON) may read uninitialised stack');
  });
}

t.run();
