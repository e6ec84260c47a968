/**
 * A fake kernel for unit tests of the layers above src/syscall: deterministic buffer
 * addresses, a log of every bpf(2) call and close, and a handler per test that plays the
 * kernel. `str(addr)` reads a C string the caller passed (pin paths).
 */
import type { Sys } from '../../src/syscall/sys.ts';

export class FakeSys implements Sys {
  readonly calls: { cmd: number; attr: Uint8Array }[] = [];
  readonly closed: number[] = [];
  private readonly byAddr = new Map<bigint, Uint8Array>();
  private readonly byBuf = new Map<Uint8Array, bigint>();
  private next = 0x10000n;
  constructor(public handler: (cmd: number, attr: Uint8Array, k: FakeSys) => number = () => 0) {}
  addressOf(buf: Uint8Array): bigint {
    let a = this.byBuf.get(buf);
    if (a === undefined) {
      a = this.next;
      this.next += 0x10000n;
      this.byBuf.set(buf, a);
      this.byAddr.set(a, buf);
    }
    return a;
  }
  /** The buffer a pointer field refers to (what copy_from_user / copy_to_user would touch). */
  mem(addr: bigint): Uint8Array {
    const b = this.byAddr.get(addr);
    if (!b) throw new Error(`fake: no buffer at 0x${addr.toString(16)}`);
    return b;
  }
  /** A NUL-terminated string at addr. */
  str(addr: bigint): string {
    const b = this.mem(addr);
    const end = b.indexOf(0);
    return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
  }
  bpf(cmd: number, attr: Uint8Array): number {
    this.calls.push({ cmd, attr: attr.slice() });
    return this.handler(cmd, attr, this);
  }
  close(fd: number): number {
    this.closed.push(fd);
    return 0;
  }
  /** The commands called, in order. */
  cmds(): number[] {
    return this.calls.map((c) => c.cmd);
  }
}
