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
import { CFG, CTL, PAIR, PCPU, SEEN, SEEN_SLOTS, ctlCpus, type V2Maps } from './layout-v2.ts';
import type { Match } from './match.ts';

/** Where the IPv4 header and the L4 header start (a 20-byte IPv4 header, checked). */
export const IP = ETH_HLEN;
export const L4 = ETH_HLEN + IPV4_HLEN;
/** The most L4 header + payload bytes a mode reads: `seq`'s 4 UDP payload bytes after the 8-byte header. */
export const L4_BYTES = 12;
/**
 * Bytes from the L4 header on that each --match mode reads, so the only ones a frame must have:
 * `seq` needs 4 payload bytes (a UDP datagram with less is not counted); `headers` the UDP header
 * (ports, length, checksum; TCP ports and seq); `reply` the ports. Short veth frames are not padded,
 * so asking for more would skip a 1-byte `nc -u` datagram.
 */
export const L4_NEED: Readonly<Record<Match, number>> = { seq: 12, headers: 8, reply: 4 };

// The layout lives in layout-v2.ts (show reads it without loading the DSL); re-exported here so
// every existing import of it from probe-v2.ts keeps working.
export * from './layout-v2.ts';

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
 * L4_NEED[match] bytes in reach. Falls through with r1 = r9 = data; jumps to 'pass' otherwise. The port is
 * a bit test in a 64 Kib bitmap, so any number of ports costs the same.
 */
function checkFlow(b: Builder, maps: V2Maps, port: 'dest' | 'source', match: Match): void {
  b.ldx('u32', r2, r1, skb.data_end);
  b.ldx('u32', r1, r1, skb.data);
  b.mov(r3, r1);
  b.add(r3, L4 + L4_NEED[match]);
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
    checkFlow(b, maps, 'dest', match);
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
    checkFlow(b, maps, match === 'reply' ? 'source' : 'dest', match);
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
