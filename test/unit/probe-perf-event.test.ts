/**
 * The perf-event layer without a kernel: the bytes of perf_event_attr and BPF_LINK_CREATE that
 * uprobes, kprobes and tracepoints write (layouts checked against the installed headers by gcc),
 * the order of system calls, the ioctl fallback, and that every failure closes what it opened.
 * A fake Sys plays the kernel and records each call.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LINK_CREATE_PERF, LINK_INFO_HEAD, PERF_EVENT_ATTR, PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF,
  PERF_FLAG_FD_CLOEXEC, PERF_TYPE_TRACEPOINT, ProbeError, readPmu,
} from '../../src/attach/perf-event.ts';
import { attachUprobe } from '../../src/attach/uprobe.ts';
import { attachKprobe, kprobesAvailable } from '../../src/attach/kprobe.ts';
import { attachTracepoint, ensureTracefs } from '../../src/attach/tracepoint.ts';
import { Cmd, attachTypeId } from '../../src/syscall/constants.ts';
import { Program } from '../../src/syscall/program.ts';
import type { Sys } from '../../src/syscall/sys.ts';
import { kernelRequired } from '../support/kernel.ts';

type Call = { readonly name: string; readonly args: readonly unknown[] };

/** A Sys that records every call; perf_event_open gives fd 50, LINK_CREATE 60, unless told otherwise. */
function fakeSys(o: { perf?: number; link?: number; ioctl?: (req: number) => number } = {}) {
  const calls: Call[] = [];
  const memory = new Map<bigint, Uint8Array>();
  let next = 0x10000n;
  const sys: Sys = {
    bpf(cmd, attr) { calls.push({ name: 'bpf', args: [cmd, attr.slice()] }); return cmd === Cmd.LINK_CREATE ? (o.link ?? 60) : 0; },
    addressOf(b) { const a = next; next += 0x1000n; memory.set(a, b); return a; },
    close(fd) { calls.push({ name: 'close', args: [fd] }); return 0; },
    perfEventOpen(attr, pid, cpu, group, flags) {
      // The path/symbol must be readable during the call: copy it now, as the kernel does.
      const c1 = new DataView(attr.buffer).getBigUint64(56, true);
      const str = memory.get(c1);
      calls.push({ name: 'perf_event_open', args: [attr.slice(), pid, cpu, group, flags, str ? new TextDecoder().decode(str.subarray(0, str.indexOf(0))) : undefined] });
      return o.perf ?? 50;
    },
    ioctl(fd, req, arg) { calls.push({ name: 'ioctl', args: [fd, req, arg] }); return o.ioctl?.(req) ?? 0; },
  };
  return { sys, calls };
}

const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const u64 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);

/** A fake sysfs with an uprobe PMU of type 8 and, when asked, a kprobe PMU of type 6. */
function pmus(withKprobe: boolean): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-pmu-'));
  for (const [name, type] of withKprobe ? [['uprobe', 8], ['kprobe', 6]] as const : [['uprobe', 8]] as const) {
    mkdirSync(path.join(dir, name, 'format'), { recursive: true });
    writeFileSync(path.join(dir, name, 'type'), `${type}\n`);
    writeFileSync(path.join(dir, name, 'format', 'retprobe'), 'config:0\n');
  }
  return dir;
}

const prog = (sys: Sys, type = 'kprobe') => new Program(7, { name: 'count_calls', type, sys });

// ---- layouts against the headers -------------------------------------------------------------

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'probe-offsets.c');
function gccFixture(): { fields: Map<string, { off: number; size: number }>; enums: Map<string, number> } | null {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-probe-offsets-'));
  try {
    const exe = path.join(dir, 'po');
    try { execFileSync('gcc', ['-Wall', '-Werror', '-o', exe, fixture], { stdio: ['ignore', 'ignore', 'pipe'] }); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const fields = new Map<string, { off: number; size: number }>(), enums = new Map<string, number>();
    for (const line of execFileSync(exe, { encoding: 'utf8' }).trim().split('\n')) {
      const f = /^field (\S+) (\d+) (\d+)$/.exec(line), e = /^enum (.+) (-?\d+)$/.exec(line);
      if (f) fields.set(f[1]!, { off: Number(f[2]), size: Number(f[3]) });
      else if (e) enums.set(e[1]!, Number(e[2]));
      else throw new Error(`unexpected fixture line ${line}`);
    }
    return { fields, enums };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const c = gccFixture();
const withGcc = c ? test : kernelRequired ? (name: string) => test(name, () => { throw new Error('gcc is required for the layout check (CI=true)'); }) : test.skip;

withGcc('perf_event_attr, link_create and bpf_link_info sit where the installed headers put them', () => {
  let n = 0;
  for (const l of [PERF_EVENT_ATTR, LINK_CREATE_PERF, LINK_INFO_HEAD]) {
    for (const [name, f] of Object.entries(l.fields)) {
      const want = c!.fields.get(`${l.name}.${name}`);
      assert.ok(want, `${l.name}.${name} is not in the fixture`);
      assert.equal({ off: f.off, size: f.size }, want, `${l.name}.${name}`);
      n++;
    }
  }
  assert.is(n, c!.fields.size, 'every fixture line is one of our fields');
  assert.is(PERF_EVENT_ATTR.size, c!.enums.get('sizeof(struct perf_event_attr)'));
  assert.is(PERF_EVENT_ATTR.size, c!.enums.get('PERF_ATTR_SIZE_VER7'));
});

withGcc('the perf constants and BPF_PERF_EVENT match the headers', () => {
  assert.is(PERF_TYPE_TRACEPOINT, c!.enums.get('PERF_TYPE_TRACEPOINT'));
  assert.is(PERF_FLAG_FD_CLOEXEC, c!.enums.get('PERF_FLAG_FD_CLOEXEC'));
  assert.is(PERF_EVENT_IOC_ENABLE, c!.enums.get('PERF_EVENT_IOC_ENABLE'));
  assert.is(PERF_EVENT_IOC_DISABLE, c!.enums.get('PERF_EVENT_IOC_DISABLE'));
  assert.is(PERF_EVENT_IOC_SET_BPF, c!.enums.get('PERF_EVENT_IOC_SET_BPF'));
  assert.is(attachTypeId('perf_event'), c!.enums.get('BPF_PERF_EVENT'));
  assert.is(Cmd.LINK_CREATE, c!.enums.get('BPF_LINK_CREATE'));
});

// ---- uprobe ----------------------------------------------------------------------------------

test('uprobe: perf_event_attr carries the PMU type, the path in config1 and the offset in config2; then one LINK_CREATE', () => {
  const dir = pmus(false);
  try {
    const { sys, calls } = fakeSys();
    const a = attachUprobe(prog(sys), { binary: process.execPath, offset: 0x1234, pid: 4242, pmuDir: dir, sys });
    assert.equal(calls.map((x) => x.name), ['perf_event_open', 'bpf']);
    const [attr, pid, cpu, group, flags, pathSeen] = calls[0]!.args as [Uint8Array, number, number, number, number, string];
    assert.is(attr.length, 128);
    assert.is(u32(attr, 0), 8, 'type: the uprobe PMU from sysfs');
    assert.is(u32(attr, 4), 128, 'size');
    assert.is(u64(attr, 8), 0n, 'config: an entry probe');
    assert.is(u64(attr, 64), 0x1234n, 'config2: the file offset');
    assert.is(pathSeen, process.execPath, 'config1 points at the path, NUL-terminated');
    assert.equal(attr.subarray(72), new Uint8Array(56), 'nothing else is set');
    assert.equal([pid, cpu, group, flags], [4242, -1, -1, PERF_FLAG_FD_CLOEXEC], 'a pid: any cpu');
    const [cmd, link] = calls[1]!.args as [number, Uint8Array];
    assert.is(cmd, Cmd.LINK_CREATE);
    assert.equal([u32(link, 0), u32(link, 4), u32(link, 8), u32(link, 12), u64(link, 16)], [7, 50, 41, 0, 0n], 'prog_fd, target_fd = the perf fd, BPF_PERF_EVENT');
    assert.is(a.mode, 'link');
    assert.is(a.linkFd, 60);
    a.close();
    assert.equal(calls.slice(2).map((x) => x.args[0]), [60, 50], 'closing gives back the link, then the event');
    a.close();
    assert.is(calls.length, 4, 'closing twice closes nothing more');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('uretprobe sets the retprobe bit of config; without a pid the event is on cpu 0 for every process', () => {
  const dir = pmus(false);
  try {
    const { sys, calls } = fakeSys();
    attachUprobe(prog(sys), { binary: process.execPath, offset: 16, retprobe: true, pmuDir: dir, sys }).close();
    const [attr, pid, cpu] = calls[0]!.args as [Uint8Array, number, number];
    assert.is(u64(attr, 8), 1n);
    assert.equal([pid, cpu], [-1, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('auto mode falls back to SET_BPF + ENABLE where LINK_CREATE refuses perf events (EINVAL), and disables on close', () => {
  const dir = pmus(false);
  try {
    const { sys, calls } = fakeSys({ link: -22 });
    const a = attachUprobe(prog(sys), { binary: process.execPath, offset: 16, pmuDir: dir, sys });
    assert.is(a.mode, 'ioctl');
    assert.equal(calls.filter((x) => x.name === 'ioctl').map((x) => x.args), [[50, PERF_EVENT_IOC_SET_BPF, 7], [50, PERF_EVENT_IOC_ENABLE, 0]]);
    assert.throws(() => a.pin('/sys/fs/bpf/x'), /only a bpf link can be pinned/);
    a.close();
    assert.equal(calls.slice(-2).map((x) => [x.name, ...x.args]), [['ioctl', 50, PERF_EVENT_IOC_DISABLE, 0], ['close', 50]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed attach closes the perf event it opened and says why in one line', () => {
  const dir = pmus(false);
  try {
    const { sys, calls } = fakeSys({ link: -1 });
    const err = (() => { try { attachUprobe(prog(sys), { binary: process.execPath, offset: 16, pmuDir: dir, sys }); } catch (e) { return e; } })();
    assert.instance(err, ProbeError);
    assert.is((err as ProbeError).code, 'EPERM');
    assert.not.match((err as Error).message, /\n/);
    assert.match((err as Error).message, /needs root/);
    assert.equal(calls.map((x) => x.name), ['perf_event_open', 'bpf', 'close']);
    assert.equal(calls[2]!.args, [50]);

    const f2 = fakeSys({ link: -22 });
    assert.throws(() => attachUprobe(prog(f2.sys), { binary: process.execPath, offset: 16, pmuDir: dir, sys: f2.sys, mode: 'link' }), /a uprobe runs kprobe-type programs/);
    assert.equal(f2.calls.at(-1), { name: 'close', args: [50] }, "mode 'link' does not fall back, and closes the event");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a program of the wrong type, a missing binary or no symbol/offset fail before any system call', () => {
  const dir = pmus(false);
  try {
    const { sys, calls } = fakeSys();
    assert.throws(() => attachUprobe(prog(sys, 'xdp'), { binary: process.execPath, offset: 16, pmuDir: dir, sys }),
      (e: Error) => e instanceof ProbeError && /is a xdp program, and a uprobe runs kprobe programs/.test(e.message));
    assert.throws(() => attachUprobe(prog(sys), { binary: '/nonexistent/tsbpf-bin', symbol: 'main', pmuDir: dir, sys }), /no file \/nonexistent\/tsbpf-bin/);
    assert.throws(() => attachUprobe(prog(sys), { binary: 'tsbpf-no-such-library', symbol: 'x', pmuDir: dir, sys }), /no binary or library named 'tsbpf-no-such-library'/);
    assert.throws(() => attachUprobe(prog(sys), { binary: process.execPath, pmuDir: dir, sys }), /give a symbol or an offset/);
    assert.throws(() => attachUprobe(prog(sys), { binary: process.execPath, offset: -1, pmuDir: dir, sys }), /not a non-negative integer/);
    assert.is(calls.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('perf_event_open failures name the errno and the fix', () => {
  const dir = pmus(false);
  try {
    for (const [errno, re] of [[13, /EACCES.*CAP_PERFMON/], [2, /ENOENT.*does not exist/], [22, /EINVAL.*instruction boundary/], [3, /ESRCH.*no process/]] as const) {
      const { sys, calls } = fakeSys({ perf: -errno });
      assert.throws(() => attachUprobe(prog(sys), { binary: process.execPath, offset: 16, pid: 1, pmuDir: dir, sys }), re);
      assert.equal(calls.map((x) => x.name), ['perf_event_open'], 'nothing was opened, so nothing is closed');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- kprobe ----------------------------------------------------------------------------------

test('kprobe: without a kprobe PMU it says the kernel has no kprobes and what to use, and makes no call', () => {
  const dir = pmus(false);
  try {
    const { sys, calls } = fakeSys();
    assert.is(kprobesAvailable(dir), false);
    const err = (() => { try { attachKprobe(prog(sys), 'do_sys_openat2', { pmuDir: dir, sys }); } catch (e) { return e as ProbeError; } })();
    assert.instance(err, ProbeError);
    assert.is(err!.message, 'cannot attach kprobe do_sys_openat2: this kernel has no kprobes (CONFIG_KPROBES is off): use a uprobe (attachUprobe) or a tracepoint (attachTracepoint)');
    assert.is(calls.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kprobe: with a kprobe PMU, config1 points at the symbol and config2 is the offset', () => {
  const dir = pmus(true);
  try {
    const { sys, calls } = fakeSys();
    assert.equal(readPmu('kprobe', dir), { name: 'kprobe', type: 6, retprobeBit: 0 });
    attachKprobe(prog(sys), 'do_sys_openat2', { offset: 4, retprobe: true, pmuDir: dir, sys }).close();
    const [attr, pid, cpu, , , sym] = calls[0]!.args as [Uint8Array, number, number, number, number, string];
    assert.equal([u32(attr, 0), u64(attr, 8), u64(attr, 64), sym, pid, cpu], [6, 1n, 4n, 'do_sys_openat2', -1, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- tracepoint ------------------------------------------------------------------------------

test('tracepoint: PERF_TYPE_TRACEPOINT with the id from tracefs, sample_period 1', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-tracefs-'));
  try {
    mkdirSync(path.join(dir, 'events', 'syscalls', 'sys_enter_getpid'), { recursive: true });
    writeFileSync(path.join(dir, 'events', 'syscalls', 'sys_enter_getpid', 'id'), '123\n');
    const { sys, calls } = fakeSys();
    attachTracepoint(prog(sys, 'tracepoint'), 'syscalls', 'sys_enter_getpid', { tracefs: dir, sys }).close();
    const [attr, pid, cpu] = calls[0]!.args as [Uint8Array, number, number];
    assert.equal([u32(attr, 0), u64(attr, 8), u64(attr, 16), u32(attr, 48), pid, cpu], [2, 123n, 1n, 1, -1, 0]);
    assert.throws(() => attachTracepoint(prog(sys, 'tracepoint'), 'syscalls', 'sys_enter_nope', { tracefs: dir, sys }), /no such tracepoint: list them with `ls .*\/events\/syscalls`/);
    assert.throws(() => attachTracepoint(prog(sys, 'tracepoint'), '../x', 'y', { tracefs: dir, sys }), /category and name are words/);
    assert.throws(() => attachTracepoint(prog(sys, 'kprobe'), 'syscalls', 'sys_enter_getpid', { tracefs: dir, sys }), /a tracepoint runs tracepoint programs/);
    assert.is(calls.length, 4, 'open, link, and the two closes: the failures opened nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ensureTracefs finds a tracefs mount, or mounts one through the Sys seam', () => {
  assert.is(ensureTracefs({ mountsText: 'tracefs /sys/kernel/tracing tracefs rw 0 0\n' }), '/sys/kernel/tracing');
  const mounts: unknown[][] = [];
  const sys = { ...fakeSys().sys, mount: (...a: unknown[]) => { mounts.push(a); return 0; } } as Sys;
  assert.is(ensureTracefs({ mountsText: 'proc /proc proc rw 0 0\n', sys }), '/sys/kernel/tracing');
  assert.equal(mounts, [['tracefs', '/sys/kernel/tracing', 'tracefs', 0, null]]);
  const denied = { ...fakeSys().sys, mount: () => -1 } as Sys;
  assert.throws(() => ensureTracefs({ mountsText: '', sys: denied }), /mounting tracefs at \/sys\/kernel\/tracing failed: EPERM: mounting needs root/);
  assert.throws(() => ensureTracefs({ mountsText: '', mount: false }), /tracefs is not mounted: mount it with/);
});

test.run();
