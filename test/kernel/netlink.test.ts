/**
 * src/netlink against the kernel, each test in a throwaway namespace with a veth pair
 * (test/support/kernel.ts withNetns). `tc` and `ip` are used only as independent oracles.
 */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as nl from '../../src/netlink/index.ts';
import { kernelSuite, sh, withNetns as withTestNetns } from '../support/kernel.ts';
import { loadSchedCls } from '../fixtures/netlink/load-prog.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const s = kernelSuite('netlink');

/** A loaded `r0 = 0; exit` SCHED_CLS program, closed after `fn`. */
async function withProgram<R>(name: string, fn: (fd: number, id: number) => Promise<R> | R): Promise<R> {
  const prog = loadSchedCls(name);
  try {
    return await fn(prog.fd, prog.id);
  } finally {
    prog.close();
  }
}

const tcShow = (ns: string, dev: string, hook: string) => sh('tc', ['-n', ns, 'filter', 'show', 'dev', dev, hook]);

function expectError(fn: () => unknown, code: string, message: RegExp): nl.NetlinkError {
  let caught: unknown = 'no error';
  try { fn(); } catch (e) { caught = e; }
  assert.instance(caught, nl.NetlinkError, `expected a NetlinkError ${code}, got ${String(caught)}`);
  const err = caught as nl.NetlinkError;
  assert.is(err.code, code, err.message);
  assert.match(err.message, message);
  return err;
}

s('clsact + direct-action filters on both hooks: attach, list, delete', async () => {
  await withTestNetns(({ name: ns, a }) => withProgram('tsbpf_nl_k', (fd, id) => {
    using sock = nl.routeSocket({ netns: ns });
    const q = nl.ensureClsact(sock, a);
    assert.ok(q.created);
    assert.not.ok(nl.ensureClsact(sock, a).created, 'an existing clsact is fine, and not ours');
    assert.is(nl.getClsact(sock, a)?.kind, 'clsact');

    const fin = nl.attachBpf(sock, a, 'ingress', { fd, name: 'probe_in' });
    const feg = nl.attachBpf(sock, a, 'egress', { fd, name: 'probe_eg', priority: 7, handle: 3 });
    assert.is(fin.priority, 49152, 'kernel-assigned priority read back');
    assert.is(fin.handle, 1, 'kernel-assigned handle read back');
    assert.is(fin.bpf?.progId, id);
    assert.equal([feg.priority, feg.handle, feg.hook], [7, 3, 'egress']);
    expectError(() => nl.attachBpf(sock, a, 'egress', { fd, priority: 7, handle: 3 }), 'EEXIST', /already on .* egress.*replace/);

    const listed = nl.listFilters(sock, a);
    assert.equal(listed.map((f) => [f.hook, f.priority, f.handle, f.bpf?.progId, f.bpf?.name, f.bpf?.directAction]),
      [['ingress', 49152, 1, id, 'probe_in', true], ['egress', 7, 3, id, 'probe_eg', true]]);
    assert.match(listed[0]!.bpf?.tag ?? '', /^[0-9a-f]{16}$/);

    // Independent oracle: iproute2 sees the same filters.
    const shown = tcShow(ns, a, 'ingress');
    assert.match(shown, /direct-action/);
    assert.match(shown, new RegExp(`id ${id} `));
    assert.match(shown, /probe_in/);
    assert.match(tcShow(ns, a, 'egress'), /pref 7 bpf.*handle 0x3 probe_eg direct-action/s);

    assert.is(nl.detachBpf(sock, a, 'ingress', fin), 1);
    assert.is(nl.detachBpf(sock, a, 'egress', { name: 'probe_eg' }), 1);
    assert.equal(nl.listFilters(sock, a), []);
    assert.is(tcShow(ns, a, 'ingress').trim(), '');
    assert.is(tcShow(ns, a, 'egress').trim(), '');

    nl.deleteClsact(sock, a);
    assert.is(nl.getClsact(sock, a), undefined);
    assert.not.match(sh('tc', ['-n', ns, 'qdisc', 'show', 'dev', a]), /clsact/);
  }));
});

s('replace swaps the program in place; detach all empties the hook', async () => {
  await withTestNetns(({ name: ns, a }) => withProgram('tsbpf_nl_r1', (fd1, id1) => withProgram('tsbpf_nl_r2', (fd2, id2) => {
    using sock = nl.routeSocket({ netns: ns });
    nl.ensureClsact(sock, a);
    const f = nl.attachBpf(sock, a, 'ingress', { fd: fd1, name: 'r' });
    nl.attachBpf(sock, a, 'ingress', { fd: fd1, name: 'other' });
    const r = nl.replaceBpf(sock, a, 'ingress', { fd: fd2, name: 'r', priority: f.priority, handle: f.handle });
    assert.equal([r.priority, r.handle, r.bpf?.progId], [f.priority, f.handle, id2]);
    assert.ok(nl.listFilters(sock, a, 'ingress').some((x) => x.bpf?.progId === id1), 'the other filter keeps its program');
    assert.is(nl.detachBpf(sock, a, 'ingress', { all: true }), 2);
    assert.equal(nl.listFilters(sock, a, 'ingress'), []);
  })));
});

s('links: by name, by index, list; unknown names are plain errors', async () => {
  await withTestNetns(({ name: ns, a, b }) => {
    using sock = nl.routeSocket({ netns: ns });
    const la = nl.getLink(sock, a);
    assert.is(la.kind, 'veth');
    assert.is(nl.getLink(sock, la.index).name, a);
    assert.equal(nl.listLinks(sock).map((l) => l.name).sort(), ['lo', a, b].sort());
    expectError(() => nl.getLink(sock, 'eth9'), 'ENODEV', /^no interface named 'eth9' in network namespace/);
    expectError(() => nl.ensureClsact(sock, 'eth9'), 'ENODEV', /no interface named 'eth9'/);
    expectError(() => nl.listFilters(sock, 999_999), 'ENODEV', /no interface with index 999999/);
  });
});

s('errors: a closed program fd, an ingress qdisc in clsact\'s place, a missing filter', async () => {
  await withTestNetns(({ name: ns, a, b }) => {
    using sock = nl.routeSocket({ netns: ns });
    nl.ensureClsact(sock, a);
    const gone = loadSchedCls('tsbpf_nl_gone');
    const fd = gone.fd;
    gone.close();
    expectError(() => nl.attachBpf(sock, a, 'ingress', { fd }), 'EBADF', /is not a BPF program/);
    expectError(() => nl.detachBpf(sock, a, 'ingress', { priority: 5, handle: 1 }), 'ENOENT', /no filter with priority 5 handle 1/);

    sh('tc', ['-n', ns, 'qdisc', 'add', 'dev', b, 'ingress']);
    const e = expectError(() => nl.ensureClsact(sock, b), 'EEXIST', /'ingress' qdisc where clsact must go/);
    assert.ok(e.extack, 'the kernel reason is kept');
    expectError(() => nl.deleteClsact(sock, b), 'EINVAL', /'ingress' qdisc, not clsact/);
    assert.match(sh('tc', ['-n', ns, 'qdisc', 'show', 'dev', b]), /qdisc ingress/, 'left alone');
    expectError(() => nl.attachBpf(sock, b, 'egress', { fd: 0 }), 'EINVAL', /./);
  });
});

s('withNetns switches the main thread and always comes back', async () => {
  await withTestNetns(({ name: ns, a }) => {
    const before = readlinkSync('/proc/thread-self/ns/net');
    const names = nl.withNetns(ns, () => {
      assert.is.not(readlinkSync('/proc/thread-self/ns/net'), before);
      using sock = nl.routeSocket();
      return nl.listLinks(sock).map((l) => l.name);
    });
    assert.ok(names.includes(a));
    assert.is(readlinkSync('/proc/thread-self/ns/net'), before);
    assert.throws(() => nl.withNetns(ns, () => { throw new Error('boom'); }), /boom/);
    assert.is(readlinkSync('/proc/thread-self/ns/net'), before, 'back even after a throw');
    assert.throws(() => nl.withNetns(ns, async () => 1), /synchronously/);
    assert.is(readlinkSync('/proc/thread-self/ns/net'), before, 'back after a refused async callback');
  });
});

s('a socket opened in a namespace stays there across awaits', async () => {
  await withTestNetns(async ({ name: ns, a }) => {
    using sock = nl.routeSocket({ netns: ns });
    await new Promise((r) => setTimeout(r, 5));
    assert.is(nl.getLink(sock, a).name, a);
    using host = nl.routeSocket();
    expectError(() => nl.getLink(host, a), 'ENODEV', /no interface named/);
  });
});

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'tc', ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

s('CLI: tc attach / list / detach with --netns and --json', async () => {
  await withTestNetns(({ name: ns, a }) => withProgram('tsbpf_nl_cli', (_fd, id) => {
    let r = cli('attach', a, 'ingress', '--id', String(id), '--name', 'cli_in', '--netns', ns, '--json');
    assert.is(r.code, 0, r.stderr);
    const att = JSON.parse(r.stdout);
    assert.equal([att.hook, att.progId, att.name, att.directAction, att.qdiscCreated], ['ingress', id, 'cli_in', true, true]);

    r = cli('attach', a, 'egress', '--id', String(id), '--priority', '9', '--netns', ns);
    assert.is(r.code, 0, r.stderr);
    // Without --name the filter takes the program's own name.
    assert.match(r.stdout, new RegExp(`attached program ${id} to ${a} egress: priority 9 handle 0x1 name tsbpf_nl_cli`));

    r = cli('list', a, '--netns', ns, '--json');
    assert.is(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<{ hook: string; priority: number; progId: number; name: string; directAction: boolean }>;
    assert.equal(rows.map((x) => [x.hook, x.priority, x.progId, x.name, x.directAction]), [['ingress', att.priority, id, 'cli_in', true], ['egress', 9, id, 'tsbpf_nl_cli', true]]);

    r = cli('list', a, '--netns', ns);
    assert.match(r.stdout, /^HOOK\s+PRIORITY\s+HANDLE\s+ID\s+NAME\s+TAG\s+DIRECT-ACTION/);
    assert.match(r.stdout, /ingress\s+49152\s+0x1\s+\d+\s+cli_in\s+[0-9a-f]{16}\s+yes/);

    r = cli('detach', a, 'ingress', '--name', 'cli_in', '--netns', ns, '--json');
    assert.equal(JSON.parse(r.stdout), { dev: a, hook: 'ingress', detached: 1 });
    r = cli('detach', a, 'egress', '--priority', '9', '--handle', '1', '--netns', ns);
    assert.match(r.stdout, /detached 1 filter from/);
    assert.equal(JSON.parse(cli('list', a, '--netns', ns, '--json').stdout), []);

    // Errors are one line with what to do next, and a non-zero exit.
    r = cli('attach', a, 'ingress', '--id', '4000000000', '--netns', ns);
    assert.is(r.code, 1);
    assert.match(r.stderr, /^error: .*program id 4000000000.*ENOENT/);
    r = cli('list', 'eth9', '--netns', ns);
    assert.is(r.code, 1);
    assert.match(r.stderr, /^error: no interface named 'eth9'/);
    r = cli('detach', a, 'ingress', '--netns', ns);
    assert.is(r.code, 2);
    assert.match(r.stderr, /give exactly one of/);
  }));
});

s.run();
