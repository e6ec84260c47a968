/** src/elf: BPF ELF objects in and out. Pure: no kernel, no FFI. */
export * from './errors.ts';
export * from './spec.ts';
export * from './file.ts';
export * from './reader.ts';
export * from './section-types.ts';
export { relocationName, R_BPF } from './constants.ts';
export * from './writer.ts';
export type { FuncInfo, LineInfo } from './btf-ext.ts';
