/**
 * What goes wrong in the VM. A VmFault is the program's fault, found while it runs: a load or
 * store outside every region it may touch, a runaway loop, too deep a call chain, a helper the
 * VM does not have. A VmError is the caller's: a program the VM cannot load, a map it cannot
 * find. Both carry the instruction index and the TypeScript line that emitted it.
 */

import type { TraceStep } from './trace.ts';

export type FaultKind = 'memory' | 'insn-limit' | 'call-depth' | 'helper' | 'tail-call' | 'invalid';

export interface FaultInfo {
  readonly kind: FaultKind;
  /** Index of the faulting instruction in the program's instruction list. */
  readonly index: number;
  /** The TS file:line (or .data file:line) that emitted it, when known. */
  readonly source?: string | undefined;
  /** memory: the address accessed (all 64 bits of base + off). */
  readonly address?: bigint;
  /** memory: how many bytes, and whether it was a store. */
  readonly size?: number;
  readonly write?: boolean;
  /** memory: the region the address is in or nearest to ('stack frame 0', "map 'cnt' value", 'packet'…). */
  readonly region?: string | undefined;
}

const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

/** The program did something the VM refuses at run time. Nothing after it ran. */
export class VmFault extends Error {
  override name = 'VmFault';
  readonly kind: FaultKind;
  readonly index: number;
  readonly source: string | undefined;
  readonly address: bigint | undefined;
  readonly size: number | undefined;
  readonly write: boolean | undefined;
  readonly region: string | undefined;
  readonly reason: string;
  /** With run({ trace }), the steps up to and including the faulting one. */
  trace?: readonly TraceStep[];
  constructor(reason: string, info: FaultInfo) {
    const at = `instruction ${info.index}${info.source ? ` (${info.source})` : ''}`;
    super(`${at}: ${reason}`);
    this.reason = reason;
    this.kind = info.kind;
    this.index = info.index;
    this.source = info.source;
    this.address = info.address;
    this.size = info.size;
    this.write = info.write;
    this.region = info.region;
  }

  /** The address as the fault message prints it. */
  get addressHex(): string | undefined {
    return this.address === undefined ? undefined : hex(this.address);
  }
}

/** The VM cannot take this program or request: says what to change. */
export class VmError extends Error {
  override name = 'VmError';
  readonly index: number | undefined;
  readonly source: string | undefined;
  constructor(reason: string, origin: { index?: number; source?: string | undefined } = {}) {
    const at = origin.index !== undefined ? `instruction ${origin.index}${origin.source ? ` (${origin.source})` : ''}: ` : '';
    super(`${at}${reason}`);
    this.index = origin.index;
    this.source = origin.source;
  }
}
