/** src/vm: an eBPF virtual machine in TypeScript. Pure: no FFI, no kernel, runs anywhere. */
export * from './errors.ts';
export * from './vm.ts';
export * from './maps.ts';
export * from './codec.ts';
export * from './context.ts';
export { VM_HELPERS, formatPrintk } from './helpers.ts';
export { type Access, type Region, STACK_SIZE, MAX_FRAMES } from './memory.ts';
export { formatStep, type TraceStep, type RegChange } from './trace.ts';
