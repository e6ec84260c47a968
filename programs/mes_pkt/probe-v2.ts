/**
 * mes_pkt v2: the tutorial's probe without its five flaws (docs/mes_pkt.md, "v2").
 *
 *   mes_start (ingress)  stamps the packet into the seen table, keyed by its identity: the
 *                        sequence number `send` writes into the first 4 payload bytes.
 *                        Distinct packets write distinct slots: nothing to race on.
 *   mes_end   (egress)   finds the start by identity, marks it matched, claims the next pair
 *                        slot of a ring with an atomic fetch-add, writes {start, end, id, seq}
 *                        there, and counts the latency into an in-kernel log2 histogram.
 *                        The ring never stops: a pair overwritten before anyone read it is
 *                        counted as lost, and an end without a start as unmatched; the
 *                        histogram counts every matched packet.
 *
 * Every map is a single-entry BPF_F_MMAPABLE array reached with a direct map-value load
 * (LD_IMM64 BPF_PSEUDO_MAP_VALUE): no map_lookup_elem call, no NULL check, no map_update_elem;
 * user space reads them by mmap.
 */
import { program, r0, r1, r2, r3, r4, r6, r7, r8, TC_ACT_OK, type Builder, type ProgramSpec } from '../../src/asm/index.ts';
import { checkPkt, PAYLOAD } from './check.ts';

const MMAPABLE = 1 << 10; // BPF_F_MMAPABLE

/** Payload bytes the probe reads: the sequence number `send` puts first. */
export const ID_BYTES = 4;

/** Seen table: starts by identity; 2^16 packets may be in flight between the hooks. */
export const SEEN_SLOTS = 1 << 16;
export const SEEN = { size: 16, ts: 0, id: 8, matched: 12 } as const;

/**
 * One pair record: start and end timestamps, the identity, and seq = (ring index + 1) mod 2^32,
 * which is 0 while the record is being written: a reader trusts a record only when seq is its
 * index + 1 before and after reading it.
 */
export const PAIR = { size: 32, shift: 5, start: 0, end: 8, id: 16, seq: 20 } as const;

/** The control block: the pair ring's head and tail, loss counters and the histogram. */
export const CTL = {
  head: 0, // pairs claimed by mes_end (atomic fetch-add): every matched end
  tail: 8, // pairs consumed by `watch` (written by user space)
  lost: 16, // pairs overwritten before anyone read them: the ring was full
  unmatchedEnd: 24, // ends whose start was not in the seen table
  hist: 32, // HIST_BUCKETS u64: bucket b counts latencies in [2^b, 2^(b+1)) ns; 31 is "2^31 ns and more"
  size: 32 + 32 * 8,
} as const;
export const HIST_BUCKETS = 32;

export const DEFAULT_CAPACITY = 1 << 20;

export interface V2Maps {
  readonly ctl: { name: 'mes2_ctl'; type: 'array'; keySize: 4; valueSize: number; maxEntries: 1; flags: number };
  readonly seen: { name: 'mes2_seen'; type: 'array'; keySize: 4; valueSize: number; maxEntries: 1; flags: number };
  readonly pairs: { name: 'mes2_pairs'; type: 'array'; keySize: 4; valueSize: number; maxEntries: 1; flags: number };
}

export function v2Maps(capacity = DEFAULT_CAPACITY): V2Maps {
  checkCapacity(capacity);
  return {
    ctl: { name: 'mes2_ctl', type: 'array', keySize: 4, valueSize: CTL.size, maxEntries: 1, flags: MMAPABLE },
    seen: { name: 'mes2_seen', type: 'array', keySize: 4, valueSize: SEEN_SLOTS * SEEN.size, maxEntries: 1, flags: MMAPABLE },
    pairs: { name: 'mes2_pairs', type: 'array', keySize: 4, valueSize: capacity * PAIR.size, maxEntries: 1, flags: MMAPABLE },
  };
}

export function checkCapacity(capacity: number): void {
  // a power of two, so a slot is head & (capacity - 1); the value must stay below the
  // verifier's 2^29 limit on variable offsets
  if (!Number.isInteger(capacity) || capacity < 16 || capacity > 1 << 23 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`capacity ${capacity} must be a power of two from 16 to ${1 << 23}`);
  }
}

/** The packet check, then the packet's identity in r6 and the time in r0. */
function checkAndStamp(b: Builder): void {
  checkPkt(b, ID_BYTES);
  b.ldx('u32', r6, r1, PAYLOAD).comment('id: the first 4 payload bytes');
  b.be(r6, 32).comment('network to host order: consecutive ids take consecutive slots');
  b.call('ktime_get_ns').comment('r0 = now');
}

export function mesStartV2(maps: V2Maps): ProgramSpec {
  return program({ name: 'mes_start', type: 'sched_cls', license: 'GPL' }, (b) => {
    checkAndStamp(b);
    b.mov(r1, r6);
    b.and(r1, SEEN_SLOTS - 1);
    b.lsh(r1, 4).comment('seen slot of this id');
    b.ldMapValue(r2, maps.seen, 0);
    b.add(r2, r1);
    b.stx('u32', r2, SEEN.id, r6);
    b.st('u32', r2, SEEN.matched, 0);
    b.stx('u64', r2, SEEN.ts, r0).comment('written last: a non-zero ts marks the entry complete');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export function mesEndV2(maps: V2Maps): ProgramSpec {
  const capacity = maps.pairs.valueSize / PAIR.size;
  return program({ name: 'mes_end', type: 'sched_cls', license: 'GPL' }, (b) => {
    checkAndStamp(b);
    b.mov(r1, r6);
    b.and(r1, SEEN_SLOTS - 1);
    b.lsh(r1, 4);
    b.ldMapValue(r7, maps.seen, 0);
    b.add(r7, r1).comment('the seen slot of this id');
    b.ldx('u32', r2, r7, SEEN.id);
    b.jne(r2, r6, 'unmatched').comment('another packet (or none) holds the slot');
    b.ldx('u64', r8, r7, SEEN.ts).comment('r8 = start');
    b.jeq(r8, 0, 'unmatched');
    b.st('u32', r7, SEEN.matched, 1);
    b.ldMapValue(r1, maps.ctl, 0);
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
    b.stx('u32', r3, PAIR.seq, r4).comment('published');
    // bucket = min(floor(log2(end - start)), 31), by binary search over the bit length
    b.sub(r0, r8);
    b.mov(r2, 0);
    for (const bits of [16, 8, 4, 2]) {
      b.jlt(r0, 1 << bits, `lt${bits}`);
      b.rsh(r0, bits);
      b.add(r2, bits);
      b.label(`lt${bits}`);
    }
    b.jlt(r0, 2, 'bucket');
    b.add(r2, 1);
    b.label('bucket');
    b.lsh(r2, 3);
    b.add(r1, r2);
    b.mov(r2, 1);
    b.atomic('add', 'u64', r1, CTL.hist, r2).comment('hist[bucket] += 1');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
    b.label('unmatched');
    b.ldMapValue(r1, maps.ctl, 0);
    b.mov(r2, 1);
    b.atomic('add', 'u64', r1, CTL.unmatchedEnd, r2);
    b.ja('pass');
  });
}
