/**
 * `tsbpf tc`: list, attach and detach BPF programs on a device's tc hooks through src/attach,
 * as tcx links (Linux 6.6+) or cls_bpf filters, without running `tc`.
 *
 *   flag              -> what it sets
 *   <dev>             -> the ifindex (RTM_GETLINK in the namespace)
 *   ingress|egress    -> BPF_TCX_INGRESS|EGRESS, or tcm_parent ffff:fff2|ffff:fff3
 *   --mode M          -> attachTc's mode: auto (tcx when the kernel has it), tcx, cls_bpf
 *   --id / --pinned   -> the program fd (link_create.prog_fd, or TCA_BPF_FD)
 *   --before/--after  -> BPF_F_BEFORE|AFTER with BPF_F_ID (+ BPF_F_LINK for link:N)
 *   --revision R      -> link_create.tcx.expected_revision
 *   --pin PATH        -> where the tcx link is pinned (default <bpffs>/tsbpf/links/<id>)
 *   --priority, --name, --handle -> cls_bpf's tcm_info, TCA_BPF_NAME, tcm_handle
 *   --netns NAME      -> everything happens inside /var/run/netns/NAME
 *
 * A tcx link ends with the process that holds it, so the CLI pins every link it creates;
 * `tc detach` (or `tsbpf link detach`) removes the link and its pin.
 */
import { attachTc, detachLinkById, netList, tcxQuery, type Anchor, type TcHook, type TcMode } from '../attach/index.ts';
import { detachBpf, listFilters, routeSocket, type Filter, type FilterSelector } from '../netlink/index.ts';
import { dispatch, int, json, parse, table, UsageError } from '../command.ts';
import { devArg, keepAttached, netnsHelp as common, netnsOptions as shared, programArg } from './net-attach.ts';

const usage = `usage: tsbpf tc <command> [options]

commands:
  list <dev>                           tcx programs and cls_bpf filters on both hooks, in run order
  attach <dev> ingress|egress (--id ID | --pinned PATH) [--mode auto|tcx|cls_bpf]
                                       attach a loaded SCHED_CLS program (tcx link, pinned;
                                       or a direct-action cls_bpf filter, adding clsact if missing)
  detach <dev> ingress|egress (--id ID | --link ID | --name N | --priority P --handle H | --all)
                                       remove tcx links or cls_bpf filters from a hook

${common}
`;

const listUsage = `usage: tsbpf tc list <dev> [--netns NAME] [--json]

Lists what runs on <dev>'s ingress and egress hooks, in the kernel's order: tcx programs
first (mode tcx, with their link), then cls_bpf filters (mode cls_bpf: priority, handle,
direct-action).

${common}
`;

const attachUsage = `usage: tsbpf tc attach <dev> ingress|egress (--id ID | --pinned PATH) [--mode auto|tcx|cls_bpf] [options]

Attaches a loaded SCHED_CLS program. --mode auto (the default) makes a tcx link where the
kernel has tcx (Linux 6.6), else a cls_bpf filter (like \`tc filter add dev <dev> ingress bpf da\`);
--name, --priority and --handle are cls_bpf settings, so with them auto means cls_bpf.

  --id ID          program id (see \`tsbpf prog list\`)
  --pinned PATH    program pinned in bpffs, e.g. /sys/fs/bpf/prog
  --obj OBJ        load the program from an object file, as \`tc filter add … bpf obj OBJ\`
                   does (its maps pinned where the object says: tc/globals for PIN_GLOBAL_NS)
  --sec S          with --obj: the section to take the program from (default: the first)
  --mode M         auto | tcx | cls_bpf
tcx:
  --before X       run before X: 'first', a program id, or link:<id>
  --after X        run after X: 'last', a program id, or link:<id>
  --revision R     only if the hook is still at revision R (see --json of \`tc list\`)
  --replace-link N give link N this program instead of adding one
  --pin PATH       pin the link here (default <bpffs>/tsbpf/links/<link id>)
cls_bpf:
  --name N         filter name shown by \`tc filter show\` (default: the program's name)
  --priority P     1..65535 (default: the kernel picks, 49152 first)
  --handle H       with --priority: replace this filter in place
${common}
`;

const detachUsage = `usage: tsbpf tc detach <dev> ingress|egress (--id ID | --link ID | --name N | --priority P --handle H | --all) [--netns NAME] [--json]

Removes programs from a hook. The clsact qdisc stays.

  --id ID          the tcx link (or cls_bpf filters) running program ID
  --link ID        the tcx link ID (and its pin under <bpffs>/tsbpf/links)
  --name N         every cls_bpf filter with this name
  --priority P --handle H
                   one cls_bpf filter, as shown by \`tsbpf tc list\`
  --all            everything on the hook, tsbpf's or not (tcx links and cls_bpf filters)
${common}
`;

function hookArg(v: string | undefined, u: string): TcHook {
  if (v === 'ingress' || v === 'egress') return v;
  throw new UsageError(`${v === undefined ? 'missing hook' : `unknown hook '${v}'`}: expected ingress or egress\n\n${u}`);
}

function anchorArg(v: string | undefined, flag: string, edge: string): Anchor | undefined {
  if (v === undefined) return undefined;
  if (v === edge) return true;
  const m = /^link:(\d+)$/.exec(v);
  if (m) return { linkId: Number(m[1]) };
  if (/^\d+$/.test(v)) return { progId: Number(v) };
  throw new UsageError(`${flag} takes '${edge}', a program id, or link:<id>; got '${v}'`);
}

/** A cls_bpf filter as `tc list --json` and `tc attach --json` print it. */
function filterJson(f: Filter): Record<string, unknown> {
  return {
    mode: 'cls_bpf', hook: f.hook, priority: f.priority, handle: f.handle, kind: f.kind, protocol: f.protocol, chain: f.chain,
    progId: f.bpf?.progId, name: f.bpf?.name, tag: f.bpf?.tag, directAction: f.bpf?.directAction, flags: f.bpf?.flags, flagsGen: f.bpf?.flagsGen,
  };
}

// ---- commands -------------------------------------------------------------------------------

async function list(argv: string[]): Promise<number> {
  const a = parse(argv, shared, listUsage);
  if (!a) return 0;
  const dev = devArg(a.positionals[0], listUsage);
  if (a.positionals.length > 1) throw new UsageError(`unexpected argument '${a.positionals[1]}'\n\n${listUsage}`);
  const netns = a.values.netns;
  const tcx = netList({ netns, dev }).tc.filter((e) => e.kind.startsWith('tcx/'));
  using sock = routeSocket({ netns });
  const filters = listFilters(sock, dev);
  const revisions = tcx.length ? Object.fromEntries((['ingress', 'egress'] as const).map((h) => [h, tcxQuery(dev, h, { netns }).revision])) : {};
  if (a.values.json) {
    process.stdout.write(json([
      ...tcx.map((e) => ({ mode: 'tcx', hook: e.kind.slice(4), progId: e.prog_id, name: e.name, linkId: e.link_id, revision: revisions[e.kind.slice(4)] })),
      ...filters.map(filterJson),
    ]));
    return 0;
  }
  const rows = [
    ...tcx.map((e) => ({ hook: e.kind.slice(4), id: e.prog_id, name: e.name, mode: 'tcx', link: e.link_id })),
    ...filters.map((f) => ({
      hook: f.hook ?? f.parent.toString(16), priority: f.priority, handle: `0x${f.handle.toString(16)}`, id: f.bpf?.progId,
      name: f.bpf?.name, tag: f.bpf?.tag, 'direct-action': f.bpf ? (f.bpf.directAction ? 'yes' : 'no') : undefined, mode: 'cls_bpf',
    })),
  ];
  if (!rows.length) process.stdout.write(`nothing attached to ${dev}\n`);
  else process.stdout.write(table(rows, ['hook', 'priority', 'handle', 'id', 'name', 'tag', 'direct-action', 'mode', 'link']));
  return 0;
}

async function attach(argv: string[]): Promise<number> {
  const a = parse(argv, {
    ...shared, id: { type: 'string' }, pinned: { type: 'string' }, mode: { type: 'string' }, name: { type: 'string' },
    priority: { type: 'string' }, handle: { type: 'string' }, before: { type: 'string' }, after: { type: 'string' },
    revision: { type: 'string' }, 'replace-link': { type: 'string' }, pin: { type: 'string' },
    obj: { type: 'string' }, sec: { type: 'string' },
  }, attachUsage);
  if (!a) return 0;
  const v = a.values;
  const dev = devArg(a.positionals[0], attachUsage);
  const hook = hookArg(a.positionals[1], attachUsage);
  if (a.positionals.length > 2) throw new UsageError(`unexpected argument '${a.positionals[2]}'\n\n${attachUsage}`);
  const mode = (v.mode ?? 'auto') as TcMode;
  if (!['auto', 'tcx', 'cls_bpf'].includes(mode)) throw new UsageError(`--mode takes auto, tcx or cls_bpf; got '${v.mode}'`);
  const priority = v.priority === undefined ? undefined : int(v.priority, '--priority');
  if (priority !== undefined && (priority < 1 || priority > 0xffff)) throw new UsageError('--priority must be 1..65535');
  if (v.handle !== undefined && priority === undefined) throw new UsageError('--handle goes with --priority (the filter to replace)');
  const before = anchorArg(v.before, '--before', 'first');
  const after = anchorArg(v.after, '--after', 'last');

  // Program fds are not tied to a network namespace; the attachment takes its own reference.
  using prog = v.obj !== undefined ? (await import('./elf.ts')).objectProgram(v.obj, v.sec) : programArg(v, attachUsage);
  const replace = v['replace-link'] !== undefined ? { linkId: int(v['replace-link'], '--replace-link') }
    : v.handle !== undefined ? { priority: priority!, handle: int(v.handle, '--handle') } : undefined;
  const h = attachTc(prog, dev, hook, {
    mode, netns: v.netns, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}),
    ...(v.revision !== undefined ? { expectedRevision: BigInt(v.revision) } : {}),
    ...(replace ? { replace } : {}), ...(v.name !== undefined ? { name: v.name } : {}), ...(priority !== undefined && !replace ? { priority } : {}),
  });
  if (h.kind === 'tcx') {
    const info = h.info();
    const pinned = keepAttached(h, info.created.length ? info.linkId : undefined, v.pin);
    if (v.json) process.stdout.write(json({ mode: 'tcx', dev, hook, progId: info.progId, linkId: info.linkId, pinned, replaced: !info.created.length }));
    else process.stdout.write(`attached program ${info.progId} to ${dev} ${hook} as tcx link ${info.linkId}${pinned ? ` (pinned at ${pinned})` : ' (replaced its program)'}\n`);
    return 0;
  }
  const f = h.filter!;
  const created = h.info().created.includes('clsact qdisc');
  h.release();
  if (v.json) {
    process.stdout.write(json({ ...filterJson(f), qdiscCreated: created }));
  } else {
    process.stdout.write(`attached ${f.bpf?.progId !== undefined ? `program ${f.bpf.progId}` : 'program'} to ${dev} ${hook}: priority ${f.priority} handle 0x${f.handle.toString(16)} name ${f.bpf?.name ?? ''}${created ? ' (added clsact qdisc)' : ''}\n`);
  }
  return 0;
}

async function detach(argv: string[]): Promise<number> {
  const a = parse(argv, {
    ...shared, id: { type: 'string' }, link: { type: 'string' }, name: { type: 'string' }, handle: { type: 'string' },
    priority: { type: 'string' }, all: { type: 'boolean' },
  }, detachUsage);
  if (!a) return 0;
  const v = a.values;
  const dev = devArg(a.positionals[0], detachUsage);
  const hook = hookArg(a.positionals[1], detachUsage);
  if (a.positionals.length > 2) throw new UsageError(`unexpected argument '${a.positionals[2]}'\n\n${detachUsage}`);
  const byAddr = v.handle !== undefined || v.priority !== undefined;
  const modes = [v.id !== undefined, v.link !== undefined, v.name !== undefined, byAddr, v.all === true].filter(Boolean).length;
  if (modes !== 1) throw new UsageError(`give exactly one of --id, --link, --name, --priority with --handle, or --all\n\n${detachUsage}`);
  const netns = v.netns;
  // tcx: the links on the hook that match.
  const links: number[] = [];
  if (v.id !== undefined || v.link !== undefined || v.all) {
    const q = netList({ netns, dev }).tc.filter((e) => e.kind === `tcx/${hook}`);
    const want = v.id !== undefined ? int(v.id, '--id') : undefined, wantLink = v.link !== undefined ? int(v.link, '--link') : undefined;
    for (const e of q) {
      if (e.link_id === undefined) continue;
      if (v.all || e.prog_id === want || e.link_id === wantLink) links.push(e.link_id);
    }
    if (wantLink !== undefined && !links.length) throw new Error(`no tcx link ${wantLink} on ${dev} ${hook}: list them with \`tsbpf tc list ${dev}${netns ? ` --netns ${netns}` : ''}\``);
  }
  for (const id of links) detachLinkById(id);
  let filters = 0;
  if (v.link === undefined) {
    let which: FilterSelector | undefined;
    if (v.all) which = { all: true };
    else if (v.name !== undefined) which = { name: v.name };
    else if (byAddr) {
      if (v.handle === undefined || v.priority === undefined) throw new UsageError(`--priority and --handle go together\n\n${detachUsage}`);
      const priority = int(v.priority, '--priority');
      if (priority < 1 || priority > 0xffff) throw new UsageError('--priority must be 1..65535');
      which = { priority, handle: int(v.handle, '--handle') };
    }
    using sock = routeSocket({ netns });
    if (which) filters = detachBpf(sock, dev, hook, which);
    else if (v.id !== undefined) {
      for (const f of listFilters(sock, dev, hook)) {
        if (f.bpf?.progId === int(v.id, '--id')) filters += detachBpf(sock, dev, hook, { priority: f.priority, handle: f.handle });
      }
    }
  }
  // --link with no match errs above; --id and --name that match nothing say so the same way (--all may find none).
  if (!v.all && !filters && !links.length) {
    const what = v.id !== undefined ? `program id ${v.id}` : v.name !== undefined ? `filter named '${v.name}'` : `filter at priority ${v.priority} handle ${v.handle}`;
    throw new Error(`no tcx link or cls_bpf filter with ${what} on ${dev} ${hook}: list them with \`tsbpf tc list ${dev}${netns ? ` --netns ${netns}` : ''}\``);
  }
  if (v.json) process.stdout.write(json({ dev, hook, detached: filters, ...(links.length ? { links } : {}) }));
  else {
    const parts = [`${filters} filter${filters === 1 ? '' : 's'}`, ...(links.length ? [`${links.length} tcx link${links.length === 1 ? '' : 's'} (${links.join(', ')})`] : [])];
    process.stdout.write(`detached ${parts.join(' and ')} from ${dev} ${hook}\n`);
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  // AttachError and NetlinkError messages already say what to do; main() prints them as one line.
  return (await dispatch(argv, usage, { list, attach, detach })) ?? 0;
}
