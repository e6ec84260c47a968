/**
 * The tutorial's topology, built with `ip` as its scripts did (testbed set-up is the one place
 * mes_pkt starts subprocesses; attach/detach/show never do):
 *
 *            br1 (root namespace)
 *        +-- v1 ------------- v2 --+
 *        |                         |
 *       n1 (ns1)                  n2 (ns2)
 *   10.x.y.1/24                10.x.y.2/24
 *
 * Every name takes an optional prefix so tests can run side by side.
 */
import { execFileSync } from 'node:child_process';
import { signalPoint } from './signals.ts';

export interface Testbed {
  readonly ns1: string;
  readonly ns2: string;
  readonly v1: string;
  readonly v2: string;
  readonly n1: string;
  readonly n2: string;
  readonly br: string;
  readonly addr1: string;
  readonly addr2: string;
}

export function testbedNames(prefix = ''): Testbed {
  if (prefix.length > 10 || !/^[A-Za-z0-9_-]*$/.test(prefix)) {
    throw new Error(`--prefix '${prefix}' must be at most 10 characters of [A-Za-z0-9_-] (interface names are limited to 15)`);
  }
  // one private /24 per prefix, so two testbeds never share addresses
  let h = 0;
  for (const ch of prefix) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const net = `10.${200 + (h % 50)}.${(h >>> 8) % 256}`;
  return {
    ns1: `${prefix}ns1`, ns2: `${prefix}ns2`, v1: `${prefix}v1`, v2: `${prefix}v2`,
    n1: `${prefix}n1`, n2: `${prefix}n2`, br: `${prefix}br1`, addr1: `${net}.1`, addr2: `${net}.2`,
  };
}

function ip(args: string[], allowFail = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (allowFail) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

export function testbedExists(t: Testbed): boolean {
  return ip(['netns', 'list'], true).split('\n').some((l) => l.split(' ')[0] === t.ns1);
}

/** Build the topology; on any failure, remove what was built and rethrow. */
export function testbedUp(prefix = ''): Testbed {
  const t = testbedNames(prefix);
  if (testbedExists(t)) throw new Error(`testbed '${prefix || '(no prefix)'}' is already up (namespace ${t.ns1} exists): run 'testbed down${prefix ? ` --prefix ${prefix}` : ''}' first`);
  try {
    ip(['netns', 'add', t.ns1]);
    ip(['netns', 'add', t.ns2]);
    signalPoint('testbed:namespaces');
    ip(['link', 'add', t.br, 'type', 'bridge']);
    signalPoint('testbed:bridge');
    for (const [v, n, ns, addr] of [[t.v1, t.n1, t.ns1, t.addr1], [t.v2, t.n2, t.ns2, t.addr2]] as const) {
      ip(['link', 'add', v, 'type', 'veth', 'peer', 'name', n]);
      ip(['link', 'set', n, 'netns', ns]);
      ip(['link', 'set', v, 'master', t.br]);
      ip(['link', 'set', v, 'up']);
      ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', n]);
      ip(['-n', ns, 'link', 'set', n, 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    ip(['link', 'set', t.br, 'up']);
    return t;
  } catch (e) {
    testbedDown(prefix);
    throw e;
  }
}

/** Remove the topology; safe when it is partly or wholly absent. Returns what it removed. */
export function testbedDown(prefix = ''): string[] {
  const t = testbedNames(prefix);
  const removed: string[] = [];
  // deleting a namespace deletes n1/n2, and with them their veth peers v1/v2
  for (const ns of [t.ns1, t.ns2]) {
    if (nsExists(ns)) { ip(['netns', 'del', ns], true); removed.push(`namespace ${ns}`); }
  }
  for (const l of [t.v1, t.v2, t.br]) {
    if (linkExists(l)) { ip(['link', 'del', l], true); removed.push(`link ${l}`); }
  }
  return removed;
}

function nsExists(ns: string): boolean {
  return ip(['netns', 'list'], true).split('\n').some((l) => l.split(' ')[0] === ns);
}

function linkExists(name: string): boolean {
  return ip(['link', 'show', name], true) !== '';
}
