/**
 * Program types: enum bpf_prog_type of linux/bpf.h, by name without the BPF_PROG_TYPE_ prefix,
 * lowercase (BPF_PROG_TYPE_SCHED_CLS -> 'sched_cls'), which is also how bpftool prints them.
 * The position in the list is the uapi number, so this one list gives both the DSL's
 * ProgramType and the value BPF_PROG_LOAD takes (src/syscall/constants.ts). Entries past the
 * installed header's last one follow upstream's order; test/unit/program-type.test.ts checks
 * the rest against /usr/include/linux/bpf.h.
 */
export const PROG_TYPES = [
  'unspec', 'socket_filter', 'kprobe', 'sched_cls', 'sched_act', 'tracepoint', 'xdp', 'perf_event',
  'cgroup_skb', 'cgroup_sock', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sock_ops', 'sk_skb', 'cgroup_device',
  'sk_msg', 'raw_tracepoint', 'cgroup_sock_addr', 'lwt_seg6local', 'lirc_mode2', 'sk_reuseport',
  'flow_dissector', 'cgroup_sysctl', 'raw_tracepoint_writable', 'cgroup_sockopt', 'tracing', 'struct_ops',
  'ext', 'lsm', 'sk_lookup', 'syscall', 'netfilter',
] as const;

/** A program type a program can be loaded as (every entry but 'unspec'). */
export type ProgramType = Exclude<(typeof PROG_TYPES)[number], 'unspec'>;

/** The uapi number of a program type, or undefined for a name that is not one. */
export function progTypeNumber(name: string): number | undefined {
  const i = (PROG_TYPES as readonly string[]).indexOf(name);
  return i > 0 ? i : undefined;
}
