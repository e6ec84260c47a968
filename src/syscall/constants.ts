/**
 * uapi numbers from linux/bpf.h: commands, map and program types, attach types and flags.
 * Names are the uapi names without their prefix, lowercase (BPF_MAP_TYPE_PERCPU_ARRAY ->
 * 'percpu_array'), which is also how bpftool prints them. The values that the installed header
 * has are checked by test/unit/offsets.test.ts; the rest follow upstream's enum order.
 */
import { PROG_TYPES } from '../asm/program-type.ts';
import { MAP_TYPES, type MapType } from '../asm/map-spec.ts';

/** enum bpf_cmd */
export const Cmd = {
  MAP_CREATE: 0, MAP_LOOKUP_ELEM: 1, MAP_UPDATE_ELEM: 2, MAP_DELETE_ELEM: 3, MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5, OBJ_PIN: 6, OBJ_GET: 7, PROG_ATTACH: 8, PROG_DETACH: 9, PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11, MAP_GET_NEXT_ID: 12, PROG_GET_FD_BY_ID: 13, MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15, PROG_QUERY: 16, RAW_TRACEPOINT_OPEN: 17, BTF_LOAD: 18, BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20, MAP_LOOKUP_AND_DELETE_ELEM: 21, MAP_FREEZE: 22, BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24, MAP_LOOKUP_AND_DELETE_BATCH: 25, MAP_UPDATE_BATCH: 26, MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28, LINK_UPDATE: 29, LINK_GET_FD_BY_ID: 30, LINK_GET_NEXT_ID: 31, ENABLE_STATS: 32,
  ITER_CREATE: 33, LINK_DETACH: 34, PROG_BIND_MAP: 35,
} as const;
export type CmdName = keyof typeof Cmd;

const CMD_NAMES = new Map<number, CmdName>(Object.entries(Cmd).map(([k, v]) => [v, k as CmdName]));
/** 'BPF_MAP_CREATE' for 0: how errors name a command. */
export function cmdName(cmd: number): string {
  const n = CMD_NAMES.get(cmd);
  return n ? `BPF_${n}` : `bpf command ${cmd}`;
}

/** enum bpf_map_type: the one list lives in src/asm/map-spec.ts (map specs are pure data). */
export { MAP_TYPES, type MapType };

/** enum bpf_prog_type: the one list lives in src/asm/program-type.ts (the DSL's ProgramType). */
export { PROG_TYPES };

/** enum bpf_attach_type */
export const ATTACH_TYPES = [
  'cgroup_inet_ingress', 'cgroup_inet_egress', 'cgroup_inet_sock_create', 'cgroup_sock_ops',
  'sk_skb_stream_parser', 'sk_skb_stream_verdict', 'cgroup_device', 'sk_msg_verdict', 'cgroup_inet4_bind',
  'cgroup_inet6_bind', 'cgroup_inet4_connect', 'cgroup_inet6_connect', 'cgroup_inet4_post_bind',
  'cgroup_inet6_post_bind', 'cgroup_udp4_sendmsg', 'cgroup_udp6_sendmsg', 'lirc_mode2', 'flow_dissector',
  'cgroup_sysctl', 'cgroup_udp4_recvmsg', 'cgroup_udp6_recvmsg', 'cgroup_getsockopt', 'cgroup_setsockopt',
  'trace_raw_tp', 'trace_fentry', 'trace_fexit', 'modify_return', 'lsm_mac', 'trace_iter',
  'cgroup_inet4_getpeername', 'cgroup_inet6_getpeername', 'cgroup_inet4_getsockname',
  'cgroup_inet6_getsockname', 'xdp_devmap', 'cgroup_inet_sock_release', 'xdp_cpumap', 'sk_lookup', 'xdp',
  'sk_skb_verdict', 'sk_reuseport_select', 'sk_reuseport_select_or_migrate', 'perf_event',
  'trace_kprobe_multi', 'lsm_cgroup', 'struct_ops', 'netfilter', 'tcx_ingress', 'tcx_egress',
  'trace_uprobe_multi', 'cgroup_unix_connect', 'cgroup_unix_sendmsg', 'cgroup_unix_recvmsg',
  'cgroup_unix_getpeername', 'cgroup_unix_getsockname', 'netkit_primary', 'netkit_peer',
  'trace_kprobe_session', 'trace_uprobe_session',
] as const;

function lookup(table: readonly string[], what: string, name: string): number {
  const i = table.indexOf(name.toLowerCase().replace(/^bpf_(map_type_|prog_type_)?/, ''));
  if (i <= 0 && !(i === 0 && table === ATTACH_TYPES)) {
    throw new Error(`unknown ${what} '${name}' (known: ${table.filter((t) => t !== 'unspec').join(', ')})`);
  }
  return i;
}
const nameOf = (table: readonly string[], n: number): string => table[n] ?? `unknown(${n})`;

export const mapTypeId = (name: string): number => lookup(MAP_TYPES, 'map type', name);
export const mapTypeName = (n: number): string => nameOf(MAP_TYPES, n);
export const progTypeId = (name: string): number => lookup(PROG_TYPES, 'program type', name);
export const progTypeName = (n: number): string => nameOf(PROG_TYPES, n);
export const attachTypeId = (name: string): number => lookup(ATTACH_TYPES, 'attach type', name);
export const attachTypeName = (n: number): string => nameOf(ATTACH_TYPES, n);

/** MAP_UPDATE_ELEM flags. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

/** MAP_CREATE map_flags (and OBJ_GET file_flags / GET_FD_BY_ID open_flags for RDONLY/WRONLY). */
export const MapFlags = {
  NO_PREALLOC: 1 << 0, NO_COMMON_LRU: 1 << 1, NUMA_NODE: 1 << 2, RDONLY: 1 << 3, WRONLY: 1 << 4,
  STACK_BUILD_ID: 1 << 5, ZERO_SEED: 1 << 6, RDONLY_PROG: 1 << 7, WRONLY_PROG: 1 << 8, CLONE: 1 << 9,
  MMAPABLE: 1 << 10, PRESERVE_ELEMS: 1 << 11, INNER_MAP: 1 << 12,
} as const;
export const BPF_F_RDONLY = MapFlags.RDONLY;
export const BPF_F_WRONLY = MapFlags.WRONLY;
export const BPF_F_RDONLY_PROG = MapFlags.RDONLY_PROG;
export const BPF_F_MMAPABLE = MapFlags.MMAPABLE;

/** PROG_LOAD prog_flags. */
export const ProgFlags = {
  STRICT_ALIGNMENT: 1 << 0, ANY_ALIGNMENT: 1 << 1, TEST_RND_HI32: 1 << 2, TEST_STATE_FREQ: 1 << 3,
  SLEEPABLE: 1 << 4, XDP_HAS_FRAGS: 1 << 5,
} as const;

/** PROG_TEST_RUN flags. */
export const TestRunFlags = { RUN_ON_CPU: 1 << 0, XDP_LIVE_FRAMES: 1 << 1, SKB_CHECKSUM_COMPLETE: 1 << 2 } as const;

/** Verifier log_level bits: 1 = per-instruction trace, 2 = every state, 4 = statistics only. */
export const LogLevel = { BRANCH: 1, INSN: 2, STATS: 4 } as const;

/** enum bpf_stats_type */
export const BPF_STATS_RUN_TIME = 0;

/** BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE: the src of an LD_IMM64 that loads a map. */
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;

/** enum bpf_link_type: what a link attaches (bpftool prints the name; 7.1 prints 11 for tcx). */
export const LINK_TYPES = [
  'unspec', 'raw_tracepoint', 'tracing', 'cgroup', 'iter', 'netns', 'xdp', 'perf_event', 'kprobe_multi',
  'struct_ops', 'netfilter', 'tcx', 'uprobe_multi', 'netkit', 'sockmap',
] as const;
export type LinkType = (typeof LINK_TYPES)[number];
export const linkTypeName = (n: number): string => nameOf(LINK_TYPES, n);

/**
 * PROG_ATTACH / LINK_CREATE flags. BEFORE, AFTER, ID and LINK (Linux 6.6) order tcx programs:
 * BEFORE|AFTER pick the side, relative_fd names the anchor, ID says it is an id, LINK that it is
 * a link rather than a program; neither ID nor an anchor means the very first / last place.
 */
export const AttachFlags = {
  ALLOW_OVERRIDE: 1 << 0, ALLOW_MULTI: 1 << 1, REPLACE: 1 << 2, BEFORE: 1 << 3, AFTER: 1 << 4, ID: 1 << 5, LINK: 1 << 13,
} as const;

/** PROG_QUERY query_flags. */
export const BPF_F_QUERY_EFFECTIVE = 1;

/** linux/if_link.h XDP_FLAGS_*: LINK_CREATE flags for BPF_XDP, and IFLA_XDP_FLAGS. */
export const XdpFlags = { UPDATE_IF_NOEXIST: 1 << 0, SKB_MODE: 1 << 1, DRV_MODE: 1 << 2, HW_MODE: 1 << 3, REPLACE: 1 << 4 } as const;
