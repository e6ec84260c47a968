/**
 * The verifier's messages in plain language: message pattern -> lesson. `explain` looks a
 * rejection up here, and each lesson in programs/lessons/ names its entry, so the words a
 * learner reads beside a rejection are the same in both places. Order matters: the first
 * entry whose pattern (and, when given, failing instruction) matches wins.
 */

export interface LessonEntry {
  /** Stable id; programs/lessons/<id>.ts teaches it when such a file exists. */
  readonly id: string;
  readonly title: string;
  /** Matches the verifier's message (all of its lines, joined by newlines). */
  readonly pattern: RegExp;
  /** Also required to match the failing instruction's text, when set. */
  readonly insn?: RegExp;
  /** Why the verifier says it, and what to do. */
  readonly explanation: string;
}

export const LESSONS: readonly LessonEntry[] = [
  {
    id: 'packet-no-check', title: 'a packet read with no data_end check',
    pattern: /invalid access to packet, off=-?\d+ size=\d+, R\d+\(id=\d+,off=-?\d+,r=0\)/,
    explanation:
      'The program read packet bytes before proving they exist. A packet pointer starts with r=0: ' +
      'zero bytes known to be in bounds. Only a comparison with data_end (`if data + N > data_end goto out`) ' +
      'raises r to N on the path where the packet is long enough; every load must lie inside [data, data + r). ' +
      'Fix: compare data + (the end of the furthest byte you read) with data_end before the first read.',
  },
  {
    id: 'packet-short-check', title: 'a data_end check one byte short',
    pattern: /invalid access to packet, off=-?\d+ size=\d+, R\d+\(id=\d+,off=-?\d+,r=[1-9]\d*\)/,
    explanation:
      'There is a data_end check, but it proves fewer bytes than the load needs. In the message, r is how many ' +
      'bytes past data the check proved; off + size is how far this load reaches. A u16 at offset 36 needs r >= 38. ' +
      'Fix: check data + (offset + size of the last field) > data_end, e.g. the whole Ethernet + IPv4 + UDP header (42).',
  },
  {
    id: 'map-null-check', title: 'a map value used without a NULL check',
    pattern: /invalid mem access '(?:map_value_or_null|\w*_or_null|ptr_or_null_\w*)'/,
    explanation:
      'bpf_map_lookup_elem returns a pointer to the value or NULL (no such key). The verifier types r0 as ' +
      'map_value_or_null and refuses to dereference it until a comparison with 0 splits the paths: on the ' +
      'non-NULL branch the register becomes map_value. Fix: `if (r0 == 0) goto out` right after the call, ' +
      'and use the copy of the pointer that was checked.',
  },
  {
    id: 'r0-not-set', title: 'r0 not set at exit',
    pattern: /^R0 !read_ok/, insn: /^exit$/,
    explanation:
      'exit returns r0 to the kernel: for tc (SCHED_CLS) it is the verdict, TC_ACT_OK, TC_ACT_SHOT… On this path ' +
      'nothing wrote r0 since the last helper call or since the start (a call clobbers r0-r5; at the start only r1 ' +
      'and r10 hold values). Fix: `r0 = TC_ACT_OK` before every exit.',
  },
  {
    id: 'uninit-register', title: 'a read of an uninitialised register',
    pattern: /R\d+ !read_ok/,
    explanation:
      '"!read_ok" means the register has never been written on this path. At entry only r1 (the context) and ' +
      'r10 (the frame pointer) hold values, and a helper call leaves r1-r5 unreadable until they are written ' +
      'again. The verifier refuses to let an unknown kernel register value leak into the program. Fix: give the ' +
      'register a value first (here: load the counter before adding to it).',
  },
  {
    id: 'uninit-stack', title: 'a read of an uninitialised stack slot',
    pattern: /invalid (?:indirect )?read from stack/,
    explanation:
      'Stack bytes start uninitialised (shown as ? in fp-N=????????). Passing &key to a helper lets it read those ' +
      'bytes, and reading stale kernel stack would leak data. Root (CAP_PERFMON) is allowed to read ' +
      'uninitialised stack, so this loads as root and fails for a loader with only CAP_BPF + CAP_NET_ADMIN. ' +
      'Fix: store the key first (`*(u32 *)(r10 - 4) = 0`), then pass r10 - 4.',
  },
  {
    id: 'stack-out-of-bounds', title: 'a stack access out of bounds',
    pattern: /invalid (?:write to|read from) stack R\d+ off=(?:-(?:5[1-9]\d|51[3-9]|[6-9]\d\d|\d{4,})|\d+) size|invalid stack off|invalid (?:write|read) to stack/,
    explanation:
      'A BPF program has 512 bytes of stack, from r10 - 512 up to (not including) r10. r10 is read-only and ' +
      'points just past the top, so every slot has a negative offset. An offset below -512, or at or above 0, ' +
      'is outside the frame. Fix: keep stack data small (use a map for buffers) and address it as r10 - N with ' +
      '1 <= N <= 512.',
  },
  {
    id: 'ctx-write', title: 'a write to a read-only context field',
    pattern: /invalid bpf_context access/,
    explanation:
      'The context (struct __sk_buff for tc) is not memory the program owns: each field access is checked ' +
      'against the program type\'s list and rewritten into a load from the real struct sk_buff. data and ' +
      'data_end are read-only (the kernel owns the packet geometry); only a few fields (mark, priority, ' +
      'tc_index, cb[], tc_classid…) may be written by tc programs. Fix: do not write data; to change the packet ' +
      'use helpers (bpf_skb_store_bytes, bpf_skb_adjust_room), or write a writable field such as mark.',
  },
  {
    id: 'unbounded-loop', title: 'a loop the verifier cannot prove terminates',
    pattern: /infinite loop detected|back-edge from insn|BPF program is too large|The sequence of \d+ jumps is too complex/,
    explanation:
      'The verifier walks every path; a back-edge (a jump to an earlier instruction) is allowed only if each ' +
      'trip around the loop changes something it tracks, so the walk ends. Here the loop body reloads the same ' +
      'unknown value and jumps back with a state identical to the one it had at the top: nothing can ever ' +
      'change, so it reports an infinite loop (a loop bounded by an unknown number instead runs into the ' +
      '1,000,000-instruction limit). Fix: bound the loop with a counter the verifier can see (i < 4), or use ' +
      'bpf_loop().',
  },
  {
    id: 'helper-not-allowed', title: 'a helper this program type may not call',
    pattern: /program of this type cannot use helper|unknown func /,
    explanation:
      'Each program type has its own list of helpers (for tc: tc_cls_act_func_proto plus the base set). ' +
      'bpf_get_func_ip returns the address of the traced kernel function: it exists for kprobes and fentry ' +
      'programs, and a packet classifier has no such function. Fix: call a helper tc offers (`man bpf-helpers`, ' +
      'or `bpftool feature probe`), here bpf_get_smp_processor_id to record the CPU.',
  },
  {
    id: 'gpl-only-helper', title: 'a GPL-only helper under a non-GPL license',
    pattern: /cannot call GPL-restricted function from non-GPL compatible program/,
    explanation:
      'Some helpers (bpf_trace_printk, bpf_probe_read_kernel, …) are exported only to GPL-compatible ' +
      'programs. The license string is part of the load: "GPL", "GPL v2", "Dual BSD/GPL"… are compatible, ' +
      '"Proprietary" is not. Fix: use a GPL-compatible license (the tutorial\'s programs are GPL), or a helper ' +
      'that is not GPL-only.',
  },
  {
    id: 'pointer-arithmetic', title: 'pointer arithmetic the verifier forbids',
    pattern: /pointer arithmetic .*prohibited|pointer [-+*/|&^]?=? ?pointer prohibited|math between .* pointer|arithmetic on (?:pkt_end|map_ptr|ctx)/,
    explanation:
      'The verifier tracks each pointer\'s kind and offset; some kinds cannot move. pkt_end marks where the ' +
      'packet ends and is only meant to be compared with: `data_end - 42` has no meaning it can check. Move ' +
      'the packet pointer instead: `r3 = data; r3 += 42; if r3 > data_end goto out`.',
  },
  {
    id: 'jump-into-ldimm64', title: 'a jump into the middle of an LD_IMM64',
    pattern: /jump into the middle of ldimm64/,
    explanation:
      'LD_IMM64 (a 64-bit constant or a map reference) takes two 8-byte slots; the second holds the upper 32 ' +
      'bits and is not an instruction. Jump offsets count slots, so an offset computed as if LD_IMM64 were one ' +
      'slot lands inside it. tsbpf\'s linker rejects such an offset before the kernel sees it; with labels it ' +
      'cannot happen. Fix: jump with a label, or count LD_IMM64 as two slots.',
  },
  {
    id: 'unreachable', title: 'unreachable instructions',
    pattern: /unreachable insn/,
    explanation: 'Every instruction must be reachable from the start: the verifier rejects dead code. Remove it, or jump to it.',
  },
  {
    id: 'jump-out-of-range', title: 'a jump outside the program',
    pattern: /jump out of range/,
    explanation: 'A jump offset points before the first or after the last instruction. Use labels so offsets are computed for you.',
  },
  {
    id: 'scalar-deref', title: 'dereferencing a number',
    pattern: /invalid mem access 'scalar'|invalid mem access 'inv'/,
    explanation:
      'The register holds a number (scalar), not a pointer the verifier knows. Loads and stores need a pointer ' +
      'of a known kind: ctx, packet (after a bounds check), stack (r10 - N) or a checked map value.',
  },
  {
    id: 'fallthrough-exit', title: 'the last instruction is not a jump or exit',
    pattern: /last insn is not an exit or jmp|jump out of range from insn/,
    explanation: 'Execution must never run off the end of the program: finish every path with exit.',
  },
];

/** The lesson for a rejection, or undefined. `insnText` is the failing instruction (e.g. "exit"). */
export function lessonFor(message: string, insnText?: string): LessonEntry | undefined {
  return LESSONS.find((l) => l.pattern.test(message) && (l.insn === undefined || (insnText !== undefined && l.insn.test(insnText.trim()))));
}

export function lessonById(id: string): LessonEntry {
  const l = LESSONS.find((x) => x.id === id);
  if (!l) throw new Error(`no lesson '${id}' in src/verifier/lessons-index.ts (known: ${LESSONS.map((x) => x.id).join(', ')})`);
  return l;
}
