/**
 * The wrapper that lets the kernel run a conformance vector and report its whole r0.
 *
 * BPF_PROG_TEST_RUN returns a program's r0 as a u32, and the verifier checks what a main
 * program returns; the vectors compute 64-bit results. So the vector becomes a bpf-to-bpf
 * subprogram: a short XDP main program sets up the vector's arguments the way the suite's
 * runtimes do (ubpf: r1 = the input memory, r2 = its length), calls it, and stores the 64-bit
 * r0 into element 0 of a one-entry array map through a direct value pointer
 * (BPF_PSEUDO_MAP_VALUE), where the runner reads it back.
 *
 *       r2 = *(u32 *)(r1 + 0)          # xdp_md->data         (with 8 bytes of -- mem)
 *       r3 = *(u32 *)(r1 + 4)          # xdp_md->data_end
 *       r1 = r2
 *       r1 += 8
 *       if r1 > r3 goto +8 <no_mem>    # the bounds check the verifier wants
 *       r1 = r2                        # r1 = the memory (the packet)
 *       r2 = 8                         # r2 = its length
 *       call pc+7 <vector>             (without -- mem: r1 = 0, r2 = 0, then the call)
 *       r1 = map[conformance_r0][0] ll
 *       *(u64 *)(r1 + 0) = r0
 *       r0 = 2                         # XDP_PASS: r0 was stored
 *       exit
 *     no_mem:
 *       r0 = 0                         # XDP_ABORTED
 *       exit
 *     vector:
 *       ... the vector, unchanged: its offsets are pc-relative
 *
 * XDP because BPF_PROG_TEST_RUN runs it on a packet we choose, the verifier lets it read and
 * write that packet once bounds-checked, and it allows everything the vectors use (stack,
 * atomics, bpf-to-bpf calls). It is also the type bpf_conformance's own libbpf plugin loads.
 */
import { countSlots, type Instruction, type MapRef } from '../asm/instruction.ts';
import { Builder, referencedMaps, type ProgramSpec } from '../asm/program.ts';
import { r0, r1, r2, r3 } from '../asm/register.ts';

/** xdp_md field offsets (linux/bpf.h struct xdp_md). */
const XDP_MD_DATA = 0, XDP_MD_DATA_END = 4;
/** The prologue's return values: r0 was stored, or the memory did not fit in the packet. */
export const XDP_ABORTED = 0, XDP_PASS = 2;
/** BPF_PROG_TEST_RUN for XDP refuses packets shorter than an Ethernet header (bpf_test_init). */
export const MIN_PACKET = 14;
/** The largest -- mem the prologue can pass (the verifier tracks packet ranges up to 0xffff; BPF_PROG_TEST_RUN also limits an XDP packet to about a page). */
export const MAX_MEM = 0xffff;

/** The one-entry array the prologue stores r0 into (u32 key 0, u64 value). */
export const RESULT_MAP = { name: 'conformance_r0', type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 } as const;

export interface WrapOptions {
  /** The vector's input memory length: r2, and the bounds checked before r1 is passed. 0 = none. */
  readonly memLength: number;
  /** The map r0 goes to: a spec (unit tests, listings) or a live map (BpfMap is a MapRef). */
  readonly result: MapRef;
  /** The vector's labels (label -> instruction index), kept in the wrapped program's labels. */
  readonly labels?: ReadonlyMap<string, number>;
  /** Program name, up to 15 characters of [A-Za-z0-9_.]; default 'conformance'. */
  readonly name?: string;
}

/** The label the prologue calls: the vector's first instruction. */
export const VECTOR_LABEL = 'vector';

/** The prologue's instructions, ending just before the vector, and its labels. */
export function prologue(opts: Pick<WrapOptions, 'memLength' | 'result'>): { insns: Instruction[]; labels: Map<string, number> } {
  const L = opts.memLength;
  if (!Number.isInteger(L) || L < 0 || L > MAX_MEM) throw new RangeError(`memory length ${L} must be an integer in [0, ${MAX_MEM}]`);
  // No TypeScript lines in `source`: a verifier error should point at the .data file, and
  // only the vector's instructions carry a source (file:line from the assembler).
  const b = new Builder({ trackSource: false });
  if (L > 0) {
    b.ldx('u32', r2, r1, XDP_MD_DATA).comment('xdp_md->data');
    b.ldx('u32', r3, r1, XDP_MD_DATA_END).comment('xdp_md->data_end');
    b.mov(r1, r2);
    b.add(r1, L);
    b.jgt(r1, r3, 'no_mem').comment('the bounds check the verifier wants');
    b.mov(r1, r2).comment('r1 = the memory (the packet)');
    b.mov(r2, L).comment('r2 = its length');
  } else {
    b.mov(r1, 0).comment('no memory: r1 = NULL');
    b.mov(r2, 0).comment('r2 = 0');
  }
  b.callLocal(VECTOR_LABEL);
  b.ldMapValue(r1, opts.result, 0);
  b.stx('u64', r1, 0, r0);
  b.mov(r0, XDP_PASS).comment('XDP_PASS: r0 was stored');
  b.exit();
  if (L > 0) {
    b.label('no_mem');
    b.mov(r0, XDP_ABORTED).comment('XDP_ABORTED');
    b.exit();
  }
  // Linked against a one-slot stand-in for the vector, which is then dropped: the call's
  // offset only depends on where the vector starts.
  b.label(VECTOR_LABEL);
  b.exit();
  return { insns: b.link().slice(0, -1), labels: new Map(b.labels) };
}

/**
 * The vector (linked instructions, or raw ones from a plugin's input) behind the prologue, as
 * a ProgramSpec for loadProgram(). Labels: the prologue's (`no_mem`, `vector`) and the vector's,
 * moved past the prologue; the vector's own name wins a clash.
 */
export function wrapVector(vector: readonly Instruction[], opts: WrapOptions): ProgramSpec {
  const { insns: head, labels } = prologue(opts);
  for (const [name, idx] of opts.labels ?? []) labels.set(name, head.length + idx);
  const insns = [...head, ...vector];
  return { name: opts.name ?? 'conformance', type: 'xdp', license: 'GPL', insns, labels, maps: referencedMaps(insns) };
}

/** How many 8-byte slots the prologue takes: where the vector's slot 0 is in the loaded program. */
export function prologueSlots(memLength: number): number {
  return countSlots(prologue({ memLength, result: { name: RESULT_MAP.name } }).insns);
}
