/**
 * Section names to program types, attach types and attach points, by libbpf's convention
 * (libbpf.c section_defs): a name without '+' must match exactly; one with '+' matches the
 * prefix alone or the prefix followed by '/' and an attach point ("kprobe/do_nanosleep",
 * "tracepoint/syscalls/sys_enter_getpid"). '.s' variants are sleepable, '.frags' XDP programs
 * take multi-buffer packets. iproute2 loads any section as the type given on its command
 * line, so names libbpf does not know ("ingress", "egress") have no type here: the caller
 * says which (an explicit type always wins).
 */
import type { ProgramType } from '../asm/program.ts';

/** PROG_LOAD prog_flags the section name implies (linux/bpf.h BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS). */
export const SectionFlags = { SLEEPABLE: 1 << 4, XDP_HAS_FRAGS: 1 << 5 } as const;

export interface SectionType {
  readonly type: ProgramType;
  readonly expectedAttachType?: string;
  /** The part after the prefix and '/', when the name has one. */
  readonly attachTo?: string;
  readonly flags: number;
  /** Loading needs a BTF id for the attach target (fentry, lsm, tp_btf, struct_ops, freplace). */
  readonly needsAttachBtf: boolean;
  /** The table entry that matched, as libbpf writes it ('kprobe+'). */
  readonly matched: string;
}

type Def = readonly [name: string, type: ProgramType, attach?: string, flags?: number, btf?: true];

const S = SectionFlags.SLEEPABLE, F = SectionFlags.XDP_HAS_FRAGS;
const cgroupAddr = (hook: string, attach: string): Def => [`cgroup/${hook}`, 'cgroup_sock_addr', attach];

// Longer, more specific names first: the first match wins.
const DEFS: readonly Def[] = [
  ['socket', 'socket_filter'],
  ['sk_reuseport/migrate', 'sk_reuseport', 'sk_reuseport_select_or_migrate'],
  ['sk_reuseport', 'sk_reuseport', 'sk_reuseport_select'],
  ['kprobe.multi+', 'kprobe', 'trace_kprobe_multi'],
  ['kretprobe.multi+', 'kprobe', 'trace_kprobe_multi'],
  ['uprobe.multi.s+', 'kprobe', 'trace_uprobe_multi', S],
  ['uretprobe.multi.s+', 'kprobe', 'trace_uprobe_multi', S],
  ['uprobe.multi+', 'kprobe', 'trace_uprobe_multi'],
  ['uretprobe.multi+', 'kprobe', 'trace_uprobe_multi'],
  ['kprobe+', 'kprobe'],
  ['kretprobe+', 'kprobe'],
  ['uprobe.s+', 'kprobe', undefined, S],
  ['uretprobe.s+', 'kprobe', undefined, S],
  ['uprobe+', 'kprobe'],
  ['uretprobe+', 'kprobe'],
  ['ksyscall+', 'kprobe'],
  ['kretsyscall+', 'kprobe'],
  ['usdt.s+', 'kprobe', undefined, S],
  ['usdt+', 'kprobe'],
  ['tc/ingress', 'sched_cls', 'tcx_ingress'],
  ['tc/egress', 'sched_cls', 'tcx_egress'],
  ['tcx/ingress', 'sched_cls', 'tcx_ingress'],
  ['tcx/egress', 'sched_cls', 'tcx_egress'],
  ['netkit/primary', 'sched_cls', 'netkit_primary'],
  ['netkit/peer', 'sched_cls', 'netkit_peer'],
  ['tc', 'sched_cls'],
  ['classifier', 'sched_cls'],
  ['action', 'sched_act'],
  ['tracepoint+', 'tracepoint'],
  ['tp+', 'tracepoint'],
  ['raw_tracepoint.w+', 'raw_tracepoint_writable'],
  ['raw_tp.w+', 'raw_tracepoint_writable'],
  ['raw_tracepoint+', 'raw_tracepoint'],
  ['raw_tp+', 'raw_tracepoint'],
  ['tp_btf+', 'tracing', 'trace_raw_tp', 0, true],
  ['fentry.s+', 'tracing', 'trace_fentry', S, true],
  ['fentry+', 'tracing', 'trace_fentry', 0, true],
  ['fmod_ret.s+', 'tracing', 'modify_return', S, true],
  ['fmod_ret+', 'tracing', 'modify_return', 0, true],
  ['fexit.s+', 'tracing', 'trace_fexit', S, true],
  ['fexit+', 'tracing', 'trace_fexit', 0, true],
  ['freplace+', 'ext', undefined, 0, true],
  ['lsm.s+', 'lsm', 'lsm_mac', S, true],
  ['lsm_cgroup+', 'lsm', 'lsm_cgroup', 0, true],
  ['lsm+', 'lsm', 'lsm_mac', 0, true],
  ['iter.s+', 'tracing', 'trace_iter', S, true],
  ['iter+', 'tracing', 'trace_iter', 0, true],
  ['syscall', 'syscall', undefined, S],
  ['xdp.frags/devmap', 'xdp', 'xdp_devmap', F],
  ['xdp/devmap', 'xdp', 'xdp_devmap'],
  ['xdp.frags/cpumap', 'xdp', 'xdp_cpumap', F],
  ['xdp/cpumap', 'xdp', 'xdp_cpumap'],
  ['xdp.frags', 'xdp', 'xdp', F],
  ['xdp', 'xdp', 'xdp'],
  ['perf_event', 'perf_event'],
  ['lwt_in', 'lwt_in'],
  ['lwt_out', 'lwt_out'],
  ['lwt_xmit', 'lwt_xmit'],
  ['lwt_seg6local', 'lwt_seg6local'],
  ['sockops', 'sock_ops', 'cgroup_sock_ops'],
  ['sk_skb/stream_parser', 'sk_skb', 'sk_skb_stream_parser'],
  ['sk_skb/stream_verdict', 'sk_skb', 'sk_skb_stream_verdict'],
  ['sk_skb/verdict', 'sk_skb', 'sk_skb_verdict'],
  ['sk_skb', 'sk_skb'],
  ['sk_msg', 'sk_msg', 'sk_msg_verdict'],
  ['lirc_mode2', 'lirc_mode2', 'lirc_mode2'],
  ['flow_dissector', 'flow_dissector', 'flow_dissector'],
  ['cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress'],
  ['cgroup_skb/egress', 'cgroup_skb', 'cgroup_inet_egress'],
  ['cgroup/skb', 'cgroup_skb'],
  ['cgroup/sock_create', 'cgroup_sock', 'cgroup_inet_sock_create'],
  ['cgroup/sock_release', 'cgroup_sock', 'cgroup_inet_sock_release'],
  ['cgroup/sock', 'cgroup_sock', 'cgroup_inet_sock_create'],
  ['cgroup/post_bind4', 'cgroup_sock', 'cgroup_inet4_post_bind'],
  ['cgroup/post_bind6', 'cgroup_sock', 'cgroup_inet6_post_bind'],
  cgroupAddr('bind4', 'cgroup_inet4_bind'), cgroupAddr('bind6', 'cgroup_inet6_bind'),
  cgroupAddr('connect4', 'cgroup_inet4_connect'), cgroupAddr('connect6', 'cgroup_inet6_connect'),
  cgroupAddr('connect_unix', 'cgroup_unix_connect'),
  cgroupAddr('sendmsg4', 'cgroup_udp4_sendmsg'), cgroupAddr('sendmsg6', 'cgroup_udp6_sendmsg'),
  cgroupAddr('sendmsg_unix', 'cgroup_unix_sendmsg'),
  cgroupAddr('recvmsg4', 'cgroup_udp4_recvmsg'), cgroupAddr('recvmsg6', 'cgroup_udp6_recvmsg'),
  cgroupAddr('recvmsg_unix', 'cgroup_unix_recvmsg'),
  cgroupAddr('getpeername4', 'cgroup_inet4_getpeername'), cgroupAddr('getpeername6', 'cgroup_inet6_getpeername'),
  cgroupAddr('getpeername_unix', 'cgroup_unix_getpeername'),
  cgroupAddr('getsockname4', 'cgroup_inet4_getsockname'), cgroupAddr('getsockname6', 'cgroup_inet6_getsockname'),
  cgroupAddr('getsockname_unix', 'cgroup_unix_getsockname'),
  ['cgroup/sysctl', 'cgroup_sysctl', 'cgroup_sysctl'],
  ['cgroup/getsockopt', 'cgroup_sockopt', 'cgroup_getsockopt'],
  ['cgroup/setsockopt', 'cgroup_sockopt', 'cgroup_setsockopt'],
  ['cgroup/dev', 'cgroup_device', 'cgroup_device'],
  ['struct_ops.s+', 'struct_ops', undefined, S, true],
  ['struct_ops+', 'struct_ops', undefined, 0, true],
  ['sk_lookup', 'sk_lookup', 'sk_lookup'],
  ['netfilter', 'netfilter', 'netfilter'],
];

/** The type a section name implies, or undefined when libbpf's table has no entry for it. */
export function sectionType(section: string): SectionType | undefined {
  for (const [name, type, attach, flags = 0, btf] of DEFS) {
    const prefix = name.endsWith('+') ? name.slice(0, -1) : undefined;
    let attachTo: string | undefined;
    if (prefix === undefined) {
      if (section !== name) continue;
    } else if (section === prefix) {
      attachTo = undefined;
    } else if (section.startsWith(prefix + '/')) {
      attachTo = section.slice(prefix.length + 1);
    } else continue;
    return {
      type, flags, needsAttachBtf: btf === true, matched: name,
      ...(attach ? { expectedAttachType: attach } : {}), ...(attachTo !== undefined ? { attachTo } : {}),
    };
  }
  return undefined;
}

/** The names of the table, for error messages and docs. */
export const SECTION_NAMES: readonly string[] = DEFS.map((d) => d[0]);

/** A row without a variant: not sleepable ('.s'), not multi-buffer ('.frags'), no attach point ('/'). */
const plain = (d: Def): boolean => !d[0].includes('.s') && !d[0].includes('.frags') && !d[0].includes('/');

/**
 * The section name libbpf reads back as this type (and expected attach type): the table's
 * plain entry for them when there is one, without an attach point. No expected attach type
 * means the type's default: 'xdp' for xdp, never a variant such as 'xdp.frags/devmap', whose
 * program cannot attach to a device. Undefined when the table has no entry for the type.
 */
export function sectionFor(type: ProgramType, expectedAttachType?: string): string | undefined {
  const forType = DEFS.filter((d) => d[1] === type);
  const noVariant = (d: Def): boolean => !d[0].includes('.s') && !d[0].includes('.frags');
  const d = expectedAttachType !== undefined
    ? forType.find((x) => x[2] === expectedAttachType && plain(x)) ?? forType.find((x) => x[2] === expectedAttachType && noVariant(x)) ??
      forType.find((x) => x[2] === expectedAttachType)
    : forType.find((x) => x[2] === undefined && noVariant(x)) ?? forType.find(plain) ?? forType.find(noVariant) ?? forType[0];
  return d ? d[0].replace(/\+$/, '') : undefined;
}
