/**
 * mes_pkt v2's map layout: the byte offsets of the seen table, the pair ring, the control block
 * and the config block, and the map specs that hold them. Shared by the programs (probe-v2.ts),
 * the readers (reader-v2.ts) and show, which needs the layout but none of the DSL, so this
 * module imports no builder.
 */
import { htons } from '../../src/asm/headers.ts';
import { possibleCpus } from '../../src/syscall/cpus.ts';
import { MATCH_CODE, PROTO_NUMBER, type Match, type Proto } from './match.ts';

const MMAPABLE = 1 << 10; // BPF_F_MMAPABLE

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
