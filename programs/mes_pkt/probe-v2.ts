/**
 * mes_pkt v2: the tutorial's probe without its five flaws (docs/mes_pkt.md, "v2").
 *
 *   mes_start (ingress)  stamps the packet into the seen table, keyed by its identity (the
 *                        --match mode, match.ts). Distinct packets write distinct slots:
 *                        nothing to race on. Overwriting a start that no end matched yet is
 *                        counted (and, for the same identity, counted again as a duplicate).
 *   mes_end   (egress)   finds the start by identity, marks it matched, claims the next pair
 *                        slot of a ring with an atomic fetch-add, writes {start, end, id, seq,
 *                        addresses, ports} there, and adds the latency to an in-kernel log2
 *                        histogram and sum. The ring never stops: a pair overwritten before
 *                        anyone read it is counted as lost, an end without a start as
 *                        unmatched, an end stamped before its start apart.
 *
 * Which packets count (protocol, ports) is read from the config map at run time, so changing
 * them needs no new program. Every map is a single-entry BPF_F_MMAPABLE array reached with a
 * direct map-value load (LD_IMM64 BPF_PSEUDO_MAP_VALUE): no map_lookup_elem call, no NULL
 * check, no map_update_elem; user space reads and writes them by mmap.
 */
import {
  program, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, TC_ACT_OK, skb, ETH_HLEN, IPV4_HLEN, ETH_P_IP, htons,
  type Builder, type ProgramSpec,
} from '../../src/asm/index.ts';
import { possibleCpus } from '../../src/syscall/cpus.ts';
import { MATCH_CODE, PROTO_NUMBER, type Match, type Proto } from './match.ts';

const MMAPABLE = 1 << 10; // BPF_F_MMAPABLE

/** Where the IPv4 header and the L4 header start (a 20-byte IPv4 header, checked). */
export const IP = ETH_HLEN;
export const L4 = ETH_HLEN + IPV4_HLEN;
/** Bytes of L4 header + payload the probe reads: ports, then 8 more (UDP len/csum + 4 payload bytes, TCP seq + ack). */
export const L4_BYTES = 12;

/** Seen table: starts by identity; 2^16 packets may be in flight between the hooks. */
export const SEEN_SLOTS = 1 << 16;
export const SEEN = { size: 16, ts: 0, id: 8, matched: 12 } as const;

/**
 * One pair record: start and end timestamps, the identity, seq = (ring index + 1) mod 2^32
 * (0 while the record is being written: a reader trusts a record only when seq is its
 * index + 1 before and after reading it), and the end packet's IPv4 addresses and ports as
 * they are on the wire (reply mode: the reply's, so the request's flow reversed).
 */
export const PAIR = { size: 64, shift: 6, start: 0, end: 8, id: 16, seq: 20, addrs: 24, ports: 32 } as const;

/**
 * The control block: the pair ring's head and tail and the rare-path counters (atomic), then
 * one block per possible CPU with the histogram and its sum. Those two are written on every
 * pair, so each CPU writes its own with plain stores: a tc program runs with bottom halves off,
 * so nothing else on that CPU runs it meanwhile, and no lock prefix is paid. Readers add the
 * blocks up.
 */
export const CTL = {
  head: 0, // pairs claimed by mes_end (atomic fetch-add): every matched end
  tail: 8, // pairs consumed by `watch` (written by user space)
  lost: 16, // pairs overwritten before anyone read them: the ring was full
  unmatchedEnd: 24, // ends whose start was not in the seen table (or was matched already)
  overwritten: 32, // starts overwritten in the seen table before any end matched them
  dupStart: 40, // of those, the ones overwritten by the same identity: seen twice before its end
  endBeforeStart: 48, // ends stamped before the start they matched (an identity reused concurrently)
  percpu: 64, // PCPU.size bytes per possible CPU
} as const;
export const PCPU = {
  sum: 0, // sum of this CPU's histogram latencies, ns
  hist: 8, // HIST_BUCKETS u64: bucket b counts latencies in (2^b, 2^(b+1)] ns; 31 is "over 2^31 ns"
  size: 320, // 8 + 32 * 8, rounded up to whole cache lines
} as const;
export const HIST_BUCKETS = 32;
/** The control block's size for a number of CPUs, and the number of CPUs a size holds. */
export const ctlSize = (cpus: number): number => CTL.percpu + cpus * PCPU.size;
export const ctlCpus = (size: number): number => (size - CTL.percpu) / PCPU.size;

/** The config block, written by attach (and `config`) and read by both programs on every packet. */
export const CFG = {
  proto: 0, // u8 IP protocol number (17 UDP, 6 TCP)
  match: 1, // u8 MATCH_CODE, for readers
  ports: 64, // 65536-bit bitmap indexed by the port as a little-endian u16 load of it reads (network order)
  size: 64 + 65536 / 8,
} as const;

export const DEFAULT_CAPACITY = 1 << 19;

type OneEntry<N extends string> = { name: N; type: 'array'; keySize: 4; valueSize: number; maxEntries: 1; flags: number };
export interface V2Maps {
  readonly ctl: OneEntry<'mes2_ctl'>;
  readonly seen: OneEntry<'mes2_seen'>;
  readonly pairs: OneEntry<'mes2_pairs'>;
  readonly cfg: OneEntry<'mes2_cfg'>;
}

export function v2Maps(capacity = DEFAULT_CAPACITY, cpus = possibleCpus()): V2Maps {
  checkCapacity(capacity);
  return {
    ctl: { name: 'mes2_ctl', type: 'array', keySize: 4, valueSize: ctlSize(cpus), maxEntries: 1, flags: MMAPABLE },
    seen: { name: 'mes2_seen', type: 'array', keySize: 4, valueSize: SEEN_SLOTS * SEEN.size, maxEntries: 1, flags: MMAPABLE },
    pairs: { name: 'mes2_pairs', type: 'array', keySize: 4, valueSize: capacity * PAIR.size, maxEntries: 1, flags: MMAPABLE },
    cfg: { name: 'mes2_cfg', type: 'array', keySize: 4, valueSize: CFG.size, maxEntries: 1, flags: MMAPABLE },
  };
}

export function checkCapacity(capacity: number): void {
  // a power of two, so a slot is head & (capacity - 1); the value must stay below the
  // verifier's 2^29 limit on variable offsets
  if (!Number.isInteger(capacity) || capacity < 16 || capacity > 1 << 22 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`capacity ${capacity} must be a power of two from 16 to ${1 << 22}`);
  }
}

/** The config block's bytes for a protocol, ports and match mode. */
export function configBytes(c: { proto: Proto; ports: readonly number[]; match: Match }): Uint8Array {
  const b = new Uint8Array(CFG.size);
  b[CFG.proto] = PROTO_NUMBER[c.proto];
  b[CFG.match] = MATCH_CODE[c.match];
  for (const p of c.ports) {
    const k = htons(p); // the value a little-endian u16 load of the port's bytes gives
    b[CFG.ports + (k >> 3)]! |= 1 << (k & 7);
  }
  return b;
}

/** The protocol, ports and match mode a config block holds. */
export function readConfig(b: Uint8Array): { proto: Proto | null; ports: number[]; match: Match | null } {
  const proto = b[CFG.proto] === 17 ? 'udp' : b[CFG.proto] === 6 ? 'tcp' : null;
  const match = (Object.entries(MATCH_CODE).find(([, v]) => v === b[CFG.match])?.[0] ?? null) as Match | null;
  const ports: number[] = [];
  for (let k = 0; k < 65536; k++) if (b[CFG.ports + (k >> 3)]! & (1 << (k & 7))) ports.push(htons(k));
  return { proto, match, ports: ports.sort((x, y) => x - y) };
}

/**
 * How much of an entry to build. Every program is whole at 'all'; the benchmark builds the
 * shorter ones to price each part: 'check' (the packet test), 'clock' (+ ktime_get_ns),
 * 'identity' (+ the --match identity), 'seen' (+ the seen-table write or match), 'ring' (end:
 * + the pair record), 'all' (end: + histogram and sum).
 */
export const PARTS = ['check', 'clock', 'identity', 'seen', 'ring', 'all'] as const;
export type Part = (typeof PARTS)[number];
export interface BuildOptions {
  readonly match?: Match;
  readonly upTo?: Part;
  /**
   * Benchmark and concurrency test only: each entry leaves the seen slot as its own next run
   * expects (mes_end stores matched 0 where it stores 1, mes_start 1 where it stores 0), so
   * BPF_PROG_TEST_RUN's repeat of one frame takes the common recording path on every run.
   * Same instructions, same cost.
   */
  readonly loop?: boolean;
}
const has = (o: BuildOptions, p: Part) => PARTS.indexOf(o.upTo ?? 'all') >= PARTS.indexOf(p);

const HASH_K = 0x9e3779b1 | 0; // golden-ratio multiplier, sign-extended to 64 bits: still odd

/**
 * The packet test, from the config block: IPv4, the configured protocol, a configured port (the
 * destination, or for `reply`'s end the source), a 20-byte header, not a later fragment, and
 * L4_BYTES in reach. Falls through with r1 = r9 = data; jumps to 'pass' otherwise. The port is
 * a bit test in a 64 Kib bitmap, so any number of ports costs the same.
 */
function checkFlow(b: Builder, maps: V2Maps, port: 'dest' | 'source'): void {
  b.ldx('u32', r2, r1, skb.data_end);
  b.ldx('u32', r1, r1, skb.data);
  b.mov(r3, r1);
  b.add(r3, L4 + L4_BYTES);
  b.jgt(r3, r2, 'pass').comment('too short');
  b.ldx('u16', r2, r1, 12);
  b.jne(r2, htons(ETH_P_IP), 'pass').comment('not IPv4');
  b.ldMapValue(r5, maps.cfg, 0);
  b.ldx('u8', r2, r1, IP + 9);
  b.ldx('u8', r3, r5, CFG.proto);
  b.jne(r2, r3, 'pass').comment('not the configured protocol');
  b.ldx('u16', r2, r1, L4 + (port === 'dest' ? 2 : 0)).comment(`${port} port, network order`);
  b.mov(r3, r2);
  b.rsh(r3, 3);
  b.add(r3, r5);
  b.ldx('u8', r3, r3, CFG.ports).comment('ports[port / 8]');
  b.and(r2, 7);
  b.rsh(r3, r2);
  b.jset(r3, 1, 'port').comment('bit port % 8 set: a configured port');
  b.ja('pass');
  b.label('port');
  b.ldx('u8', r2, r1, IP);
  b.jne(r2, 0x45, 'pass').comment('IPv4 options: the offsets above would be wrong');
  b.ldx('u16', r2, r1, IP + 6);
  b.jset(r2, htons(0x1fff), 'pass').comment('a later fragment has no L4 header');
  b.mov(r9, r1).comment('r9 = data, kept across the helper call');
}

/** mix r6 with the 64-bit word in reg: r6 = (r6 ^ reg) * K */
function mix(b: Builder, reg: typeof r2): void {
  b.xor(r6, reg);
  b.mul(r6, HASH_K);
}
/** fold the hash's high half into its low half; r6 = a u32 */
function fold(b: Builder): void {
  b.mov(r2, r6);
  b.rsh(r2, 32);
  b.xor(r6, r2);
  b.alu('mov', 32, r6, r6).comment('zero-extend: ids are u32');
}

/**
 * The packet's identity into r6 (a u32), from the packet at r9. `reversed` reads the flow as
 * the reply carries it (addresses and ports swapped), so a reply hashes like its request.
 */
function identity(b: Builder, match: Match, reversed: boolean): void {
  if (match === 'seq') {
    b.ldx('u8', r2, r9, IP + 9);
    b.ldx('u32', r6, r9, L4 + 8).comment('UDP: the first 4 payload bytes');
    b.jne(r2, 6, 'id');
    b.ldx('u32', r6, r9, L4 + 4).comment('TCP: the sequence number');
    b.label('id');
    b.be(r6, 32).comment('network to host order: consecutive ids take consecutive slots');
    return;
  }
  if (match === 'headers') {
    b.ldx('u32', r6, r9, IP + 4).comment('IP id, flags, fragment offset');
    b.ldx('u64', r2, r9, IP + 12).comment('saddr, daddr');
    mix(b, r2);
    b.ldx('u64', r2, r9, L4).comment('ports, UDP length + checksum (TCP seq)');
    mix(b, r2);
    b.ldx('u32', r2, r9, L4 + 8).comment('UDP: 4 payload bytes (TCP ack)');
    mix(b, r2);
    fold(b);
    return;
  }
  // reply: the flow only, as the request carries it
  b.ldx('u64', r6, r9, IP + 12).comment(reversed ? 'saddr, daddr of the reply' : 'saddr, daddr');
  if (reversed) {
    b.mov(r2, r6);
    b.lsh(r2, 32);
    b.rsh(r6, 32);
    b.or(r6, r2).comment('swapped: the request\'s saddr, daddr');
  }
  b.mul(r6, HASH_K);
  b.ldx('u32', r2, r9, L4).comment(reversed ? 'sport, dport of the reply' : 'sport, dport');
  if (reversed) {
    b.mov(r3, r2);
    b.alu('lsh', 32, r3, 16);
    b.alu('rsh', 32, r2, 16);
    b.alu('or', 32, r2, r3).comment('swapped: the request\'s ports');
  }
  mix(b, r2);
  fold(b);
}

/** r7 = the seen slot of identity r6 */
function seenSlot(b: Builder, maps: V2Maps): void {
  b.mov(r1, r6);
  b.and(r1, SEEN_SLOTS - 1);
  b.lsh(r1, 4);
  b.ldMapValue(r7, maps.seen, 0);
  b.add(r7, r1).comment('the seen slot of this id');
}

function pass(b: Builder): void {
  b.label('pass');
  b.mov(r0, TC_ACT_OK);
  b.exit();
}

export function mesStartV2(maps: V2Maps, o: BuildOptions = {}): ProgramSpec {
  const match = o.match ?? 'seq';
  return program({ name: 'mes_start', type: 'sched_cls', license: 'GPL' }, (b) => {
    checkFlow(b, maps, 'dest');
    if (has(o, 'identity')) identity(b, match, false);
    if (has(o, 'clock')) b.call('ktime_get_ns').comment('r0 = now');
    if (has(o, 'seen')) {
      seenSlot(b, maps);
      b.ldx('u64', r2, r7, SEEN.ts);
      b.jeq(r2, 0, 'write').comment('an empty slot');
      b.ldx('u32', r2, r7, SEEN.matched);
      b.jne(r2, 0, 'write').comment('its start was matched: free');
      b.ldMapValue(r1, maps.ctl, 0);
      b.mov(r3, 1);
      b.atomic('add', 'u64', r1, CTL.overwritten, r3).comment('overwriting a start no end matched');
      b.ldx('u32', r2, r7, SEEN.id);
      b.jne(r2, r6, 'write');
      b.atomic('add', 'u64', r1, CTL.dupStart, r3).comment('the same identity again before its end');
      b.label('write');
      b.stx('u32', r7, SEEN.id, r6);
      b.st('u32', r7, SEEN.matched, o.loop ? 1 : 0);
      b.stx('u64', r7, SEEN.ts, r0).comment('written last: a non-zero ts marks the entry complete');
    }
    pass(b);
  });
}

export function mesEndV2(maps: V2Maps, o: BuildOptions = {}): ProgramSpec {
  const match = o.match ?? 'seq';
  const capacity = maps.pairs.valueSize / PAIR.size;
  return program({ name: 'mes_end', type: 'sched_cls', license: 'GPL' }, (b) => {
    checkFlow(b, maps, match === 'reply' ? 'source' : 'dest');
    if (has(o, 'identity')) identity(b, match, match === 'reply');
    if (has(o, 'clock')) b.call('ktime_get_ns').comment('r0 = now');
    if (has(o, 'seen')) {
      seenSlot(b, maps);
      b.ldx('u32', r2, r7, SEEN.id);
      b.jne(r2, r6, 'unmatched').comment('another packet (or none) holds the slot');
      b.ldx('u64', r8, r7, SEEN.ts).comment('r8 = start');
      b.jeq(r8, 0, 'unmatched');
      b.ldx('u32', r2, r7, SEEN.matched);
      b.jne(r2, 0, 'unmatched').comment('its start is matched already');
      b.st('u32', r7, SEEN.matched, o.loop ? 0 : 1);
      b.ldMapValue(r1, maps.ctl, 0);
      b.jlt(r0, r8, 'early').comment('end before start: the identity was reused meanwhile');
    }
    if (has(o, 'ring')) {
      b.mov(r2, 1);
      b.atomic('fetch_add', 'u64', r1, CTL.head, r2).comment('claim a pair slot: r2 = ring index');
      b.ldx('u64', r3, r1, CTL.tail);
      b.add(r3, capacity);
      b.jlt(r2, r3, 'write').comment('index < tail + capacity: the slot was read already');
      b.mov(r3, 1);
      b.atomic('add', 'u64', r1, CTL.lost, r3).comment('overwriting a pair nobody read: count it');
      b.label('write');
      b.mov(r4, r2);
      b.add(r4, 1).comment('seq = index + 1');
      b.and(r2, capacity - 1);
      b.lsh(r2, PAIR.shift);
      b.ldMapValue(r3, maps.pairs, 0);
      b.add(r3, r2);
      b.st('u32', r3, PAIR.seq, 0).comment('seq 0: being written');
      b.stx('u64', r3, PAIR.start, r8);
      b.stx('u64', r3, PAIR.end, r0);
      b.stx('u32', r3, PAIR.id, r6);
      b.ldx('u64', r2, r9, IP + 12);
      b.stx('u64', r3, PAIR.addrs, r2).comment('saddr, daddr');
      b.ldx('u32', r2, r9, L4);
      b.stx('u32', r3, PAIR.ports, r2).comment('sport, dport');
      b.stx('u32', r3, PAIR.seq, r4).comment('published');
    }
    if (has(o, 'all')) {
      const cpus = ctlCpus(maps.ctl.valueSize);
      b.sub(r0, r8);
      b.mov(r8, r0).comment('r8 = latency');
      b.call('get_smp_processor_id').comment('inlined by the verifier: a per-CPU load');
      b.jge(r0, cpus, 'pass').comment('never: a bound for the verifier');
      b.mul(r0, PCPU.size);
      b.ldMapValue(r1, maps.ctl, CTL.percpu);
      b.add(r1, r0).comment("this CPU's block");
      b.ldx('u64', r2, r1, PCPU.sum);
      b.add(r2, r8);
      b.stx('u64', r1, PCPU.sum, r2).comment('sum += latency');
      // bucket = min(floor(log2(latency - 1)), 31): bucket b holds (2^b, 2^(b+1)], so a
      // Prometheus `le` of 2^(b+1) ns is exact
      b.mov(r0, r8);
      b.sub(r0, 1);
      b.mov(r2, 0);
      for (const bits of [16, 8, 4, 2]) {
        b.jlt(r0, 1 << bits, `lt${bits}`);
        b.rsh(r0, bits);
        b.add(r2, bits);
        b.label(`lt${bits}`);
      }
      b.jlt(r0, 2, 'bucket');
      b.add(r2, 1);
      b.label('bucket'); // the search saturates at 31: over 2^31 ns is the last bucket
      b.lsh(r2, 3);
      b.add(r1, r2);
      b.ldx('u64', r2, r1, PCPU.hist);
      b.add(r2, 1);
      b.stx('u64', r1, PCPU.hist, r2).comment('hist[bucket] += 1');
    }
    pass(b);
    if (has(o, 'seen')) {
      b.label('unmatched');
      b.ldMapValue(r1, maps.ctl, 0);
      b.mov(r2, 1);
      b.atomic('add', 'u64', r1, CTL.unmatchedEnd, r2);
      b.ja('pass');
      b.label('early');
      b.mov(r2, 1);
      b.atomic('add', 'u64', r1, CTL.endBeforeStart, r2);
      b.ja('pass');
    }
  });
}
