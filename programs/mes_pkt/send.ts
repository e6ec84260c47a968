/**
 * `mes_pkt send`: UDP datagrams from the testbed's ns1 to n2's address. The sender runs as a
 * subprocess inside the namespace (`ip netns exec`, as the tutorial ran nc), so its socket
 * belongs there; attach, detach and show never start a subprocess.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { UsageError } from '../../src/command.ts';
import { testbedNames } from './testbed.ts';

const SELF = fileURLToPath(import.meta.url);
const HERE = path.dirname(SELF);
/** A sibling script, run by this Node: .ts under tsx, .js from dist. */
export function scriptArgv(name: string): string[] {
  const ext = path.extname(SELF);
  return [...(ext === '.ts' ? ['--import', 'tsx'] : []), path.join(HERE, `${name}${ext}`)];
}

export interface SendOptions { readonly prefix?: string; readonly count: number; readonly intervalUs: number; readonly port: number; readonly size: number }

/** Send datagrams from the testbed's ns1 (a subprocess inside the namespace, as the tutorial's nc was). */
export function send(o: SendOptions): { sent: number; seconds: number; to: string; port: number } {
  if (o.count < 0 || o.intervalUs < 0) throw new UsageError('--count and --interval-us must not be negative');
  if (o.port < 1 || o.port > 65535) throw new UsageError(`--port must be 1..65535, got ${o.port}`);
  if (o.size < 4 || o.size > 1400) throw new UsageError(`--size must be 4..1400 bytes, got ${o.size}`);
  const t = testbedNames(o.prefix ?? '');
  const r = spawnSync('ip', ['netns', 'exec', t.ns1, process.execPath, ...scriptArgv('sender'),
    t.addr2, String(o.port), String(o.count), String(o.intervalUs), String(o.size)], { encoding: 'utf8' });
  if (r.status !== 0) {
    const why = r.stderr?.trim() || r.error?.message || `exit ${r.status}`;
    throw new Error(`send from ${t.ns1} failed: ${why}${/Cannot open network namespace|No such file/.test(why) ? ` — is the testbed up? run 'mes_pkt testbed up${o.prefix ? ` --prefix ${o.prefix}` : ''}'` : ''}`);
  }
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sent: number; seconds: number };
  return { ...res, to: t.addr2, port: o.port };
}
