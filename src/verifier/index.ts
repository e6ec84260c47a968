/** src/verifier: reading the verifier (its log, its lessons) and what the kernel rewrote. */
export * from './log.ts';
export * from './lessons-index.ts';
export * from './xlated.ts';
export * from './kallsyms.ts';
export * from './maps.ts';
export * from './module.ts';
export * from './explain.ts';
export * from './compare.ts';
