/** src/btf: the BPF Type Format codec. Pure: bytes in, types out, and back; no kernel. */
export * from './types.ts';
export * from './errors.ts';
export * from './decode.ts';
export * from './encode.ts';
export * from './strings.ts';
export * from './ext.ts';
export * from './format-raw.ts';
export * from './elf-sections.ts';
export * from './format-c.ts';
export * from './format-json.ts';
export * from './from-program.ts';
export * from './ctype.ts';
export * from './format-value.ts';
export * from './format-raw-bytes.ts';
export * from './core.ts';
export * from './kernel.ts';
export * from './core-field.ts';
