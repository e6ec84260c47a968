/**
 * What the kernel says about a loaded program or map (BPF_OBJ_GET_INFO_BY_FD), and the walk over
 * every loaded object's id (BPF_*_GET_NEXT_ID). Program info takes two calls: the first learns
 * the lengths, the second passes buffers of those lengths for the instructions and map ids.
 */
import { readFileSync } from 'node:fs';
import { MAP_INFO, PROG_INFO, alloc, dv, readHex, readName, readU32, readU64, write } from './attr.ts';
import { Cmd, mapTypeName, progTypeName } from './constants.ts';
import { getFdById, getNextId, objGetInfoByFd } from './bpf.ts';
import { defaultSys, type Sys } from './sys.ts';

export interface ProgInfo {
  readonly id: number;
  readonly type: string;
  readonly typeId: number;
  readonly name: string;
  /** 8-byte hash of the program before rewriting, as hex (bpftool's "tag"). */
  readonly tag: string;
  readonly xlatedLen: number;
  readonly jitedLen: number;
  /** ns since boot */
  readonly loadTime: bigint;
  readonly createdByUid: number;
  readonly mapIds: readonly number[];
  readonly gplCompatible: boolean;
  readonly btfId: number;
  /** Cumulative; non-zero only while stats are enabled (BPF_ENABLE_STATS or kernel.bpf_stats_enabled). */
  readonly runTimeNs: bigint;
  readonly runCnt: bigint;
  readonly recursionMisses: bigint;
  readonly verifiedInsns: number;
  /** Present when asked for. */
  readonly xlated?: Uint8Array;
  readonly jited?: Uint8Array;
}

export interface MapInfo {
  readonly id: number;
  readonly type: string;
  readonly typeId: number;
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly btfId: number;
  readonly mapExtra: bigint;
}

/** Program info; `xlated` / `jited` also fetch the instructions the kernel runs. */
export function progInfo(fd: number, opts: { xlated?: boolean; jited?: boolean; sys?: Sys } = {}): ProgInfo {
  const sys = opts.sys ?? defaultSys;
  let buf = alloc(PROG_INFO);
  objGetInfoByFd(sys, fd, buf);
  const nrMaps = readU32(PROG_INFO, buf, 'nr_map_ids');
  const xlatedLen = readU32(PROG_INFO, buf, 'xlated_prog_len');
  const jitedLen = readU32(PROG_INFO, buf, 'jited_prog_len');
  const xlated = opts.xlated && xlatedLen ? new Uint8Array(new ArrayBuffer(xlatedLen)) : null;
  const jited = opts.jited && jitedLen ? new Uint8Array(new ArrayBuffer(jitedLen)) : null;
  const ids = nrMaps ? new Uint8Array(new ArrayBuffer(nrMaps * 4)) : null;
  if (xlated || jited || ids) {
    // The kernel fills only the arrays whose lengths and pointers are set; the rest must be zero.
    const req = alloc(PROG_INFO);
    write(PROG_INFO, req, {
      xlated_prog_len: xlated?.length ?? 0, xlated_prog_insns: xlated ? sys.addressOf(xlated) : 0n,
      jited_prog_len: jited?.length ?? 0, jited_prog_insns: jited ? sys.addressOf(jited) : 0n,
      nr_map_ids: nrMaps, map_ids: ids ? sys.addressOf(ids) : 0n,
    });
    objGetInfoByFd(sys, fd, req);
    buf = req;
  }
  const mapIds: number[] = [];
  if (ids) for (let i = 0; i < nrMaps; i++) mapIds.push(dv(ids).getUint32(i * 4, true));
  const typeId = readU32(PROG_INFO, buf, 'type');
  return {
    id: readU32(PROG_INFO, buf, 'id'), type: progTypeName(typeId), typeId,
    name: readName(PROG_INFO, buf, 'name'), tag: readHex(PROG_INFO, buf, 'tag'),
    xlatedLen, jitedLen, loadTime: readU64(PROG_INFO, buf, 'load_time'),
    createdByUid: readU32(PROG_INFO, buf, 'created_by_uid'), mapIds,
    gplCompatible: (readU32(PROG_INFO, buf, 'gpl_compatible') & 1) === 1,
    btfId: readU32(PROG_INFO, buf, 'btf_id'),
    runTimeNs: readU64(PROG_INFO, buf, 'run_time_ns'), runCnt: readU64(PROG_INFO, buf, 'run_cnt'),
    recursionMisses: readU64(PROG_INFO, buf, 'recursion_misses'),
    verifiedInsns: readU32(PROG_INFO, buf, 'verified_insns'),
    ...(xlated ? { xlated } : {}), ...(jited ? { jited } : {}),
  };
}

export function mapInfo(fd: number, sys: Sys = defaultSys): MapInfo {
  const buf = alloc(MAP_INFO);
  objGetInfoByFd(sys, fd, buf);
  const typeId = readU32(MAP_INFO, buf, 'type');
  return {
    id: readU32(MAP_INFO, buf, 'id'), type: mapTypeName(typeId), typeId,
    name: readName(MAP_INFO, buf, 'name'), keySize: readU32(MAP_INFO, buf, 'key_size'),
    valueSize: readU32(MAP_INFO, buf, 'value_size'), maxEntries: readU32(MAP_INFO, buf, 'max_entries'),
    flags: readU32(MAP_INFO, buf, 'map_flags'), btfId: readU32(MAP_INFO, buf, 'btf_id'),
    mapExtra: readU64(MAP_INFO, buf, 'map_extra'),
  };
}

function* ids(cmd: number, sys: Sys): Generator<number> {
  let id = 0;
  for (;;) {
    const next = getNextId(sys, cmd, id);
    if (next === null) return;
    yield (id = next);
  }
}

/** Ids of every loaded program, ascending. */
export const progIds = (sys: Sys = defaultSys): number[] => [...ids(Cmd.PROG_GET_NEXT_ID, sys)];
/** Ids of every map, ascending. */
export const mapIds = (sys: Sys = defaultSys): number[] => [...ids(Cmd.MAP_GET_NEXT_ID, sys)];

/** A new fd for the program with this id. */
export const progFdById = (id: number, sys: Sys = defaultSys): number => getFdById(sys, Cmd.PROG_GET_FD_BY_ID, id);
/** A new fd for the map with this id; openFlags BPF_F_RDONLY / BPF_F_WRONLY. */
export const mapFdById = (id: number, openFlags = 0, sys: Sys = defaultSys): number => getFdById(sys, Cmd.MAP_GET_FD_BY_ID, id, openFlags);

/** Info for every loaded program; ones unloaded during the walk are skipped. */
export function listPrograms(sys: Sys = defaultSys): ProgInfo[] {
  return each(progIds(sys), (id) => progFdById(id, sys), (fd) => progInfo(fd, { sys }), sys);
}

/** Info for every map; ones freed during the walk are skipped. */
export function listMaps(sys: Sys = defaultSys): MapInfo[] {
  return each(mapIds(sys), (id) => mapFdById(id, 0, sys), (fd) => mapInfo(fd, sys), sys);
}

function each<T>(idList: number[], open: (id: number) => number, info: (fd: number) => T, sys: Sys): T[] {
  const out: T[] = [];
  for (const id of idList) {
    let fd: number;
    try { fd = open(id); } catch (e) { if ((e as { code?: string }).code === 'ENOENT') continue; throw e; }
    try { out.push(info(fd)); } finally { sys.close(fd); }
  }
  return out;
}

/** The kernel's text about an fd (/proc/self/fdinfo): memlock, frozen, map/prog type… as strings. */
export function fdInfo(fd: number): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  let text = '';
  try { text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'); } catch { return out; }
  for (const line of text.split('\n')) {
    const m = /^([\w-]+):\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Wall-clock seconds for a load_time (ns since boot), the way bpftool prints loaded_at:
 * realtime now - boottime now + load_time. /proc/uptime is CLOCK_BOOTTIME.
 */
export function loadedAt(loadTimeNs: bigint): number {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Math.floor(Date.now() / 1000 - uptime + Number(loadTimeNs) / 1e9);
}
