/**
 * Our byte layouts and uapi numbers, checked by an independent method: gcc compiles
 * test/fixtures/offsets.c against the installed linux/bpf.h and prints offsetof / sizeof / enum
 * values, which must agree with src/syscall/attr.ts, src/syscall/constants.ts and src/asm/skb.ts.
 * Without gcc the suite skips, except under CI=true / TSBPF_REQUIRE_KERNEL=1 where it fails.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BITFIELDS, LAYOUTS, NEWER_THAN_HEADER } from '../../src/syscall/attr.ts';
import {
  ATTACH_TYPES, BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
  BPF_STATS_RUN_TIME, Cmd, MAP_TYPES, MapFlags, PROG_TYPES, ProgFlags, TestRunFlags,
  AttachFlags, BPF_F_QUERY_EFFECTIVE, LINK_TYPES, XdpFlags,
} from '../../src/syscall/constants.ts';
import { OBJ_NAME_LEN, TAG_SIZE } from '../../src/syscall/attr.ts';
import { skb } from '../../src/asm/skb.ts';
import { kernelRequired } from '../support/kernel.ts';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'offsets.c');

function hasGcc(): boolean {
  try { execFileSync('gcc', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Compile and run the fixture: field lines and enum lines. */
function runFixture(): { fields: Map<string, { off: number; size: number }>; enums: Map<string, number> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-offsets-'));
  try {
    const exe = path.join(dir, 'offsets');
    execFileSync('gcc', ['-Wall', '-Werror', '-o', exe, fixture], { stdio: ['ignore', 'ignore', 'pipe'] });
    const out = execFileSync(exe, { encoding: 'utf8' });
    const fields = new Map<string, { off: number; size: number }>();
    const enums = new Map<string, number>();
    for (const line of out.trim().split('\n')) {
      const [kind, name, a, b] = line.split(' ');
      if (kind === 'field') fields.set(name!, { off: Number(a), size: Number(b) });
      else if (kind === 'enum') enums.set(name!, Number(a));
      else throw new Error(`unexpected fixture line: ${line}`);
    }
    return { fields, enums };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const gcc = hasGcc();
const t = gcc ? test : kernelRequired
  ? (name: string) => test(name, () => { throw new Error('gcc is required for the offsets check (CI=true): apt-get install -y gcc'); })
  : test.skip;

const c = gcc ? runFixture() : { fields: new Map(), enums: new Map() };

t('every attr and info field we use sits where linux/bpf.h puts it', () => {
  let checked = 0;
  for (const l of LAYOUTS) {
    for (const [name, f] of Object.entries(l.fields)) {
      const key = `${l.name}.${name}`;
      const want = c.fields.get(key);
      if (NEWER_THAN_HEADER.has(key)) {
        assert.is(want, undefined, `${key} is listed as newer than the header, but the fixture printed it`);
        continue;
      }
      assert.ok(want, `${key}: the fixture does not print it (add it to test/fixtures/offsets.c)`);
      assert.is(f.off, want!.off, `${key} offset`);
      assert.is(f.size, want!.size, `${key} size`);
      checked++;
    }
  }
  assert.ok(checked > 100, `only ${checked} fields checked`);
});

t('every field the fixture prints is in our tables (neither side drifts)', () => {
  const ours = new Set<string>();
  for (const l of LAYOUTS) for (const k of Object.keys(l.fields)) ours.add(`${l.name}.${k}`);
  for (const k of Object.keys(skb)) ours.add(`__sk_buff.${k}`);
  for (const key of c.fields.keys()) assert.ok(ours.has(key), `${key} printed by the fixture but not in attr.ts/skb.ts`);
  for (const b of BITFIELDS) assert.ok(c.fields.has(b), b);
});

t('newer-than-header fields follow the header\'s last field (PROG_LOAD.log_true_size at 140)', () => {
  const last = c.fields.get('PROG_LOAD.core_relo_rec_size')!;
  const prog = LAYOUTS.find((l) => l.name === 'PROG_LOAD')!;
  assert.is((prog.fields as Record<string, { off: number }>).log_true_size!.off, last.off + last.size);
});

t('struct __sk_buff offsets in src/asm/skb.ts match the header', () => {
  for (const [name, off] of Object.entries(skb)) {
    const want = c.fields.get(`__sk_buff.${name}`);
    assert.ok(want, `__sk_buff.${name} not printed`);
    assert.is(off, want!.off, `__sk_buff.${name}`);
  }
});

t('commands, map/program/attach types and flags have the header\'s values', () => {
  const ours = new Map<string, number>();
  for (const [k, v] of Object.entries(Cmd)) ours.set(`BPF_${k}`, v);
  MAP_TYPES.forEach((n, i) => ours.set(`BPF_MAP_TYPE_${n.toUpperCase()}`, i));
  PROG_TYPES.forEach((n, i) => ours.set(`BPF_PROG_TYPE_${n.toUpperCase()}`, i));
  ATTACH_TYPES.forEach((n, i) => ours.set(`BPF_${n.toUpperCase()}`, i));
  for (const [k, v] of Object.entries(MapFlags)) ours.set(`BPF_F_${k}`, v);
  for (const [k, v] of Object.entries(ProgFlags)) ours.set(`BPF_F_${k}`, v);
  for (const [k, v] of Object.entries(TestRunFlags)) ours.set(`BPF_F_TEST_${k}`, v);
  LINK_TYPES.forEach((n, i) => ours.set(`BPF_LINK_TYPE_${n.toUpperCase()}`, i));
  for (const [k, v] of Object.entries(AttachFlags)) ours.set(`BPF_F_${k}`, v);
  for (const [k, v] of Object.entries(XdpFlags)) ours.set(`XDP_FLAGS_${k}`, v);
  ours.set('BPF_F_QUERY_EFFECTIVE', BPF_F_QUERY_EFFECTIVE);
  Object.entries({ BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, BPF_STATS_RUN_TIME, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
    BPF_OBJ_NAME_LEN: OBJ_NAME_LEN, BPF_TAG_SIZE: TAG_SIZE }).forEach(([k, v]) => ours.set(k, v));
  assert.ok(c.enums.size > 150, `only ${c.enums.size} enum values printed`);
  for (const [name, value] of c.enums) {
    assert.ok(ours.has(name), `${name} printed by the fixture but we have no value for it`);
    assert.is(ours.get(name), value, name);
  }
});

test.run();
