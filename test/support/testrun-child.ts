/**
 * A second process for concurrency tests: waits until a wall-clock instant, then runs a pinned
 * program with BPF_PROG_TEST_RUN `rounds` times. Prints {started, finished} (ms since epoch).
 * Usage: testrun-child.ts PROG_PIN DATA_FILE REPEAT ROUNDS START_AT_MS
 */
import { readFileSync } from 'node:fs';
import { openPinnedProgram } from '../../src/syscall/index.ts';

const [pin, dataFile, repeat, rounds, startAt] = process.argv.slice(2);
const prog = openPinnedProgram(pin!);
const data = new Uint8Array(readFileSync(dataFile!));
while (Date.now() < Number(startAt)) { /* spin to the common start */ }
const started = Date.now();
for (let i = 0; i < Number(rounds); i++) prog.testRun({ data, repeat: Number(repeat) });
const finished = Date.now();
prog.close();
process.stdout.write(JSON.stringify({ started, finished }) + '\n');
