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
/** Two-operand ALU ops that take an immediate or a register source. */
export const BINARY_ALU_OPS = ['add', 'sub', 'mul', 'div', 'sdiv', 'mod', 'smod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh', 'mov'] as const;
export type BinaryAluOp = (typeof BINARY_ALU_OPS)[number];

/** Jump operation field (bits 4..7). In JMP32, JA is gotol (32-bit offset in imm). */
export const JmpOp = {
  ja: 0x00, jeq: 0x10, jgt: 0x20, jge: 0x30, jset: 0x40, jne: 0x50, jsgt: 0x60, jsge: 0x70,
  call: 0x80, exit: 0x90, jlt: 0xa0, jle: 0xb0, jslt: 0xc0, jsle: 0xd0,
} as const;
export const COND_JUMPS = ['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jsgt', 'jsge', 'jslt', 'jsle', 'jset'] as const;
export type CondJump = (typeof COND_JUMPS)[number];

/** Atomic operations, carried in imm of STX|ATOMIC. FETCH returns the old value in src. */
export const ATOMIC_FETCH = 0x01;
export const AtomicOp = {
  add: 0x00, or: 0x40, and: 0x50, xor: 0xa0,
  fetch_add: 0x01, fetch_or: 0x41, fetch_and: 0x51, fetch_xor: 0xa1,
  xchg: 0xe1, cmpxchg: 0xf1,
} as const;
export type AtomicOpName = keyof typeof AtomicOp;

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
