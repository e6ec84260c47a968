/**
 * Uprobes, tracepoints and kprobes against the real kernel (root). A child built by gcc from
 * test/fixtures/probe-getpids.c calls getpid() and its own tick() exactly N times; the
 * programs must count exactly N. Every attachment is closed in a finally, and every failure is
 * checked to leave no fd and no bpf link behind.
 */
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { spawnHeld } from '../../programs/held-child.ts';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProbeError, type PerfEventAttachment } from '../../src/attach/perf-event.ts';
import { attachUprobe } from '../../src/attach/uprobe.ts';
import { attachTracepoint } from '../../src/attach/tracepoint.ts';
import { attachKprobe, kprobesAvailable } from '../../src/attach/kprobe.ts';
import { createMap, type BpfMap } from '../../src/syscall/map.ts';
import { u32, u64 } from '../../src/codec.ts';
import { loadProgram, type Program } from '../../src/syscall/program.ts';
import { ensureBpffs } from '../../src/syscall/bpffs.ts';
import { callCounter, callsSpec, countCalls } from '../../programs/uprobe-count.ts';
import { udpPortFilter } from '../../programs/sockfilter.ts';
import { kernelSuite, sh, uniqueName } from '../support/kernel.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const s = kernelSuite<{ dir: string; exe: string }>('probes', { dir: '', exe: '' });

s.before((ctx) => {
  ctx.dir = mkdtempSync(path.join(tmpdir(), 'tsbpf-probe-'));
  ctx.exe = path.join(ctx.dir, 'probe-getpids');
  execFileSync('gcc', ['-O2', '-o', ctx.exe, path.join(ROOT, 'test', 'fixtures', 'probe-getpids.c')]);
});
s.after((ctx) => { rmSync(ctx.dir, { recursive: true, force: true }); });

const openFds = (): number => readdirSync('/proc/self/fd').length;
/** perf_event links (bpftool 7.1 may print the type as its number, 7): other tests on this kernel make only tcx and XDP links. */
const linkIds = (): number[] => (JSON.parse(sh('bpftool', ['link', 'show', '-j'])) as { id: number; type: string | number }[])
  .filter((l) => l.type === 'perf_event' || l.type === 7).map((l) => l.id);

/** A counter program and its map, closed by the caller's `using`. */
function counter(opts: Parameters<typeof callCounter>[0] = {}): { map: BpfMap<number, bigint>; prog: Program } & Disposable {
  const map = createMap<number, bigint>(callsSpec, { key: u32, value: u64 });
  const prog = loadProgram(callCounter(opts), { maps: [map] });
  return { map, prog, [Symbol.dispose]: () => { prog.close(); map.close(); } };
}

/** Start `exe N` held at a read; attach(pid) runs before it is released; resolves when it has exited. */
async function runHeld(exe: string, n: number, attach: (pid: number) => PerfEventAttachment): Promise<void> {
  const held = await spawnHeld(exe, [String(n)], { stdout: 'ignore' });
  let a: PerfEventAttachment | undefined;
  try {
    a = attach(held.pid);
    held.release();
    assert.is(await held.exited, 0, 'the child ran to the end');
  } finally {
    a?.close();
    await held.kill();
  }
}

/** Run fn, which must throw a ProbeError of one line, and check that it left no fd and no link. */
function failsCleanly(fn: () => unknown, re: RegExp): ProbeError {
  const fds = openFds(), links = linkIds();
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  assert.instance(err, ProbeError, `expected a ProbeError, got ${String(err)}`);
  assert.match((err as Error).message, re);
  assert.not.match((err as Error).message, /\n/, 'one line');
  assert.is(openFds(), fds, 'no fd left open');
  assert.equal(linkIds(), links, 'no perf_event link left');
  return err as ProbeError;
}

s('uprobe-count counts exactly the getpid() calls of the process it starts (libc, by symbol, pid-filtered)', async (ctx) => {
  for (const n of [0, 1, 1000]) {
    const r = await countCalls({ command: [ctx.exe, String(n)], stdio: 'ignore' });
    assert.is(r.calls, BigInt(n), `${n} calls`);
    assert.is(r.exitCode, 0);
    assert.match(r.binary, /libc\.so\.6$/);
  }
});

s('a uprobe on the executable\'s own function, without a pid filter, and a uretprobe, count exactly N', async (ctx) => {
  for (const retprobe of [false, true]) {
    using c = counter();
    await runHeld(ctx.exe, 321, () => attachUprobe(c.prog, { binary: ctx.exe, symbol: 'tick', retprobe }));
    assert.is(c.map.get(0), 321n, retprobe ? 'returns' : 'entries');
  }
});

s('the tracepoint syscalls/sys_enter_getpid counts the child\'s getpid syscalls (the program filters on its tgid)', async (ctx) => {
  const held = await spawnHeld(ctx.exe, ['500'], { stdout: 'ignore' });
  try {
    using c = counter({ type: 'tracepoint', tgid: held.pid });
    using tp = attachTracepoint(c.prog, 'syscalls', 'sys_enter_getpid');
    assert.is(tp.mode, 'link');
    held.release();
    assert.is(await held.exited, 0);
    assert.is(c.map.get(0), 500n);
  } finally {
    await held.kill();
  }
});

s('the attachment is a bpf link that bpftool sees; pin keeps it; detach removes our pin and the link', async (ctx) => {
  using c = counter();
  const pin = path.join(ensureBpffs(), uniqueName('tsbpfup'));
  const a = attachUprobe(c.prog, { binary: ctx.exe, symbol: 'tick' });
  try {
    const info = a.info();
    assert.is(info.mode, 'link');
    assert.is(info.progId, c.prog.id);
    const shown = JSON.parse(sh('bpftool', ['link', 'show', 'id', String(info.linkId), '-j'])) as { type: string | number; prog_id: number };
    assert.ok(shown.type === 'perf_event' || shown.type === 7, `bpftool says type ${shown.type}`);
    assert.is(shown.prog_id, info.progId);
    assert.throws(() => a.release(), /releasing would detach it: pin it first/);
    a.pin(pin);
    a.release();
    assert.ok(linkIds().includes(info.linkId!), 'the pin holds the link after our fds are closed');
    await runHeld(ctx.exe, 7, () => attachUprobe(c.prog, { binary: ctx.exe, symbol: 'tick', pid: 1 }));
    assert.is(c.map.get(0), 7n, 'the pinned probe still counts (the pid-1 probe counts nothing)');
    a.detach();
    assert.not.ok(existsSync(pin), 'our pin is gone');
    assert.not.ok(linkIds().includes(info.linkId!), 'and with it the link');
  } finally {
    a.detach();
    rmSync(pin, { force: true });
  }
});

s('kprobes: this kernel has none, and attachKprobe says so and what to use instead', () => {
  using c = counter();
  const config = spawnSync('sh', ['-c', 'zcat /proc/config.gz 2>/dev/null | grep -E "^(# )?CONFIG_KPROBES[ =]"'], { encoding: 'utf8' }).stdout.trim();
  if (kprobesAvailable()) {
    assert.match(config, /CONFIG_KPROBES=y/);
    attachKprobe(c.prog, 'do_sys_openat2').close();
    return;
  }
  assert.ok(config === '' || config === '# CONFIG_KPROBES is not set', config);
  const e = failsCleanly(() => attachKprobe(c.prog, 'do_sys_openat2'), /^cannot attach kprobe do_sys_openat2: this kernel has no kprobes \(CONFIG_KPROBES is off\): use a uprobe \(attachUprobe\) or a tracepoint \(attachTracepoint\)$/);
  assert.is(e.kind, 'kprobe');
});

s('errors are one line and leave nothing behind: missing binary, missing symbol, wrong program type, no such tracepoint', (ctx) => {
  using c = counter();
  using filter = loadProgram(udpPortFilter());
  failsCleanly(() => attachUprobe(c.prog, { binary: '/nonexistent/bin', symbol: 'main' }), /^cannot attach uprobe \/nonexistent\/bin:main: no file \/nonexistent\/bin/);
  failsCleanly(() => attachUprobe(c.prog, { binary: ctx.exe, symbol: 'no_such_fn' }), /no symbol 'no_such_fn' in \.(dyn)?sym(tab)? and \.(dyn)?sym(tab)?: check the name/);
  failsCleanly(() => attachUprobe(c.prog, { binary: 'libc', symbol: 'getpid', pid: 0x3ffffff0 }), /ESRCH.*no process has that pid/);
  failsCleanly(() => attachUprobe(c.prog, { binary: ctx.exe, offset: 0x7fffff0 }), /perf_event_open failed \(EINVAL\): the offset is not inside the file's code/);
  failsCleanly(() => attachUprobe(filter, { binary: ctx.exe, symbol: 'tick' }), /program 'udp_port' is a socket_filter program, and a uprobe runs kprobe programs/);
  failsCleanly(() => attachTracepoint(c.prog, 'syscalls', 'sys_enter_getpid'), /a tracepoint runs tracepoint programs/);
  using tp = counter({ type: 'tracepoint' });
  failsCleanly(() => attachTracepoint(tp.prog, 'syscalls', 'sys_enter_no_such_call'), /no such tracepoint: list them with `ls .*\/events\/syscalls`/);
});

s('without capabilities (setpriv drops them all) each attach fails in one line that names what is needed', (ctx) => {
  using c = counter();
  using tp = counter({ type: 'tracepoint' });
  using filter = loadProgram(udpPortFilter());
  const child = path.join(ROOT, 'test', 'support', 'probe-child.ts');
  for (const [kind, prog, re] of [
    ['uprobe', c.prog, /^cannot attach uprobe .*probe-getpids:tick: perf_event_open failed \(E(ACCES|PERM)\): .*need root, or CAP_PERFMON/],
    ['tracepoint', tp.prog, /^cannot attach tracepoint syscalls\/sys_enter_getpid: perf_event_open failed \(E(ACCES|PERM)\): .*need root, or CAP_PERFMON/],
    ['socket_filter', filter, /^cannot attach socket_filter every interface: socket\(AF_PACKET, SOCK_RAW\) failed \(EPERM\): raw packet sockets need root \(CAP_NET_RAW\)$/],
  ] as const) {
    const r = spawnSync('setpriv', ['--inh-caps=-all', '--bounding-set=-all', '--', process.execPath, '--import', 'tsx', child, kind, ctx.exe],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', prog.fd] });
    assert.is(r.status, 0, r.stderr);
    const out = r.stdout.trim();
    assert.not.match(out, /\n/, 'one line');
    assert.match(out, re);
  }
});

s.run();
