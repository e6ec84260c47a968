/**
 * src/attach: loading sets of maps and programs, and attaching programs to the kernel's hooks,
 * each returning a Disposable owner that removes only what it created.
 *
 *   using coll = loadCollection({ programs: { probe } }, { pinDir });
 *   using tc = attachTc(coll.programs.probe, 'veth0', 'ingress');          // tcx, else cls_bpf
 *   using xdp = attachXdp(prog, 'veth0', { mode: 'link', flags: 'skb' });
 *   netList({ netns })                                                     // like bpftool net
 */
export * from './collection.ts';
export * from './attachment.ts';
export * from './tc.ts';
export * from './xdp.ts';
export * from './net.ts';
export * from './link.ts';
// ELF objects (src/elf) loaded through loadCollection.
export * from './object.ts';
// Sockets, perf events, uprobes, tracepoints, kprobes.
export * from './socket-filter.ts';
export * from './perf-event.ts';
export * from './uprobe.ts';
export * from './tracepoint.ts';
export * from './kprobe.ts';
export * from './elf-symbols.ts';
