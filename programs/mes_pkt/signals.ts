/**
 * Roll back on SIGINT/SIGTERM. attach, demo and `testbed up` are runs of synchronous system
 * calls: Node runs a signal listener only between them, when the event loop turns. So a
 * guarded command installs listeners (which keeps Node from dying mid-way with half a probe
 * attached), yields to the event loop between its steps, and when a signal has arrived it
 * undoes what it did and exits with 128 + the signal number.
 *
 * TSBPF_MES_PKT_SIGNAL_AT=<point> sends the process SIGINT at a named point (the tests'
 * seam for "Ctrl-C right there"); points are named where signalPoint() is called.
 */
import { constants } from 'node:os';

export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}: rolled back`);
  }
  get exitCode(): number {
    return 128 + (constants.signals[this.signal] ?? 2);
  }
}

export interface SignalGuard {
  /** The signal that arrived, if any. */
  readonly signal: NodeJS.Signals | undefined;
  /** Let pending signal listeners run, then throw Interrupted if a signal arrived. */
  checkpoint(): Promise<void>;
  /** Let pending signal listeners run; the signal that arrived, if any. */
  settle(): Promise<NodeJS.Signals | undefined>;
  release(): void;
}

export function trapSignals(): SignalGuard {
  let got: NodeJS.Signals | undefined;
  const on = (s: NodeJS.Signals) => { got ??= s; };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    get signal() { return got; },
    async settle() {
      // a signal is delivered through the event loop's poll phase; setImmediate callbacks run
      // right after it in the same turn (a timer could fire before the poll, and miss it)
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      return got;
    },
    async checkpoint() {
      if (await this.settle()) throw new Interrupted(got!);
    },
    release() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

/** The tests' seam: SIGINT at the named point when TSBPF_MES_PKT_SIGNAL_AT names it. */
export function signalPoint(name: string): void {
  const at = process.env.TSBPF_MES_PKT_SIGNAL_AT;
  if (at && at.split(',').includes(name)) process.kill(process.pid, 'SIGINT');
}
