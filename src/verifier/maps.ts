/**
 * Maps for a program that only names them: every MapRef of a spec that is a full MapSpec
 * (type, keySize, valueSize, maxEntries) is created fresh, so a program module can be loaded
 * without the code that normally sets it up. The maps are closed when the callback returns.
 */
import type { ProgramSpec } from '../asm/program.ts';
import type { MapRef } from '../asm/instruction.ts';
import { createMap, isLiveMap, type BpfMap, type MapSpec } from '../syscall/index.ts';

/** A ref that carries everything BPF_MAP_CREATE needs. */
export function isMapSpec(ref: MapRef): ref is MapSpec {
  const r = ref as Partial<MapSpec>;
  return typeof r.type === 'string' && typeof r.keySize === 'number' && typeof r.valueSize === 'number' && typeof r.maxEntries === 'number';
}

/** Create the maps a spec references (live maps are used as they are), run fn, close what was created. */
export async function withMapsFor<R>(spec: Pick<ProgramSpec, 'name' | 'maps'>, fn: (maps: BpfMap<any, any>[]) => R | Promise<R>): Promise<R> {
  const created: BpfMap<any, any>[] = [];
  const all: BpfMap<any, any>[] = [];
  try {
    for (const ref of spec.maps) {
      if (isLiveMap(ref)) { all.push(ref as BpfMap<any, any>); continue; }
      if (!isMapSpec(ref)) {
        throw new Error(`program '${spec.name}' references map '${ref.name}' without type/keySize/valueSize/maxEntries: ` +
          'give the reference a full MapSpec so it can be created here');
      }
      const m = createMap(ref);
      created.push(m);
      all.push(m);
    }
    return await fn(all);
  } finally {
    for (const m of created) m.close();
  }
}
