/**
 * `tsbpf link`: BPF links, like `bpftool link`: list, show one (by id or pin), detach, pin.
 * --json uses bpftool's field names: id, type, prog_id, ifindex, attach_type.
 */
import { detachLinkById, detachPinnedLink, recordLinkPin } from '../attach/link.ts';
import { listBpfLinks, openLinkById, openPinnedLink, type LinkInfo } from '../syscall/link.ts';
import { dispatch, json, parse, table, UsageError } from '../command.ts';
import { objectArg } from './args.ts';

const common = `options:
  --json         print JSON (bpftool's field names)
  -h, --help     show this help`;

const usage = `usage: tsbpf link <command> [options]

commands:
  list                     every link: id, type, program, device or attach type
  show LINK                one link
  detach LINK              end a link's attachment now (and remove the pins tsbpf made of it)
  pin LINK PATH            pin a link in bpffs, so it outlives every process holding it

LINK is an id (5, id 5) or a pinned path (pinned PATH, PATH, --pinned PATH), as for prog and map.

${common}
`;

/** bpftool's JSON for a link. */
const row = (l: LinkInfo) => ({
  id: l.id, type: l.type, prog_id: l.progId,
  ...(l.ifindex !== undefined ? { ifindex: l.ifindex } : {}),
  ...(l.attachType !== undefined ? { attach_type: l.attachType } : {}),
  ...(l.netnsIno !== undefined ? { netns_ino: l.netnsIno } : {}),
  ...(l.cgroupId !== undefined ? { cgroup_id: l.cgroupId } : {}),
});

const text = (l: LinkInfo): string =>
  `${l.id}: ${l.type}  prog ${l.progId}${l.ifindex !== undefined ? `  ifindex ${l.ifindex}` : ''}${l.attachType !== undefined && l.type !== 'xdp' ? `  attach_type ${l.attachType}` : ''}\n`;

async function list(argv: string[]): Promise<number> {
  const a = parse(argv, { json: { type: 'boolean' } }, usage);
  if (!a) return 0;
  const links = listBpfLinks();
  if (a.values.json) process.stdout.write(json(links.map(row)));
  else if (!links.length) process.stdout.write('no links\n');
  else process.stdout.write(table(links.map((l) => ({ id: l.id, type: l.type, prog: l.progId, ifindex: l.ifindex, attach_type: l.attachType })), ['id', 'type', 'prog', 'ifindex', 'attach_type']));
  return 0;
}

/** The link a command names, as prog and map name theirs (`5`, `id 5`, `pinned PATH`, `PATH`), or by --pinned PATH. */
function target(a: { values: { pinned?: string }; positionals: string[] }, what: string): { id: number } | { pinned: string } {
  if (a.values.pinned !== undefined) {
    if (a.positionals.length) throw new UsageError(`give a link id or a pinned path to ${what}, not both\n\n${usage}`);
    return { pinned: a.values.pinned };
  }
  return linkArg(a.positionals, what);
}

function linkArg(args: readonly string[], what: string): { id: number } | { pinned: string } {
  const used = args[0] === 'id' || args[0] === 'pinned' ? 2 : 1;
  if (args.length > used) throw new UsageError(`unexpected argument '${args[used]}' to link ${what}\n\n${usage}`);
  const o = objectArg(args, 'link', usage);
  return 'id' in o ? o : { pinned: o.path };
}

async function show(argv: string[]): Promise<number> {
  const a = parse(argv, { json: { type: 'boolean' }, pinned: { type: 'string' } }, usage);
  if (!a) return 0;
  const t = target(a, 'show');
  using link = 'id' in t ? openLinkById(t.id) : openPinnedLink(t.pinned);
  const info = link.info();
  process.stdout.write(a.values.json ? json(row(info)) : text(info));
  return 0;
}

async function detach(argv: string[]): Promise<number> {
  const a = parse(argv, { json: { type: 'boolean' }, pinned: { type: 'string' } }, usage);
  if (!a) return 0;
  const t = target(a, 'detach');
  const info = 'id' in t ? detachLinkById(t.id) : detachPinnedLink(t.pinned);
  process.stdout.write(a.values.json ? json({ detached: row(info) }) : `detached link ${info.id} (${info.type}, prog ${info.progId})\n`);
  return 0;
}

async function pin(argv: string[]): Promise<number> {
  const a = parse(argv, { json: { type: 'boolean' } }, usage);
  if (!a) return 0;
  if (a.positionals.length < 2) throw new UsageError(`pin takes a link (id or pinned path) and a bpffs path\n\n${usage}`);
  const t = linkArg(a.positionals.slice(0, -1), 'pin');
  const at = a.positionals[a.positionals.length - 1]!;
  using link = 'id' in t ? openLinkById(t.id) : openPinnedLink(t.pinned);
  link.pin(at);
  recordLinkPin(link.id, at);
  process.stdout.write(a.values.json ? json({ id: link.id, pinned: at }) : `pinned link ${link.id} at ${at}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  return (await dispatch(argv, usage, { list, show, detach, pin })) ?? 0;
}
