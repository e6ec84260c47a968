/**
 * Byte layouts of the bpf(2) attribute structs we use (union bpf_attr members, struct
 * bpf_prog_info, struct bpf_map_info), as tables of { off, size }. Every entry is checked
 * against /usr/include/linux/bpf.h by gcc's offsetof in test/unit/offsets.test.ts
 * (test/fixtures/offsets.c), except the fields listed in NEWER_THAN_HEADER.
 *
 *   union bpf_attr is one buffer shared by every command: each command reads its own
 *   member from offset 0. Fields are little-endian; pointers are __aligned_u64.
 *
 * The kernel copies min(size, sizeof(its union)) bytes and insists that any bytes past its own
 * union are zero (bpf_check_uarg_tail_zero), so a layout's size is the end of the last field we
 * set: a shorter attr is zero-extended, never misread.
 */

export interface Field {
  readonly off: number;
  /** 4 or 8 for integers; 16 for names (char[BPF_OBJ_NAME_LEN]); 8 for tags. */
  readonly size: number;
  /** Strings and byte arrays, as opposed to integers. */
  readonly bytes?: true;
}

export interface Layout<F extends string = string> {
  /** The C name the offsets fixture prints: `union bpf_attr` members or a struct. */
  readonly name: string;
  /** Bytes passed as the attr size (end of the last field, rounded up to 8). */
  readonly size: number;
  readonly fields: { readonly [K in F]: Field };
}

const u32 = (off: number): Field => ({ off, size: 4 });
const u64 = (off: number): Field => ({ off, size: 8 });
const bytes = (off: number, size: number): Field => ({ off, size, bytes: true });

function layout<F extends string>(name: string, fields: { readonly [K in F]: Field }): Layout<F> {
  let end = 0;
  for (const f of Object.values<Field>(fields)) end = Math.max(end, f.off + f.size);
  return { name, size: (end + 7) & ~7, fields };
}

/** BPF_OBJ_NAME_LEN: names are 15 characters plus the NUL. */
export const OBJ_NAME_LEN = 16;
/** BPF_TAG_SIZE */
export const TAG_SIZE = 8;

export const MAP_CREATE = layout('MAP_CREATE', {
  map_type: u32(0), key_size: u32(4), value_size: u32(8), max_entries: u32(12), map_flags: u32(16),
  inner_map_fd: u32(20), numa_node: u32(24), map_name: bytes(28, OBJ_NAME_LEN), map_ifindex: u32(44),
  btf_fd: u32(48), btf_key_type_id: u32(52), btf_value_type_id: u32(56), btf_vmlinux_value_type_id: u32(60),
  map_extra: u64(64),
});

/** MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM, MAP_GET_NEXT_KEY (value and next_key share 16). */
export const MAP_ELEM = layout('MAP_ELEM', {
  map_fd: u32(0), key: u64(8), value: u64(16), next_key: u64(16), flags: u64(24),
});

/** The `batch` member: MAP_LOOKUP_BATCH and friends. */
export const MAP_BATCH = layout('MAP_BATCH', {
  in_batch: u64(0), out_batch: u64(8), keys: u64(16), values: u64(24), count: u32(32), map_fd: u32(36),
  elem_flags: u64(40), flags: u64(48),
});

export const PROG_LOAD = layout('PROG_LOAD', {
  prog_type: u32(0), insn_cnt: u32(4), insns: u64(8), license: u64(16), log_level: u32(24), log_size: u32(28),
  log_buf: u64(32), kern_version: u32(40), prog_flags: u32(44), prog_name: bytes(48, OBJ_NAME_LEN),
  prog_ifindex: u32(64), expected_attach_type: u32(68), prog_btf_fd: u32(72), func_info_rec_size: u32(76),
  func_info: u64(80), func_info_cnt: u32(88), line_info_rec_size: u32(92), line_info: u64(96),
  line_info_cnt: u32(104), attach_btf_id: u32(108), attach_prog_fd: u32(112), core_relo_cnt: u32(116),
  fd_array: u64(120), core_relos: u64(128), core_relo_rec_size: u32(136),
  // Linux 6.4: the kernel writes back the log size it needed (only when attr is this long).
  log_true_size: u32(140),
});

/** OBJ_PIN and OBJ_GET. */
export const OBJ = layout('OBJ', { pathname: u64(0), bpf_fd: u32(8), file_flags: u32(12) });

/** The `test` member: PROG_TEST_RUN. */
export const TEST_RUN = layout('TEST_RUN', {
  prog_fd: u32(0), retval: u32(4), data_size_in: u32(8), data_size_out: u32(12), data_in: u64(16),
  data_out: u64(24), repeat: u32(32), duration: u32(36), ctx_size_in: u32(40), ctx_size_out: u32(44),
  ctx_in: u64(48), ctx_out: u64(56), flags: u32(64), cpu: u32(68), batch_size: u32(72),
});

/** PROG_GET_NEXT_ID, MAP_GET_NEXT_ID, PROG_GET_FD_BY_ID, MAP_GET_FD_BY_ID (start_id = prog_id = map_id). */
export const GET_ID = layout('GET_ID', { start_id: u32(0), next_id: u32(4), open_flags: u32(8) });

/** The `info` member: OBJ_GET_INFO_BY_FD. */
export const INFO = layout('INFO', { bpf_fd: u32(0), info_len: u32(4), info: u64(8) });

/** The `enable_stats` member: ENABLE_STATS. */
export const ENABLE_STATS = layout('ENABLE_STATS', { type: u32(0) });

export const PROG_INFO = layout('bpf_prog_info', {
  type: u32(0), id: u32(4), tag: bytes(8, TAG_SIZE), jited_prog_len: u32(16), xlated_prog_len: u32(20),
  jited_prog_insns: u64(24), xlated_prog_insns: u64(32), load_time: u64(40), created_by_uid: u32(48),
  nr_map_ids: u32(52), map_ids: u64(56), name: bytes(64, OBJ_NAME_LEN), ifindex: u32(80),
  // gpl_compatible is bit 0 of the u32 after ifindex (a bitfield: offsetof cannot name it).
  gpl_compatible: u32(84),
  netns_dev: u64(88), netns_ino: u64(96), nr_jited_ksyms: u32(104), nr_jited_func_lens: u32(108),
  jited_ksyms: u64(112), jited_func_lens: u64(120), btf_id: u32(128), func_info_rec_size: u32(132),
  func_info: u64(136), nr_func_info: u32(144), nr_line_info: u32(148), line_info: u64(152),
  jited_line_info: u64(160), nr_jited_line_info: u32(168), line_info_rec_size: u32(172),
  jited_line_info_rec_size: u32(176), nr_prog_tags: u32(180), prog_tags: u64(184), run_time_ns: u64(192),
  run_cnt: u64(200), recursion_misses: u64(208), verified_insns: u32(216), attach_btf_obj_id: u32(220),
  attach_btf_id: u32(224),
});

export const MAP_INFO = layout('bpf_map_info', {
  type: u32(0), id: u32(4), key_size: u32(8), value_size: u32(12), max_entries: u32(16), map_flags: u32(20),
  name: bytes(24, OBJ_NAME_LEN), ifindex: u32(40), btf_vmlinux_value_type_id: u32(44), netns_dev: u64(48),
  netns_ino: u64(56), btf_id: u32(64), btf_key_type_id: u32(68), btf_value_type_id: u32(72), map_extra: u64(80),
});

// --- BTF (src/syscall/btf.ts). Kept out of LAYOUTS: test/unit/btf-attr.test.ts checks these
// against linux/bpf.h with its own gcc fixture.

/** The anonymous BPF_BTF_LOAD member. */
export const BTF_LOAD = layout('BTF_LOAD', {
  btf: u64(0), btf_log_buf: u64(8), btf_size: u32(16), btf_log_size: u32(20), btf_log_level: u32(24),
  // Linux 6.4: the log size the kernel needed (newer than the installed header).
  btf_log_true_size: u32(28),
});

/** BPF_BTF_GET_FD_BY_ID: btf_id shares offset 0 with start_id; open_flags at 8. */
export const BTF_GET_ID = layout('BTF_GET_ID', { btf_id: u32(0), next_id: u32(4), open_flags: u32(8) });

export const BTF_INFO = layout('bpf_btf_info', {
  btf: u64(0), btf_size: u32(8), id: u32(12), name: u64(16), name_len: u32(24), kernel_btf: u32(28),
});

/** The BTF layouts, for their own offsets check. */
export const BTF_LAYOUTS: readonly Layout[] = [BTF_LOAD, BTF_GET_ID, BTF_INFO];
export const BTF_NEWER_THAN_HEADER: ReadonlySet<string> = new Set(['BTF_LOAD.btf_log_true_size']);

/**
 * The `link_create` member: LINK_CREATE. The fourth word starts a union per attach kind:
 * tcx's relative_fd|relative_id and expected_revision (Linux 6.6) sit where perf_event's
 * bpf_cookie and iter's iter_info do.
 */
export const LINK_CREATE = layout('LINK_CREATE', {
  prog_fd: u32(0), target_fd: u32(4), target_ifindex: u32(4), attach_type: u32(8), flags: u32(12),
  target_btf_id: u32(16), iter_info: u64(16), iter_info_len: u32(24), bpf_cookie: u64(16),
  relative_fd: u32(16), relative_id: u32(16), expected_revision: u64(24),
});

/** The `link_update` member: LINK_UPDATE (old_prog_fd only with BPF_F_REPLACE). */
export const LINK_UPDATE = layout('LINK_UPDATE', { link_fd: u32(0), new_prog_fd: u32(4), flags: u32(8), old_prog_fd: u32(12) });

/** The `link_detach` member: LINK_DETACH. */
export const LINK_DETACH = layout('LINK_DETACH', { link_fd: u32(0) });

/**
 * The `query` member: PROG_QUERY. For tcx (Linux 6.6) the target is an ifindex and the kernel
 * also fills link_ids and the hook's revision.
 */
export const PROG_QUERY = layout('PROG_QUERY', {
  target_fd: u32(0), target_ifindex: u32(0), attach_type: u32(4), query_flags: u32(8), attach_flags: u32(12),
  prog_ids: u64(16), prog_cnt: u32(24), count: u32(24), prog_attach_flags: u64(32), link_ids: u64(40),
  link_attach_flags: u64(48), revision: u64(56),
});

/** struct bpf_link_info: the common head, then a union per link type at 16. */
export const LINK_INFO = layout('bpf_link_info', {
  type: u32(0), id: u32(4), prog_id: u32(8),
  'raw_tracepoint.tp_name': u64(16), 'raw_tracepoint.tp_name_len': u32(24),
  'tracing.attach_type': u32(16), 'tracing.target_obj_id': u32(20), 'tracing.target_btf_id': u32(24),
  'cgroup.cgroup_id': u64(16), 'cgroup.attach_type': u32(24),
  'netns.netns_ino': u32(16), 'netns.attach_type': u32(20),
  'xdp.ifindex': u32(16),
  'tcx.ifindex': u32(16), 'tcx.attach_type': u32(20),
});

export const LAYOUTS: readonly Layout[] = [
  MAP_CREATE, MAP_ELEM, MAP_BATCH, PROG_LOAD, OBJ, TEST_RUN, GET_ID, INFO, ENABLE_STATS, PROG_INFO, MAP_INFO,
  LINK_CREATE, LINK_UPDATE, LINK_DETACH, PROG_QUERY, LINK_INFO,
];

/**
 * Fields newer than the installed uapi header (Debian 12 ships 6.1 headers; the kernel is
 * newer), so gcc cannot check them. Each is at the offset the upstream header gives it, and
 * test/kernel/syscall.test.ts checks the kernel fills it in.
 */
export const NEWER_THAN_HEADER: ReadonlySet<string> = new Set([
  'PROG_LOAD.log_true_size',
  // tcx (Linux 6.6): checked by test/kernel/attach-tcx.test.ts, which attaches, orders and queries through them.
  'LINK_CREATE.relative_fd', 'LINK_CREATE.relative_id', 'LINK_CREATE.expected_revision',
  'PROG_QUERY.target_ifindex', 'PROG_QUERY.count', 'PROG_QUERY.link_ids', 'PROG_QUERY.link_attach_flags', 'PROG_QUERY.revision',
  'bpf_link_info.tcx.ifindex', 'bpf_link_info.tcx.attach_type',
]);

/** Bitfields: checked by the fixture by setting the bit, not by offsetof. */
export const BITFIELDS: ReadonlySet<string> = new Set(['bpf_prog_info.gpl_compatible']);

/** A zeroed attr buffer for a layout, on its own ArrayBuffer (off the V8 heap, so its address is stable). */
export function alloc(l: Layout, size = l.size): Uint8Array {
  return new Uint8Array(new ArrayBuffer(size));
}

/** A DataView over the same bytes. */
export function dv(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Values for a layout's fields: numbers/bigints for integers, strings or bytes for byte fields. */
export type Values<F extends string> = { readonly [K in F]?: number | bigint | string | Uint8Array };

/** Write values into buf according to the layout; unnamed fields stay zero. */
export function write<F extends string>(l: Layout<F>, buf: Uint8Array, values: Values<F>): Uint8Array {
  const view = dv(buf);
  for (const k of Object.keys(values) as F[]) {
    const v = values[k];
    if (v === undefined) continue;
    const f = l.fields[k];
    if (!f) throw new Error(`${l.name} has no field ${k}`);
    if (f.bytes) {
      const src = typeof v === 'string' ? new TextEncoder().encode(v) : v instanceof Uint8Array ? v : null;
      if (!src) throw new Error(`${l.name}.${k} takes a string or bytes`);
      // char[16] names must keep their NUL: the kernel rejects a name without one (EINVAL).
      if (src.length > f.size - (typeof v === 'string' ? 1 : 0)) throw new Error(`${l.name}.${k} is longer than ${f.size} bytes`);
      buf.fill(0, f.off, f.off + f.size);
      buf.set(src, f.off);
    } else if (f.size === 4) {
      view.setUint32(f.off, Number(v) >>> 0, true);
    } else {
      view.setBigUint64(f.off, BigInt.asUintN(64, BigInt(v as number | bigint)), true);
    }
  }
  return buf;
}

/** Build a fresh attr for a command. */
export function attr<F extends string>(l: Layout<F>, values: Values<F>): Uint8Array {
  return write(l, alloc(l), values);
}

/** Read an integer field (u32 as number, u64 as bigint). */
export function readU32<F extends string>(l: Layout<F>, buf: Uint8Array, k: F): number {
  return dv(buf).getUint32(l.fields[k].off, true);
}
export function readU64<F extends string>(l: Layout<F>, buf: Uint8Array, k: F): bigint {
  return dv(buf).getBigUint64(l.fields[k].off, true);
}

/** A NUL-terminated name field as a string. */
export function readName<F extends string>(l: Layout<F>, buf: Uint8Array, k: F): string {
  const f = l.fields[k];
  const raw = buf.subarray(f.off, f.off + f.size);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
}

/** A byte field as lowercase hex (the program tag). */
export function readHex<F extends string>(l: Layout<F>, buf: Uint8Array, k: F): string {
  const f = l.fields[k];
  return Array.from(buf.subarray(f.off, f.off + f.size), (b) => b.toString(16).padStart(2, '0')).join('');
}
