/**
 * CollectionSpec: the maps and programs of one object, as plain data. The DSL builds one from
 * its modules, the ELF reader from a .o; src/attach's loadCollection loads either the same way
 * (cilium's CollectionSpec, aya's Ebpf before load).
 *
 * Maps and programs are keyed by name; a list is accepted too and keyed by each spec's `name`.
 * Programs find their maps through the MapRefs in their LD_IMM64 instructions, matched by name:
 * a referenced map that is a full MapSpec need not be listed in `maps`.
 */
import type { MapSpec } from './map-spec.ts';
import type { ProgramSpec } from './program.ts';

export interface CollectionSpec<M extends string = string, P extends string = string> {
  readonly maps?: Readonly<Record<M, MapSpec>> | readonly MapSpec[];
  readonly programs?: Readonly<Record<P, ProgramSpec>> | readonly ProgramSpec[];
}

/** The entries of a record-or-list, keyed by name (a list's keys are the specs' names). */
export function specEntries<T extends { readonly name: string }>(x: Readonly<Record<string, T>> | readonly T[] | undefined): [string, T][] {
  if (!x) return [];
  if (Array.isArray(x)) return (x as readonly T[]).map((s) => [s.name, s]);
  return Object.entries(x as Readonly<Record<string, T>>);
}
