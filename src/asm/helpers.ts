/** Helper calls by name: 'ktime_get_ns' or 'bpf_ktime_get_ns' -> 5. */
import { HELPERS, type HelperName } from './helpers.generated.ts';

export { HELPERS, type HelperName };
const ids = new Map<string, number>(HELPERS.map((n, i) => [n, i]));

export function helperId(name: string): number | undefined {
  return ids.get(name.startsWith('bpf_') ? name.slice(4) : name);
}

/** 'bpf_ktime_get_ns' for 5; undefined for ids this header does not know. */
export function helperName(id: number): string | undefined {
  const n = HELPERS[id];
  return n === undefined ? undefined : `bpf_${n}`;
}
