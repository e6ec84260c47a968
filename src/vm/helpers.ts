/**
 * The helpers the VM provides, by their linux/bpf.h ids. Each reads its arguments from r1..r5
 * (R[2..11]) and leaves its result in r0 (R[0..1]). Pointers are checked like program
 * accesses, so a helper handed a bad pointer faults at the calling instruction.
 */
import { helperId, helperName } from '../asm/helpers.ts';
import { pairToBig, bigToPair } from './arith.ts';
import { VmFault } from './errors.ts';
import type { Memory } from './memory.ts';
import type { TailTarget, VmMap } from './maps.ts';

const EFAULT = 14, EINVAL = 22;

/** What a helper sees of the running VM. */
export interface HelperEnv {
  readonly R: Int32Array;
  readonly mem: Memory;
  /** The map at an address (what LD_IMM64 put in a register), or undefined. */
  mapAt(addr: number): VmMap | undefined;
  /** The ring buffer a reserved record at this address belongs to. */
  ringOwner(addr: number): VmMap | undefined;
  /** ktime_get_ns / ktime_get_boot_ns: the test's clock (advances by its step per call). */
  now(boot: boolean): bigint;
  random(): number;
  readonly cpu: number;
  /** The process a tracing program sees as current: get_current_pid_tgid / uid_gid / comm. */
  readonly task: { readonly pid: number; readonly tgid: number; readonly uid: number; readonly gid: number; readonly comm: string };
  printk(line: string): void;
  /** The packet of the current run (skb_load_bytes), or undefined. */
  packet(): Uint8Array | undefined;
  /** Ask for a tail call to this program (the compiled code returns right after the helper). */
  tailCall(target: TailTarget): boolean;
  sources: readonly (string | undefined)[];
}

export type Helper = (pc: number) => void;

/** The table the compiled code calls: H[id](pc), and H.callx(id, pc) for a call through a register. */
export type HelperTable = Helper[] & { callx(id: number, pc: number): void };

/** r(n) as an unsigned bigint (for messages and 64-bit arguments). */
const arg = (R: Int32Array, n: number): bigint => pairToBig(R[2 * n]!, R[2 * n + 1]!);
/** The low 32 bits of r(n), unsigned: sizes, flags, indexes. */
const u32 = (R: Int32Array, n: number): number => R[2 * n]! >>> 0;
/** r0 = v: a small signed number (an address, -errno, a u32), or a bigint. */
const ret = (R: Int32Array, v: bigint | number): void => {
  if (typeof v === 'number') {
    R[0] = v | 0;
    R[1] = v < 0 ? -1 : 0;
    return;
  }
  const [lo, hi] = bigToPair(v);
  R[0] = lo;
  R[1] = hi;
};

function mapArg(env: HelperEnv, n: number, pc: number, name: string): VmMap {
  const R = env.R;
  const m = R[2 * n + 1] === 0 ? env.mapAt(R[2 * n]! >>> 0) : undefined;
  if (!m) {
    throw new VmFault(`${name}: r${n} (0x${arg(R, n).toString(16)}) is not a map (load one with LD_IMM64, e.g. b.ldMap(r${n}, map))`, { kind: 'helper', index: pc, source: env.sources[pc] });
  }
  return m;
}

/** trace_printk's format, the kernel's subset: %d %i %u %x %X %c %s %p, with l/ll, and %%. */
export function formatPrintk(fmt: string, args: readonly bigint[], readString: (addr: bigint) => string): string {
  let k = 0;
  return fmt.replace(/%(%|(ll|l|h|hh)?([diuxXcsp]))/g, (_m, whole: string, len: string | undefined, conv: string | undefined) => {
    if (whole === '%') return '%';
    const v = args[k++] ?? 0n;
    const bits = len === 'll' || len === 'l' ? 64 : 32;
    switch (conv) {
      case 'd': case 'i': return BigInt.asIntN(bits, v).toString();
      case 'u': return BigInt.asUintN(bits, v).toString();
      case 'x': return BigInt.asUintN(bits, v).toString(16);
      case 'X': return BigInt.asUintN(bits, v).toString(16).toUpperCase();
      case 'c': return String.fromCharCode(Number(v & 0xffn));
      case 's': return readString(v);
      default: return `0x${BigInt.asUintN(64, v).toString(16)}`;
    }
  });
}

const cstring = (b: Uint8Array): string => {
  const z = b.indexOf(0);
  return new TextDecoder().decode(z >= 0 ? b.subarray(0, z) : b);
};

/** The helper table: id -> implementation. */
export function makeHelpers(env: HelperEnv): HelperTable {
  const { R, mem } = env;
  const H = [] as unknown as HelperTable;
  H.callx = (id, pc) => {
    const h = H[id];
    if (!h) throw new VmFault(unknownHelper(id), { kind: 'helper', index: pc, source: env.sources[pc] });
    h(pc);
  };
  const def = (name: string, f: Helper): void => { H[helperId(name)!] = f; };
  def('map_lookup_elem', (pc) => {
    const m = mapArg(env, 1, pc, 'bpf_map_lookup_elem');
    ret(R, m.lookupAddr(mem.view(R[4]!, R[5]!, m.keySize, false, pc), env.cpu));
  });
  def('map_update_elem', (pc) => {
    const m = mapArg(env, 1, pc, 'bpf_map_update_elem');
    const key = mem.view(R[4]!, R[5]!, m.keySize, false, pc);
    const value = mem.view(R[6]!, R[7]!, m.valueSize, false, pc);
    ret(R, m.updateRaw(key, value, u32(R, 4), env.cpu));
  });
  def('map_delete_elem', (pc) => {
    const m = mapArg(env, 1, pc, 'bpf_map_delete_elem');
    ret(R, m.deleteRaw(mem.view(R[4]!, R[5]!, m.keySize, false, pc)));
  });
  def('ktime_get_ns', () => ret(R, env.now(false)));
  def('ktime_get_boot_ns', () => ret(R, env.now(true)));
  def('ktime_get_coarse_ns', () => ret(R, env.now(false)));
  def('get_prandom_u32', () => ret(R, BigInt(env.random() >>> 0)));
  def('get_smp_processor_id', () => ret(R, env.cpu));
  def('get_current_pid_tgid', () => ret(R, (BigInt(env.task.tgid >>> 0) << 32n) | BigInt(env.task.pid >>> 0)));
  def('get_current_uid_gid', () => ret(R, (BigInt(env.task.gid >>> 0) << 32n) | BigInt(env.task.uid >>> 0)));
  def('get_current_comm', (pc) => {
    const size = u32(R, 2);
    const to = mem.view(R[2]!, R[3]!, size, true, pc);
    to.fill(0);
    const name = new TextEncoder().encode(env.task.comm).subarray(0, Math.max(0, size - 1));
    to.set(name);
    ret(R, 0);
  });
  def('trace_printk', (pc) => {
    const size = u32(R, 2);
    const fmt = cstring(mem.view(R[2]!, R[3]!, size, false, pc));
    // %s: byte by byte up to the NUL, so a string that ends at the end of its region (a global
    // char array) is read whole; a byte past the region faults. The kernel copies at most its
    // bprintf buffer (512 bytes).
    const line = formatPrintk(fmt, [arg(R, 3), arg(R, 4), arg(R, 5)], (a) => {
      const bytes: number[] = [];
      for (let i = 0n; i < PRINTK_STRING_MAX; i++) {
        const [lo, hi] = bigToPair(a + i);
        const c = mem.view(lo, hi, 1, false, pc)[0]!;
        if (c === 0) return new TextDecoder().decode(new Uint8Array(bytes));
        bytes.push(c);
      }
      return new TextDecoder().decode(new Uint8Array(bytes));
    });
    env.printk(line);
    ret(R, new TextEncoder().encode(line).length);
  });
  def('skb_load_bytes', (pc) => {
    const pkt = env.packet();
    const off = R[4]!, len = u32(R, 4);
    const to = mem.view(R[6]!, R[7]!, len, true, pc);
    if (!pkt || off < 0 || off + len > pkt.length || len === 0) { to.fill(0); ret(R, -EFAULT); return; }
    to.set(pkt.subarray(off, off + len));
    ret(R, 0);
  });
  def('tail_call', (pc) => {
    const m = mapArg(env, 2, pc, 'bpf_tail_call');
    if (m.type !== 'prog_array') throw new VmFault(`bpf_tail_call: map '${m.name}' is a ${m.type}, not a prog_array`, { kind: 'tail-call', index: pc, source: env.sources[pc] });
    const idx = u32(R, 3);
    const target = idx < m.maxEntries ? m.program(idx) : undefined;
    // on success the caller never sees r0; on failure the program goes on with r0 = -ENOENT-ish
    ret(R, target && env.tailCall(target) ? 0 : -2);
  });
  def('ringbuf_output', (pc) => {
    const m = mapArg(env, 1, pc, 'bpf_ringbuf_output');
    if (m.type !== 'ringbuf') { ret(R, -EINVAL); return; }
    ret(R, m.ringOutput(mem.view(R[4]!, R[5]!, u32(R, 3), false, pc)));
  });
  def('ringbuf_reserve', (pc) => {
    const m = mapArg(env, 1, pc, 'bpf_ringbuf_reserve');
    const size = u32(R, 2);
    ret(R, m.type === 'ringbuf' && size <= m.maxEntries ? m.ringReserve(size) : 0);
  });
  const commit = (keep: boolean, name: string): Helper => (pc) => {
    const a = arg(R, 1);
    const m = a <= 0xffffffffn ? env.ringOwner(Number(a)) : undefined;
    if (!m || !m.ringCommit(Number(a), keep)) {
      throw new VmFault(`${name}: r1 (0x${a.toString(16)}) is not a record from bpf_ringbuf_reserve (or it was already submitted)`, { kind: 'helper', index: pc, source: env.sources[pc] });
    }
    ret(R, 0);
  };
  def('ringbuf_submit', commit(true, 'bpf_ringbuf_submit'));
  def('ringbuf_discard', commit(false, 'bpf_ringbuf_discard'));
  return H;
}

/** The longest %s string trace_printk copies (the kernel's MAX_BPRINTF_BUF). */
const PRINTK_STRING_MAX = 512n;

/** The message for a helper the VM does not have. */
export function unknownHelper(id: number): string {
  const name = helperName(id);
  return `${name ?? `helper ${id}`} is not available in the VM${name ? ` (helper id ${id})` : ' (no helper has this id in linux/bpf.h)'}; the VM has: ${VM_HELPERS.join(', ')}`;
}

/**
 * The names of the helpers makeHelpers defines, in id order: read off a table built against an
 * env it never touches while building (helpers use their env only when called), so the list
 * cannot drift from the def() calls.
 */
export const VM_HELPERS: readonly string[] = Object.freeze(
  makeHelpers({ R: new Int32Array(12), mem: undefined } as unknown as HelperEnv).flatMap((_h, id) => [(helperName(id) ?? `helper ${id}`).replace(/^bpf_/, '')]), // flatMap skips the holes
);
