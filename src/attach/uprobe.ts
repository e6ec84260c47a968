/**
 * Uprobes: run a KPROBE-type program when a process executes an instruction in a file. The
 * kernel places the probe by (inode, file offset), so attaching is: find the file, find the
 * function's file offset in its symbol tables (elf-symbols.ts), and open a perf event on the
 * uprobe PMU with config1 = the path, config2 = the offset (perf-event.ts does the rest).
 *
 * With a pid, the kernel runs the program only for that process (and its threads); without,
 * for every process that maps the file. No trace file is written: perf-event uprobes are
 * created and removed with the fd, and leave nothing in uprobe_events.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { cstring } from '../syscall/bpf.ts';
import type { Program } from '../syscall/program.ts';
import type { Sys } from '../syscall/sys.ts';
import { ElfSymbolError, findFunction, readElfSymbols } from './elf-symbols.ts';
import {
  PMU_DIR, ProbeError, attachToPerfEvent, expectProgramType, openPerfEvent, perfEventAttr, readPmu,
  type PerfAttachMode, type PerfEventAttachment,
} from './perf-event.ts';

export interface UprobeOptions {
  /** A path, or a name looked up in the process's maps (with pid), PATH, then the library directories: 'libc', 'libc.so.6', 'python3'. */
  readonly binary: string;
  /** The function to probe, by its name in .symtab or .dynsym. */
  readonly symbol?: string;
  /** With symbol: bytes into the function. Alone: the file offset to probe. */
  readonly offset?: number;
  /** Only this process (its threads too); default every process that runs the file. */
  readonly pid?: number;
  /** Run at the function's return (r0 is its return value in ctx). */
  readonly retprobe?: boolean;
  readonly mode?: PerfAttachMode;
  readonly cookie?: bigint;
  readonly sys?: Sys;
  /** Where the PMUs are (tests): default /sys/bus/event_source/devices. */
  readonly pmuDir?: string;
}

export interface UprobeTarget {
  /** The file the kernel is given. */
  readonly path: string;
  readonly offset: number;
  readonly symbol: string | undefined;
}

const TRIPLE = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
export const LIBRARY_DIRS: readonly string[] = [`/lib/${TRIPLE}`, `/usr/lib/${TRIPLE}`, '/lib64', '/usr/lib64', '/lib', '/usr/lib'];

const isFile = (p: string): boolean => { try { return statSync(p).isFile(); } catch { return false; } };

function isElf(p: string): boolean {
  let fd = -1;
  try {
    fd = openSync(p, 'r');
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32BE(0) === 0x7f454c46;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** A library name matches 'libc', 'libc.so', 'libc.so.6' and 'c' (as -lc would). */
function libraryMatch(file: string, name: string): boolean {
  for (const n of name.startsWith('lib') || name.includes('.so') ? [name] : [name, `lib${name}`]) {
    if (file === n || file === `${n}.so` || file.startsWith(`${n}.so.`) || (n.includes('.so') && file.startsWith(`${n}.`))) return true;
  }
  return false;
}

/** The file a uprobe binary name means; throws ProbeError when there is none. */
export function resolveBinary(binary: string, pid?: number, target = binary): string {
  if (binary.includes('/')) {
    if (!existsSync(binary)) throw new ProbeError('uprobe', target, `no file ${binary}`, { hint: 'check the path (inside a container, the file must be visible here)' });
    if (!isFile(binary)) throw new ProbeError('uprobe', target, `${binary} is not a regular file`);
    return binary;
  }
  if (pid !== undefined) {
    let maps = '';
    try { maps = readFileSync(`/proc/${pid}/maps`, 'utf8'); } catch { /* gone or not ours: fall through to the search */ }
    for (const line of maps.split('\n')) {
      const file = line.split(/\s+/).slice(5).join(' ');
      if (file.startsWith('/') && libraryMatch(path.basename(file), binary) && isFile(file)) return file;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const p = path.join(dir, binary);
    try { accessSync(p, constants.X_OK); if (isFile(p)) return p; } catch { /* next */ }
  }
  for (const dir of LIBRARY_DIRS) {
    let names: string[];
    try { names = readdirSync(dir); } catch { continue; }
    // libc.so is often a linker script for -lc: the runtime's libc.so.6 is the ELF processes map.
    const rank = (f: string): number => (f.includes('.so.') ? 0 : 1);
    const hits = names.filter((f) => libraryMatch(f, binary)).sort((a, b) => rank(a) - rank(b) || a.length - b.length);
    const hit = hits.map((f) => path.join(dir, f)).find((p) => isFile(p) && isElf(p));
    if (hit) return hit;
  }
  throw new ProbeError('uprobe', target, `no binary or library named '${binary}'`,
    { hint: `give its path, or a name found in PATH or ${LIBRARY_DIRS.join(', ')}${pid !== undefined ? ` or mapped by pid ${pid}` : ''}` });
}

const describe = (o: Pick<UprobeOptions, 'binary' | 'symbol' | 'offset'>): string =>
  `${o.binary}:${o.symbol ?? ''}${o.offset !== undefined ? `${o.symbol ? '+' : ''}0x${o.offset.toString(16)}` : ''}`;

/** Where a uprobe goes: the file and the offset in it. Reads the file; makes no system call. */
export function resolveUprobe(o: Pick<UprobeOptions, 'binary' | 'symbol' | 'offset' | 'pid'>, kind: 'uprobe' | 'uretprobe' = 'uprobe'): UprobeTarget {
  const target = describe(o);
  if (o.symbol === undefined && o.offset === undefined) throw new ProbeError(kind, target, 'give a symbol or an offset');
  if (o.offset !== undefined && (!Number.isSafeInteger(o.offset) || o.offset < 0)) throw new ProbeError(kind, target, `offset ${o.offset} is not a non-negative integer`);
  const file = resolveBinary(o.binary, o.pid, target);
  if (o.symbol === undefined) return { path: file, offset: o.offset!, symbol: undefined };
  let bytes: Uint8Array;
  try { bytes = readFileSync(file); } catch (e) { throw new ProbeError(kind, target, `cannot read ${file}: ${(e as Error).message}`); }
  try {
    const sym = findFunction(readElfSymbols(bytes, file), o.symbol, file);
    return { path: file, offset: sym.fileOffset + (o.offset ?? 0), symbol: o.symbol };
  } catch (e) {
    if (e instanceof ElfSymbolError) throw new ProbeError(kind, `${file}:${o.symbol}`, e.reason);
    throw e;
  }
}

/**
 * Attach a KPROBE-type program as a uprobe (or uretprobe). Returns the attachment; on any
 * failure nothing is left open.
 */
export function attachUprobe(prog: Program, o: UprobeOptions): PerfEventAttachment {
  const kind = o.retprobe ? 'uretprobe' : 'uprobe';
  expectProgramType(prog, 'kprobe', kind, describe(o));
  const t = resolveUprobe(o, kind);
  const target = describe({ binary: t.path, symbol: t.symbol, offset: o.offset });
  const pmu = readPmu('uprobe', o.pmuDir ?? PMU_DIR);
  if (!pmu) throw new ProbeError(kind, target, 'this kernel has no uprobe PMU (CONFIG_UPROBE_EVENTS is off, or Linux < 4.17)');
  const sys = o.sys ?? prog.sys;
  const file = cstring(t.path);
  const attr = perfEventAttr({
    type: pmu.type, config: o.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n,
    config1: sys.addressOf(file), config2: BigInt(t.offset),
  });
  // pid -1 needs a cpu; the program runs on every cpu anyway (it hangs off the probe, not the event).
  const fd = openPerfEvent(sys, attr, { pid: o.pid ?? -1, cpu: o.pid === undefined ? 0 : -1 }, kind, target);
  void file; // referenced until perf_event_open has copied the path
  return attachToPerfEvent(prog, fd, kind, target, { mode: o.mode, cookie: o.cookie, sys });
}
