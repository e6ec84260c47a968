/**
 * The bpf(2) commands, one function each: build the attr from its layout (attr.ts), make the
 * call through an injectable Sys, turn -errno into a BpfError. Buffers whose addresses go into
 * an attr are kept referenced by the local scope until the call returns.
 */
import {
  ENABLE_STATS, GET_ID, INFO, MAP_BATCH, MAP_CREATE, MAP_ELEM, OBJ, PROG_LOAD, TEST_RUN,
  alloc, attr, readU32, write,
} from './attr.ts';
import { Cmd } from './constants.ts';
import { BpfError, VerifierError, check, type BpfErrorContext } from './errors.ts';
import { LOG_INITIAL_SIZE, logText, nextLogSize, parseVerifierLog } from './log.ts';
import type { Sys } from './sys.ts';
import { Errno } from '../errno.ts';

const { ENOENT, EINVAL, EACCES, ENOSPC } = Errno;

/** A C string on its own ArrayBuffer. */
export function cstring(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  const out = new Uint8Array(new ArrayBuffer(enc.length + 1));
  out.set(enc);
  return out;
}

const addr = (sys: Sys, b: Uint8Array | null | undefined): bigint => (b && b.length ? sys.addressOf(b) : 0n);

export interface MapCreateParams {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  readonly name?: string;
  readonly innerMapFd?: number;
  readonly numaNode?: number;
  readonly ifindex?: number;
  readonly mapExtra?: bigint;
  /** BTF describing the key and value (src/btf/ctype.ts): the loaded BTF's fd and the two type ids. */
  readonly btfFd?: number;
  readonly btfKeyTypeId?: number;
  readonly btfValueTypeId?: number;
}

/** BPF_MAP_CREATE: a new map's fd. */
export function mapCreate(sys: Sys, p: MapCreateParams): number {
  const a = attr(MAP_CREATE, {
    map_type: p.type, key_size: p.keySize, value_size: p.valueSize, max_entries: p.maxEntries,
    map_flags: p.flags ?? 0, inner_map_fd: p.innerMapFd ?? 0, numa_node: p.numaNode ?? 0,
    map_name: p.name ?? '', map_ifindex: p.ifindex ?? 0, map_extra: p.mapExtra ?? 0n,
    btf_fd: p.btfFd ?? 0, btf_key_type_id: p.btfKeyTypeId ?? 0, btf_value_type_id: p.btfValueTypeId ?? 0,
  });
  return check(Cmd.MAP_CREATE, sys.bpf(Cmd.MAP_CREATE, a), { object: p.name ? `map '${p.name}'` : undefined });
}

/** The attr shared by the four element commands. */
function elemAttr(sys: Sys, fd: number, key: Uint8Array | null, value: Uint8Array | null, flags: number | bigint): Uint8Array {
  return attr(MAP_ELEM, { map_fd: fd, key: addr(sys, key), value: addr(sys, value), flags });
}

/** BPF_MAP_LOOKUP_ELEM into value; false when the key is absent. */
export function mapLookupElem(sys: Sys, fd: number, key: Uint8Array, value: Uint8Array, flags = 0): boolean {
  const r = sys.bpf(Cmd.MAP_LOOKUP_ELEM, elemAttr(sys, fd, key, value, flags));
  if (r === -ENOENT) return false;
  check(Cmd.MAP_LOOKUP_ELEM, r);
  return true;
}

/** BPF_MAP_UPDATE_ELEM with BPF_ANY / BPF_NOEXIST / BPF_EXIST (| BPF_F_LOCK). */
export function mapUpdateElem(sys: Sys, fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
  check(Cmd.MAP_UPDATE_ELEM, sys.bpf(Cmd.MAP_UPDATE_ELEM, elemAttr(sys, fd, key, value, flags)));
}

/** BPF_MAP_DELETE_ELEM; false when the key was absent. Arrays refuse with EINVAL: their entries always exist. */
export function mapDeleteElem(sys: Sys, fd: number, key: Uint8Array): boolean {
  const r = sys.bpf(Cmd.MAP_DELETE_ELEM, elemAttr(sys, fd, key, null, 0));
  if (r === -ENOENT) return false;
  check(Cmd.MAP_DELETE_ELEM, r, r === -EINVAL ? { hint: 'array maps cannot delete entries (they always exist): set the value to zero instead' } : {});
  return true;
}

/** BPF_MAP_GET_NEXT_KEY: key null (or absent from the map) gives the first key; false after the last. */
export function mapGetNextKey(sys: Sys, fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  const r = sys.bpf(Cmd.MAP_GET_NEXT_KEY, elemAttr(sys, fd, key, next, 0));
  if (r === -ENOENT) return false;
  check(Cmd.MAP_GET_NEXT_KEY, r);
  return true;
}

export interface BatchParams {
  /** The token from the previous call's outBatch; null for the first call. */
  readonly inBatch: Uint8Array | null;
  readonly outBatch: Uint8Array;
  readonly keys: Uint8Array;
  readonly values: Uint8Array;
  /** How many entries keys/values have room for. */
  readonly count: number;
  readonly elemFlags?: number;
}

/**
 * BPF_MAP_LOOKUP_BATCH. The kernel signals the end with ENOENT *and* may still have copied
 * entries in that same call (count says how many), so `done` and `count` are both returned.
 */
export function mapLookupBatch(sys: Sys, fd: number, p: BatchParams): { count: number; done: boolean } {
  const a = attr(MAP_BATCH, {
    in_batch: addr(sys, p.inBatch), out_batch: addr(sys, p.outBatch), keys: addr(sys, p.keys),
    values: addr(sys, p.values), count: p.count, map_fd: fd, elem_flags: p.elemFlags ?? 0,
  });
  const r = sys.bpf(Cmd.MAP_LOOKUP_BATCH, a);
  const count = readU32(MAP_BATCH, a, 'count');
  if (r === -ENOENT) return { count, done: true };
  check(Cmd.MAP_LOOKUP_BATCH, r, r === -ENOSPC ? { hint: 'one hash bucket holds more entries than the batch size: retry with a larger count' } : {});
  return { count, done: false };
}

/** BPF_OBJ_PIN: make the object outlive this process at a bpffs path. */
export function objPin(sys: Sys, fd: number, path: string): void {
  const p = cstring(path);
  check(Cmd.OBJ_PIN, sys.bpf(Cmd.OBJ_PIN, attr(OBJ, { pathname: sys.addressOf(p), bpf_fd: fd })), { path });
}

/** BPF_OBJ_GET: an fd for a pinned object; flags BPF_F_RDONLY / BPF_F_WRONLY limit what the fd may do. */
export function objGet(sys: Sys, path: string, flags = 0): number {
  const p = cstring(path);
  return check(Cmd.OBJ_GET, sys.bpf(Cmd.OBJ_GET, attr(OBJ, { pathname: sys.addressOf(p), file_flags: flags })), { path });
}

export interface TestRunParams {
  readonly data?: Uint8Array;
  /** Room for the packet after the run; the kernel fails with ENOSPC if it is smaller. */
  readonly dataOut?: Uint8Array;
  readonly ctx?: Uint8Array;
  readonly ctxOut?: Uint8Array;
  readonly repeat?: number;
  readonly flags?: number;
  readonly cpu?: number;
  readonly batchSize?: number;
}

export interface TestRunRaw {
  readonly retval: number;
  /** Mean ns per run, as the kernel measured it. */
  readonly duration: number;
  readonly dataSizeOut: number;
  readonly ctxSizeOut: number;
}

/** BPF_PROG_TEST_RUN. */
export function progTestRun(sys: Sys, fd: number, p: TestRunParams): TestRunRaw {
  const a = attr(TEST_RUN, {
    prog_fd: fd, data_size_in: p.data?.length ?? 0, data_size_out: p.dataOut?.length ?? 0,
    data_in: addr(sys, p.data), data_out: addr(sys, p.dataOut), repeat: p.repeat ?? 0,
    ctx_size_in: p.ctx?.length ?? 0, ctx_size_out: p.ctxOut?.length ?? 0, ctx_in: addr(sys, p.ctx),
    ctx_out: addr(sys, p.ctxOut), flags: p.flags ?? 0, cpu: p.cpu ?? 0, batch_size: p.batchSize ?? 0,
  });
  const r = sys.bpf(Cmd.PROG_TEST_RUN, a);
  if (r === -ENOSPC) {
    const need = readU32(TEST_RUN, a, 'data_size_out');
    throw new BpfError(Cmd.PROG_TEST_RUN, ENOSPC, {
      hint: `the program produced ${need} bytes of packet but data_out has room for ${p.dataOut?.length ?? 0}: pass dataOutSize >= ${need} (not retried: a second run would repeat its side effects)`,
    });
  }
  check(Cmd.PROG_TEST_RUN, r);
  return {
    retval: readU32(TEST_RUN, a, 'retval'), duration: readU32(TEST_RUN, a, 'duration'),
    dataSizeOut: readU32(TEST_RUN, a, 'data_size_out'), ctxSizeOut: readU32(TEST_RUN, a, 'ctx_size_out'),
  };
}

/** BPF_PROG_GET_NEXT_ID / BPF_MAP_GET_NEXT_ID: the next id after start, or null at the end. */
export function getNextId(sys: Sys, cmd: number, start: number): number | null {
  const a = attr(GET_ID, { start_id: start });
  const r = sys.bpf(cmd, a);
  if (r === -ENOENT) return null;
  check(cmd, r);
  return readU32(GET_ID, a, 'next_id');
}

/** BPF_PROG_GET_FD_BY_ID / BPF_MAP_GET_FD_BY_ID (open_flags: BPF_F_RDONLY / WRONLY, maps only). */
export function getFdById(sys: Sys, cmd: number, id: number, openFlags = 0): number {
  const kind = cmd === Cmd.PROG_GET_FD_BY_ID ? 'program' : cmd === Cmd.LINK_GET_FD_BY_ID ? 'link' : 'map';
  return check(cmd, sys.bpf(cmd, attr(GET_ID, { start_id: id, open_flags: openFlags })), { object: `${kind} id ${id}` });
}

/** BPF_OBJ_GET_INFO_BY_FD into info; returns info_len as the kernel set it. */
export function objGetInfoByFd(sys: Sys, fd: number, info: Uint8Array): number {
  const a = attr(INFO, { bpf_fd: fd, info_len: info.length, info: sys.addressOf(info) });
  check(Cmd.OBJ_GET_INFO_BY_FD, sys.bpf(Cmd.OBJ_GET_INFO_BY_FD, a));
  return readU32(INFO, a, 'info_len');
}

/** BPF_ENABLE_STATS: run_time_ns / run_cnt are counted while the returned fd is open. */
export function enableStats(sys: Sys, type = 0): number {
  return check(Cmd.ENABLE_STATS, sys.bpf(Cmd.ENABLE_STATS, attr(ENABLE_STATS, { type })));
}

export interface ProgLoadParams {
  readonly type: number;
  /** Encoded instructions, map fds already patched in. */
  readonly insns: Uint8Array;
  readonly license: string;
  readonly name?: string;
  readonly expectedAttachType?: number;
  readonly kernVersion?: number;
  readonly flags?: number;
  readonly ifindex?: number;
  /** 0: no log unless the load fails (then retried at level 1); 1, 2, and | 4 for stats. */
  readonly logLevel?: number;
  /** First log buffer size; grown on ENOSPC up to LOG_MAX_SIZE. */
  readonly logSize?: number;
  /** For VerifierError: the TypeScript line that emitted the instruction at a slot index. */
  readonly sourceAt?: (index: number) => string | undefined;
  /** BTF for the program (src/btf/from-program.ts): the loaded BTF's fd, func_info and line_info records. */
  readonly btf?: ProgLoadBtf;
}

export interface ProgLoadBtf {
  readonly fd: number;
  /** bpf_func_info records, 8 bytes each. */
  readonly funcInfo: Uint8Array;
  readonly funcInfoCount: number;
  /** bpf_line_info records, 16 bytes each. */
  readonly lineInfo: Uint8Array;
  readonly lineInfoCount: number;
}

export interface ProgLoadResult {
  readonly fd: number;
  /** The verifier log, when a log level was asked for. */
  readonly log: string;
  /** Sizes of the log buffers tried, in order (for tests and diagnostics). */
  readonly logSizes: readonly number[];
}

/**
 * BPF_PROG_LOAD. Loads without a log unless asked (the log costs verifier time); when a load
 * fails, loads again at level 1 to explain why. ENOSPC means the log did not fit: grow the buffer
 * (to log_true_size when the kernel reports it) and retry, up to the kernel's maximum.
 */
export function progLoad(sys: Sys, p: ProgLoadParams): ProgLoadResult {
  const license = cstring(p.license);
  const a = alloc(PROG_LOAD);
  write(PROG_LOAD, a, {
    prog_type: p.type, insn_cnt: p.insns.length / 8, insns: sys.addressOf(p.insns), license: sys.addressOf(license),
    kern_version: p.kernVersion ?? 0, prog_flags: p.flags ?? 0, prog_name: p.name ?? '',
    prog_ifindex: p.ifindex ?? 0, expected_attach_type: p.expectedAttachType ?? 0,
  });
  if (p.btf) {
    write(PROG_LOAD, a, {
      prog_btf_fd: p.btf.fd,
      func_info_rec_size: 8, func_info: addr(sys, p.btf.funcInfo), func_info_cnt: p.btf.funcInfoCount,
      line_info_rec_size: 16, line_info: addr(sys, p.btf.lineInfo), line_info_cnt: p.btf.lineInfoCount,
    });
  }
  let level = p.logLevel ?? 0;
  let size = level ? Math.max(p.logSize ?? LOG_INITIAL_SIZE, 128) : 0;
  const sizes: number[] = [];
  const what: BpfErrorContext = { object: p.name ? `program '${p.name}'` : undefined };
  for (;;) {
    const log = size ? new Uint8Array(new ArrayBuffer(size)) : null;
    if (size) sizes.push(size);
    write(PROG_LOAD, a, { log_level: level, log_size: size, log_buf: addr(sys, log), log_true_size: 0 });
    const r = sys.bpf(Cmd.PROG_LOAD, a);
    const trueSize = readU32(PROG_LOAD, a, 'log_true_size');
    if (r >= 0) return { fd: r, log: logText(log), logSizes: sizes };
    const errno = -r;
    if (errno === ENOSPC && level) {
      const next = nextLogSize(size, trueSize);
      if (next === null) throw new BpfError(Cmd.PROG_LOAD, ENOSPC, { ...what, hint: `the verifier log exceeds the kernel's maximum (${size} bytes): load with a lower log level` });
      size = next;
      continue;
    }
    if (!level && (errno === EACCES || errno === EINVAL)) {
      level = 1;
      size = Math.max(p.logSize ?? LOG_INITIAL_SIZE, 128);
      continue;
    }
    const text = logText(log);
    // A rejected load keeps the tail of an overflowing log (6.4+ rotating log); fetch it whole.
    if (level && trueSize > size) {
      const next = nextLogSize(size, trueSize);
      if (next !== null) { size = next; continue; }
    }
    if (level && text.trim()) {
      const { summary, index } = parseVerifierLog(text);
      throw new VerifierError(Cmd.PROG_LOAD, errno, {
        program: p.name || '(unnamed)', log: text, summary, index,
        source: index !== undefined ? p.sourceAt?.(index) : undefined,
      });
    }
    throw new BpfError(Cmd.PROG_LOAD, errno, what);
  }
}
