/**
 * `tsbpf tc`: list, attach and detach direct-action BPF filters on clsact hooks, over
 * rtnetlink (src/netlink), without running `tc`.
 *
 *   flag              -> what it sets
 *   <dev>             -> tcmsg.tcm_ifindex (via RTM_GETLINK)
 *   ingress|egress    -> tcmsg.tcm_parent ffff:fff2 | ffff:fff3
 *   --priority P      -> tcmsg.tcm_info high 16 bits
 *   --handle H        -> tcmsg.tcm_handle
 *   --name N          -> TCA_OPTIONS/TCA_BPF_NAME
 *   --id / --pinned   -> TCA_OPTIONS/TCA_BPF_FD
 *   --netns NAME      -> the socket is created inside /var/run/netns/NAME
 */
import {
  attachBpf, deleteClsact, detachBpf, ensureClsact, listFilters, routeSocket, type Filter, type FilterSelector, type Hook,
  type RouteSocket,
} from '../netlink/index.ts';
import { openPinnedProgram, openProgramById } from '../syscall/program.ts';
import { dispatch, int, json, parse, table, UsageError } from '../command.ts';

const common = `options:
  --netns NAME   work inside network namespace NAME (/var/run/netns/NAME)
  --json         print JSON instead of a table
  -h, --help     show this help`;

const usage = `usage: tsbpf tc <command> [options]

commands:
  list <dev>                           BPF filters on both clsact hooks
  attach <dev> ingress|egress (--id ID | --pinned PATH) [--name N] [--priority P]
                                       attach a loaded SCHED_CLS program, direct-action
                                       (adds the clsact qdisc if missing)
  detach <dev> ingress|egress (--name N | --priority P --handle H | --all)
                                       remove filters from a hook

${common}
`;

const listUsage = `usage: tsbpf tc list <dev> [--netns NAME] [--json]

Lists the filters on <dev>'s ingress and egress hooks: hook, priority, handle, program id,
name, tag and whether they run in direct-action mode.

${common}
`;

const attachUsage = `usage: tsbpf tc attach <dev> ingress|egress (--id ID | --pinned PATH) [--name N] [--priority P] [--netns NAME] [--json]

Attaches a loaded SCHED_CLS program as a direct-action cls_bpf filter (like
\`tc filter add dev <dev> ingress bpf da ...\`), adding the clsact qdisc first if it is missing.

  --id ID          program id (see \`tsbpf prog list\`)
  --pinned PATH    program pinned in bpffs, e.g. /sys/fs/bpf/prog
  --name N         filter name shown by \`tc filter show\` (default: prog_<id> or the pin's basename)
  --priority P     1..65535 (default: the kernel picks, 49152 first)
${common}
`;

const detachUsage = `usage: tsbpf tc detach <dev> ingress|egress (--name N | --priority P --handle H | --all) [--netns NAME] [--json]

Removes filters from a hook. The clsact qdisc stays.

  --name N         every filter with this name
  --priority P --handle H
                   one filter, as shown by \`tsbpf tc list\`
  --all            every filter on the hook, tsbpf's or not
${common}
`;

const shared = { netns: { type: 'string' }, json: { type: 'boolean' } } as const;

function hookArg(v: string | undefined, u: string): Hook {
  if (v === 'ingress' || v === 'egress') return v;
  throw new UsageError(`${v === undefined ? 'missing hook' : `unknown hook '${v}'`}: expected ingress or egress\n\n${u}`);
}

function devArg(v: string | undefined, u: string): string | number {
  if (!v) throw new UsageError(`missing interface name\n\n${u}`);
  // A bare number is an ifindex, as in `ip link show index N`; names are never all digits in practice.
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** Table/JSON row for one filter. */
function row(f: Filter): Record<string, unknown> {
  return {
    hook: f.hook ?? f.parent.toString(16),
    priority: f.priority,
    handle: `0x${f.handle.toString(16)}`,
    kind: f.kind,
    id: f.bpf?.progId,
    name: f.bpf?.name,
    tag: f.bpf?.tag,
    'direct-action': f.bpf ? (f.bpf.directAction ? 'yes' : 'no') : undefined,
  };
}

const jsonFilter = (f: Filter) => ({
  hook: f.hook, priority: f.priority, handle: f.handle, kind: f.kind, protocol: f.protocol, chain: f.chain,
  progId: f.bpf?.progId, name: f.bpf?.name, tag: f.bpf?.tag, directAction: f.bpf?.directAction,
  flags: f.bpf?.flags, flagsGen: f.bpf?.flagsGen,
});

// ---- commands -------------------------------------------------------------------------------

async function list(argv: string[]): Promise<number> {
  const a = parse(argv, shared, listUsage);
  if (!a) return 0;
  const dev = devArg(a.positionals[0], listUsage);
  if (a.positionals.length > 1) throw new UsageError(`unexpected argument '${a.positionals[1]}'\n\n${listUsage}`);
  using sock = routeSocket({ netns: a.values.netns });
  const filters = listFilters(sock, dev);
  if (a.values.json) process.stdout.write(json(filters.map(jsonFilter)));
  else if (!filters.length) process.stdout.write(`no filters on ${dev}\n`);
  else process.stdout.write(table(filters.map(row), ['hook', 'priority', 'handle', 'id', 'name', 'tag', 'direct-action']));
  return 0;
}

async function attach(argv: string[]): Promise<number> {
  const a = parse(argv, { ...shared, id: { type: 'string' }, pinned: { type: 'string' }, name: { type: 'string' }, priority: { type: 'string' } }, attachUsage);
  if (!a) return 0;
  const dev = devArg(a.positionals[0], attachUsage);
  const hook = hookArg(a.positionals[1], attachUsage);
  if (a.positionals.length > 2) throw new UsageError(`unexpected argument '${a.positionals[2]}'\n\n${attachUsage}`);
  if ((a.values.id === undefined) === (a.values.pinned === undefined)) throw new UsageError(`give exactly one of --id or --pinned\n\n${attachUsage}`);
  const priority = int(a.values.priority, '--priority', 0);
  if (priority < 0 || priority > 0xffff) throw new UsageError('--priority must be 1..65535');
  const id = a.values.id === undefined ? undefined : int(a.values.id, '--id');

  using sock = routeSocket({ netns: a.values.netns });
  // Program fds are not tied to a network namespace; the filter takes its own reference, so
  // ours is closed when this scope ends.
  using prog = id !== undefined ? openProgramById(id) : openPinnedProgram(a.values.pinned!);
  const name = a.values.name ?? (prog.name || `prog_${id ?? 'pinned'}`);
  const created = ensureClsact(sock, dev).created;
  let f: Filter;
  try {
    f = attachBpf(sock, dev, hook, { fd: prog.fd, name, priority });
  } catch (e) {
    // Leave the interface as we found it.
    if (created) removeQdiscWeAdded(sock, dev);
    throw e;
  }
  if (a.values.json) process.stdout.write(json({ ...jsonFilter(f), qdiscCreated: created }));
  else process.stdout.write(`attached ${f.bpf?.progId !== undefined ? `program ${f.bpf.progId}` : 'program'} to ${dev} ${hook}: priority ${f.priority} handle 0x${f.handle.toString(16)} name ${f.bpf?.name ?? name}${created ? ' (added clsact qdisc)' : ''}\n`);
  return 0;
}

/** Undo an ensureClsact that this command did, unless something else got attached meanwhile. */
function removeQdiscWeAdded(sock: RouteSocket, dev: string | number): void {
  try {
    if (listFilters(sock, dev).length === 0) deleteClsact(sock, dev);
  } catch { /* best effort: the attach error is the one to report */ }
}

async function detach(argv: string[]): Promise<number> {
  const a = parse(argv, { ...shared, name: { type: 'string' }, handle: { type: 'string' }, priority: { type: 'string' }, all: { type: 'boolean' } }, detachUsage);
  if (!a) return 0;
  const dev = devArg(a.positionals[0], detachUsage);
  const hook = hookArg(a.positionals[1], detachUsage);
  if (a.positionals.length > 2) throw new UsageError(`unexpected argument '${a.positionals[2]}'\n\n${detachUsage}`);
  const byAddr = a.values.handle !== undefined || a.values.priority !== undefined;
  const modes = [a.values.name !== undefined, byAddr, a.values.all === true].filter(Boolean).length;
  if (modes !== 1) throw new UsageError(`give exactly one of --name, --priority with --handle, or --all\n\n${detachUsage}`);
  let which: FilterSelector;
  if (a.values.all) which = { all: true };
  else if (a.values.name !== undefined) which = { name: a.values.name };
  else {
    if (a.values.handle === undefined || a.values.priority === undefined) throw new UsageError(`--priority and --handle go together\n\n${detachUsage}`);
    const priority = int(a.values.priority, '--priority');
    if (priority < 1 || priority > 0xffff) throw new UsageError('--priority must be 1..65535');
    which = { priority, handle: int(a.values.handle, '--handle') };
  }
  using sock = routeSocket({ netns: a.values.netns });
  const n = detachBpf(sock, dev, hook, which);
  if (a.values.json) process.stdout.write(json({ dev, hook, detached: n }));
  else process.stdout.write(`detached ${n} filter${n === 1 ? '' : 's'} from ${dev} ${hook}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  // NetlinkError messages already say what to do; common.ts main() prints them as one line.
  return (await dispatch(argv, usage, { list, attach, detach })) ?? 0;
}
