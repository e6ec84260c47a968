/**
 * `tsbpf xdp`: attach and detach XDP programs through src/attach, as a BPF link (pinned, so it
 * outlives the command) or over netlink (IFLA_XDP, as `ip link set dev X xdp…` does).
 *
 *   flag              -> what it sets
 *   <dev>             -> the ifindex (RTM_GETLINK in the namespace)
 *   --mode link       -> BPF_LINK_CREATE, attach type BPF_XDP, pinned at --pin
 *   --mode netlink    -> RTM_NEWLINK with IFLA_XDP { FD, FLAGS }
 *   --flags skb|drv|hw-> XDP_FLAGS_SKB_MODE | DRV_MODE | HW_MODE
 *   --replace         -> netlink: no XDP_FLAGS_UPDATE_IF_NOEXIST; link: LINK_UPDATE of the XDP link
 */
import { attachXdp, detachXdp, netList, XDP_MODE_WORD, type XdpAttachMode, type XdpMode } from '../attach/index.ts';
import { dispatch, json, parse, table, UsageError } from '../command.ts';
import { devArg, keepAttached, netnsHelp as common, netnsOptions as shared, programArg } from './net-attach.ts';

const usage = `usage: tsbpf xdp <command> [options]

commands:
  list [<dev>]                         XDP programs per device, with their mode and link
  attach <dev> (--id ID | --pinned PATH) [--mode link|netlink] [--flags skb|drv|hw] [--replace]
                                       attach a loaded XDP program
  detach <dev>                         remove the device's XDP program (its link, or over netlink)

${common}
`;

const attachUsage = `usage: tsbpf xdp attach <dev> (--id ID | --pinned PATH) [--mode link|netlink] [--flags skb|drv|hw] [--replace] [--pin PATH] [--netns NAME] [--json]

Attaches a loaded XDP program to <dev>. A device has one XDP program: attaching over one is
an error unless --replace.

  --mode link      a BPF link (default), pinned so it outlives this command
  --mode netlink   IFLA_XDP over rtnetlink, like \`ip link set dev <dev> xdp pinned PATH\`
  --flags F        skb (generic), drv (native) or hw (offload); default: the kernel's pick
  --replace        swap out the program already attached
  --pin PATH       link mode: pin here (default <bpffs>/tsbpf/links/<link id>)
${common}
`;

const detachUsage = `usage: tsbpf xdp detach <dev> [--netns NAME] [--json]

Removes <dev>'s XDP program: its link is detached (and the pins tsbpf made of it removed), or, when it
was attached over netlink, an IFLA_XDP with fd -1 is sent for its mode.

${common}
`;

const listUsage = `usage: tsbpf xdp list [<dev>] [--netns NAME] [--json]

${common}
`;

async function list(argv: string[]): Promise<number> {
  const a = parse(argv, shared, listUsage);
  if (!a) return 0;
  const dev = a.positionals[0] === undefined ? undefined : devArg(a.positionals[0], listUsage);
  const entries = netList({ netns: a.values.netns, ...(dev !== undefined ? { dev } : {}) }).xdp;
  if (a.values.json) process.stdout.write(json(entries));
  else if (!entries.length) process.stdout.write('no XDP programs\n');
  else process.stdout.write(table(entries.map((e) => ({ dev: e.devname, ifindex: e.ifindex, mode: e.mode, id: e.id, link: e.link_id })), ['dev', 'ifindex', 'mode', 'id', 'link']));
  return 0;
}

async function attach(argv: string[]): Promise<number> {
  const a = parse(argv, {
    ...shared, id: { type: 'string' }, pinned: { type: 'string' }, mode: { type: 'string' }, flags: { type: 'string' },
    replace: { type: 'boolean' }, pin: { type: 'string' },
  }, attachUsage);
  if (!a) return 0;
  const v = a.values;
  const dev = devArg(a.positionals[0], attachUsage);
  if (a.positionals.length > 1) throw new UsageError(`unexpected argument '${a.positionals[1]}'\n\n${attachUsage}`);
  const mode = (v.mode ?? 'link') as XdpAttachMode;
  if (mode !== 'link' && mode !== 'netlink') throw new UsageError(`--mode takes link or netlink; got '${v.mode}'`);
  if (v.flags !== undefined && !['skb', 'drv', 'hw'].includes(v.flags)) throw new UsageError(`--flags takes skb, drv or hw; got '${v.flags}'`);
  if (v.pin !== undefined && mode !== 'link') throw new UsageError('--pin needs --mode link (a netlink attachment is not a bpf object)');
  using prog = programArg(v, attachUsage);
  const h = attachXdp(prog, dev, { mode, netns: v.netns, replace: v.replace ?? false, ...(v.flags ? { flags: v.flags as XdpMode } : {}) });
  const info = h.info();
  const pinned = keepAttached(h, h.kind === 'xdp_link' && info.created.length ? info.linkId : undefined, v.pin);
  if (v.json) process.stdout.write(json({ mode, dev, ifindex: info.ifindex, progId: info.progId, xdpMode: info.xdpMode, linkId: info.linkId, pinned }));
  else process.stdout.write(`attached program ${info.progId} to ${dev} XDP${info.xdpMode ? ` (${info.xdpMode})` : ''}${info.linkId ? ` as link ${info.linkId}` : ' over netlink'}${pinned ? ` (pinned at ${pinned})` : ''}\n`);
  return 0;
}

async function detach(argv: string[]): Promise<number> {
  const a = parse(argv, shared, detachUsage);
  if (!a) return 0;
  const dev = devArg(a.positionals[0], detachUsage);
  if (a.positionals.length > 1) throw new UsageError(`unexpected argument '${a.positionals[1]}'\n\n${detachUsage}`);
  const out = detachXdp(dev, { netns: a.values.netns }).map((d) => ({ id: d.progId, mode: XDP_MODE_WORD[d.xdpMode], ...(d.linkId !== undefined ? { link: d.linkId } : {}) }));
  if (a.values.json) process.stdout.write(json({ dev, detached: out }));
  else for (const o of out) process.stdout.write(`detached program ${o.id} (${o.mode}${o.link ? `, link ${o.link}` : ', netlink'}) from ${dev}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  return (await dispatch(argv, usage, { list, attach, detach })) ?? 0;
}
