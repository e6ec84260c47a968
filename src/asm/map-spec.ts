/**
 * MapSpec: a map as plain data, before it exists. It is also a MapRef (it has `name`), so a
 * DSL program can reference a map by its spec, and an ELF reader can produce the same objects
 * without touching the kernel side; src/attach's loadCollection turns them into live maps.
 */
import type { MapRef } from './instruction.ts';
import type { CType } from '../btf/ctype.ts';

/** enum bpf_map_type, in uapi order (index = number): the one table src/syscall also reads. */
export const MAP_TYPES = [
  'unspec', 'hash', 'array', 'prog_array', 'perf_event_array', 'percpu_hash', 'percpu_array', 'stack_trace',
  'cgroup_array', 'lru_hash', 'lru_percpu_hash', 'lpm_trie', 'array_of_maps', 'hash_of_maps', 'devmap',
  'sockmap', 'cpumap', 'xskmap', 'sockhash', 'cgroup_storage', 'reuseport_sockarray', 'percpu_cgroup_storage',
  'queue', 'stack', 'sk_storage', 'devmap_hash', 'struct_ops', 'ringbuf', 'inode_storage', 'task_storage',
  'bloom_filter', 'user_ringbuf', 'cgrp_storage', 'arena',
] as const;
export type MapType = Exclude<(typeof MAP_TYPES)[number], 'unspec'>;

/**
 * How a collection loader treats a pin directory for this map: 'by_name' pins it (and reuses a
 * compatible pin) at <pinDir>/<name>; 'none' never pins. Unset means 'by_name' whenever a
 * pinDir is given, which is what DSL programs want; an ELF reader sets 'none' for maps
 * without LIBBPF_PIN_BY_NAME / PIN_GLOBAL_NS.
 */
export type MapPinning = 'none' | 'by_name';

export interface MapSpec extends MapRef {
  /** Up to 15 characters of [A-Za-z0-9_.]; also the pin name. */
  readonly name: string;
  /** uapi name without BPF_MAP_TYPE_, lowercase: 'array', 'hash', 'percpu_array', 'ringbuf'… */
  readonly type: MapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** MapFlags (BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_F_NO_PREALLOC…). */
  readonly flags?: number;
  readonly pinning?: MapPinning;
  /**
   * C types of the key and value (`ctypes.u32`, `ctypes.struct('pair', {...})` from tsbpf/btf):
   * the map is then created with BTF, and bpftool prints its entries field by field. Their
   * sizes must be keySize and valueSize. Giving one is enough: the other gets u32/u64/bytes.
   */
  readonly keyType?: CType;
  readonly valueType?: CType;
}

/** A ref that carries everything BPF_MAP_CREATE needs. */
export function isMapSpec(ref: MapRef): ref is MapSpec {
  const r = ref as Partial<MapSpec>;
  return typeof r.type === 'string' && typeof r.keySize === 'number' && typeof r.valueSize === 'number' && typeof r.maxEntries === 'number';
}
