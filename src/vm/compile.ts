/**
 * eBPF to JavaScript. Each program becomes one JS function: registers are 22 int32 locals (the
 * low and high half of r0..r10), every basic block is a `case` of a switch inside a loop, and
 * jumps set pc and `continue`. V8 keeps the locals in machine registers, which is why this is
 * several times faster than interpreting (docs/vm.md has the measurements).
 *
 * The same generator, with `trace`, makes every instruction its own block and calls the tracer
 * before each one with the registers written back to R: one semantics for both tiers.
 *
 * Invariant: every register half is a canonical int32 (`|0`-normalised), so `===` compares
 * 64-bit values half by half.
 */
import { slotIndex } from '../asm/link.ts';
import { type Instruction } from '../asm/instruction.ts';
import {
  AluOp, CallKind, Class, JmpOp, LD_IMM64, Mode, Pseudo, Size, Source,
  opClass, opCode, opMode, opSize, opSource,
} from '../asm/opcode.ts';
import { VmError } from './errors.ts';

/** How LD_IMM64 pseudo sources and helper calls resolve while compiling. */
export interface CompileEnv {
  /** The 64-bit value an LD_IMM64 with a map pseudo source loads (an address in the VM). */
  ldImm64(insn: Instruction, index: number): bigint;
  /** Whether a helper id exists (unknown ones compile to a fault, raised only if reached). */
  hasHelper(id: number): boolean;
  /** The helper id of the tail-call helper (the program returns after it succeeds). */
  readonly tailCallId: number;
}

/** What compile() produces: call with the entry instruction index. */
export interface CompiledCode {
  readonly source: string;
  readonly insns: readonly Instruction[];
}

const lit = (v: number): string => `(${v | 0})`;
const hiOf = (v: number): number => (v | 0) >> 31;

/** Source operand (lo, hi) of an ALU/JMP instruction: a register or the sign-extended imm. */
function srcOf(i: Instruction): [string, string] {
  return opSource(i.op) === Source.X ? [`l${i.src}`, `h${i.src}`] : [lit(i.imm), lit(hiOf(i.imm))];
}

function alu64(i: Instruction, k: number): string {
  const d = i.dst, code = opCode(i.op), [sl, sh] = srcOf(i), x = opSource(i.op) === Source.X;
  const L = `l${d}`, H = `h${d}`;
  switch (code) {
    case AluOp.add: return `t=(${L}+${sl})|0;${H}=(${H}+${sh}+((t>>>0)<(${L}>>>0)?1:0))|0;${L}=t;`;
    case AluOp.sub: return `t=(${L}-${sl})|0;${H}=(${H}-${sh}-((${L}>>>0)<(${sl}>>>0)?1:0))|0;${L}=t;`;
    case AluOp.mul: return `${L}=A.mul(${L},${H},${sl},${sh});${H}=A.hi;`;
    case AluOp.div: return `${L}=A.${i.off === 1 ? 'sdiv' : 'udiv'}(${L},${H},${sl},${sh});${H}=A.hi;`;
    case AluOp.mod: return `${L}=A.${i.off === 1 ? 'smod' : 'umod'}(${L},${H},${sl},${sh});${H}=A.hi;`;
    case AluOp.or: return `${L}|=${sl};${H}|=${sh};`;
    case AluOp.and: return `${L}&=${sl};${H}&=${sh};`;
    case AluOp.xor: return `${L}^=${sl};${H}^=${sh};`;
    case AluOp.lsh:
    case AluOp.rsh:
    case AluOp.arsh: {
      const fn = code === AluOp.lsh ? 'shl' : code === AluOp.rsh ? 'shr' : 'sar';
      if (x) return `${L}=A.${fn}(${L},${H},${sl});${H}=A.hi;`;
      const c = i.imm & 63; // RFC 9669: the count is masked to 6 bits
      if (c === 0) return '';
      if (code === AluOp.lsh) {
        if (c < 32) return `${H}=(${H}<<${c})|(${L}>>>${32 - c});${L}=${L}<<${c};`;
        return `${H}=${L}<<${c - 32};${L}=0;`;
      }
      if (code === AluOp.rsh) {
        if (c < 32) return `${L}=(${L}>>>${c})|(${H}<<${32 - c});${H}=(${H}>>>${c})|0;`;
        return `${L}=(${H}>>>${c - 32})|0;${H}=0;`;
      }
      if (c < 32) return `${L}=(${L}>>>${c})|(${H}<<${32 - c});${H}=${H}>>${c};`;
      return `${L}=${H}>>${c - 32};${H}=${H}>>31;`;
    }
    case AluOp.neg: return `t=(-${L})|0;${H}=(~${H}+(${L}===0?1:0))|0;${L}=t;`;
    case AluOp.mov:
      if (x && i.off === 8) return `${L}=(${sl}<<24)>>24;${H}=${L}>>31;`;
      if (x && i.off === 16) return `${L}=(${sl}<<16)>>16;${H}=${L}>>31;`;
      if (x && i.off === 32) return `${L}=${sl};${H}=${L}>>31;`;
      return `${L}=${sl};${H}=${sh};`;
    case AluOp.end: return swap(i.imm, L, H); // ALU64 END: unconditional bswap
  }
  throw new VmError(`unknown ALU64 operation 0x${code.toString(16)}`, { index: k, source: i.source });
}

/** Byte swap of the low `bits` (16, 32, 64), zero-extending the narrower results. */
function swap(bits: number, L: string, H: string): string {
  if (bits === 16) return `${L}=A.bswap16(${L});${H}=0;`;
  if (bits === 32) return `${L}=A.bswap32(${L});${H}=0;`;
  return `t=A.bswap32(${L});${L}=A.bswap32(${H});${H}=t;`;
}

function alu32(i: Instruction, k: number): string {
  const d = i.dst, code = opCode(i.op), x = opSource(i.op) === Source.X;
  const L = `l${d}`, H = `h${d}`;
  const s = x ? `l${i.src}` : lit(i.imm);
  const z = `${H}=0;`;
  switch (code) {
    case AluOp.add: return `${L}=(${L}+${s})|0;${z}`;
    case AluOp.sub: return `${L}=(${L}-${s})|0;${z}`;
    case AluOp.mul: return `${L}=Math.imul(${L},${s});${z}`;
    case AluOp.div:
      if (i.off === 1) return `t=${s};${L}=t===0?0:(${L}/t)|0;${z}`;
      return `t=${s}>>>0;${L}=t===0?0:((${L}>>>0)/t)|0;${z}`;
    case AluOp.mod:
      if (i.off === 1) return `t=${s};if(t!==0)${L}=(${L}%t)|0;${z}`;
      return `t=${s}>>>0;if(t!==0)${L}=((${L}>>>0)%t)|0;${z}`;
    case AluOp.or: return `${L}|=${s};${z}`;
    case AluOp.and: return `${L}&=${s};${z}`;
    case AluOp.xor: return `${L}^=${s};${z}`;
    case AluOp.lsh: return `${L}=${L}<<(${x ? `${s}&31` : i.imm & 31});${z}`;
    case AluOp.rsh: return `${L}=(${L}>>>(${x ? `${s}&31` : i.imm & 31}))|0;${z}`;
    case AluOp.arsh: return `${L}=${L}>>(${x ? `${s}&31` : i.imm & 31});${z}`;
    case AluOp.neg: return `${L}=(-${L})|0;${z}`;
    case AluOp.mov:
      if (x && i.off === 8) return `${L}=(${s}<<24)>>24;${z}`;
      if (x && i.off === 16) return `${L}=(${s}<<16)>>16;${z}`;
      return `${L}=${s};${z}`;
    case AluOp.end:
      if (x) return swap(i.imm, L, H); // to big endian: a swap on this little-endian VM
      // to little endian: a no-op that truncates
      return i.imm === 16 ? `${L}&=0xffff;${z}` : i.imm === 32 ? z : '';
  }
  throw new VmError(`unknown ALU operation 0x${code.toString(16)}`, { index: k, source: i.source });
}

function cond(i: Instruction, is32: boolean): string {
  const d = i.dst, code = opCode(i.op), [bl, bh] = srcOf(i);
  const al = `l${d}`, ah = `h${d}`;
  const ua = `(${al}>>>0)`, ub = `(${bl}>>>0)`;
  if (is32) {
    switch (code) {
      case JmpOp.jeq: return `${al}===${bl}`;
      case JmpOp.jne: return `${al}!==${bl}`;
      case JmpOp.jgt: return `${ua}>${ub}`;
      case JmpOp.jge: return `${ua}>=${ub}`;
      case JmpOp.jlt: return `${ua}<${ub}`;
      case JmpOp.jle: return `${ua}<=${ub}`;
      case JmpOp.jsgt: return `${al}>${bl}`;
      case JmpOp.jsge: return `${al}>=${bl}`;
      case JmpOp.jslt: return `${al}<${bl}`;
      case JmpOp.jsle: return `${al}<=${bl}`;
      case JmpOp.jset: return `(${al}&${bl})!==0`;
    }
  } else {
    const uha = `(${ah}>>>0)`, uhb = `(${bh}>>>0)`, eqh = `${ah}===${bh}`;
    switch (code) {
      case JmpOp.jeq: return `${al}===${bl}&&${eqh}`;
      case JmpOp.jne: return `${al}!==${bl}||${ah}!==${bh}`;
      case JmpOp.jgt: return `${uha}>${uhb}||(${eqh}&&${ua}>${ub})`;
      case JmpOp.jge: return `${uha}>${uhb}||(${eqh}&&${ua}>=${ub})`;
      case JmpOp.jlt: return `${uha}<${uhb}||(${eqh}&&${ua}<${ub})`;
      case JmpOp.jle: return `${uha}<${uhb}||(${eqh}&&${ua}<=${ub})`;
      case JmpOp.jsgt: return `${ah}>${bh}||(${eqh}&&${ua}>${ub})`;
      case JmpOp.jsge: return `${ah}>${bh}||(${eqh}&&${ua}>=${ub})`;
      case JmpOp.jslt: return `${ah}<${bh}||(${eqh}&&${ua}<${ub})`;
      case JmpOp.jsle: return `${ah}<${bh}||(${eqh}&&${ua}<=${ub})`;
      case JmpOp.jset: return `((${al}&${bl})|(${ah}&${bh}))!==0`;
    }
  }
  throw new VmError(`unknown jump operation 0x${code.toString(16)}`);
}

const SYNC = Array.from({ length: 11 }, (_, r) => `R[${2 * r}]=l${r};R[${2 * r + 1}]=h${r};`).join('');
const ARGS_OUT = [1, 2, 3, 4, 5].map((r) => `R[${2 * r}]=l${r};R[${2 * r + 1}]=h${r};`).join('');

/** Where each instruction's jump, call or fall-through goes, as instruction indexes. */
function targets(insns: readonly Instruction[]): { slotOf: number[]; indexOfSlot: Map<number, number> } {
  const slotOf = slotIndex(insns);
  const indexOfSlot = new Map<number, number>();
  for (let k = 0; k < insns.length; k++) indexOfSlot.set(slotOf[k]!, k);
  return { slotOf, indexOfSlot };
}

/**
 * Generate the program's JS source. The function it defines takes (R, M, A, H, S, F, T) and
 * returns `run(entry)`: 0 when the program exited (r0 in R[0..1]), 1 after a tail call.
 */
export function generate(insns: readonly Instruction[], env: CompileEnv, opts: { trace?: boolean } = {}): string {
  const trace = opts.trace ?? false;
  const { slotOf, indexOfSlot } = targets(insns);
  const dest = (k: number, rel: number): number => {
    const slot = slotOf[k]! + 1 + rel;
    const j = indexOfSlot.get(slot);
    if (j === undefined) {
      const i = insns[k]!;
      throw new VmError(`jump offset ${rel} lands on slot ${slot}, ${slot < 0 || slot >= slotOf[insns.length]! ? 'outside the program' : 'inside an LD_IMM64'}`, { index: k, source: i.source });
    }
    return j;
  };
  // leaders: where a block starts and the instruction count is charged
  const leader = new Uint8Array(insns.length + 1);
  leader[0] = 1;
  insns.forEach((i, k) => {
    const cls = opClass(i.op);
    if (cls !== Class.JMP && cls !== Class.JMP32) return;
    const code = opCode(i.op);
    leader[k + 1] = 1;
    if (code === JmpOp.exit) return;
    if (code === JmpOp.call) {
      if (i.src === CallKind.local && opSource(i.op) === Source.K) leader[dest(k, i.imm)] = 1;
      return;
    }
    leader[dest(k, code === JmpOp.ja && cls === Class.JMP32 ? i.imm : i.off)] = 1;
  });
  if (trace) leader.fill(1);

  const out: string[] = [];
  const vars = Array.from({ length: 11 }, (_, r) => `l${r}=R[${2 * r}],h${r}=R[${2 * r + 1}]`).join(',');
  out.push(`return function run(entry){let ${vars},t=0,n=0,pc=entry;const fs=[],LIM=S.lim-S.n;for(;;){switch(pc){`);
  const exitAll = `${SYNC}S.n+=n;return 0;`;
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k]!;
    if (leader[k]) {
      let len = 1;
      while (k + len < insns.length && !leader[k + len]) len++;
      out.push(`case ${k}:if((n+=${len})>LIM)F.limit(${k},n);`);
      if (trace) out.push(`${SYNC}T(${k});`);
    }
    out.push(body(i, k));
  }
  out.push(`F.falloff(${insns.length - 1});default:F.badpc(pc);}}}`);
  return out.join('\n');

  function body(i: Instruction, k: number): string {
    const cls = opClass(i.op), d = i.dst, s = i.src;
    if (d === 10 && (cls === Class.ALU || cls === Class.ALU64 || cls === Class.LDX || i.op === LD_IMM64)) {
      throw new VmError('writes r10: the frame pointer is read-only', { index: k, source: i.source });
    }
    switch (cls) {
      case Class.ALU64: return alu64(i, k);
      case Class.ALU: return alu32(i, k);
      case Class.LDX: {
        const size = opSize(i.op), sx = opMode(i.op) === Mode.MEMSX;
        const a = `l${s},h${s},${i.off},${k}`;
        if (size === Size.u8) return sx ? `l${d}=(M.r1(${a})<<24)>>24;h${d}=l${d}>>31;` : `l${d}=M.r1(${a});h${d}=0;`;
        if (size === Size.u16) return sx ? `l${d}=(M.r2(${a})<<16)>>16;h${d}=l${d}>>31;` : `l${d}=M.r2(${a});h${d}=0;`;
        if (size === Size.u32) return sx ? `l${d}=M.r4(${a});h${d}=l${d}>>31;` : `l${d}=M.r4(${a});h${d}=0;`;
        return `l${d}=M.r8(${a});h${d}=M.hi;`;
      }
      case Class.ST:
      case Class.STX: {
        const size = opSize(i.op);
        if (cls === Class.STX && opMode(i.op) === Mode.ATOMIC) {
          const n = size === Size.u64 ? 8 : 4, op = i.imm;
          const call = (cl: string, ch: string) => `M_atomic(M,${op},${n},l${d},h${d},${i.off},l${s},h${s},${cl},${ch},${k})`;
          if (op === 0xf1) return `l0=${call('l0', 'h0')};h0=${n === 8 ? 'M.hi' : '0'};`; // cmpxchg: r0 = old
          if (op & 0x01) return `l${s}=${call('0', '0')};h${s}=${n === 8 ? 'M.hi' : '0'};`; // fetch, xchg: src = old
          return `${call('0', '0')};`;
        }
        const [vl, vh] = cls === Class.STX ? [`l${s}`, `h${s}`] : [lit(i.imm), lit(hiOf(i.imm))];
        const a = `l${d},h${d},${i.off}`;
        if (size === Size.u8) return `M.w1(${a},${vl},${k});`;
        if (size === Size.u16) return `M.w2(${a},${vl},${k});`;
        if (size === Size.u32) return `M.w4(${a},${vl},${k});`;
        return `M.w8(${a},${vl},${vh},${k});`;
      }
      case Class.LD: {
        if (i.op === LD_IMM64) {
          const v = i.src === Pseudo.imm ? (BigInt(i.imm2 ?? 0) << 32n) | BigInt(i.imm >>> 0) : env.ldImm64(i, k);
          const u = BigInt.asUintN(64, v);
          return `l${d}=${lit(Number(BigInt.asIntN(32, u & 0xffffffffn)))};h${d}=${lit(Number(BigInt.asIntN(32, u >> 32n)))};`;
        }
        // legacy LD_ABS / LD_IND: r0 = ntoh(packet[imm (+ src)]); out of bounds ends the program with r0 = 0
        const size = opSize(i.op) === Size.u8 ? 1 : opSize(i.op) === Size.u16 ? 2 : 4;
        const off = opMode(i.op) === Mode.IND ? `(l${s}+${lit(i.imm)})|0` : lit(i.imm);
        return `t=S.ldpkt(${off},${size},${k});if(S.oob){l0=0;h0=0;${exitAll}}l0=t;h0=0;`;
      }
      case Class.JMP:
      case Class.JMP32: {
        const code = opCode(i.op), is32 = cls === Class.JMP32;
        if (code === JmpOp.ja) return `pc=${dest(k, is32 ? i.imm : i.off)};continue;`;
        if (code === JmpOp.exit) {
          return `if(fs.length===0){${exitAll}}t=fs.length-9;pc=fs[t];l6=fs[t+1];h6=fs[t+2];l7=fs[t+3];h7=fs[t+4];l8=fs[t+5];h8=fs[t+6];l9=fs[t+7];h9=fs[t+8];fs.length=t;l10=S.fp[t/9];h10=0;continue;`;
        }
        if (code === JmpOp.call) {
          if (opSource(i.op) === Source.X) {
            // callx (bpf_conformance): the helper id is in dst
            return `${ARGS_OUT}H.callx(l${d},${k});l0=R[0];h0=R[1];if(S.tail){S.n+=n;return 1;}`;
          }
          if (i.src === CallKind.local) {
            const j = dest(k, i.imm);
            return `if(fs.length>=${9 * 7})F.depth(${k});fs.push(${k + 1},l6,h6,l7,h7,l8,h8,l9,h9);t=fs.length/9;M.clearStack(t);l10=S.fp[t];h10=0;pc=${j};continue;`;
          }
          if (i.src === CallKind.kfunc) return `F.kfunc(${i.imm},${k});`;
          if (!env.hasHelper(i.imm)) return `F.nohelper(${i.imm},${k});`;
          const tail = i.imm === env.tailCallId ? 'if(S.tail){S.n+=n;return 1;}' : '';
          return `${ARGS_OUT}H[${i.imm}](${k});l0=R[0];h0=R[1];${tail}`;
        }
        return `if(${cond(i, is32)}){pc=${dest(k, i.off)};continue;}`;
      }
    }
    throw new VmError(`invalid instruction class ${cls}`, { index: k, source: i.source });
  }
}
