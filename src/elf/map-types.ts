/**
 * enum bpf_map_type by number, for reading map definitions. The same list as
 * src/syscall/constants.ts MAP_TYPES (a unit test keeps them equal): src/elf is pure and may
 * not import the syscall layer.
 */
import type { MapType } from '../syscall/constants.ts';

export const ELF_MAP_TYPES: readonly string[] = [
  'unspec', 'hash', 'array', 'prog_array', 'perf_event_array', 'percpu_hash', 'percpu_array', 'stack_trace',
  'cgroup_array', 'lru_hash', 'lru_percpu_hash', 'lpm_trie', 'array_of_maps', 'hash_of_maps', 'devmap',
  'sockmap', 'cpumap', 'xskmap', 'sockhash', 'cgroup_storage', 'reuseport_sockarray', 'percpu_cgroup_storage',
  'queue', 'stack', 'sk_storage', 'devmap_hash', 'struct_ops', 'ringbuf', 'inode_storage', 'task_storage',
  'bloom_filter', 'user_ringbuf', 'cgrp_storage', 'arena',
];

export function mapTypeByNumber(n: number): MapType | undefined {
  return n > 0 && n < ELF_MAP_TYPES.length ? (ELF_MAP_TYPES[n] as MapType) : undefined;
}

export function mapTypeNumber(name: string): number {
  return ELF_MAP_TYPES.indexOf(name);
}

/** MAP_CREATE flags the global-data maps get (linux/bpf.h BPF_F_RDONLY_PROG, BPF_F_MMAPABLE). */
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;
