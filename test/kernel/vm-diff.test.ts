/**
 * Differential testing: random programs the verifier accepts run in the kernel (BPF_PROG_TEST_RUN,
 * JIT) and in tsbpf's VM, and every register, the stack and the map they wrote must agree.
 *
 * Each case is a segment of straight-line "units": it loads r0..r9 and 64 bytes of stack from
 * an input map (unknown to the verifier, so the JIT computes rather than the verifier folding
 * constants), runs ALU/ALU64 ops, JMP/JMP32 forward branches, bounded loops, gotol, stack and
 * map-value loads/stores (sign-extending ones too), atomics, bpf-to-bpf calls and hash-map
 * helper calls (update with every flag, lookup, delete; the map is small so it fills), then stores
 * r0..r9 and its stack into a result map (full 64 bits: BPF_PROG_TEST_RUN's retval is a u32).
 * SEGMENTS cases share one program, so 2,000 cases are 80 loads.
 *
 *   TSBPF_VM_SEED=1234 node scripts/test.mjs kernel vm-diff      reproduce a run
 *   TSBPF_VM_CASES=20000 …                                       more cases
 */
import * as assert from 'uvu/assert';
import { program, type Builder, type ProgramSpec } from '../../src/asm/program.ts';
import { REGISTERS, r0, r9, r10, type Register } from '../../src/asm/register.ts';
import { disassemble } from '../../src/asm/disasm.ts';
import type { AtomicOpName, BinaryAluOp, CondJump, SizeName } from '../../src/asm/opcode.ts';
import { createMap, type BpfMap } from '../../src/syscall/map.ts';
import { loadProgram } from '../../src/syscall/program.ts';
import { Vm } from '../../src/vm/index.ts';
import { kernelSuite } from '../support/kernel.ts';

const SEED = Number(process.env.TSBPF_VM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CASES = Number(process.env.TSBPF_VM_CASES ?? 2000);
const SEGMENTS = 25;
const IN_SIZE = 144, OUT_SIZE = 144, SCRATCH = 64;

/** mulberry32: a seeded generator, so a seed reproduces a run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const IMMS = [0, 1, 2, 3, 7, 8, 31, 32, 63, 64, 255, 256, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, -1, -2, -8, -255];
const imm = (g: Rng): number => (g.next() < 0.6 ? g.pick(IMMS) : (g.int(2 ** 32) | 0));
const ALU_OPS: readonly BinaryAluOp[] = ['add', 'sub', 'mul', 'div', 'sdiv', 'mod', 'smod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh', 'mov'];
const CONDS: readonly CondJump[] = ['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jsgt', 'jsge', 'jslt', 'jsle', 'jset'];
const ATOMICS: readonly AtomicOpName[] = ['add', 'or', 'and', 'xor', 'fetch_add', 'fetch_or', 'fetch_and', 'fetch_xor', 'xchg', 'cmpxchg'];
const SIZES: readonly SizeName[] = ['u8', 'u16', 'u32', 'u64'];
const BYTES: Record<SizeName, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };

interface Maps { readonly input: { name: string }; readonly output: { name: string }; readonly scratch: { name: string }; readonly hash: { name: string } }

/** One unit: instructions a jump may skip as a whole (a pointer never outlives its unit). */
type Unit = (b: Builder) => void;

function aluUnit(g: Rng, regs: readonly Register[]): Unit {
  const d = g.pick(regs), w = g.next() < 0.5 ? 64 : 32;
  const r = g.next();
  if (r < 0.06) return (b) => (w === 64 ? b.neg(d) : b.neg32(d));
  if (r < 0.12) {
    const s = g.pick(regs);
    return w === 64 ? (b) => b.movsx(d, s, g.pick([8, 16, 32] as const)) : (b) => b.movsx32(d, s, g.pick([8, 16] as const));
  }
  if (r < 0.18) {
    const kind = g.pick(['le', 'be', 'bswap'] as const), bits = g.pick([16, 32, 64] as const);
    return (b) => b[kind](d, bits);
  }
  const op = g.pick(ALU_OPS);
  if (g.next() < 0.5) { const s = g.pick(regs); return (b) => b.alu(op, w, d, s); }
  let k = imm(g);
  if (op === 'lsh' || op === 'rsh' || op === 'arsh') k = g.int(w);
  if ((op === 'div' || op === 'sdiv' || op === 'mod' || op === 'smod') && k === 0) k = 3;
  return (b) => b.alu(op, w, d, k);
}

/** A stack or map-value load/store/atomic; `temp` holds the map pointer only inside the unit. */
function memUnit(g: Rng, regs: readonly Register[], seg: number, maps: Maps): Unit {
  const onStack = g.next() < 0.5;
  const temp = g.pick(regs.filter((r) => r !== r0));
  const others = regs.filter((r) => r !== temp);
  const base: Register = onStack ? r10 : temp;
  const at = (size: number): number => (onStack ? -SCRATCH : 0) + g.int(SCRATCH / size) * size;
  const pre = (b: Builder) => { if (!onStack) b.ldMapValue(temp, maps.scratch, seg * SCRATCH); };
  const post = (b: Builder) => { if (!onStack) b.mov(temp, imm(g)); };
  const r = g.next();
  if (r < 0.3) { // load (the loaded value replaces the pointer when dst is temp)
    const size = g.pick(SIZES), off = at(BYTES[size]), d = g.pick(regs), sx = size !== 'u64' && g.next() < 0.3;
    return (b) => { pre(b); if (sx) b.ldxsx(size, d, base, off); else b.ldx(size, d, base, off); if (d !== temp) post(b); };
  }
  if (r < 0.55) {
    const size = g.pick(SIZES), off = at(BYTES[size]), s = g.pick(others);
    return (b) => { pre(b); b.stx(size, base, off, s); post(b); };
  }
  if (r < 0.7) {
    const size = g.pick(SIZES), off = at(BYTES[size]), k = imm(g);
    return (b) => { pre(b); b.st(size, base, off, k); post(b); };
  }
  const op = g.pick(ATOMICS), size = g.pick(['u32', 'u64'] as const), off = at(BYTES[size]);
  const s = g.pick(others.filter((x) => op !== 'cmpxchg' || x !== r0));
  return (b) => { pre(b); b.atomic(op, size, base, off, s); post(b); };
}

/**
 * A helper call on the hash map, key = (a register & 7) at fp-8, value at fp-16: update (with a
 * random flag: BPF_ANY, NOEXIST, EXIST), lookup (then the value, or 0), or delete. r0 = the
 * result; r1..r5 are clobbered by the call and reloaded from r6..r9 and r0, as after a call.
 */
function hashUnit(g: Rng, regs: readonly Register[], maps: Maps): Unit {
  const k = g.pick(regs), kind = g.int(3), flags = g.int(3), done = fresh('h');
  return (b) => {
    b.mov('r2', k); b.and('r2', 7); b.stx('u64', r10, -8, 'r2');
    b.mov('r2', r10); b.add('r2', -8);
    b.ldMap('r1', maps.hash);
    if (kind === 0) { b.mov('r3', r10); b.add('r3', -16); b.mov('r4', flags); b.call('map_update_elem'); }
    else if (kind === 1) { b.call('map_lookup_elem'); b.jeq(r0, 0, done); b.ldx('u64', r0, r0, 0); b.label(done); }
    else b.call('map_delete_elem');
    b.mov('r1', 'r6'); b.mov('r2', 'r7'); b.mov('r3', 'r8'); b.mov('r4', r9); b.mov('r5', r0);
  };
}

let labelNo = 0;
const fresh = (p: string): string => `${p}${labelNo++}`;

/** Units for a body: ALU, memory, forward branches over later units, bounded loops, calls. */
function body(g: Rng, n: number, regs: readonly Register[], seg: number, maps: Maps, subs: ((b: Builder) => void)[], depth: number): Unit[] {
  const units: Unit[] = [];
  const pending: { at: number; label: string }[] = [];
  for (let i = 0; i < n; i++) {
    for (const p of pending.filter((q) => q.at === i)) units.push((b) => { b.label(p.label); });
    const r = g.next();
    if (r < 0.45) units.push(aluUnit(g, regs));
    else if (r < 0.7) units.push(memUnit(g, regs, seg, maps));
    else if (r < 0.75 && depth === 0) units.push(hashUnit(g, regs, maps));
    else if (r < 0.85 && i < n - 1) { // forward branch over 1..4 units
      const label = fresh('fw'), skip = 1 + g.int(Math.min(4, n - 1 - i));
      const op = g.pick(CONDS), w = g.next() < 0.5 ? 64 : 32, d = g.pick(regs);
      const s: Register | number = g.next() < 0.5 ? g.pick(regs) : imm(g);
      // one in ten: gotol over the units, reached when the condition fails (no dead code: the verifier refuses it)
      const viaGotol = g.next() < 0.1, near = fresh('near');
      units.push((b) => { if (viaGotol) { b.jump(op, w, d, s, near); b.gotol(label); b.label(near); } else b.jump(op, w, d, s, label); });
      pending.push({ at: i + 1 + skip, label });
    } else if (r < 0.93 && regs.length > 3) { // bounded loop: counter c, 1..4 iterations
      const c = g.pick(regs), inner = regs.filter((x) => x !== c), label = fresh('loop');
      const iters = 1 + g.int(4), parts = [aluUnit(g, inner), aluUnit(g, inner)];
      units.push((b) => { b.mov(c, iters); b.label(label); for (const u of parts) u(b); b.sub(c, 1); b.jne(c, 0, label); });
    } else if (depth === 0) { // bpf-to-bpf call: r1..r5 in, r0 out; the caller reloads r1..r5
      const fn = fresh('fn');
      const callee: readonly Register[] = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
      const inner = body(g, 4 + g.int(6), callee, seg, maps, subs, depth + 1).filter(Boolean);
      // the callee's frame starts uninitialised (root may read it: garbage); zero it first
      subs.push((b) => { b.label(fn); for (let k = 1; k <= SCRATCH / 8; k++) b.st('u64', r10, -8 * k, 0); b.mov(r0, 'r1'); for (const u of inner) u(b); b.exit(); });
      units.push((b) => { b.callLocal(fn); b.mov('r1', 'r6'); b.mov('r2', 'r7'); b.mov('r3', 'r8'); b.mov('r4', 'r9'); b.mov('r5', r0); });
    } else units.push(aluUnit(g, regs));
  }
  for (const p of pending.filter((q) => q.at >= n)) units.push((b) => { b.label(p.label); });
  return units;
}

const REGS = REGISTERS.slice(0, 10);

/** One program of SEGMENTS cases, each from its own seed. */
export function diffProgram(seeds: readonly number[], maps: Maps): ProgramSpec {
  return program({ name: 'vmdiff', type: 'xdp', license: 'GPL' }, (b) => {
    const subs: ((b: Builder) => void)[] = [];
    seeds.forEach((seed, seg) => {
      const g = prng(seed);
      // r0..r9 and the stack from the input map: values the verifier does not know
      b.ldMapValue(r9, maps.input, seg * IN_SIZE);
      for (let s = 0; s < SCRATCH / 8; s++) { b.ldx('u64', r0, r9, 80 + 8 * s); b.stx('u64', r10, -SCRATCH + 8 * s, r0); }
      for (let i = 0; i < 10; i++) b.ldx('u64', REGS[i]!, r9, 8 * i);
      for (const u of body(g, 12 + g.int(20), REGS, seg, maps, subs, 0)) u(b);
      for (let i = 0; i < 10; i++) b.stx('u64', r10, -SCRATCH - 8 - 8 * i, REGS[i]!);
      b.ldMapValue(r9, maps.output, seg * OUT_SIZE);
      for (let i = 0; i < 10; i++) { b.ldx('u64', r0, r10, -SCRATCH - 8 - 8 * i); b.stx('u64', r9, 8 * i, r0); }
      for (let s = 0; s < SCRATCH / 8; s++) { b.ldx('u64', r0, r10, -SCRATCH + 8 * s); b.stx('u64', r9, 80 + 8 * s, r0); }
    });
    b.mov(r0, 2); // XDP_PASS
    b.exit();
    for (const s of subs) s(b);
  });
}

const mapSpecs = {
  input: { name: 'vmdiff_in', type: 'array', keySize: 4, valueSize: IN_SIZE * SEGMENTS, maxEntries: 1 },
  output: { name: 'vmdiff_out', type: 'array', keySize: 4, valueSize: OUT_SIZE * SEGMENTS, maxEntries: 1 },
  scratch: { name: 'vmdiff_scr', type: 'array', keySize: 4, valueSize: SCRATCH * SEGMENTS, maxEntries: 1 },
  // small, so updates also meet a full map (E2BIG); plain hash: LRU eviction in Linux is approximate
  hash: { name: 'vmdiff_hash', type: 'hash', keySize: 8, valueSize: 8, maxEntries: 6 },
} as const;

const t = kernelSuite('vm-diff');

t(`${CASES} random programs agree in the kernel and the VM (seed ${SEED})`, () => {
  console.log(`vm-diff: seed ${SEED}, ${CASES} cases; reproduce: TSBPF_VM_SEED=${SEED} node scripts/test.mjs kernel vm-diff`);
  const g = prng(SEED);
  const kmaps: Record<string, BpfMap<number, Uint8Array>> = {};
  let khash: BpfMap<bigint, bigint> | undefined;
  let hashBatches = 0;
  try {
    for (const s of [mapSpecs.input, mapSpecs.output, mapSpecs.scratch]) kmaps[s.name] = createMap<number, Uint8Array>(s);
    khash = createMap<bigint, bigint>(mapSpecs.hash);
    const frame = new Uint8Array(64);
    let done = 0;
    while (done < CASES) {
      const seeds = Array.from({ length: Math.min(SEGMENTS, CASES - done) }, () => g.int(2 ** 31));
      const spec = diffProgram(seeds, mapSpecs);
      const input = new Uint8Array(IN_SIZE * SEGMENTS);
      const gi = prng(seeds[0]! ^ 0x5eed);
      for (let i = 0; i < input.length; i++) input[i] = gi.next() < 0.3 ? g.pick([0, 0xff, 0x80, 0x7f, 1]) : gi.int(256);
      const zero = (n: number) => new Uint8Array(n);
      // kernel
      kmaps[mapSpecs.input.name]!.set(0, input);
      kmaps[mapSpecs.output.name]!.set(0, zero(OUT_SIZE * SEGMENTS));
      kmaps[mapSpecs.scratch.name]!.set(0, zero(SCRATCH * SEGMENTS));
      for (const key of [...khash!.keys()]) khash!.delete(key);
      let kernelRet: number;
      {
        using prog = loadProgram(spec, { maps: { ...kmaps, [mapSpecs.hash.name]: khash! } });
        kernelRet = prog.testRun({ data: frame }).retval;
      }
      const kOut = kmaps[mapSpecs.output.name]!.get(0)!, kScr = kmaps[mapSpecs.scratch.name]!.get(0)!;
      // VM
      const vm = new Vm();
      vm.map<number, Uint8Array>(mapSpecs.input).set(0, input);
      const vr = vm.load(spec).run({ data: frame });
      const vOut = vm.map<number, Uint8Array>(mapSpecs.output).get(0)!, vScr = vm.map<number, Uint8Array>(mapSpecs.scratch).get(0)!;
      assert.is(vr.retval, kernelRet, 'retval');
      const sorted = (es: [bigint, bigint][]) => es.map(([k, v]) => `${k}=${v}`).sort().join(' ');
      const kh = sorted([...khash!.entries()]), vh = sorted([...vm.map<bigint, bigint>(mapSpecs.hash).entries()]);
      if (kh !== '') hashBatches++;
      if (kh !== vh) assert.unreachable(`hash map differs after cases ${done}..${done + seeds.length - 1}: kernel {${kh}}, vm {${vh}}\nreproduce: TSBPF_VM_SEED=${SEED} node scripts/test.mjs kernel vm-diff`);
      for (let seg = 0; seg < seeds.length; seg++) {
        const k = kOut.subarray(seg * OUT_SIZE, (seg + 1) * OUT_SIZE), v = vOut.subarray(seg * OUT_SIZE, (seg + 1) * OUT_SIZE);
        const ks = kScr.subarray(seg * SCRATCH, (seg + 1) * SCRATCH), vs = vScr.subarray(seg * SCRATCH, (seg + 1) * SCRATCH);
        const same = k.every((x, i) => x === v[i]) && ks.every((x, i) => x === vs[i]);
        if (!same) {
          const q = (b: Uint8Array, i: number) => `0x${new DataView(b.buffer, b.byteOffset).getBigUint64(i * 8, true).toString(16)}`;
          const diffs = Array.from({ length: 18 }, (_, i) => i).filter((i) => q(k, i) !== q(v, i))
            .map((i) => `${i < 10 ? `r${i}` : `stack[${-SCRATCH + 8 * (i - 10)}]`}: kernel ${q(k, i)}, vm ${q(v, i)}`);
          const sdiff = Array.from({ length: 8 }, (_, i) => i).filter((i) => q(ks, i) !== q(vs, i)).map((i) => `scratch[${8 * i}]: kernel ${q(ks, i)}, vm ${q(vs, i)}`);
          console.log(disassemble(diffProgram([seeds[seg]!], mapSpecs).insns, { labels: diffProgram([seeds[seg]!], mapSpecs).labels }));
          assert.unreachable(`case ${done + seg} (segment seed ${seeds[seg]}) differs:\n  ${[...diffs, ...sdiff].join('\n  ')}\nreproduce: TSBPF_VM_SEED=${SEED} node scripts/test.mjs kernel vm-diff`);
        }
      }
      done += seeds.length;
    }
    assert.ok(hashBatches > 0 || CASES < 100, 'the hash map was never written: the generator lost its helper calls');
    console.log(`vm-diff: ${CASES} cases agree; the hash map held entries after ${hashBatches} of ${Math.ceil(CASES / SEGMENTS)} programs`);
  } finally {
    for (const m of Object.values(kmaps)) m.close();
    khash?.close();
  }
});

t.run();
