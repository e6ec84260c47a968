/**
 * src/syscall: bpf(2) from TypeScript. Typed objects (BpfMap, Program) on top; the raw
 * commands (bpf.ts) and layouts (attr.ts) underneath, reachable through an injectable Sys.
 */
export * from './constants.ts';
export * from './errors.ts';
export * from './sys.ts';
export * from '../codec.ts';
export * from './map.ts';
export * from './program.ts';
export * from './info.ts';
export * from './bpffs.ts';
export * from './pin.ts';
export * from './stats.ts';
export * from './link.ts';
export * from './log.ts';
export * from './btf.ts';
export { possibleCpus } from './cpus.ts';
export * as raw from './bpf.ts';
export * as attrs from './attr.ts';
