/**
 * What is attached to the network devices of one namespace, like `bpftool net`: per device
 * the XDP program (netlink's IFLA_XDP, and the XDP link holding it, if any), the tcx programs
 * of each hook in run order (PROG_QUERY), and the cls_bpf filters of each clsact hook
 * (RTM_GETTFILTER). The JSON names follow bpftool's: devname, ifindex, mode, id, kind, name,
 * prog_id, link_id.
 */
import { listFilters } from '../netlink/filter.ts';
import { decodeLink, getLink, listLinksRequest, type Link } from '../netlink/link.ts';
import { routeSocket } from '../netlink/socket.ts';
import { decodeXdp, type XdpState } from '../netlink/xdp.ts';
import { RTM_NEWLINK } from '../netlink/constants.ts';
import { attachTypeId } from '../syscall/constants.ts';
import { BpfError } from '../syscall/errors.ts';
import { listBpfLinks, progQuery, type LinkInfo } from '../syscall/link.ts';
import { progFdById, progInfo } from '../syscall/info.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import { inNetns } from './attachment.ts';
import { hasTcx } from './tc.ts';

/** bpftool's words for the XDP modes. */
export const XDP_MODE_WORD = { skb: 'generic', drv: 'driver', hw: 'offload' } as const;

export interface NetXdpEntry {
  readonly devname: string;
  readonly ifindex: number;
  /** 'generic' | 'driver' | 'offload' */
  readonly mode: string;
  /** The program id. */
  readonly id: number;
  /** The XDP link holding it; absent when attached over netlink. */
  readonly link_id?: number;
}

export interface NetTcEntry {
  readonly devname: string;
  readonly ifindex: number;
  /** 'tcx/ingress' | 'tcx/egress' | 'clsact/ingress' | 'clsact/egress' */
  readonly kind: string;
  /** The program's name (tcx), or the filter's name (cls_bpf), as bpftool prints them. */
  readonly name: string;
  /** tcx: the program id (bpftool's prog_id). */
  readonly prog_id?: number;
  /** tcx: the link holding it; absent for a program attached without a link. */
  readonly link_id?: number;
  /** cls_bpf: the program id (bpftool's id). */
  readonly id?: number;
  readonly priority?: number;
  readonly handle?: number;
}

export interface NetListing {
  readonly xdp: readonly NetXdpEntry[];
  readonly tc: readonly NetTcEntry[];
}

/** A program's name by id ('' when it went away meanwhile). */
function progName(id: number, sys: Sys): string {
  try {
    const fd = progFdById(id, sys);
    try { return progInfo(fd, { sys }).name; } finally { sys.close(fd); }
  } catch (e) {
    if (e instanceof BpfError) return '';
    throw e;
  }
}

function xdpEntries(dev: Link, x: XdpState, links: readonly LinkInfo[]): NetXdpEntry[] {
  const out: NetXdpEntry[] = [];
  const add = (mode: 'skb' | 'drv' | 'hw', id: number | undefined): void => {
    if (!id) return;
    // Link info names no namespace: with the same ifindex and program in two, neither is sure to be this one's.
    const l = links.filter((k) => k.type === 'xdp' && k.ifindex === dev.index && k.progId === id);
    out.push({ devname: dev.name, ifindex: dev.index, mode: XDP_MODE_WORD[mode], id, ...(l.length === 1 ? { link_id: l[0]!.id } : {}) });
  };
  add('skb', x.skbProgId);
  add('drv', x.drvProgId);
  add('hw', x.hwProgId);
  return out;
}

/** Everything attached to the devices of a namespace (or one device), in bpftool's shape. */
export function netList(opts: { netns?: string; dev?: string | number; sys?: Sys } = {}): NetListing {
  const sys = opts.sys ?? defaultSys;
  using sock = routeSocket({ netns: opts.netns });
  const msgs = sock.dump('list interfaces', listLinksRequest()).filter((m) => m.header.type === RTM_NEWLINK);
  const devs = msgs.map(decodeLink).sort((a, b) => a.index - b.index);
  const xdpByIndex = new Map<number, XdpState>(msgs.map((m) => { const x = decodeXdp(m); return [x.ifindex, x]; }));
  const wanted = devs.filter((d) => opts.dev === undefined || d.name === opts.dev || d.index === opts.dev);
  // A missing device: the error every other command gives for it (getLink's, with its hint).
  if (opts.dev !== undefined && wanted.length === 0) getLink(sock, opts.dev);
  const anyXdp = wanted.some((d) => (xdpByIndex.get(d.index)?.attached ?? 'none') !== 'none');
  const links = anyXdp ? listBpfLinks(sys) : [];
  const xdp: NetXdpEntry[] = [];
  const tc: NetTcEntry[] = [];
  const tcx = hasTcx(sys);
  for (const d of wanted) {
    const x = xdpByIndex.get(d.index);
    if (x) xdp.push(...xdpEntries(d, x, links));
    for (const hook of ['ingress', 'egress'] as const) {
      if (tcx) {
        const q = inNetns(opts.netns, () => progQuery(sys, d.index, attachTypeId(`tcx_${hook}`)));
        q.progIds.forEach((id, i) => {
          const link = q.linkIds[i];
          tc.push({ devname: d.name, ifindex: d.index, kind: `tcx/${hook}`, name: progName(id, sys), prog_id: id, ...(link ? { link_id: link } : {}) });
        });
      }
    }
    for (const f of listFilters(sock, d.index)) {
      if (!f.hook || f.kind !== 'bpf') continue;
      tc.push({
        devname: d.name, ifindex: d.index, kind: `clsact/${f.hook}`, name: f.bpf?.name ?? '',
        ...(f.bpf?.progId !== undefined ? { id: f.bpf.progId } : {}), priority: f.priority, handle: f.handle,
      });
    }
  }
  return { xdp, tc };
}
