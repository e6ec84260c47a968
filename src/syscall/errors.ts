/**
 * The errors of the syscall layer. Each names the bpf command and errno, and says what to do
 * next for the common cases; VerifierError carries the verifier's log.
 */
import { Errno as E, errnoName } from '../errno.ts';
import { cmdName } from './constants.ts';

export interface BpfErrorContext {
  /** The pin path, for OBJ_PIN / OBJ_GET. */
  readonly path?: string;
  /** The object the call was about, for messages: "map 'cnt'", "program id 42". */
  readonly object?: string;
  /** A hint that overrides the generic one for this errno. */
  readonly hint?: string;
}


/** The hint for an errno from a command: the common causes, in words a user can act on. */
export function hintFor(cmd: number, errno: number, ctx: BpfErrorContext = {}): string | undefined {
  const name = cmdName(cmd);
  switch (errno) {
    case E.EPERM:
      return 'bpf(2) needs root, or CAP_BPF + CAP_NET_ADMIN (CAP_PERFMON for tracing programs); ' +
        'also check sysctl kernel.unprivileged_bpf_disabled and any LSM policy';
    case E.ENOENT:
      if (name === 'BPF_OBJ_GET') return `nothing is pinned at ${ctx.path ?? 'that path'}`;
      if (name === 'BPF_OBJ_PIN') return `the directory of ${ctx.path ?? 'the pin'} does not exist in bpffs: create it first`;
      if (/GET_FD_BY_ID/.test(name)) return 'no object has that id (it may have been unloaded)';
      if (/MAP_(LOOKUP|DELETE)/.test(name)) return 'the key is not in the map';
      return undefined;
    case E.EEXIST:
      if (name === 'BPF_OBJ_PIN') return `something is already pinned at ${ctx.path ?? 'that path'}: open it, or remove it (rm) and pin again`;
      if (name === 'BPF_MAP_UPDATE_ELEM') return 'the key already exists and BPF_NOEXIST was given';
      return undefined;
    case E.EACCES:
      if (name === 'BPF_OBJ_GET' || name === 'BPF_OBJ_PIN') return 'permission denied on the bpffs path (mode 0700 as tc mounts it: run as root)';
      if (name === 'BPF_PROG_LOAD') return 'the verifier rejected the program';
      if (/MAP_(UPDATE|DELETE)/.test(name)) return 'the map is read-only here (opened with BPF_F_RDONLY, or frozen)';
      return undefined;
    case E.EINVAL:
      if (name === 'BPF_MAP_CREATE') return 'the kernel rejected the map parameters: check key/value sizes for this type ' +
        '(array keys are 4 bytes), max_entries > 0, the name ([A-Za-z0-9_.], <= 15 chars) and that the flags suit the type';
      if (name === 'BPF_PROG_LOAD') return 'the kernel rejected the load attributes (type, expected attach type, flags, name) or the program';
      if (name === 'BPF_PROG_TEST_RUN') return 'this program type does not support the given test-run input (data, ctx, repeat, flags)';
      if (name === 'BPF_OBJ_PIN' || name === 'BPF_OBJ_GET') return `${ctx.path ?? 'the path'} is not on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)`;
      return undefined;
    case E.E2BIG:
      if (name === 'BPF_MAP_UPDATE_ELEM') return 'the map is full (max_entries reached)';
      return 'too large, or the attr has bytes this kernel does not know (a field newer than the running kernel)';
    case E.ENOSPC:
      if (name === 'BPF_PROG_TEST_RUN') return 'the output buffer is smaller than what the program produced: pass a larger dataOutSize / ctxOutSize';
      if (name === 'BPF_PROG_LOAD') return 'the verifier log did not fit its buffer';
      return undefined;
    case E.EBADF:
      return 'the file descriptor is not open or is not a bpf object (closed already?)';
    case E.EFAULT:
      return 'the kernel could not read or write a buffer the attr points at (a tsbpf bug: please report it)';
    case E.ENOTSUPP:
    case E.EOPNOTSUPP:
      return 'this map or program type does not support the operation on this kernel';
    case E.ENOMEM:
      return 'the kernel could not allocate the object (too many entries, or memlock limit on kernels before 5.11)';
    case E.EBUSY:
      return 'the object is in use';
    case E.ENOTDIR:
      return `a component of ${ctx.path ?? 'the path'} is not a directory`;
    default:
      return undefined;
  }
}

/** A bpf(2) command failed. */
export class BpfError extends Error {
  override name = 'BpfError';
  /** 'BPF_MAP_CREATE' */
  readonly command: string;
  readonly cmd: number;
  /** positive errno */
  readonly errno: number;
  /** 'EPERM' */
  readonly code: string;
  readonly hint: string | undefined;
  readonly path: string | undefined;

  constructor(cmd: number, errno: number, ctx: BpfErrorContext = {}, message?: string) {
    const e = Math.abs(errno);
    const code = errnoName(e);
    const hint = ctx.hint ?? hintFor(cmd, e, ctx);
    const what = ctx.object ? ` (${ctx.object})` : '';
    super(message ?? `${cmdName(cmd)}${what} failed: ${code} (${e})${hint ? `: ${hint}` : ''}`);
    this.cmd = cmd;
    this.command = cmdName(cmd);
    this.errno = e;
    this.code = code;
    this.hint = hint;
    this.path = ctx.path;
  }
}

/** The verifier rejected a program: the full log, the failing instruction and the last message. */
export class VerifierError extends BpfError {
  override name = 'VerifierError';
  /** The whole verifier log. */
  readonly log: string;
  /** The index (8-byte slot) of the instruction the verifier stopped at, when the log says. */
  readonly index: number | undefined;
  /** The kernel's last message, e.g. "invalid mem access 'scalar'". */
  readonly summary: string;
  /** The TypeScript line that emitted the failing instruction, when the DSL recorded it. */
  readonly source: string | undefined;
  /** The whole log, for the CLI: main() prints it under TSBPF_DEBUG. */
  readonly details: string;

  constructor(cmd: number, errno: number, opts: { program: string; log: string; index?: number; summary: string; source?: string }) {
    const at = opts.index !== undefined ? ` at instruction ${opts.index}${opts.source ? ` (${opts.source})` : ''}` : '';
    const tail = opts.log.trimEnd().split('\n').slice(-12).join('\n');
    super(cmd, errno, { object: `program '${opts.program}'` },
      `verifier rejected program '${opts.program}'${at}: ${opts.summary}\n` +
      `(${errnoName(Math.abs(errno))}; the last lines of the verifier log follow: TSBPF_DEBUG=1 prints the whole log, or run \`tsbpf explain\`)\n${tail}`);
    this.log = opts.log;
    this.details = `verifier log of program '${opts.program}':\n${opts.log.trimEnd()}`;
    this.index = opts.index;
    this.summary = opts.summary;
    this.source = opts.source;
  }
}

/** An existing pinned object is not what the caller expects: never silently reused. */
export class PinMismatchError extends Error {
  override name = 'PinMismatchError';
  readonly path: string;
  readonly differences: readonly { readonly field: string; readonly expected: unknown; readonly actual: unknown }[];

  constructor(path: string, what: string, differences: PinMismatchError['differences']) {
    const list = differences.map((d) => `${d.field} is ${String(d.actual)}, expected ${String(d.expected)}`).join('; ');
    super(`the ${what} pinned at ${path} does not match its spec: ${list}. ` +
      `It was probably left by an older build: remove the pin (rm ${path}) or choose another path, then create it again.`);
    this.path = path;
    this.differences = differences;
  }
}

/** Throw a BpfError when a raw result is a negative errno; otherwise return it. */
export function check(cmd: number, r: number, ctx?: BpfErrorContext): number {
  if (r < 0) throw new BpfError(cmd, -r, ctx);
  return r;
}
