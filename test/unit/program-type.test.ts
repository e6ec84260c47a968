/**
 * The one program-type list (src/asm/program-type.ts) against enum bpf_prog_type in the
 * installed linux/bpf.h, read by parsing the header text (no compiler needed). Entries newer
 * than the header may follow its last one; none may disagree with it. Skips when the header is
 * not installed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { PROG_TYPES, progTypeNumber, type ProgramType } from '../../src/asm/program-type.ts';
import { PROG_TYPES as SYSCALL_PROG_TYPES, progTypeId, progTypeName } from '../../src/syscall/constants.ts';

const HEADER = '/usr/include/linux/bpf.h';

/** Names and values of an enum, with implicit values counted the way C counts them. */
function parseEnum(text: string, name: string): Map<string, number> {
  const body = new RegExp(`enum\\s+${name}\\s*\\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) throw new Error(`enum ${name} not found in ${HEADER}`);
  const out = new Map<string, number>();
  let next = 0;
  for (const raw of body.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '').split(',')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)\s*(?:=\s*(\S+))?\s*$/.exec(raw);
    if (!m) { if (raw.trim() !== '') throw new Error(`cannot read enum entry '${raw.trim()}'`); continue; }
    const v = m[2] === undefined ? next : Number(m[2]);
    out.set(m[1]!, v);
    next = v + 1;
  }
  return out;
}

const t = existsSync(HEADER) ? test : test.skip;

t('every BPF_PROG_TYPE_* of linux/bpf.h has its value in the list, in order', () => {
  const e = parseEnum(readFileSync(HEADER, 'utf8'), 'bpf_prog_type');
  const header = [...e].filter(([k]) => !k.startsWith('__'));
  assert.ok(header.length > 25, `only ${header.length} program types in the header`);
  for (const [k, v] of header) {
    const name = k.replace(/^BPF_PROG_TYPE_/, '').toLowerCase();
    assert.is(PROG_TYPES[v], name, `${k} = ${v}`);
  }
});

test('parseEnum counts implicit and explicit values as C does', () => {
  const e = parseEnum('enum x { A, B = 5, /* c */ C, D = 0x10, E // e\n, };', 'x');
  assert.equal([...e], [['A', 0], ['B', 5], ['C', 6], ['D', 16], ['E', 17]]);
});

test('the syscall layer numbers program types from the same list', () => {
  assert.is(SYSCALL_PROG_TYPES, PROG_TYPES);
  assert.is(progTypeId('sched_cls'), 3);
  assert.is(progTypeId('BPF_PROG_TYPE_XDP'), 6);
  assert.is(progTypeName(3), 'sched_cls');
  const t: ProgramType = 'sched_cls';
  assert.is(progTypeNumber(t), 3);
  assert.is(progTypeNumber('unspec'), undefined);
  assert.is(progTypeNumber('nope'), undefined);
});

test.run();
