/**
 * The instruction model and its exact encoding (RFC 9669 section 3).
 *
 *   byte:  0        1              2     3     4     5     6     7
 *        +--------+------+------+-----------+-----------------------+
 *        | opcode | dst  | src  |  off s16  |        imm s32        |
 *        |        | 3..0 | 7..4 |   (LE)    |         (LE)          |
 *        +--------+------+------+-----------+-----------------------+
 *
 * LD_IMM64 (0x18) takes two slots: the second has opcode, registers and off all zero and its
 * imm holds the upper 32 bits of the constant. Jump offsets count slots, not instructions.
 */
import { AsmError } from './errors.ts';
import {
  AluOp, AtomicOp, CallKind, Class, JmpOp, LD_IMM64, Mode, OPCODE_TABLE, Pseudo, Size, Source,
  opClass, opCode, opMode, opSize, opSource, opcodesOf,
} from './opcode.ts';

/** Anything a program can refer to as a map: resolved to an fd when the program is loaded. */
export interface MapRef {
  readonly name: string;
}

export interface Instruction {
  readonly op: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
  /** LD_IMM64 only: the second slot's imm (upper 32 bits of the constant). */
  readonly imm2?: number;
  /** A label this jump, call or func reference targets; resolved into off/imm at link time. */
  readonly target?: string;
  /** A map this LD_IMM64 loads; its fd is patched into imm at load time. */
  readonly map?: MapRef;
  /** Shown in listings. */
  readonly comment?: string;
  /** The TypeScript file:line that emitted it. */
  readonly source?: string;
}

export const INSN_SIZE = 8;

/** How many 8-byte slots an instruction occupies. */
export function slots(i: Instruction): 1 | 2 {
  return i.op === LD_IMM64 ? 2 : 1;
}

/** The 64-bit constant of an LD_IMM64. */
export function imm64(i: Instruction): bigint {
  return (BigInt(i.imm2 ?? 0) << 32n) | BigInt(i.imm >>> 0);
}

/** Split a 64-bit constant into the (imm, imm2) pair of an LD_IMM64, both as s32. */
export function splitImm64(v: bigint): { imm: number; imm2: number } {
  const u = BigInt.asUintN(64, v);
  return { imm: Number(BigInt.asIntN(32, u & 0xffffffffn)), imm2: Number(BigInt.asIntN(32, u >> 32n)) };
}

export function countSlots(insns: readonly Instruction[]): number {
  let n = 0;
  for (const i of insns) n += slots(i);
  return n;
}

/** Encode instructions into little-endian bytes, exactly as the kernel reads them. */
export function encode(insns: readonly Instruction[]): Uint8Array {
  const out = new Uint8Array(countSlots(insns) * INSN_SIZE);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const i of insns) {
    out[p] = i.op;
    out[p + 1] = (i.dst & 0x0f) | ((i.src & 0x0f) << 4);
    dv.setInt16(p + 2, i.off, true);
    dv.setInt32(p + 4, i.imm, true);
    p += INSN_SIZE;
    if (i.op === LD_IMM64) {
      dv.setInt32(p + 4, i.imm2 ?? 0, true);
      p += INSN_SIZE;
    }
  }
  return out;
}

const ATOMIC_IMMS: ReadonlySet<number> = new Set(Object.values(AtomicOp));
/**
 * The off values each ALU opcode byte takes (0 for most; div/mod also 1 for sdiv/smod; MOV X
 * also the movsx widths its class has), from the opcode table's rows.
 */
const ALU_OFFS: readonly (readonly number[])[] = (() => {
  const by: number[][] = Array.from({ length: 256 }, () => []);
  for (const row of OPCODE_TABLE) {
    if (row.form !== 'binary' && row.form !== 'movsx') continue;
    for (const op of opcodesOf(row)) by[op]!.push(row.off ?? 0);
  }
  return by;
})();

// Module-level checks, chained with ??: decode runs them for every instruction, so no
// closures or objects are made per call.
const reserved = (field: string, v: number): string | null => (v !== 0 ? `reserved field ${field} must be 0, is ${v}` : null);
const badSrc = (src: number): string | null => (src > 10 ? `invalid src register r${src}` : null);

/**
 * Why an instruction is not a valid encoding, or null when it is. Checks the opcode and the
 * fields the kernel requires to be zero ("uses reserved fields"), so every valid instruction
 * has exactly one text form and round-trips through the (dis)assembler.
 */
export function invalidReason(i: Instruction): string | null {
  const { op, dst, src, off, imm } = i;
  const cls = opClass(op);
  if (dst > 10) return `invalid dst register r${dst}`;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const code = opCode(op), x = opSource(op) === Source.X, is64 = cls === Class.ALU64;
      if (code > AluOp.end) return `unknown ALU operation 0x${code.toString(16)}`;
      if (code === AluOp.neg) return x ? 'neg takes no source register (use the K form)' : reserved('src', src) ?? reserved('off', off) ?? reserved('imm', imm);
      if (code === AluOp.end) {
        if (is64 && x) return 'ALU64 byte swap must use the K form (bswap)';
        if (imm !== 16 && imm !== 32 && imm !== 64) return `byte swap width must be 16, 32 or 64, is ${imm}`;
        return reserved('src', src) ?? reserved('off', off);
      }
      if (!ALU_OFFS[op]!.includes(off)) return `invalid off ${off} for this ALU operation`;
      return x ? badSrc(src) ?? reserved('imm', imm) : reserved('src', src);
    }
    case Class.JMP:
    case Class.JMP32: {
      const code = opCode(op), x = opSource(op) === Source.X;
      if (code > JmpOp.jsle) return `unknown jump operation 0x${code.toString(16)}`;
      if (code === JmpOp.call) {
        if (cls === Class.JMP32) return 'call is not a JMP32 operation';
        if (x) return 'call through a register (callx, 0x8d) is not part of RFC 9669 and the kernel rejects it: call a helper by its id';
        if (src !== CallKind.helper && src !== CallKind.local && src !== CallKind.kfunc) return `unknown call kind src=${src}`;
        return src === CallKind.kfunc ? reserved('dst', dst) : reserved('dst', dst) ?? reserved('off', off);
      }
      if (code === JmpOp.exit) {
        if (cls === Class.JMP32) return 'exit is not a JMP32 operation';
        return x ? 'exit has no source' : reserved('dst', dst) ?? reserved('src', src) ?? reserved('off', off) ?? reserved('imm', imm);
      }
      if (code === JmpOp.ja) {
        if (x) return 'ja has no source register';
        return reserved('dst', dst) ?? reserved('src', src) ?? (cls === Class.JMP ? reserved('imm', imm) : reserved('off', off));
      }
      return x ? badSrc(src) ?? reserved('imm', imm) : reserved('src', src);
    }
    case Class.LDX: {
      const mode = opMode(op);
      if (mode === Mode.MEMSX && opSize(op) === Size.u64) return 'sign-extending load of u64 does not exist';
      if (mode !== Mode.MEM && mode !== Mode.MEMSX) return `invalid LDX mode 0x${mode.toString(16)}`;
      return badSrc(src) ?? reserved('imm', imm);
    }
    case Class.ST:
      if (opMode(op) !== Mode.MEM) return `invalid ST mode 0x${opMode(op).toString(16)}`;
      return reserved('src', src);
    case Class.STX: {
      const mode = opMode(op);
      if (mode === Mode.ATOMIC) {
        if (opSize(op) !== Size.u32 && opSize(op) !== Size.u64) return 'atomic operations are u32 or u64 only';
        if (!ATOMIC_IMMS.has(imm)) return `unknown atomic operation 0x${(imm >>> 0).toString(16)}`;
        return badSrc(src);
      }
      if (mode !== Mode.MEM) return `invalid STX mode 0x${mode.toString(16)}`;
      return badSrc(src) ?? reserved('imm', imm);
    }
    case Class.LD: {
      const mode = opMode(op);
      if (op === LD_IMM64) {
        if (src > Pseudo.map_idx_value) return `unknown LD_IMM64 source kind ${src}`;
        return reserved('off', off);
      }
      if (mode === Mode.ABS || mode === Mode.IND) {
        if (opSize(op) === Size.u64) return 'legacy packet loads are u8, u16 or u32 only';
        return mode === Mode.ABS ? reserved('dst', dst) ?? reserved('src', src) ?? reserved('off', off) : badSrc(src) ?? reserved('dst', dst) ?? reserved('off', off);
      }
      return `invalid LD opcode 0x${op.toString(16).padStart(2, '0')}`;
    }
  }
  return `invalid opcode 0x${op.toString(16)}`;
}

/** Decode little-endian bytes into instructions; rejects invalid ones, naming the index. */
export function decode(bytes: Uint8Array): Instruction[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new AsmError(`${bytes.length} bytes is not a whole number of 8-byte instructions (the last one is cut short)`, { index: Math.floor(bytes.length / INSN_SIZE) });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length / INSN_SIZE;
  const out: Instruction[] = [];
  for (let s = 0; s < n; s++) {
    const p = s * INSN_SIZE;
    const op = bytes[p]!, regs = bytes[p + 1]!;
    const insn: { -readonly [K in keyof Instruction]: Instruction[K] } = {
      op, dst: regs & 0x0f, src: regs >> 4, off: dv.getInt16(p + 2, true), imm: dv.getInt32(p + 4, true),
    };
    if (op === LD_IMM64) {
      if (s + 1 >= n) throw new AsmError('LD_IMM64 is missing its second slot', { index: s });
      const q = p + INSN_SIZE;
      if (bytes[q] !== 0 || bytes[q + 1] !== 0 || dv.getInt16(q + 2, true) !== 0) {
        throw new AsmError('the second slot of LD_IMM64 must have opcode, registers and off 0', { index: s + 1 });
      }
      insn.imm2 = dv.getInt32(q + 4, true);
      s++;
    }
    const why = invalidReason(insn);
    if (why) throw new AsmError(why, { index: op === LD_IMM64 ? s - 1 : s });
    out.push(insn);
  }
  return out;
}

/** Parse hex text (whitespace, commas and 0x prefixes ignored) into bytes. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/#[^\n]*/g, '').replace(/0x/gi, '').replace(/[\s,]+/g, '');
  if (!/^[0-9a-fA-F]*$/.test(clean)) {
    const bad = clean.match(/[^0-9a-fA-F]/)![0];
    throw new AsmError(`not a hex digit: '${bad}'`);
  }
  if (clean.length % 2) throw new AsmError('odd number of hex digits');
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Lowercase hex, one 8-byte slot per line. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += INSN_SIZE) {
    s += Array.from(bytes.subarray(i, i + INSN_SIZE), (b) => b.toString(16).padStart(2, '0')).join(' ') + '\n';
  }
  return s;
}
