/**
 * The VM's speed: `npx tsx bench/vm.ts` (root for the kernel column). Prints figures, asserts
 * nothing; minima over rounds (the machine is noisy). Three programs, each beside the kernel's
 * JIT running the same program through BPF_PROG_TEST_RUN (the physical limit here) and a
 * plain JS loop doing the same arithmetic:
 *   1. a tight ALU64 loop (add, mul, shift, xor, sub, jne): 32768 iterations, 6 insns each
 *   2. the conformance `prime` program (trial division of 67, as bpf_conformance's prime.data)
 *   3. mes_pkt's mes_start on a matching frame (34 instructions, two map helpers, ktime)
 * Goals (issue 15): >= 50 M insn/s on the ALU loop, within 10x of plain JS.
 * Then the representation study of docs/vm.md: BigInt vs int32-pair interpreters vs generated JS.
 */
import { program, type ProgramSpec } from '../src/asm/program.ts';
import { r0, r1, r2, r3, r4 } from '../src/asm/register.ts';
import { Vm } from '../src/vm/index.ts';
import { udpFrame } from '../src/frame/index.ts';
import { mesStart, maps } from '../programs/mes_pkt/probe.ts';
import { bestOf, timeNs as ns } from './support/timing.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const LOOP = 32768;
const GOLDEN = 0x9e3779b97f4a7c15n;

const best = (measure: () => number): number => bestOf(ROUNDS, measure);

// 1. the ALU loop: r0 = mix of the counter, 64-bit all the way
const aluLoop: ProgramSpec = program({ name: 'alu_loop', type: 'xdp' }, (b) => {
  b.mov(r0, 0);
  b.mov(r1, LOOP);
  b.ld64(r2, GOLDEN);
  b.label('loop');
  b.add(r0, r1);
  b.mul(r0, r2);
  b.mov(r3, r0);
  b.rsh(r3, 29);
  b.xor(r0, r3);
  b.sub(r1, 1);
  b.jne(r1, 0, 'loop');
  b.exit();
});
function aluBigInt(): bigint {
  let x = 0n;
  for (let i = BigInt(LOOP); i !== 0n; i--) {
    x = BigInt.asUintN(64, (x + i) * GOLDEN);
    x ^= x >> 29n;
  }
  return x;
}
/** The same loop hand-written on int32 pairs: the fastest plain JS this arithmetic gets. */
function aluPairs(): bigint {
  let lo = 0, hi = 0;
  const gl = Number(GOLDEN & 0xffffffffn) | 0, gh = Number(GOLDEN >> 32n) | 0;
  for (let i = LOOP; i !== 0; i--) {
    const t = (lo + i) | 0;
    hi = (hi + ((t >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
    lo = t;
    // 64x64 low product
    const a0 = lo & 0xffff, a1 = lo >>> 16, b0 = gl & 0xffff, b1 = gl >>> 16;
    const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
    const mh = (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
    const nh = (mh + Math.imul(lo, gh) + Math.imul(hi, gl)) | 0;
    lo = Math.imul(lo, gl);
    hi = nh;
    const sl = (lo >>> 29) | (hi << 3), sh = hi >>> 29;
    lo ^= sl; hi ^= sh;
  }
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

// 2. prime: trial division, as the conformance vector's C (`for (i = 2; i < arg; i++) if (arg % i == 0) return 0; return 1`)
const PRIME_ARG = 67;
const prime: ProgramSpec = program({ name: 'prime', type: 'xdp' }, (b) => {
  b.mov(r1, PRIME_ARG);
  b.mov(r0, 1);
  b.mov(r2, 2);
  b.jgt(r1, 2, 'test');
  b.ja('out');
  b.label('next');
  b.add(r2, 1);
  b.mov(r0, 1);
  b.jge(r2, r1, 'out');
  b.label('test');
  b.mov(r3, r1);
  b.div(r3, r2);
  b.mul(r3, r2);
  b.mov(r4, r1);
  b.sub(r4, r3);
  b.mov(r0, 0);
  b.jne(r4, 0, 'next');
  b.label('out');
  b.exit();
});
function primeJs(arg: number): number {
  for (let i = 2; i < arg; i++) if (arg % i === 0) return 0;
  return 1;
}

// 3. mes_start on a matching frame
/** pkt_match.bin of the reference build, rebuilt: UDP/IPv4 to port 5001, 64 bytes. */
const frame = udpFrame({ dport: 5001, payload: new Uint8Array(22) });
/** What mes_start does, in plain JS over arrays: check the frame, bump the counter, stamp. */
function mesStartJs(f: Uint8Array, cnt: Uint32Array, start: BigUint64Array, now: bigint): number {
  if (f.length < 42) return 0;
  if (f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 17 || ((f[36]! << 8) | f[37]!) !== 5001) return 0;
  const c = cnt[0]!;
  if (c > 511) return 0;
  start[c] = now;
  cnt[0] = c + 1;
  return 0;
}

interface Row { program: string; engine: string; insnsPerRun: number; nsPerRun: number }
const rows: Row[] = [];
const add = (program: string, engine: string, insnsPerRun: number, nsPerRun: number) => rows.push({ program, engine, insnsPerRun, nsPerRun });

// --- the VM --------------------------------------------------------------------------------
{
  const vm = new Vm();
  const p = vm.load(aluLoop, { type: 'raw' });
  const r = p.run();
  if (r.r0 !== aluBigInt() || r.r0 !== aluPairs()) throw new Error(`ALU loop: VM ${r.r0} != JS ${aluBigInt()}`);
  for (let i = 0; i < 20; i++) p.run();
  add('alu loop', 'tsbpf VM (compiled JS)', r.insns, best(() => ns(() => p.run())));
  add('alu loop', 'plain JS, BigInt', r.insns, best(() => ns(() => aluBigInt())));
  add('alu loop', 'plain JS, int32 pairs', r.insns, best(() => ns(() => aluPairs())));
  const pt = vm.load(aluLoop, { type: 'raw' });
  const few = 3;
  add('alu loop', 'tsbpf VM --trace', r.insns, best(() => ns(() => { for (let i = 0; i < few; i++) pt.run({ trace: true }); })) / few);
}
{
  const vm = new Vm();
  const p = vm.load(prime, { type: 'raw' });
  const r = p.run();
  if (r.r0 !== 1n) throw new Error('prime(67) should be 1');
  const N = 20_000;
  for (let i = 0; i < 2000; i++) p.run();
  add('prime(67)', 'tsbpf VM (compiled JS)', r.insns, best(() => ns(() => { for (let i = 0; i < N; i++) p.run(); })) / N);
  let sink = 0;
  add('prime(67)', 'plain JS', r.insns, best(() => ns(() => { for (let i = 0; i < N; i++) sink += primeJs(PRIME_ARG + (i & 0)); })) / N);
  if (sink < 0) console.log(sink);
}
{
  const vm = new Vm();
  const p = vm.load(mesStart);
  const cnt = vm.map(maps.cnt);
  const r = p.run({ data: frame });
  const N = 20_000;
  add('mes_start', 'tsbpf VM (compiled JS)', r.insns, best(() => ns(() => { for (let i = 0; i < N; i++) { cnt.set(0, 0); p.run({ data: frame }); } })) / N);
  const c = new Uint32Array(2), s = new BigUint64Array(512);
  add('mes_start', 'plain JS', r.insns, best(() => ns(() => { for (let i = 0; i < N; i++) { c[0] = 0; mesStartJs(frame, c, s, process.hrtime.bigint()); } })) / N);
}

// --- the kernel (root) ------------------------------------------------------------------------
async function kernel(): Promise<void> {
  if (process.getuid?.() !== 0) { console.log('kernel column: needs root (skipped)'); return; }
  const { loadProgram } = await import('../src/syscall/program.ts');
  const { createMap } = await import('../src/syscall/map.ts');
  const pkt = new Uint8Array(64);
  {
    using prog = loadProgram(aluLoop);
    add('alu loop', 'kernel JIT (BPF_PROG_TEST_RUN)', rows[0]!.insnsPerRun, best(() => prog.testRun({ data: pkt, repeat: 200 }).duration));
  }
  {
    using prog = loadProgram(prime);
    const n = rows.find((r) => r.program === 'prime(67)')!.insnsPerRun;
    add('prime(67)', 'kernel JIT (BPF_PROG_TEST_RUN)', n, best(() => prog.testRun({ data: pkt, repeat: 100_000 }).duration));
  }
  {
    using cnt = createMap<number, number>(maps.cnt);
    using start = createMap<number, bigint>(maps.start);
    using prog = loadProgram(mesStart, { maps: [cnt, start] });
    const n = rows.find((r) => r.program === 'mes_start')!.insnsPerRun;
    // the recording path, 512 runs per measurement (the counter is reset before each batch)
    add('mes_start', 'kernel JIT (BPF_PROG_TEST_RUN)', n, best(() => { cnt.set(0, 0); return prog.testRun({ data: frame, repeat: 512 }).duration; }));
  }
}
await kernel();

// --- representation study (docs/vm.md): three minimal engines for one loop ----------------------
// r0 = 0; r1 = N; loop: r0 += r1; r0 *= 3; r0 ^= r1; r1 -= 1; if r1 != 0 goto loop; exit
namespace Study {
  type I = { op: number; dst: number; src: number; off: number; imm: number };
  const ADDX = 0x0f, MULK = 0x27, XORX = 0xaf, SUBK = 0x17, JNEK = 0x55, EXIT = 0x95, MOVK = 0xb7;
  const N = 2_000_000;
  const prog: I[] = [
    { op: MOVK, dst: 0, src: 0, off: 0, imm: 0 }, { op: MOVK, dst: 1, src: 0, off: 0, imm: N },
    { op: ADDX, dst: 0, src: 1, off: 0, imm: 0 }, { op: MULK, dst: 0, src: 0, off: 0, imm: 3 },
    { op: XORX, dst: 0, src: 1, off: 0, imm: 0 }, { op: SUBK, dst: 1, src: 0, off: 0, imm: 1 },
    { op: JNEK, dst: 1, src: 0, off: -5, imm: 0 }, { op: EXIT, dst: 0, src: 0, off: 0, imm: 0 },
  ];
  function bigint(p: I[]): [bigint, number] {
    const R = new Array<bigint>(11).fill(0n); let pc = 0, n = 0; const M = (1n << 64n) - 1n;
    for (;;) { const i = p[pc++]!; n++;
      switch (i.op) {
        case MOVK: R[i.dst] = BigInt.asUintN(64, BigInt(i.imm)); break;
        case ADDX: R[i.dst] = (R[i.dst]! + R[i.src]!) & M; break;
        case MULK: R[i.dst] = (R[i.dst]! * BigInt.asUintN(64, BigInt(i.imm))) & M; break;
        case XORX: R[i.dst] = R[i.dst]! ^ R[i.src]!; break;
        case SUBK: R[i.dst] = (R[i.dst]! - BigInt(i.imm)) & M; break;
        case JNEK: if (R[i.dst] !== BigInt.asUintN(64, BigInt(i.imm))) pc += i.off; break;
        case EXIT: return [R[0]!, n];
      } }
  }
  const X = new Int32Array(1);
  function mulhiu(a: number, b: number): number {
    const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
    const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
    return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
  }
  function mul64(al: number, ah: number, bl: number, bh: number): number {
    X[0] = (mulhiu(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0; return Math.imul(al, bl);
  }
  function pairs(p: I[]): [bigint, number] {
    const L = new Int32Array(11), H = new Int32Array(11); let pc = 0, n = 0;
    const ops = Int32Array.from(p, (i) => i.op), ds = Int32Array.from(p, (i) => i.dst), ss = Int32Array.from(p, (i) => i.src), offs = Int32Array.from(p, (i) => i.off), imms = Int32Array.from(p, (i) => i.imm);
    for (;;) { const op = ops[pc]!, d = ds[pc]!, s = ss[pc]!, imm = imms[pc]!, off = offs[pc]!; pc++; n++;
      switch (op) {
        case MOVK: L[d] = imm; H[d] = imm >> 31; break;
        case ADDX: { const a = L[d]!, t = (a + L[s]!) | 0; H[d] = (H[d]! + H[s]! + ((t >>> 0) < (a >>> 0) ? 1 : 0)) | 0; L[d] = t; break; }
        case MULK: { L[d] = mul64(L[d]!, H[d]!, imm, imm >> 31); H[d] = X[0]!; break; }
        case XORX: L[d] = L[d]! ^ L[s]!; H[d] = H[d]! ^ H[s]!; break;
        case SUBK: { const a = L[d]!; L[d] = (a - imm) | 0; H[d] = (H[d]! - (imm >> 31) - ((a >>> 0) < (imm >>> 0) ? 1 : 0)) | 0; break; }
        case JNEK: if (L[d] !== imm || H[d] !== imm >> 31) pc += off; break;
        case EXIT: return [(BigInt(H[0]! >>> 0) << 32n) | BigInt(L[0]! >>> 0), n];
      } }
  }
  function gen(p: I[]): () => [bigint, number] {
    let body = '';
    p.forEach((i, pc) => {
      body += `case ${pc}: n++;`;
      const d = i.dst, s = i.src, imm = i.imm, ih = imm >> 31;
      switch (i.op) {
        case MOVK: body += `l${d}=${imm};h${d}=${ih};`; break;
        case ADDX: body += `t=(l${d}+l${s})|0;h${d}=(h${d}+h${s}+((t>>>0)<(l${d}>>>0)?1:0))|0;l${d}=t;`; break;
        case MULK: body += `l${d}=mul64(l${d},h${d},${imm},${ih});h${d}=X[0];`; break;
        case XORX: body += `l${d}^=l${s};h${d}^=h${s};`; break;
        case SUBK: body += `t=(l${d}-(${imm}))|0;h${d}=(h${d}-(${ih})-((l${d}>>>0)<${imm >>> 0}?1:0))|0;l${d}=t;`; break;
        case JNEK: body += `if(l${d}!==${imm}||h${d}!==${ih}){pc=${pc + 1 + i.off};continue;}`; break;
        case EXIT: body += `return [(BigInt(h0>>>0)<<32n)|BigInt(l0>>>0),n];`; break;
      }
    });
    const vars = Array.from({ length: 11 }, (_, k) => `l${k}=0,h${k}=0`).join(',');
    return new Function('mul64', 'X', `return function(){let ${vars},t=0,pc=0,n=0;for(;;)switch(pc){${body}}}`)(mul64, X);
  }
  export function report(): void {
    const engines: [string, () => [bigint, number]][] = [
      ['BigInt registers, switch interpreter', () => bigint(prog)],
      ['int32 pairs, switch interpreter', () => pairs(prog)],
      ['int32 pairs, generated JS', gen(prog)],
    ];
    console.log('\nrepresentation study (the same 5-instruction loop, 2M iterations):');
    let ref: bigint | undefined;
    for (const [name, f] of engines) {
      f();
      let insns = 0, r0 = 0n;
      const t = best(() => ns(() => { [r0, insns] = f(); }));
      if (ref !== undefined && r0 !== ref) throw new Error(`${name}: r0 0x${r0.toString(16)} differs`);
      ref = r0;
      console.log(`  ${name.padEnd(38)} ${(insns / t * 1e3).toFixed(0).padStart(6)} M insn/s`);
    }
  }
}
Study.report();

console.log(`\n${'program'.padEnd(11)} ${'engine'.padEnd(32)} ${'insns/run'.padStart(10)} ${'ns/run'.padStart(12)} ${'M insn/s'.padStart(10)}`);
for (const r of rows) {
  console.log(`${r.program.padEnd(11)} ${r.engine.padEnd(32)} ${String(r.insnsPerRun).padStart(10)} ${r.nsPerRun.toFixed(0).padStart(12)} ${(r.insnsPerRun / r.nsPerRun * 1e3).toFixed(1).padStart(10)}`);
}
const vmAlu = rows.find((r) => r.program === 'alu loop' && r.engine.startsWith('tsbpf VM ('))!;
const big = rows.find((r) => r.engine === 'plain JS, BigInt')!, pairs = rows.find((r) => r.engine === 'plain JS, int32 pairs')!;
console.log(`\nALU loop: ${(vmAlu.insnsPerRun / vmAlu.nsPerRun * 1e3).toFixed(0)} M insn/s (goal >= 50); VM time / plain JS time: ${(vmAlu.nsPerRun / big.nsPerRun).toFixed(2)}x of BigInt JS, ${(vmAlu.nsPerRun / pairs.nsPerRun).toFixed(2)}x of int32-pair JS (goal <= 10x)`);
