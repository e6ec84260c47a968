/**
 * Every number in src/netlink/constants.ts against the kernel headers: we generate a C program
 * that prints each exported name as the headers define it, compile it with gcc, and compare.
 * Skipped when gcc or the headers are missing (on CI they are installed).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as C from '../../src/netlink/constants.ts';

const headers = ['sys/socket.h', 'linux/netlink.h', 'linux/rtnetlink.h', 'linux/if_link.h', 'linux/if.h', 'linux/if_ether.h', 'linux/pkt_sched.h', 'linux/pkt_cls.h'];

function hasGcc(): boolean {
  try { execFileSync('gcc', ['--version'], { stdio: 'ignore' }); } catch { return false; }
  return existsSync('/usr/include/linux/pkt_cls.h');
}

/** name -> C expression; sizes have their own expressions, everything else is its own name. */
const exprs: Record<string, string> = {};
const special: Record<string, string> = {
  ...C.structSizes,
  // The header's ~(NLA_F_NESTED|NLA_F_NET_BYTEORDER) is an int; it only ever masks a u16 nla_type.
  NLA_TYPE_MASK: '(NLA_TYPE_MASK & 0xffff)',
};
for (const [k, v] of Object.entries(C)) if (typeof v === 'number') exprs[k] = special[k] ?? k;

(hasGcc() ? test : test.skip)('constants.ts matches the kernel headers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-nlconst-'));
  try {
    const src = [
      ...headers.map((h) => `#include <${h}>`),
      '#include <stdio.h>',
      'int main(void) {',
      ...Object.entries(exprs).map(([k, e]) => `  printf("%s %llu\\n", "${k}", (unsigned long long)(unsigned int)(${e}));`),
      '  return 0;',
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'c.c'), src);
    execFileSync('gcc', ['-o', join(dir, 'c'), join(dir, 'c.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const out = execFileSync(join(dir, 'c'), { encoding: 'utf8' });
    const fromC = new Map(out.trim().split('\n').map((l) => { const [k, v] = l.split(' '); return [k!, Number(v)] as const; }));
    const wrong = Object.keys(exprs).filter((k) => fromC.get(k) !== ((C as Record<string, unknown>)[k] as number) >>> 0)
      .map((k) => `${k}: ours ${(C as Record<string, unknown>)[k]}, headers ${fromC.get(k)}`);
    assert.equal(wrong, []);
    assert.ok(fromC.size > 100, `checked ${fromC.size} constants`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
