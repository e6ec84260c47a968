/** src/asm: the pure half of tsbpf. No FFI, no kernel: runs anywhere. */
export * from './opcode.ts';
export * from './register.ts';
export * from './errors.ts';
export * from './instruction.ts';
export * from './alu.ts';
export * from './memory.ts';
export * from './atomic.ts';
export * from './ld-imm64.ts';
export * from './jump.ts';
export * from './call.ts';
export * from './link.ts';
export * from './program.ts';
export * from './helpers.ts';
export * from './headers.ts';
export * from './skb.ts';
export * from './disasm.ts';
export { assemble, assembleBytes, parseInstruction, detectDialect, type Dialect, type AssembleOptions, type Assembled } from './assembler.ts';
export * from './listing-ubpf.ts';
