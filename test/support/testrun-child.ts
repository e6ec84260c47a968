/**
 * A second process for concurrency tests: opens a pinned program, prints "ready", waits for a
 * line on stdin (so every child starts at once), then runs the program with BPF_PROG_TEST_RUN
 * `rounds` times. Prints {started, finished} (ms since epoch).
 * Usage: testrun-child.ts PROG_PIN DATA REPEAT ROUNDS
 * DATA is a file, or a frame description as `tsbpf prog run --data` takes (udp:dport=5001).
 */
import { readFileSync } from 'node:fs';
import { frameFromSpec, isFrameSpec } from '../../src/frame/index.ts';
import { openPinnedProgram } from '../../src/syscall/index.ts';

const [pin, dataArg, repeat, rounds] = process.argv.slice(2);
const prog = openPinnedProgram(pin!);
const data = isFrameSpec(dataArg!) ? frameFromSpec(dataArg!) : new Uint8Array(readFileSync(dataArg!));
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  const started = Date.now();
  for (let i = 0; i < Number(rounds); i++) prog.testRun({ data, repeat: Number(repeat) });
  const finished = Date.now();
  prog.close();
  process.stdout.write(JSON.stringify({ started, finished }) + '\n');
  process.exit(0);
});
