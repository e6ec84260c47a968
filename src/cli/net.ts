/**
 * `tsbpf net list [<dev>]`: what is attached to the network devices of a namespace, like
 * `bpftool net`: XDP per device, then tc (tcx programs in run order, then cls_bpf filters).
 * --json prints bpftool's shape and field names: [{ "xdp": [...], "tc": [...] }].
 */
import { netList } from '../attach/net.ts';
import { dispatch, json, parse } from '../command.ts';
import { devArg, netnsOptions } from './net-attach.ts';

const usage = `usage: tsbpf net <command> [options]

commands:
  list [<dev>]   XDP, tcx and cls_bpf attachments per device (like bpftool net)

options:
  --netns NAME   look inside network namespace NAME (/var/run/netns/NAME)
  --json         print JSON (bpftool's field names)
  -h, --help     show this help
`;

async function list(argv: string[]): Promise<number> {
  const a = parse(argv, netnsOptions, usage);
  if (!a) return 0;
  const dev = a.positionals[0] === undefined ? undefined : devArg(a.positionals[0], usage);
  const l = netList({ netns: a.values.netns, ...(dev !== undefined ? { dev } : {}) });
  if (a.values.json) {
    process.stdout.write(json([l]));
    return 0;
  }
  let out = 'xdp:\n';
  for (const e of l.xdp) out += `${e.devname}(${e.ifindex}) ${e.mode} id ${e.id}${e.link_id !== undefined ? ` link_id ${e.link_id}` : ''}\n`;
  out += '\ntc:\n';
  for (const e of l.tc) {
    out += e.kind.startsWith('tcx/')
      ? `${e.devname}(${e.ifindex}) ${e.kind} ${e.name} prog_id ${e.prog_id}${e.link_id !== undefined ? ` link_id ${e.link_id}` : ''}\n`
      : `${e.devname}(${e.ifindex}) ${e.kind} ${e.name} id ${e.id ?? '-'} prio ${e.priority} handle 0x${(e.handle ?? 0).toString(16)}\n`;
  }
  process.stdout.write(out);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  return (await dispatch(argv, usage, { list, show: list })) ?? 0;
}
