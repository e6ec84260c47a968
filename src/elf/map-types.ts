/** enum bpf_map_type by number and back, from the one table in src/asm/map-spec.ts. */
import { MAP_TYPES, type MapType } from '../asm/map-spec.ts';

export function mapTypeByNumber(n: number): MapType | undefined {
  return n > 0 && n < MAP_TYPES.length ? (MAP_TYPES[n] as MapType) : undefined;
}

export function mapTypeNumber(name: string): number {
  return (MAP_TYPES as readonly string[]).indexOf(name);
}

/** MAP_CREATE flags the global-data maps get (linux/bpf.h BPF_F_RDONLY_PROG, BPF_F_MMAPABLE). */
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;
