/**
 * cls_bpf filters on clsact's hooks, in direct-action mode: the program's return value is the
 * verdict (TC_ACT_OK, TC_ACT_SHOT, ...), so no tc action is needed after it.
 *
 * A filter is addressed by (interface, hook, priority, handle):
 *   hook      parent ffff:fff2 (ingress) or ffff:fff3 (egress)
 *   priority  tcm_info >> 16; 0 asks the kernel to pick (49152 first, then one less each time)
 *   handle    cls_bpf's id within the priority; 0 asks the kernel to pick (1, 2, ...)
 * The kernel's picks come back because we add with NLM_F_ECHO.
 */
import {
  AF_UNSPEC, ETH_P_ALL, NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REPLACE, RTM_DELTFILTER, RTM_GETTFILTER,
  RTM_NEWTFILTER, TC_H_CLSACT, TC_H_MAJ_MASK, TC_H_MIN_EGRESS, TC_H_MIN_INGRESS, TCA_BPF_FLAG_ACT_DIRECT,
  TCA_CLS_FLAGS_IN_HW, TCA_CLS_FLAGS_SKIP_HW, TCA_CLS_FLAGS_SKIP_SW, TCA_OPTIONS, TCMSG_LEN,
} from './constants.ts';
import { NetlinkError } from './error.ts';
import { confirmIfindex, ifindexOf, type Dev } from './link.ts';
import {
  decodeAttrs, decodeTcMsg, encodeAttr, encodeAttrs, encodeTcMsg, filterInfo, hex, htons, payload, type Message, type Request,
} from './message.ts';
import { rethrowNoDev } from './qdisc.ts';
import { clsBpfSchema, tcSchema } from './schema.ts';
import type { RouteSocket } from './socket.ts';

export type Hook = 'ingress' | 'egress';

/** The parent handle that names a clsact hook: ffff:fff2 or ffff:fff3. */
export function hookParent(hook: Hook): number {
  return ((TC_H_CLSACT & TC_H_MAJ_MASK) | (hook === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS)) >>> 0;
}

export function parentHook(parent: number): Hook | undefined {
  if (parent === hookParent('ingress')) return 'ingress';
  if (parent === hookParent('egress')) return 'egress';
  return undefined;
}

export interface Filter {
  readonly ifindex: number;
  readonly hook: Hook | undefined;
  readonly parent: number;
  readonly priority: number;
  readonly handle: number;
  /** ETH_P_* in host order (3 = all) */
  readonly protocol: number;
  readonly chain: number;
  /** classifier kind; "bpf" for ours */
  readonly kind: string;
  /** cls_bpf details when kind is "bpf" */
  readonly bpf: BpfFilterInfo | undefined;
}

export interface BpfFilterInfo {
  readonly progId: number | undefined;
  readonly name: string | undefined;
  /** 8-byte program tag as 16 hex digits, as bpftool prints it */
  readonly tag: string | undefined;
  readonly directAction: boolean;
  /** TCA_BPF_FLAGS */
  readonly flags: number;
  /** TCA_CLS_FLAGS_* */
  readonly flagsGen: number;
  readonly inHw: boolean;
  readonly classid: number | undefined;
}

export interface BpfFilterSpec {
  /** fd of a loaded BPF_PROG_TYPE_SCHED_CLS program; the filter keeps its own reference */
  readonly fd: number;
  /** label shown by `tc filter show` and used to find the filter again */
  readonly name?: string | undefined;
  /** 1..65535; 0 or absent lets the kernel pick */
  readonly priority?: number | undefined;
  /** 0 or absent lets the kernel pick */
  readonly handle?: number | undefined;
  /** ETH_P_*, host order; default ETH_P_ALL */
  readonly protocol?: number | undefined;
  /** default true; false needs a classid or actions, which tsbpf does not build */
  readonly directAction?: boolean | undefined;
  readonly skipHw?: boolean | undefined;
  readonly skipSw?: boolean | undefined;
  readonly classid?: number | undefined;
}

export interface FilterAddress {
  readonly priority: number;
  readonly handle: number;
}

function checkU16(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what} must be 0..65535, got ${v}`);
  return v;
}

function checkU32(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${what} must be 0..4294967295, got ${v}`);
  return v;
}

function bpfOptions(spec: BpfFilterSpec): Uint8Array {
  const flagsGen = (spec.skipHw ? TCA_CLS_FLAGS_SKIP_HW : 0) | (spec.skipSw ? TCA_CLS_FLAGS_SKIP_SW : 0);
  // Same order as iproute2 (fd, name, flags) so the request matches `tc` byte for byte.
  return encodeAttrs(clsBpfSchema, {
    fd: spec.fd,
    name: spec.name,
    flags: spec.directAction === false ? undefined : TCA_BPF_FLAG_ACT_DIRECT,
    flagsGen: flagsGen || undefined,
    classid: spec.classid,
  });
}

export type AddMode = 'add' | 'replace';

/**
 * RTM_NEWTFILTER for a cls_bpf filter.
 *   add:     NLM_F_EXCL|NLM_F_CREATE   (`tc filter add`): an existing (priority, handle) is EEXIST
 *   replace: NLM_F_CREATE|NLM_F_REPLACE (`tc filter replace`): swaps the program in place
 * `echo` adds NLM_F_ECHO so the kernel returns the filter with the priority and handle it chose.
 */
export function filterAddRequest(ifindex: number, hook: Hook, spec: BpfFilterSpec, mode: AddMode = 'add', echo = true): Request {
  const priority = checkU16('priority', spec.priority ?? 0);
  const handle = checkU32('handle', spec.handle ?? 0);
  const flags = (mode === 'add' ? NLM_F_EXCL | NLM_F_CREATE : NLM_F_CREATE | NLM_F_REPLACE) | (echo ? NLM_F_ECHO : 0);
  return {
    type: RTM_NEWTFILTER,
    flags,
    payload: payload(
      encodeTcMsg({ family: AF_UNSPEC, ifindex, handle, parent: hookParent(hook), info: filterInfo(priority, spec.protocol ?? ETH_P_ALL) }),
      encodeAttrs(tcSchema, { kind: 'bpf' }),
      encodeAttr(TCA_OPTIONS, bpfOptions(spec)),
    ),
  };
}

/**
 * RTM_DELTFILTER. With a priority and handle: that one filter (`tc filter del dev X ingress pref P
 * handle H bpf`). With neither: every filter on the hook (`tc filter del dev X ingress`), which
 * the kernel does by flushing the hook's chain 0.
 */
export function filterDeleteRequest(ifindex: number, hook: Hook, at?: FilterAddress): Request {
  const tcm = encodeTcMsg({ family: AF_UNSPEC, ifindex, handle: at ? checkU32('handle', at.handle) : 0, parent: hookParent(hook), info: at ? filterInfo(checkU16('priority', at.priority), 0) : 0 });
  return { type: RTM_DELTFILTER, flags: 0, payload: at ? payload(tcm, encodeAttrs(tcSchema, { kind: 'bpf' })) : tcm };
}

/** RTM_GETTFILTER dump of one hook (`tc filter show dev X ingress`). */
export function filterDumpRequest(ifindex: number, hook: Hook): Request {
  return { type: RTM_GETTFILTER, flags: 0, payload: encodeTcMsg({ family: AF_UNSPEC, ifindex, parent: hookParent(hook) }) };
}

/** Decode an RTM_NEWTFILTER; undefined for the per-priority header the kernel sends without a handle. */
export function decodeFilter(m: Message): Filter | undefined {
  const t = decodeTcMsg(m.payload);
  const a = decodeAttrs(tcSchema, m.payload.subarray(TCMSG_LEN));
  if (t.handle === 0 && a.options === undefined) return undefined;
  const kind = a.kind ?? '';
  let bpf: BpfFilterInfo | undefined;
  if (kind === 'bpf' && a.options) {
    const o = decodeAttrs(clsBpfSchema, a.options);
    const flags = o.flags ?? 0, flagsGen = o.flagsGen ?? 0;
    bpf = {
      progId: o.id, name: o.name, tag: o.tag ? hex(o.tag) : undefined,
      directAction: (flags & TCA_BPF_FLAG_ACT_DIRECT) !== 0, flags, flagsGen,
      inHw: (flagsGen & TCA_CLS_FLAGS_IN_HW) !== 0, classid: o.classid,
    };
  }
  return {
    ifindex: t.ifindex, hook: parentHook(t.parent), parent: t.parent,
    priority: t.info >>> 16, handle: t.handle, protocol: htons(t.info & 0xffff),
    chain: a.chain ?? 0, kind, bpf,
  };
}

function attachError(dev: Dev, hook: Hook, spec: BpfFilterSpec, e: NetlinkError): NetlinkError {
  const at = `${dev} ${hook}`;
  if (e.code === 'EEXIST') {
    return new NetlinkError({ op: e.op, errno: e.errno, extack: e.extack,
      message: `a filter with priority ${spec.priority ?? 0} handle ${spec.handle ?? 0} is already on ${at}`,
      hint: 'detach it first, pick another priority, or replace it' });
  }
  if (e.code === 'EBADF') {
    return new NetlinkError({ op: e.op, errno: e.errno, extack: e.extack, message: `fd ${spec.fd} is not a BPF program`, hint: 'pass the fd of a loaded SCHED_CLS program' });
  }
  if (e.code === 'EINVAL' && /qdisc/i.test(e.extack ?? '')) {
    return new NetlinkError({ op: e.op, errno: e.errno, extack: e.extack, message: `${dev} has no clsact qdisc to attach to`, hint: 'add one first with ensureClsact() (`tsbpf tc attach` does it for you)' });
  }
  if (e.code === 'EINVAL') {
    return new NetlinkError({ op: e.op, errno: e.errno, extack: e.extack, hint: 'the program must be loaded as SCHED_CLS, and the priority must not be used by another kind of filter' });
  }
  return e;
}

function addFilter(sock: RouteSocket, dev: Dev, hook: Hook, spec: BpfFilterSpec, mode: AddMode): Filter {
  const ifindex = ifindexOf(sock, dev);
  const op = `${mode === 'add' ? 'attach' : 'replace'} bpf filter on ${dev} ${hook}`;
  let replies: Message[];
  try {
    replies = sock.request(op, filterAddRequest(ifindex, hook, spec, mode));
  } catch (e) {
    if (e instanceof NetlinkError && e.code !== 'ENODEV') throw attachError(dev, hook, spec, e);
    rethrowNoDev(sock, dev, e);
  }
  const echoed = replies.filter((m) => m.header.type === RTM_NEWTFILTER).map(decodeFilter).find((f) => f !== undefined);
  if (echoed) return echoed;
  // No echo (a kernel that does not honour NLM_F_ECHO here): report what we asked for.
  return {
    ifindex, hook, parent: hookParent(hook), priority: spec.priority ?? 0, handle: spec.handle ?? 0,
    protocol: spec.protocol ?? ETH_P_ALL, chain: 0, kind: 'bpf',
    bpf: { progId: undefined, name: spec.name, tag: undefined, directAction: spec.directAction !== false, flags: spec.directAction === false ? 0 : TCA_BPF_FLAG_ACT_DIRECT, flagsGen: 0, inHw: false, classid: spec.classid },
  };
}

/**
 * Attach a program as a direct-action cls_bpf filter on `hook` (`tc filter add dev X ingress
 * bpf da fd N name N`). The clsact qdisc must exist (ensureClsact). Returns the filter with
 * the priority and handle the kernel assigned.
 */
export function attachBpf(sock: RouteSocket, dev: Dev, hook: Hook, spec: BpfFilterSpec): Filter {
  return addFilter(sock, dev, hook, spec, 'add');
}

/**
 * Swap the program of the filter at (priority, handle), creating it if absent
 * (`tc filter replace`). Both must be given: with 0 the kernel would add a new filter instead.
 */
export function replaceBpf(sock: RouteSocket, dev: Dev, hook: Hook, spec: BpfFilterSpec & FilterAddress): Filter {
  if (!spec.priority || !spec.handle) throw new RangeError('replaceBpf needs the priority and handle of the filter to replace (non-zero)');
  return addFilter(sock, dev, hook, spec, 'replace');
}

/** Filters on one hook, or on both when `hook` is omitted (ingress first). */
export function listFilters(sock: RouteSocket, dev: Dev, hook?: Hook): Filter[] {
  const ifindex = ifindexOf(sock, dev);
  const out: Filter[] = [];
  for (const h of hook ? [hook] : (['ingress', 'egress'] as const)) {
    let replies: Message[];
    try {
      replies = sock.dump(`list filters on ${dev} ${h}`, filterDumpRequest(ifindex, h));
    } catch (e) {
      // EINVAL with no clsact on newer kernels ("Parent Qdisc doesn't exists"): nothing attached.
      if (e instanceof NetlinkError && e.code === 'EINVAL') continue;
      rethrowNoDev(sock, dev, e);
    }
    for (const m of replies) {
      if (m.header.type !== RTM_NEWTFILTER) continue;
      const f = decodeFilter(m);
      if (f && f.ifindex === ifindex && f.parent === hookParent(h)) out.push(f);
    }
  }
  if (out.length === 0) confirmIfindex(sock, dev);
  return out;
}

/** Which filters to detach: one by address, all with a name, or everything on the hook. */
export type FilterSelector = FilterAddress | { readonly name: string } | { readonly all: true };

/**
 * Detach filters from `hook`; returns how many went. By address, a missing filter is an error
 * (ENOENT); by name, the count may be 0. `{ all: true }` removes every filter on the hook,
 * tsbpf's or not, as `tc filter del dev X ingress` does.
 */
export function detachBpf(sock: RouteSocket, dev: Dev, hook: Hook, which: FilterSelector): number {
  const ifindex = ifindexOf(sock, dev);
  const del = (at?: FilterAddress): void => {
    const op = at ? `detach filter priority ${at.priority} handle ${at.handle} from ${dev} ${hook}` : `detach all filters from ${dev} ${hook}`;
    try {
      sock.request(op, filterDeleteRequest(ifindex, hook, at));
    } catch (e) {
      if (at && e instanceof NetlinkError && (e.code === 'ENOENT' || (e.code === 'EINVAL' && /qdisc|find/i.test(e.extack ?? '')))) {
        throw new NetlinkError({ op, errno: e.errno, extack: e.extack, message: `no filter with priority ${at.priority} handle ${at.handle} on ${dev} ${hook}`, hint: `list them with \`tsbpf tc list ${dev}${sock.netns ? ` --netns ${sock.netns}` : ''}\`` });
      }
      rethrowNoDev(sock, dev, e);
    }
  };
  if ('all' in which) {
    const n = listFilters(sock, ifindex, hook).length;
    if (n) del();
    return n;
  }
  if ('name' in which) {
    const hits = listFilters(sock, ifindex, hook).filter((f) => f.bpf?.name === which.name);
    for (const f of hits) del(f);
    return hits.length;
  }
  if (!which.priority) throw new RangeError('detachBpf needs a non-zero priority (0 would flush the whole hook; use { all: true })');
  del(which);
  return 1;
}
