/**
 * BPF links: a kernel object that holds one attachment of a program (to a tcx hook, an XDP
 * device, a perf event, a cgroup…). The attachment lasts while the link does: while an fd or a
 * pin refers to it. Closing the last fd of an unpinned link detaches; LINK_DETACH detaches
 * at once, pinned or not (the link then stays as a defunct object until its fds close).
 *
 *   LINK_CREATE  prog_fd | target (fd or ifindex) | attach_type | flags | per-kind union @16
 *   LINK_UPDATE  swap the program in place (atomically; BPF_F_REPLACE checks the old one)
 *   LINK_DETACH  end the attachment now
 *   PROG_QUERY   what is attached at a target: program ids, link ids, the hook's revision
 */
import { LINK_CREATE, LINK_DETACH, LINK_INFO, LINK_UPDATE, PROG_QUERY, alloc, attr, dv, readU32, readU64, write } from './attr.ts';
import { AttachFlags, Cmd, attachTypeName, linkTypeName } from './constants.ts';
import { objGetInfoByFd, objPin, getFdById, getNextId } from './bpf.ts';
import { BpfError, check, type BpfErrorContext } from './errors.ts';
import { defaultSys, type Sys } from './sys.ts';
import { openPinnedAs } from './pin.ts';
import { Errno } from '../errno.ts';

const { ENOSPC, ENOENT } = Errno;

export interface LinkCreateParams {
  readonly progFd: number;
  /** An fd (cgroup, perf event…) or, for tcx and XDP, an ifindex. */
  readonly target: number;
  readonly attachType: number;
  readonly flags?: number;
  /** tcx: the anchor of BPF_F_BEFORE / AFTER, an fd or (with BPF_F_ID) an id. */
  readonly relative?: number;
  /** tcx: fail with ESTALE unless the hook's revision is this one (0: do not check). */
  readonly expectedRevision?: bigint;
  /** perf_event links: the value bpf_get_attach_cookie() returns. */
  readonly bpfCookie?: bigint;
  /** For messages: what is being attached where. */
  readonly context?: BpfErrorContext;
}

/** BPF_LINK_CREATE: a new link's fd. */
export function linkCreate(sys: Sys, p: LinkCreateParams): number {
  const a = attr(LINK_CREATE, { prog_fd: p.progFd, target_fd: p.target, attach_type: p.attachType, flags: p.flags ?? 0 });
  if (p.bpfCookie !== undefined) write(LINK_CREATE, a, { bpf_cookie: p.bpfCookie });
  if (p.relative !== undefined || p.expectedRevision !== undefined) {
    write(LINK_CREATE, a, { relative_fd: p.relative ?? 0, expected_revision: p.expectedRevision ?? 0n });
  }
  return check(Cmd.LINK_CREATE, sys.bpf(Cmd.LINK_CREATE, a), p.context);
}

/** BPF_LINK_UPDATE: run newProgFd in the link's place; with oldProgFd, only if that is what runs now. */
export function linkUpdate(sys: Sys, linkFd: number, newProgFd: number, opts: { oldProgFd?: number; context?: BpfErrorContext } = {}): void {
  const a = attr(LINK_UPDATE, {
    link_fd: linkFd, new_prog_fd: newProgFd,
    flags: opts.oldProgFd !== undefined ? AttachFlags.REPLACE : 0, old_prog_fd: opts.oldProgFd ?? 0,
  });
  check(Cmd.LINK_UPDATE, sys.bpf(Cmd.LINK_UPDATE, a), opts.context);
}

/** BPF_LINK_DETACH: end the attachment now, whoever else holds the link. */
export function linkDetach(sys: Sys, linkFd: number, context?: BpfErrorContext): void {
  check(Cmd.LINK_DETACH, sys.bpf(Cmd.LINK_DETACH, attr(LINK_DETACH, { link_fd: linkFd })), context);
}

export interface QueryResult {
  /** Program ids in run order. */
  readonly progIds: readonly number[];
  /** The link holding each program, 0 for a program attached without a link (tcx only). */
  readonly linkIds: readonly number[];
  /** The hook's revision: bumped by each change (tcx only; 0 elsewhere). */
  readonly revision: bigint;
  readonly attachFlags: number;
}

/**
 * BPF_PROG_QUERY: what runs at a target (cgroup fd, or for tcx an ifindex) for an attach type.
 * Asks for the count first, then for that many ids; a change in between (ENOSPC) is retried.
 */
export function progQuery(sys: Sys, target: number, attachType: number, opts: { queryFlags?: number; context?: BpfErrorContext } = {}): QueryResult {
  let room = 0;
  for (let attempt = 0; ; attempt++) {
    const progs = room ? new Uint8Array(new ArrayBuffer(room * 4)) : null;
    const links = room ? new Uint8Array(new ArrayBuffer(room * 4)) : null;
    const a = attr(PROG_QUERY, {
      target_fd: target, attach_type: attachType, query_flags: opts.queryFlags ?? 0, prog_cnt: room,
      prog_ids: progs ? sys.addressOf(progs) : 0n, link_ids: links ? sys.addressOf(links) : 0n,
    });
    const r = sys.bpf(Cmd.PROG_QUERY, a);
    const count = readU32(PROG_QUERY, a, 'prog_cnt');
    if (r === -ENOSPC && attempt < 4) { room = count + 4; continue; }
    check(Cmd.PROG_QUERY, r, opts.context);
    const revision = readU64(PROG_QUERY, a, 'revision');
    const attachFlags = readU32(PROG_QUERY, a, 'attach_flags');
    if (count > room) { room = count; continue; }
    const ids = (b: Uint8Array | null): number[] => Array.from({ length: count }, (_, i) => (b ? dv(b).getUint32(i * 4, true) : 0));
    return { progIds: ids(progs), linkIds: ids(links), revision, attachFlags };
  }
}

export interface LinkInfo {
  readonly id: number;
  /** 'tcx', 'xdp', 'perf_event'… (bpftool's names) */
  readonly type: string;
  readonly typeId: number;
  readonly progId: number;
  /** tcx and xdp links: the device. */
  readonly ifindex?: number;
  /** tcx, netns, cgroup and tracing links: 'tcx_ingress', 'cgroup_inet_ingress'… */
  readonly attachType?: string;
  readonly netnsIno?: number;
  readonly cgroupId?: bigint;
}

/** Link info (BPF_OBJ_GET_INFO_BY_FD on a link fd), with the fields its type has. */
export function linkInfo(fd: number, sys: Sys = defaultSys): LinkInfo {
  const b = alloc(LINK_INFO);
  objGetInfoByFd(sys, fd, b);
  const typeId = readU32(LINK_INFO, b, 'type');
  const type = linkTypeName(typeId);
  const head = { id: readU32(LINK_INFO, b, 'id'), type, typeId, progId: readU32(LINK_INFO, b, 'prog_id') };
  const at = (k: keyof typeof LINK_INFO.fields): string => attachTypeName(readU32(LINK_INFO, b, k));
  switch (type) {
    case 'tcx': return { ...head, ifindex: readU32(LINK_INFO, b, 'tcx.ifindex'), attachType: at('tcx.attach_type') };
    case 'xdp': return { ...head, ifindex: readU32(LINK_INFO, b, 'xdp.ifindex'), attachType: 'xdp' };
    case 'netns': return { ...head, netnsIno: readU32(LINK_INFO, b, 'netns.netns_ino'), attachType: at('netns.attach_type') };
    case 'cgroup': return { ...head, cgroupId: readU64(LINK_INFO, b, 'cgroup.cgroup_id'), attachType: at('cgroup.attach_type') };
    case 'tracing': return { ...head, attachType: at('tracing.attach_type') };
    default: return head;
  }
}

/** Ids of every link, ascending. */
export function linkIds(sys: Sys = defaultSys): number[] {
  const out: number[] = [];
  for (let id = 0; ;) {
    const next = getNextId(sys, Cmd.LINK_GET_NEXT_ID, id);
    if (next === null) return out;
    out.push((id = next));
  }
}

/** A new fd for the link with this id. */
export function linkFdById(id: number, sys: Sys = defaultSys): number {
  return getFdById(sys, Cmd.LINK_GET_FD_BY_ID, id);
}

/** Info for every link; links that go away during the walk are skipped. */
export function listBpfLinks(sys: Sys = defaultSys): LinkInfo[] {
  const out: LinkInfo[] = [];
  for (const id of linkIds(sys)) {
    let fd: number;
    try { fd = linkFdById(id, sys); } catch (e) { if (e instanceof BpfError && e.errno === ENOENT) continue; throw e; }
    try { out.push(linkInfo(fd, sys)); } finally { sys.close(fd); }
  }
  return out;
}

/** A link over an fd this object owns. Closing an unpinned link detaches its program. */
export class BpfLink implements Disposable {
  readonly fd: number;
  readonly sys: Sys;
  private closed = false;

  constructor(fd: number, sys: Sys = defaultSys) {
    this.fd = fd;
    this.sys = sys;
  }

  private live(): void {
    if (this.closed) throw new Error('the link is closed');
  }

  info(): LinkInfo {
    this.live();
    return linkInfo(this.fd, this.sys);
  }

  get id(): number { return this.info().id; }

  /** Pin at a bpffs path: the attachment outlives this process and this object. */
  pin(path: string): void {
    this.live();
    objPin(this.sys, this.fd, path);
  }

  /** Run another program in this link's place; with `expect`, only if that program runs now. */
  update(progFd: number, expect?: number): void {
    this.live();
    linkUpdate(this.sys, this.fd, progFd, expect !== undefined ? { oldProgFd: expect } : {});
  }

  /** End the attachment now (pinned or not); the fd stays until close(). */
  detach(): void {
    this.live();
    linkDetach(this.sys, this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sys.close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A pinned link (BPF_OBJ_GET); something else pinned there is an error naming what it is. */
export function openPinnedLink(path: string, sys: Sys = defaultSys): BpfLink {
  return new BpfLink(openPinnedAs(path, 'link', { sys }), sys);
}

/** A link by its kernel id (BPF_LINK_GET_FD_BY_ID). */
export function openLinkById(id: number, sys: Sys = defaultSys): BpfLink {
  return new BpfLink(linkFdById(id, sys), sys);
}
