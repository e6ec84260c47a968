/**
 * src/attach: loading sets of maps and programs, and attaching programs to the kernel's hooks,
 * each returning a Disposable owner that removes only what it created.
 */
export * from './collection.ts';
