/**
 * `tsbpf link`: BPF links, like `bpftool link`: list, show one (by id or pin), detach, pin.
 * --json uses bpftool's field names: id, type, prog_id, ifindex, attach_type.
 */
import { detachLinkById, detachPinnedLink, recordLinkPin } from '../attach/link.ts';
import { listBpfLinks, openLinkById, openPinnedLink, type LinkInfo } from '../syscall/link.ts';
import { dispatch, int, json, parse, table, UsageError } from '../command.ts';

const common = `options:
  --json         print JSON (bpftool's field names)
  -h, --help     show this help`;

const usage = `usage: tsbpf link <command> [options]

commands:
  list                     every link: id, type, program, device or attach type
  show (ID | --pinned P)   one link
  detach (ID | --pinned P) end a link's attachment now (and remove the pins tsbpf made of it, and P)
  pin ID PATH              pin a link in bpffs, so it outlives every process holding it

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

function target(a: { values: { pinned?: string }; positionals: string[] }, what: string): { id: number } | { pinned: string } {
  const hasId = a.positionals[0] !== undefined;
  if (hasId === (a.values.pinned !== undefined)) throw new UsageError(`give a link id or --pinned PATH to ${what}\n\n${usage}`);
  return hasId ? { id: int(a.positionals[0], 'link id') } : { pinned: a.values.pinned! };
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
  if (a.positionals.length !== 2) throw new UsageError(`pin takes a link id and a bpffs path\n\n${usage}`);
  using link = openLinkById(int(a.positionals[0], 'link id'));
  link.pin(a.positionals[1]!);
  recordLinkPin(link.id, a.positionals[1]!);
  process.stdout.write(a.values.json ? json({ id: link.id, pinned: a.positionals[1] }) : `pinned link ${link.id} at ${a.positionals[1]}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  return (await dispatch(argv, usage, { list, show, detach, pin })) ?? 0;
}
