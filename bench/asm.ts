/**
 * Throughput of the pure half: encode (instructions -> bytes), decode (bytes -> instructions,
 * with every validity check) and disassemble (-> listing text), on ~1 M instructions.
 *
 *   npx tsx bench/asm.ts [instructions=1000000] [runs=5]
 *
 * The mix is a packet probe like the tutorial's mes_start (loads, ALU, compares, helper calls,
 * two map loads), plus 64-bit constants, atomics and a bpf-to-bpf call, repeated: about 6% of
 * the instructions are LD_IMM64 (two slots). Prints min and median time and instructions per
 * second over several runs; no asserts. Targets on the 2-core dev machine: encode >= 5 M/s,
 * disassemble >= 1 M/s.
 */
import { performance } from 'node:perf_hooks';
import {
  Builder, decode, encode, r0, r1, r2, r3, r4, r6, r7, r10, skb, eth, ipv4, udp, htons,
  ETH_HLEN, IPV4_HLEN, UDP_HLEN, ETH_P_IP, IPPROTO_UDP, countSlots, type Instruction, type MapRef,
} from '../src/asm/index.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 5);

/** One block of the mix; it ends in exit, so blocks can be repeated as they are. */
function block(): Instruction[] {
  const cnt: MapRef = { name: 'cnt' }, start: MapRef = { name: 'start' };
  const b = new Builder({ trackSource: false });
  b.ldx('u32', r2, r1, skb.data_end);
  b.ldx('u32', r1, r1, skb.data);
  b.mov(r3, r1);
  b.add(r3, ETH_HLEN + IPV4_HLEN + UDP_HLEN);
  b.jgt(r3, r2, 'pass');
  b.ldField(r2, r1, eth.h_proto);
  b.jne(r2, htons(ETH_P_IP), 'pass');
  b.ldField(r2, r1, ipv4.protocol, ETH_HLEN);
  b.jne(r2, IPPROTO_UDP, 'pass');
  b.ldField(r1, r1, udp.dest, ETH_HLEN + IPV4_HLEN);
  b.jne(r1, htons(5001), 'pass').comment('port');
  b.mov(r1, 0);
  b.stx('u32', r10, -4, r1);
  b.mov(r2, r10);
  b.add(r2, -4);
  b.ldMap(r1, cnt);
  b.call('map_lookup_elem');
  b.mov(r6, r0);
  b.jeq(r6, 0, 'pass');
  b.ldx('u32', r1, r6, 0);
  b.jgt32(r1, 511, 'pass');
  b.call('ktime_get_ns');
  b.stx('u64', r10, -16, r0);
  b.ld64(r7, 0x123456789abcdefn);
  b.xor(r0, r7);
  b.rsh(r0, 3);
  b.and32(r0, 0xffff);
  b.be(r0, 16);
  b.atomic('fetch_add', 'u64', r10, -16, r0);
  b.ldx('u32', r1, r6, 0);
  b.stx('u32', r10, -4, r1);
  b.mov(r2, r10);
  b.add(r2, -4);
  b.mov(r3, r10);
  b.add(r3, -16);
  b.ldMap(r1, start);
  b.mov(r4, 0);
  b.call('map_update_elem');
  b.callLocal('sub');
  b.atomic('add', 'u32', r6, 0, r1);
  b.label('pass');
  b.mov(r0, 0);
  b.exit();
  b.label('sub');
  b.mov(r0, r1);
  b.exit();
  return b.link();
}

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

function report(name: string, n: number, fn: () => unknown): void {
  fn(); // warm-up: let the JIT see the code before we time it
  const t = Array.from({ length: RUNS }, () => time(fn)).sort((a, b) => a - b);
  const min = t[0]!, med = t[Math.floor(t.length / 2)]!;
  const rate = (s: number): string => `${(n / s / 1e6).toFixed(2)} M/s`;
  console.log(
    `${name.padEnd(26)} min ${(min * 1000).toFixed(1).padStart(7)} ms (${rate(min).padStart(10)})` +
    `   median ${(med * 1000).toFixed(1).padStart(7)} ms (${rate(med).padStart(10)})`,
  );
}

const one = block();
const insns: Instruction[] = [];
while (insns.length < N) insns.push(...one);
insns.length = N - (N % one.length) || N; // whole blocks, so every jump lands inside
const bytes = encode(insns);
const ldImm64 = insns.filter((i) => i.op === 0x18).length;

console.log(`node ${process.version}, ${insns.length} instructions (${countSlots(insns)} slots, ${ldImm64} LD_IMM64, ${bytes.length} bytes), ${RUNS} runs each`);
report('encode', insns.length, () => encode(insns));
report('decode', insns.length, () => decode(bytes));

type Disasm = (code: Uint8Array | readonly Instruction[], opts?: object) => string;
let disassemble: Disasm | undefined;
try {
  ({ disassemble } = (await import('../src/asm/disasm.ts')) as { disassemble?: Disasm });
} catch (e) {
  disassemble = undefined;
  if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
}
if (typeof disassemble !== 'function') {
  console.log('disasm: not available');
} else {
  const dis = disassemble;
  report('disassemble(insns)', insns.length, () => dis(insns));
  report('disassemble(bytes)', insns.length, () => dis(bytes));
}
