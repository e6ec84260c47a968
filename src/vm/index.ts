/**
 * tsbpf/vm: an eBPF virtual machine in TypeScript. Pure: no FFI, no kernel, runs anywhere.
 * Map codecs are src/codec.ts, the very module tsbpf/syscall exports (so one codec serves a
 * BpfMap and a VmMap, and the whole library re-exports both without a clash);
 * BPF_ANY/BPF_NOEXIST/BPF_EXIST are the ones tsbpf/syscall exports.
 */
export * from '../codec.ts';
export * from './errors.ts';
export * from './vm.ts';
export { VmMap, VmMapError, VM_MAP_TYPES, type VmMapSpec, type VmMapType, type TailTarget } from './maps.ts';
export * from './context.ts';
export { VM_HELPERS, formatPrintk } from './helpers.ts';
export { type Access, type Region, STACK_SIZE, MAX_FRAMES } from './memory.ts';
export { formatStep, type TraceStep, type RegChange } from './trace.ts';
