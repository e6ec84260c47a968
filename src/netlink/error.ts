/**
 * NetlinkError: the one error type of src/netlink. It keeps what the kernel said (errno and
 * the extended-ack text) and what we were doing, and its message says what to do next.
 */
import { errnoName } from '../errno.ts';

export interface NetlinkErrorInit {
  /** what we were doing, e.g. "add clsact qdisc on veth0" */
  readonly op: string;
  /** positive errno */
  readonly errno: number;
  /** NLMSGERR_ATTR_MSG from the kernel, if it sent one */
  readonly extack?: string | undefined;
  /** replaces the generic message (the errno, extack and hint are still appended) */
  readonly message?: string | undefined;
  /** replaces the generic advice for this errno */
  readonly hint?: string | undefined;
}

/** Advice per errno when the caller has none more specific. */
const hints: Readonly<Record<string, string>> = {
  EPERM: 'this needs root or CAP_NET_ADMIN: run with sudo, or grant the capability to node',
  EACCES: 'this needs root or CAP_NET_ADMIN: run with sudo, or grant the capability to node',
  EEXIST: 'it is already there: list what is attached and delete it first, or replace it',
  EINVAL: 'the kernel rejected the request; its reason is above',
  ENODEV: 'check the interface name with `ip link` (and --netns if it lives in a namespace)',
  ENOENT: 'nothing matches: list what is there first',
  EOPNOTSUPP: 'this kernel or device does not support it',
  EAGAIN: 'the kernel did not answer in time; retry, or raise the timeout',
  EBUSY: 'the object is in use; retry when it is free',
};

export class NetlinkError extends Error {
  override name = 'NetlinkError';
  /** positive errno, e.g. 17 */
  readonly errno: number;
  /** errno name, e.g. 'EEXIST' */
  readonly code: string;
  /** the kernel's extended-ack message, if any */
  readonly extack: string | undefined;
  /** the operation that failed */
  readonly op: string;

  constructor(init: NetlinkErrorInit) {
    const code = errnoName(init.errno);
    const hint = init.hint ?? hints[code];
    const head = init.message ?? `${init.op} failed: ${code}`;
    const kernel = init.extack ? ` (kernel: ${init.extack})` : '';
    super(`${head}${init.message ? ` [${code}]` : ''}${kernel}${hint ? `; ${hint}` : ''}`);
    this.errno = init.errno;
    this.code = code;
    this.extack = init.extack;
    this.op = init.op;
  }
}

/** true when `e` is a NetlinkError with errno `code` (a name like 'EEXIST'). */
export function isNetlinkError(e: unknown, code?: string): e is NetlinkError {
  return e instanceof NetlinkError && (code === undefined || e.code === code);
}
