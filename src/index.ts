/**
 * tsbpf: the whole library. Each part is also its own entry point, and `tsbpf/asm` (pure) loads
 * no native code: import from a subpath to take only what you use.
 *
 *   tsbpf/asm       the instruction set, DSL, assembler and disassembler (pure)
 *   tsbpf/syscall   bpf(2): maps, programs, pins, object info
 *   tsbpf/netlink   rtnetlink: clsact qdiscs, cls_bpf filters, links, namespaces
 *   tsbpf/verifier  the verifier's log, explain, xlated, lessons
 *   tsbpf/attach    loadCollection; tc (tcx | cls_bpf), XDP, socket filters, uprobes, tracepoints
 *   tsbpf/btf       BTF codec, dumps, typed maps (ctypes), CO-RE (pure; loading goes through syscall)
 *   tsbpf/elf       read and write BPF ELF objects (pure; loadObject in tsbpf/attach loads them)
 *   tsbpf/frame     Ethernet/IPv4/IPv6/UDP/TCP/ARP frames with checksums, and their decoder (pure)
 *   tsbpf/errno     errno names (pure)
 */
export * from './asm/index.ts';
export * from './syscall/index.ts';
export * from './netlink/index.ts';
export * from './verifier/index.ts';
export * from './attach/index.ts';
export * from './errno.ts';
export * as frame from './frame/index.ts';
export * as elf from './elf/index.ts';
export * as btf from './btf/index.ts';
