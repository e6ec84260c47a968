/**
 * Maps for a program that only names them: every MapRef of a spec that is a full MapSpec
 * (type, keySize, valueSize, maxEntries) is created fresh, so a program module can be loaded
 * without the code that normally sets it up. The maps are closed when the callback returns.
 */
import type { ProgramSpec } from '../asm/program.ts';
import { isMapSpec, type MapSpec } from '../asm/map-spec.ts';
import { loadCollection } from '../attach/collection.ts';
import { isLiveMap, type BpfMap } from '../syscall/index.ts';

export { isMapSpec };

/** Create the maps a spec references (live maps are used as they are), run fn, close what was created. */
export async function withMapsFor<R>(spec: Pick<ProgramSpec, 'name' | 'maps'>, fn: (maps: BpfMap<any, any>[]) => R | Promise<R>): Promise<R> {
  for (const ref of spec.maps) {
    if (!isLiveMap(ref) && !isMapSpec(ref)) {
      throw new Error(`program '${spec.name}' references map '${ref.name}' without type/keySize/valueSize/maxEntries: ` +
        'give the reference a full MapSpec so it can be created here');
    }
  }
  using coll = loadCollection({ maps: spec.maps.filter((r): r is MapSpec => !isLiveMap(r)) });
  return await fn(spec.maps.map((ref) => (isLiveMap(ref) ? (ref as BpfMap<any, any>) : coll.map(ref.name))));
}
