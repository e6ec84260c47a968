/**
 * The BTF attr layouts (src/syscall/attr.ts: BTF_LOAD, BTF_GET_ID, bpf_btf_info) against
 * linux/bpf.h, the way test/unit/offsets.test.ts checks the others: gcc's offsetof from the
 * installed header. Fields newer than the header (btf_log_true_size, 6.4) must sit right after
 * the header's last field. And what loadProgram and createMap put in the attrs when they send
 * BTF, through a fake kernel.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { program, r0 } from '../../src/asm/index.ts';
import { ctypes, decodeBtf, formatRaw } from '../../src/btf/index.ts';
import { BTF_LAYOUTS, BTF_LOAD, BTF_NEWER_THAN_HEADER, MAP_CREATE, PROG_LOAD, readU32, readU64 } from '../../src/syscall/attr.ts';
import { Cmd, createMap, loadProgram, type Sys } from '../../src/syscall/index.ts';
import { kernelRequired } from '../support/kernel.ts';

const gcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const t = gcc ? test : kernelRequired ? (n: string) => test(n, () => { throw new Error('gcc is required (CI=true)'); }) : test.skip;

const C = `#include <stddef.h>
#include <stdio.h>
#include <linux/bpf.h>
#define A(L, F, P) printf("%s.%s %zu %zu\\n", L, #F, offsetof(union bpf_attr, P), sizeof(((union bpf_attr *)0)->P))
#define S(T, L, F) printf("%s.%s %zu %zu\\n", L, #F, offsetof(struct T, F), sizeof(((struct T *)0)->F))
int main(void) {
  A("BTF_LOAD", btf, btf); A("BTF_LOAD", btf_log_buf, btf_log_buf); A("BTF_LOAD", btf_size, btf_size);
  A("BTF_LOAD", btf_log_size, btf_log_size); A("BTF_LOAD", btf_log_level, btf_log_level);
  A("BTF_GET_ID", btf_id, btf_id); A("BTF_GET_ID", next_id, next_id); A("BTF_GET_ID", open_flags, open_flags);
  S(bpf_btf_info, "bpf_btf_info", btf); S(bpf_btf_info, "bpf_btf_info", btf_size); S(bpf_btf_info, "bpf_btf_info", id);
  S(bpf_btf_info, "bpf_btf_info", name); S(bpf_btf_info, "bpf_btf_info", name_len); S(bpf_btf_info, "bpf_btf_info", kernel_btf);
  return 0;
}
`;

t('BTF_LOAD, BTF_GET_FD_BY_ID and bpf_btf_info fields sit where linux/bpf.h puts them', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-btf-attr-'));
  try {
    writeFileSync(path.join(dir, 'o.c'), C);
    execFileSync('gcc', ['-Wall', '-Werror', '-o', path.join(dir, 'o'), path.join(dir, 'o.c')]);
    const want = new Map(execFileSync(path.join(dir, 'o'), { encoding: 'utf8' }).trim().split('\n').map((l) => {
      const [k, off, size] = l.split(' ');
      return [k!, { off: Number(off), size: Number(size) }];
    }));
    let checked = 0;
    for (const l of BTF_LAYOUTS) {
      for (const [name, f] of Object.entries(l.fields)) {
        const key = `${l.name}.${name}`;
        if (BTF_NEWER_THAN_HEADER.has(key)) continue;
        assert.equal({ off: f.off, size: f.size }, want.get(key), key);
        checked++;
      }
    }
    assert.is(checked, want.size);
    const last = want.get('BTF_LOAD.btf_log_level')!;
    assert.is(BTF_LAYOUTS[0]!.fields.btf_log_true_size!.off, last.off + last.size);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A kernel that accepts everything and remembers the buffers pointed at. */
function fake(): Sys & { calls: { cmd: number; attr: Uint8Array }[]; mem: Map<bigint, Uint8Array> } {
  const mem = new Map<bigint, Uint8Array>();
  const calls: { cmd: number; attr: Uint8Array }[] = [];
  let next = 0x1000n, fd = 10;
  return {
    calls, mem,
    bpf: (cmd, attr) => { calls.push({ cmd, attr: attr.slice() }); return fd++; },
    addressOf: (b) => { for (const [a, x] of mem) if (x === b) return a; mem.set(next += 0x1000n, b); return next; },
    close: () => 0,
  };
}

test('loadProgram with btf sends BPF_BTF_LOAD, then PROG_LOAD with prog_btf_fd, func_info and line_info', () => {
  const k = fake();
  const spec = program({ name: 'p', type: 'xdp' }, (b) => {
    b.mov(r0, 2);
    b.exit();
  });
  loadProgram(spec, { sys: k, btf: true }).close();
  assert.equal(k.calls.map((c) => c.cmd), [Cmd.BTF_LOAD, Cmd.PROG_LOAD]);
  const btfFd = 10, a = k.calls[1]!.attr;
  assert.is(readU32(PROG_LOAD, a, 'prog_btf_fd'), btfFd);
  assert.is(readU32(PROG_LOAD, a, 'func_info_rec_size'), 8);
  assert.is(readU32(PROG_LOAD, a, 'func_info_cnt'), 1);
  assert.is(readU32(PROG_LOAD, a, 'line_info_rec_size'), 16);
  assert.is(readU32(PROG_LOAD, a, 'line_info_cnt'), 2);
  assert.is(k.mem.get(readU64(PROG_LOAD, a, 'line_info'))!.length, 32);
  // The entry's ctx is the XDP context struct.
  assert.match(formatRaw(decodeBtf(k.mem.get(readU64(BTF_LOAD, k.calls[0]!.attr, 'btf'))!)), /STRUCT 'xdp_md'/);
});

test('loadProgram through an injected Sys sends no BTF unless asked', () => {
  const k = fake();
  loadProgram(program({ name: 'p', type: 'xdp' }, (b) => { b.mov(r0, 2); b.exit(); }), { sys: k }).close();
  assert.equal(k.calls.map((c) => c.cmd), [Cmd.PROG_LOAD]);
  assert.is(readU32(PROG_LOAD, k.calls[0]!.attr, 'prog_btf_fd'), 0);
});

test('createMap with a value type sends BTF and the key and value type ids', () => {
  const k = fake();
  const v = ctypes.struct('v', { a: ctypes.u64, b: ctypes.u32 });
  createMap({ name: 'm', type: 'hash', keySize: 4, valueSize: v.size, maxEntries: 1, valueType: v }, { sys: k }).close();
  assert.equal(k.calls.map((c) => c.cmd), [Cmd.BTF_LOAD, Cmd.MAP_CREATE]);
  const a = k.calls[1]!.attr;
  assert.is(readU32(MAP_CREATE, a, 'btf_fd'), 10);
  const btf = decodeBtf(k.mem.get(readU64(BTF_LOAD, k.calls[0]!.attr, 'btf'))!);
  assert.is(btf.type(readU32(MAP_CREATE, a, 'btf_key_type_id')).name, '__u32');
  assert.is(btf.type(readU32(MAP_CREATE, a, 'btf_value_type_id')).name, 'v');
});

test.run();
