/**
 * BTF objects in the kernel: BPF_BTF_LOAD (with its log), and reading BTF back by id
 * (BPF_BTF_GET_FD_BY_ID + OBJ_GET_INFO_BY_FD), which is how `btf dump id|prog|map` gets bytes.
 * The codec is src/btf; this file only moves bytes in and out of the kernel.
 */
import { BTF_GET_ID, BTF_INFO, BTF_LOAD, MAP_INFO, PROG_INFO, alloc, attr, readU32, readU64, write } from './attr.ts';
import { Cmd } from './constants.ts';
import { BpfError, check } from './errors.ts';
import { Errno, errnoName } from '../errno.ts';
import { LOG_INITIAL_SIZE, logText, nextLogSize } from './log.ts';
import { getNextId, objGetInfoByFd } from './bpf.ts';
import { defaultSys, type Sys } from './sys.ts';

const { EINVAL, ENOSPC, EACCES, EPERM } = Errno;

/** The kernel refused a BTF blob: its log says which type and why. */
export class BtfLoadError extends BpfError {
  override name = 'BtfLoadError';
  /** The kernel's BTF log (level 1). */
  readonly log: string;
  /** The whole log, for the CLI: main() prints it under TSBPF_DEBUG. */
  readonly details: string;
  constructor(errno: number, log: string) {
    const last = log.trimEnd().split('\n').slice(-6).join('\n');
    super(Cmd.BTF_LOAD, errno, {}, `BPF_BTF_LOAD failed: the kernel rejected the BTF` +
      (log.trim() ? `; the last lines of its log follow (TSBPF_DEBUG=1 prints the whole log):\n${last}` : ` (${errnoName(errno)}) without a log`) +
      `\nDump what was sent with \`tsbpf btf dump file <blob>\` and compare with the kernel's checks in kernel/bpf/btf.c.`);
    this.log = log;
    this.details = `BTF log:\n${log.trimEnd()}`;
  }
}

export interface BtfLoadOptions {
  /** 0: no log unless the load fails (then retried at level 1 for the reason). */
  readonly logLevel?: number;
  readonly logSize?: number;
  readonly sys?: Sys;
}

/** A BTF object the kernel holds: pass its fd as prog_btf_fd or a map's btf_fd. */
export class BtfHandle implements Disposable {
  readonly fd: number;
  readonly log: string;
  readonly sys: Sys;
  private closed = false;
  constructor(fd: number, log = '', sys: Sys = defaultSys) { this.fd = fd; this.log = log; this.sys = sys; }
  get id(): number { return btfInfo(this.fd, this.sys).id; }
  close(): void { if (!this.closed) { this.closed = true; this.sys.close(this.fd); } }
  [Symbol.dispose](): void { this.close(); }
}

/** BPF_BTF_LOAD: the kernel checks every type; a refusal is a BtfLoadError with the log. */
export function loadBtf(bytes: Uint8Array, opts: BtfLoadOptions = {}): BtfHandle {
  const sys = opts.sys ?? defaultSys;
  const blob = new Uint8Array(new ArrayBuffer(bytes.length));
  blob.set(bytes);
  const a = alloc(BTF_LOAD);
  write(BTF_LOAD, a, { btf: sys.addressOf(blob), btf_size: blob.length });
  let level = opts.logLevel ?? 0;
  let size = level ? Math.max(opts.logSize ?? LOG_INITIAL_SIZE, 128) : 0;
  for (;;) {
    const log = size ? new Uint8Array(new ArrayBuffer(size)) : null;
    write(BTF_LOAD, a, { btf_log_buf: log ? sys.addressOf(log) : 0n, btf_log_size: size, btf_log_level: level, btf_log_true_size: 0 });
    const r = sys.bpf(Cmd.BTF_LOAD, a);
    if (r >= 0) return new BtfHandle(r, logText(log), sys);
    const errno = -r;
    const trueSize = readU32(BTF_LOAD, a, 'btf_log_true_size');
    if (errno === ENOSPC && level) {
      const next = nextLogSize(size, trueSize);
      if (next !== null) { size = next; continue; }
    }
    if (errno === EPERM || errno === EACCES) throw new BpfError(Cmd.BTF_LOAD, errno);
    if (!level && errno === EINVAL) { level = 1; size = Math.max(opts.logSize ?? LOG_INITIAL_SIZE, 128); continue; }
    throw new BtfLoadError(errno, logText(log));
  }
}

export interface BtfInfo {
  readonly id: number;
  readonly size: number;
  /** 'vmlinux' or a module's name for kernel BTF; '' for loaded BTF. */
  readonly name: string;
  readonly kernelBtf: boolean;
  /** Present when asked for. */
  readonly bytes?: Uint8Array;
}

/** What the kernel says about a BTF fd; `bytes` also fetches the blob. */
export function btfInfo(fd: number, sys: Sys = defaultSys, opts: { bytes?: boolean } = {}): BtfInfo {
  const first = alloc(BTF_INFO);
  const nameBuf = new Uint8Array(new ArrayBuffer(64));
  write(BTF_INFO, first, { name: sys.addressOf(nameBuf), name_len: nameBuf.length });
  objGetInfoByFd(sys, fd, first);
  const size = readU32(BTF_INFO, first, 'btf_size');
  let bytes: Uint8Array | undefined;
  if (opts.bytes) {
    bytes = new Uint8Array(new ArrayBuffer(size));
    const req = alloc(BTF_INFO);
    write(BTF_INFO, req, { btf: sys.addressOf(bytes), btf_size: size });
    objGetInfoByFd(sys, fd, req);
    if (readU64(BTF_INFO, req, 'btf') === 0n) bytes = undefined;
  }
  const end = nameBuf.indexOf(0);
  return {
    id: readU32(BTF_INFO, first, 'id'), size,
    name: new TextDecoder().decode(nameBuf.subarray(0, end < 0 ? nameBuf.length : end)),
    kernelBtf: readU32(BTF_INFO, first, 'kernel_btf') !== 0,
    ...(bytes ? { bytes } : {}),
  };
}

/** A new fd for the BTF object with this id. */
export function btfFdById(id: number, sys: Sys = defaultSys): number {
  return check(Cmd.BTF_GET_FD_BY_ID, sys.bpf(Cmd.BTF_GET_FD_BY_ID, attr(BTF_GET_ID, { btf_id: id })), { object: `BTF id ${id}` });
}

/** The raw bytes and info of a BTF object by id. */
export function btfById(id: number, sys: Sys = defaultSys): BtfInfo & { readonly bytes: Uint8Array } {
  const fd = btfFdById(id, sys);
  try {
    const info = btfInfo(fd, sys, { bytes: true });
    if (!info.bytes) throw new BpfError(Cmd.OBJ_GET_INFO_BY_FD, EINVAL, { object: `BTF id ${id}`, hint: 'the kernel returned no BTF bytes' });
    return info as BtfInfo & { readonly bytes: Uint8Array };
  } finally {
    sys.close(fd);
  }
}

/** Ids of every BTF object (vmlinux, modules, loaded programs' and maps'), ascending. */
export function btfIds(sys: Sys = defaultSys): number[] {
  const out: number[] = [];
  for (let id = 0; ;) {
    const next = getNextId(sys, Cmd.BTF_GET_NEXT_ID, id);
    if (next === null) return out;
    out.push((id = next));
  }
}

/** A map's BTF: the object id and the key and value type ids (0 when the map has none). */
export function mapBtfIds(fd: number, sys: Sys = defaultSys): { btfId: number; keyTypeId: number; valueTypeId: number } {
  const buf = alloc(MAP_INFO);
  objGetInfoByFd(sys, fd, buf);
  return { btfId: readU32(MAP_INFO, buf, 'btf_id'), keyTypeId: readU32(MAP_INFO, buf, 'btf_key_type_id'), valueTypeId: readU32(MAP_INFO, buf, 'btf_value_type_id') };
}

export interface ProgBtfInfo {
  readonly btfId: number;
  /** bpf_func_info records (insn_off in xlated instructions). */
  readonly funcInfo: Uint8Array;
  readonly funcInfoRecSize: number;
  /** bpf_line_info records (insn_off in xlated instructions, as the kernel rewrote them). */
  readonly lineInfo: Uint8Array;
  readonly lineInfoRecSize: number;
}

/** A program's BTF id with its func_info and line_info as the kernel keeps them. */
export function progBtfInfo(fd: number, sys: Sys = defaultSys): ProgBtfInfo {
  const first = alloc(PROG_INFO);
  objGetInfoByFd(sys, fd, first);
  const nf = readU32(PROG_INFO, first, 'nr_func_info'), nl = readU32(PROG_INFO, first, 'nr_line_info');
  const fr = readU32(PROG_INFO, first, 'func_info_rec_size'), lr = readU32(PROG_INFO, first, 'line_info_rec_size');
  const funcInfo = new Uint8Array(new ArrayBuffer(nf * fr)), lineInfo = new Uint8Array(new ArrayBuffer(nl * lr));
  if (nf || nl) {
    const req = alloc(PROG_INFO);
    write(PROG_INFO, req, {
      nr_func_info: nf, func_info_rec_size: fr, func_info: nf ? sys.addressOf(funcInfo) : 0n,
      nr_line_info: nl, line_info_rec_size: lr, line_info: nl ? sys.addressOf(lineInfo) : 0n,
    });
    objGetInfoByFd(sys, fd, req);
  }
  return { btfId: readU32(PROG_INFO, first, 'btf_id'), funcInfo, funcInfoRecSize: fr, lineInfo, lineInfoRecSize: lr };
}
