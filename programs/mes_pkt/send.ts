/**
 * `mes_pkt send`: UDP datagrams from the testbed's ns1 to n2's address. The sender runs as a
 * subprocess inside the namespace (`ip netns exec`, as the tutorial ran nc), so its socket
 * belongs there; attach, detach and show never start a subprocess.
 *
 * The commands use sendAsync: while the sender runs, the event loop stays free, so a Ctrl-C is
 * seen at once. That matters under `npx tsx`: its CLI relays the signal to us, and if we do not
 * acknowledge it within ~60 ms (our loop blocked in spawnSync), it SIGKILLs us mid-rollback.
 */
import { spawn, spawnSync } from 'node:child_process';
import { nodeArgs, UsageError } from '../../src/command.ts';
import { testbedNames } from './testbed.ts';
import { SELF } from './self.ts';

export interface SendOptions { readonly prefix?: string; readonly count: number; readonly intervalUs: number; readonly port: number; readonly size: number }
export interface SendResult { sent: number; seconds: number; to: string; port: number }

function command(o: SendOptions): { args: string[]; ns1: string; addr2: string } {
  if (o.count < 0 || o.intervalUs < 0) throw new UsageError('--count and --interval-us must not be negative');
  if (o.port < 1 || o.port > 65535) throw new UsageError(`--port must be 1..65535, got ${o.port}`);
  if (o.size < 4 || o.size > 1400) throw new UsageError(`--size must be 4..1400 bytes, got ${o.size}`);
  const t = testbedNames(o.prefix ?? '');
  return {
    ns1: t.ns1, addr2: t.addr2,
    args: ['netns', 'exec', t.ns1, process.execPath, ...nodeArgs(import.meta.url, './sender.ts'),
      t.addr2, String(o.port), String(o.count), String(o.intervalUs), String(o.size)],
  };
}

function result(o: SendOptions, c: { ns1: string; addr2: string }, status: number | null, stdout: string, stderr: string, err?: Error): SendResult {
  if (status !== 0) {
    const why = stderr.trim() || err?.message || `exit ${status}`;
    throw new Error(`send from ${c.ns1} failed: ${why}${/Cannot open network namespace|No such file/.test(why) ? ` — is the testbed up? run '${SELF} testbed up${o.prefix ? ` --prefix ${o.prefix}` : ''}'` : ''}`);
  }
  const res = JSON.parse(stdout.trim().split('\n').pop()!) as { sent: number; seconds: number };
  return { ...res, to: c.addr2, port: o.port };
}

/** Send datagrams from the testbed's ns1, blocking (for tests and scripts that have no signals to mind). */
export function send(o: SendOptions): SendResult {
  const c = command(o);
  const r = spawnSync('ip', c.args, { encoding: 'utf8' });
  return result(o, c, r.status, r.stdout ?? '', r.stderr ?? '', r.error);
}

/** Send datagrams from the testbed's ns1 with the event loop free, so signals are handled while it runs. */
export function sendAsync(o: SendOptions): Promise<SendResult> {
  let c: ReturnType<typeof command>;
  try { c = command(o); } catch (e) { return Promise.reject(e); }
  return new Promise((resolve, reject) => {
    const child = spawn('ip', c.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    let spawnError: Error | undefined;
    child.on('error', (e) => { spawnError = e; });
    child.on('close', (status) => {
      try { resolve(result(o, c, spawnError ? -1 : status, out, err, spawnError)); } catch (e) { reject(e); }
    });
  });
}
