/**
 * The opcode byte and its fields (RFC 9669 section 3, linux/bpf_common.h, linux/bpf.h).
 *
 *   For ALU, ALU64, JMP, JMP32:      For LD, LDX, ST, STX:
 *     7   4 3  2  0                    7  5 4  3 2  0
 *    +-----+--+----+                  +----+----+----+
 *    | op  |s |cls |                  |mode|size|cls |
 *    +-----+--+----+                  +----+----+----+
 *   s = source: 0 = K (imm), 1 = X (src register); cls = instruction class.
 */

export const Class = {
  LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, JMP32: 0x06, ALU64: 0x07,
} as const;
export type ClassName = keyof typeof Class;

export const Source = { K: 0x00, X: 0x08 } as const;

/** Size field of load/store opcodes, keyed by the DSL's size names. */
export const Size = { u32: 0x00, u16: 0x08, u8: 0x10, u64: 0x18 } as const;
export type SizeName = keyof typeof Size;
export const SIZE_BYTES: Readonly<Record<SizeName, number>> = { u8: 1, u16: 2, u32: 4, u64: 8 };
export const SIZE_NAMES: readonly SizeName[] = ['u8', 'u16', 'u32', 'u64'];

export const Mode = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, MEMSX: 0x80, ATOMIC: 0xc0 } as const;

/** ALU operation field (bits 4..7). sdiv/smod and movsx reuse DIV/MOD/MOV with a non-zero off. */
export const AluOp = {
  add: 0x00, sub: 0x10, mul: 0x20, div: 0x30, or: 0x40, and: 0x50, lsh: 0x60, rsh: 0x70,
  neg: 0x80, mod: 0x90, xor: 0xa0, mov: 0xb0, arsh: 0xc0, end: 0xd0,
} as const;
export type AluOpName = keyof typeof AluOp;

/** Jump operation field (bits 4..7). In JMP32, JA is gotol (32-bit offset in imm). */
export const JmpOp = {
  ja: 0x00, jeq: 0x10, jgt: 0x20, jge: 0x30, jset: 0x40, jne: 0x50, jsgt: 0x60, jsge: 0x70,
  call: 0x80, exit: 0x90, jlt: 0xa0, jle: 0xb0, jslt: 0xc0, jsle: 0xd0,
} as const;

/** The fetch bit of an atomic operation's imm: the old value comes back in src. */
export const ATOMIC_FETCH = 0x01;

/** src_reg values of LD_IMM64: what the 64-bit immediate means (linux/bpf.h BPF_PSEUDO_*). */
export const Pseudo = {
  imm: 0, map_fd: 1, map_value: 2, btf_id: 3, func: 4, map_idx: 5, map_idx_value: 6,
} as const;
export type PseudoName = keyof typeof Pseudo;
export const PSEUDO_NAMES = Object.keys(Pseudo) as PseudoName[];

/** src_reg values of CALL: helper id, pc-relative bpf-to-bpf call, kernel function (BTF id). */
export const CallKind = { helper: 0, local: 1, kfunc: 2 } as const;

export const LD_IMM64 = Class.LD | Mode.IMM | Size.u64; // 0x18

export const opClass = (op: number): number => op & 0x07;
export const opSource = (op: number): number => op & 0x08;
export const opCode = (op: number): number => op & 0xf0;
export const opSize = (op: number): number => op & 0x18;
export const opMode = (op: number): number => op & 0xe0;

export function sizeName(op: number): SizeName {
  const s = opSize(op);
  return s === Size.u8 ? 'u8' : s === Size.u16 ? 'u16' : s === Size.u32 ? 'u32' : 'u64';
}

// ---------------------------------------------------------------------------------------------
// The opcode table: every instruction the toolkit knows, one row per operation. The encoder's
// builders, both text dialects (parsers and printers), the golden forms and the VM all read
// their names, codes and spellings from here, so an operation is added in one place.

/**
 * How an instruction's operands are written, which is also which fields it uses. One example
 * per form, llvm text then ubpf text:
 *
 *   binary   r1 += 7 / w1 += w2            add %r1, 7 / add32 %r1, %r2     dst op= imm|src
 *   unary    r1 = -r1                      neg %r1                         dst = -dst
 *   movsx    r1 = (s8)r2                   movsx864 %r1, %r2               off = source bits
 *   endian   r1 = be16 r1                  be16 %r1                        imm = width
 *   jcond    if r1 > 7 goto +3             jgt %r1, 7, +3                  off = target
 *   ja       goto +3                       ja +3                           off = target
 *   gotol    gotol +3                      ja32 +3                         imm = target
 *   call     call bpf_map_lookup_elem#1    call 1                          src = call kind, imm
 *   exit     exit                          exit
 *   ldx      r2 = *(u32 *)(r1 + 76)        ldxw %r2, [%r1+76]
 *   ldxsx    r2 = *(s8 *)(r1 - 4)          ldxsb %r2, [%r1-4]
 *   st       *(u32 *)(r10 - 8) = 7         stw [%r10-8], 7
 *   stx      *(u64 *)(r10 - 8) = r1        stxdw [%r10-8], %r1
 *   atomic   lock *(u64 *)(r10 - 8) += r1  lock add [%r10-8], %r1         imm = operation
 *   fetch    r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)   lock fetch add [%r10-8], %r1
 *   xchg     r1 = xchg_64(r10 - 8, r1)     lock xchg [%r10-8], %r1
 *   cmpxchg  r0 = cmpxchg_64(r10 - 8, r0, r1)  lock cmpxchg [%r10-8], %r1
 *   ld_imm64 r1 = 0x1122334455667788 ll   lddw %r1, 0x1122334455667788     src = pseudo kind
 *   ld_abs   r0 = *(u16 *)skb[12]          ldabsh 12
 *   ld_ind   r0 = *(u16 *)skb[r1 + 4]      ldindh %r1, 4
 */
export type OperandForm =
  | 'binary' | 'unary' | 'movsx' | 'endian'
  | 'jcond' | 'ja' | 'gotol' | 'call' | 'exit'
  | 'ldx' | 'ldxsx' | 'st' | 'stx' | 'atomic' | 'fetch' | 'xchg' | 'cmpxchg'
  | 'ld_imm64' | 'ld_abs' | 'ld_ind';

/**
 * One operation. Its opcode bytes are `class | code | source` (ALU, ALU64, JMP, JMP32) or
 * `class | code | size` (LD, LDX, ST, STX) for each class, source and size the row lists
 * (opcodesOf() spells them out); `off`, `src` and `imm`, when present, are the values of
 * those fields that tell this row apart from others with the same opcode byte.
 */
export interface OpcodeRow {
  /** The DSL's name for it: 'add', 'sdiv', 'jeq', 'fetch_add', 'ldx', 'call_local', ... */
  readonly name: string;
  readonly form: OperandForm;
  /** The operation field (AluOp, JmpOp: bits 4..7) or the mode (Mode: bits 5..7). */
  readonly code: number;
  /** The classes it exists in (Class values). */
  readonly classes: readonly number[];
  /** ALU and JMP classes: the sources it takes (Source.K, Source.X). */
  readonly sources?: readonly number[];
  /** LD, LDX, ST and STX classes: the sizes it exists in. */
  readonly sizes?: readonly SizeName[];
  /** The off that selects this row (sdiv and smod 1, movsx the source bits, 0 otherwise). */
  readonly off?: number;
  /** The src that selects this row (the call kind). */
  readonly src?: number;
  /** The imm that selects this row (the atomic operation). */
  readonly imm?: number;
  /**
   * Its symbol in the llvm dialect (what disassemble() prints): the operator of binary, jcond
   * and atomic forms ('+=', 's/=', '=='), else the word the text starts or ends with.
   */
  readonly llvm: string;
  /**
   * Its mnemonic in the ubpf / bpf_conformance dialect, before the width suffix ('32' for
   * ALU and JMP32; movsx takes '32' or '64'; memory forms add b, h, w or dw).
   */
  readonly ubpf: string;
}

const ALU_BOTH = [Class.ALU, Class.ALU64] as const;
const JMP_BOTH = [Class.JMP, Class.JMP32] as const;
const KX = [Source.K, Source.X] as const;
const K = [Source.K] as const;
const X = [Source.X] as const;
const ALL_SIZES = ['u8', 'u16', 'u32', 'u64'] as const;
const NARROW = ['u8', 'u16', 'u32'] as const;
const WORDS = ['u32', 'u64'] as const;

const TABLE = [
  // Arithmetic (RFC 9669 4.1), ALU and ALU64.
  { name: 'add', form: 'binary', code: AluOp.add, classes: ALU_BOTH, sources: KX, off: 0, llvm: '+=', ubpf: 'add' },
  { name: 'sub', form: 'binary', code: AluOp.sub, classes: ALU_BOTH, sources: KX, off: 0, llvm: '-=', ubpf: 'sub' },
  { name: 'mul', form: 'binary', code: AluOp.mul, classes: ALU_BOTH, sources: KX, off: 0, llvm: '*=', ubpf: 'mul' },
  { name: 'div', form: 'binary', code: AluOp.div, classes: ALU_BOTH, sources: KX, off: 0, llvm: '/=', ubpf: 'div' },
  { name: 'sdiv', form: 'binary', code: AluOp.div, classes: ALU_BOTH, sources: KX, off: 1, llvm: 's/=', ubpf: 'sdiv' },
  { name: 'mod', form: 'binary', code: AluOp.mod, classes: ALU_BOTH, sources: KX, off: 0, llvm: '%=', ubpf: 'mod' },
  { name: 'smod', form: 'binary', code: AluOp.mod, classes: ALU_BOTH, sources: KX, off: 1, llvm: 's%=', ubpf: 'smod' },
  { name: 'or', form: 'binary', code: AluOp.or, classes: ALU_BOTH, sources: KX, off: 0, llvm: '|=', ubpf: 'or' },
  { name: 'and', form: 'binary', code: AluOp.and, classes: ALU_BOTH, sources: KX, off: 0, llvm: '&=', ubpf: 'and' },
  { name: 'xor', form: 'binary', code: AluOp.xor, classes: ALU_BOTH, sources: KX, off: 0, llvm: '^=', ubpf: 'xor' },
  { name: 'lsh', form: 'binary', code: AluOp.lsh, classes: ALU_BOTH, sources: KX, off: 0, llvm: '<<=', ubpf: 'lsh' },
  { name: 'rsh', form: 'binary', code: AluOp.rsh, classes: ALU_BOTH, sources: KX, off: 0, llvm: '>>=', ubpf: 'rsh' },
  { name: 'arsh', form: 'binary', code: AluOp.arsh, classes: ALU_BOTH, sources: KX, off: 0, llvm: 's>>=', ubpf: 'arsh' },
  { name: 'mov', form: 'binary', code: AluOp.mov, classes: ALU_BOTH, sources: KX, off: 0, llvm: '=', ubpf: 'mov' },
  { name: 'movsx8', form: 'movsx', code: AluOp.mov, classes: ALU_BOTH, sources: X, off: 8, llvm: 's8', ubpf: 'movsx8' },
  { name: 'movsx16', form: 'movsx', code: AluOp.mov, classes: ALU_BOTH, sources: X, off: 16, llvm: 's16', ubpf: 'movsx16' },
  { name: 'movsx32', form: 'movsx', code: AluOp.mov, classes: [Class.ALU64], sources: X, off: 32, llvm: 's32', ubpf: 'movsx32' },
  { name: 'neg', form: 'unary', code: AluOp.neg, classes: ALU_BOTH, sources: K, off: 0, llvm: '-', ubpf: 'neg' },
  // Byte swaps (RFC 9669 4.2): the width is in imm.
  { name: 'le', form: 'endian', code: AluOp.end, classes: [Class.ALU], sources: K, llvm: 'le', ubpf: 'le' },
  { name: 'be', form: 'endian', code: AluOp.end, classes: [Class.ALU], sources: X, llvm: 'be', ubpf: 'be' },
  { name: 'bswap', form: 'endian', code: AluOp.end, classes: [Class.ALU64], sources: K, llvm: 'bswap', ubpf: 'bswap' },
  // Jumps (RFC 9669 4.3), JMP and JMP32.
  { name: 'jeq', form: 'jcond', code: JmpOp.jeq, classes: JMP_BOTH, sources: KX, llvm: '==', ubpf: 'jeq' },
  { name: 'jne', form: 'jcond', code: JmpOp.jne, classes: JMP_BOTH, sources: KX, llvm: '!=', ubpf: 'jne' },
  { name: 'jgt', form: 'jcond', code: JmpOp.jgt, classes: JMP_BOTH, sources: KX, llvm: '>', ubpf: 'jgt' },
  { name: 'jge', form: 'jcond', code: JmpOp.jge, classes: JMP_BOTH, sources: KX, llvm: '>=', ubpf: 'jge' },
  { name: 'jlt', form: 'jcond', code: JmpOp.jlt, classes: JMP_BOTH, sources: KX, llvm: '<', ubpf: 'jlt' },
  { name: 'jle', form: 'jcond', code: JmpOp.jle, classes: JMP_BOTH, sources: KX, llvm: '<=', ubpf: 'jle' },
  { name: 'jsgt', form: 'jcond', code: JmpOp.jsgt, classes: JMP_BOTH, sources: KX, llvm: 's>', ubpf: 'jsgt' },
  { name: 'jsge', form: 'jcond', code: JmpOp.jsge, classes: JMP_BOTH, sources: KX, llvm: 's>=', ubpf: 'jsge' },
  { name: 'jslt', form: 'jcond', code: JmpOp.jslt, classes: JMP_BOTH, sources: KX, llvm: 's<', ubpf: 'jslt' },
  { name: 'jsle', form: 'jcond', code: JmpOp.jsle, classes: JMP_BOTH, sources: KX, llvm: 's<=', ubpf: 'jsle' },
  { name: 'jset', form: 'jcond', code: JmpOp.jset, classes: JMP_BOTH, sources: KX, llvm: '&', ubpf: 'jset' },
  { name: 'ja', form: 'ja', code: JmpOp.ja, classes: [Class.JMP], sources: K, llvm: 'goto', ubpf: 'ja' },
  { name: 'gotol', form: 'gotol', code: JmpOp.ja, classes: [Class.JMP32], sources: K, llvm: 'gotol', ubpf: 'ja32' },
  { name: 'call', form: 'call', code: JmpOp.call, classes: [Class.JMP], sources: K, src: CallKind.helper, llvm: 'call', ubpf: 'call' },
  { name: 'call_local', form: 'call', code: JmpOp.call, classes: [Class.JMP], sources: K, src: CallKind.local, llvm: 'call pc', ubpf: 'call local' },
  { name: 'kfunc', form: 'call', code: JmpOp.call, classes: [Class.JMP], sources: K, src: CallKind.kfunc, llvm: 'call kfunc', ubpf: 'call runtime' },
  { name: 'exit', form: 'exit', code: JmpOp.exit, classes: [Class.JMP], sources: K, llvm: 'exit', ubpf: 'exit' },
  // Loads and stores (RFC 9669 5).
  { name: 'ldx', form: 'ldx', code: Mode.MEM, classes: [Class.LDX], sizes: ALL_SIZES, llvm: '*', ubpf: 'ldx' },
  { name: 'ldxsx', form: 'ldxsx', code: Mode.MEMSX, classes: [Class.LDX], sizes: NARROW, llvm: '*', ubpf: 'ldxs' },
  { name: 'st', form: 'st', code: Mode.MEM, classes: [Class.ST], sizes: ALL_SIZES, llvm: '*', ubpf: 'st' },
  { name: 'stx', form: 'stx', code: Mode.MEM, classes: [Class.STX], sizes: ALL_SIZES, llvm: '*', ubpf: 'stx' },
  // Atomic operations (RFC 9669 5.3): STX | ATOMIC, the operation in imm.
  { name: 'add', form: 'atomic', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: AluOp.add, llvm: '+=', ubpf: 'add' },
  { name: 'or', form: 'atomic', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: AluOp.or, llvm: '|=', ubpf: 'or' },
  { name: 'and', form: 'atomic', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: AluOp.and, llvm: '&=', ubpf: 'and' },
  { name: 'xor', form: 'atomic', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: AluOp.xor, llvm: '^=', ubpf: 'xor' },
  { name: 'fetch_add', form: 'fetch', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: AluOp.add | ATOMIC_FETCH, llvm: 'atomic_fetch_add', ubpf: 'fetch add' },
  { name: 'fetch_or', form: 'fetch', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: AluOp.or | ATOMIC_FETCH, llvm: 'atomic_fetch_or', ubpf: 'fetch or' },
  { name: 'fetch_and', form: 'fetch', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: AluOp.and | ATOMIC_FETCH, llvm: 'atomic_fetch_and', ubpf: 'fetch and' },
  { name: 'fetch_xor', form: 'fetch', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: AluOp.xor | ATOMIC_FETCH, llvm: 'atomic_fetch_xor', ubpf: 'fetch xor' },
  { name: 'xchg', form: 'xchg', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: 0xe0 | ATOMIC_FETCH, llvm: 'xchg', ubpf: 'xchg' },
  { name: 'cmpxchg', form: 'cmpxchg', code: Mode.ATOMIC, classes: [Class.STX], sizes: WORDS, imm: 0xf0 | ATOMIC_FETCH, llvm: 'cmpxchg', ubpf: 'cmpxchg' },
  // LD: the 64-bit immediate (src says what it means) and the legacy packet loads.
  { name: 'ld_imm64', form: 'ld_imm64', code: Mode.IMM, classes: [Class.LD], sizes: ['u64'], llvm: 'll', ubpf: 'lddw' },
  { name: 'ld_abs', form: 'ld_abs', code: Mode.ABS, classes: [Class.LD], sizes: NARROW, llvm: 'skb', ubpf: 'ldabs' },
  { name: 'ld_ind', form: 'ld_ind', code: Mode.IND, classes: [Class.LD], sizes: NARROW, llvm: 'skb', ubpf: 'ldind' },
] as const satisfies readonly OpcodeRow[];

/** Every operation, in the order of RFC 9669's tables. */
export const OPCODE_TABLE: readonly OpcodeRow[] = TABLE;

type Row = (typeof TABLE)[number];
const rowsOf = <F extends OperandForm>(...forms: F[]): Extract<Row, { form: F }>[] =>
  TABLE.filter((r): r is Extract<Row, { form: F }> => (forms as OperandForm[]).includes(r.form));

/** Two-operand ALU ops that take an immediate or a register source. */
export type BinaryAluOp = Extract<Row, { form: 'binary' }>['name'];
export const BINARY_ALU_OPS: readonly BinaryAluOp[] = rowsOf('binary').map((r) => r.name);

/** Conditional jumps. */
export type CondJump = Extract<Row, { form: 'jcond' }>['name'];
export const COND_JUMPS: readonly CondJump[] = rowsOf('jcond').map((r) => r.name);

/** Atomic operations and their imm values (FETCH returns the old value in src). */
export type AtomicOpName = Extract<Row, { form: 'atomic' | 'fetch' | 'xchg' | 'cmpxchg' }>['name'];
export const AtomicOp: Readonly<Record<AtomicOpName, number>> = Object.fromEntries(
  rowsOf('atomic', 'fetch', 'xchg', 'cmpxchg').map((r) => [r.name, r.imm]),
) as Record<AtomicOpName, number>;

/** Every opcode byte of a row: one per class and source (or size) it lists. */
export function opcodesOf(row: OpcodeRow): number[] {
  const out: number[] = [];
  for (const cls of row.classes) {
    if (row.sizes) for (const s of row.sizes) out.push(cls | row.code | Size[s]);
    else for (const s of row.sources ?? [Source.K]) out.push(cls | row.code | s);
  }
  return out;
}

const ROWS_BY_OPCODE: readonly (readonly OpcodeRow[])[] = (() => {
  const by: OpcodeRow[][] = Array.from({ length: 256 }, () => []);
  for (const row of OPCODE_TABLE) for (const op of opcodesOf(row)) by[op]!.push(row);
  return by;
})();

/**
 * The row an instruction belongs to, told apart by its opcode byte, then by off, src or imm
 * where the row names one; undefined for an opcode nothing in the table has. It does not check
 * reserved fields or registers: invalidReason() does.
 */
export function opcodeRow(i: { readonly op: number; readonly src: number; readonly off: number; readonly imm: number }): OpcodeRow | undefined {
  for (const r of ROWS_BY_OPCODE[i.op & 0xff]!) {
    if ((r.off === undefined || r.off === i.off) && (r.src === undefined || r.src === i.src) && (r.imm === undefined || r.imm === i.imm)) return r;
  }
  return undefined;
}

/** The rows of the table in one form, e.g. rowsOfForm('jcond'). */
export function rowsOfForm(form: OperandForm): readonly OpcodeRow[] {
  return OPCODE_TABLE.filter((r) => r.form === form);
}
