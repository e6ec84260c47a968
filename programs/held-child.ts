/**
 * A child process held before it runs its command, so a probe can be attached to its pid first.
 * It starts as `sh -c …`, signals on fd 3 once the shell is initialised, then waits for a line
 * on stdin and execs the command. Waiting for the signal matters: the shell calls getpid()
 * while it initialises, and a probe attached before that would count a call the command never
 * made (seen as 501 of 500 on a loaded machine).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface HeldChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Let the command run. */
  release(): void;
  /** Kill it if it is still running, and wait for it. */
  kill(): Promise<void>;
}

export async function spawnHeld(cmd: string, args: readonly string[], stdio: { stdout?: 'inherit' | 'ignore' | 'pipe'; stderr?: 'inherit' | 'ignore' | 'pipe' } = {}): Promise<HeldChild> {
  const child = spawn('/bin/sh', ['-c', 'echo >&3; exec 3>&-; read _ && exec "$0" "$@"', cmd, ...args],
    { stdio: ['pipe', stdio.stdout ?? 'inherit', stdio.stderr ?? 'inherit', 'pipe'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  const ready = child.stdio[3] as Readable;
  await new Promise<void>((resolve, reject) => {
    ready.once('data', () => resolve());
    ready.once('error', reject);
    exited.then(() => reject(new Error(`${cmd} exited before it could be held`)), reject);
  });
  ready.destroy();
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  return {
    child, pid: child.pid, exited,
    release: () => { child.stdin!.end('\n'); },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited.catch(() => {});
      }
    },
  };
}
