/**
 * bpffs: the filesystem pins live in. Found through /proc/self/mounts, or mounted at
 * /sys/fs/bpf the way tc does it (mode=0700), with tc's directory layout:
 *   /sys/fs/bpf/tc/globals/<map name>   maps shared by name (tc's PIN_GLOBAL_NS)
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { defaultSys, type Sys } from './sys.ts';
import { errnoName } from '../errno.ts';

export const BPFFS_DEFAULT = '/sys/fs/bpf';

export interface Mount {
  readonly source: string;
  readonly target: string;
  readonly fstype: string;
  readonly options: string;
}

/** /proc/mounts escapes space, tab, newline and backslash as octal (\040). */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parse /proc/self/mounts text. */
export function parseMounts(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const [source, target, fstype, options] = line.split(' ');
    if (!source || !target || !fstype) continue;
    out.push({ source: unescape(source), target: unescape(target), fstype, options: options ?? '' });
  }
  return out;
}

/** Every bpffs mount point of this mount namespace, in mount order. */
export function findBpffs(mountsText?: string): string[] {
  const text = mountsText ?? readFileSync('/proc/self/mounts', 'utf8');
  return parseMounts(text).filter((m) => m.fstype === 'bpf').map((m) => m.target);
}

export interface EnsureBpffsOptions {
  /** Where bpffs should be; default /sys/fs/bpf (tc's and bpftool's default). */
  readonly path?: string;
  /** Mount it when it is not mounted yet (default true). */
  readonly mount?: boolean;
  /** For tests: the mounts text and the mount call. */
  readonly mountsText?: string;
  readonly mountFn?: (source: string, target: string, fstype: string, flags: number, data: string | null) => number;
  /** The system-call seam; mount(2) goes through sys.mount. */
  readonly sys?: Sys;
}

/**
 * The bpffs mount point to pin under: `path` when bpffs is mounted there, else mounted there
 * now with mode=0700 (only root may walk it, as tc sets it up). Other bpffs mounts elsewhere are
 * not used, so pins land where tc and bpftool look.
 */
export function ensureBpffs(opts: EnsureBpffsOptions = {}): string {
  const target = opts.path ?? BPFFS_DEFAULT;
  const mounts = findBpffs(opts.mountsText);
  if (mounts.includes(target)) return target;
  if (opts.mount === false) {
    throw new Error(`bpffs is not mounted at ${target}${mounts.length ? ` (it is at ${mounts.join(', ')})` : ''}: mount it with 'mount -t bpf bpf ${target}'`);
  }
  if (!opts.mountFn) mkdirSync(target, { recursive: true });
  const r = (opts.mountFn ?? (opts.sys ?? defaultSys).mount ?? noMount)('bpf', target, 'bpf', 0, 'mode=0700');
  if (r < 0) {
    const code = errnoName(-r);
    const hint = code === 'EPERM' ? ': mounting needs root (CAP_SYS_ADMIN)' : '';
    throw new Error(`mounting bpffs at ${target} failed: ${code}${hint}`);
  }
  return target;
}

const noMount = (): number => -38; // ENOSYS: a Sys without mount

/** tc's directory for maps shared by name, created (0700, like tc) if missing. */
export function tcGlobals(bpffs = ensureBpffs()): string {
  const dir = path.join(bpffs, 'tc', 'globals');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Where tc pins a PIN_GLOBAL_NS map of this name: /sys/fs/bpf/tc/globals/<name>. */
export function tcPinPath(name: string, bpffs?: string): string {
  return path.join(tcGlobals(bpffs), name);
}

/** True when path is inside a bpffs mount (statfs magic is not exposed by node: use the mount table). */
export function onBpffs(p: string, mountsText?: string): boolean {
  const abs = path.resolve(p);
  return findBpffs(mountsText).some((m) => abs === m || abs.startsWith(m.endsWith('/') ? m : m + '/'));
}

/** Whether something exists at a path (pins are files on bpffs). */
export function exists(p: string): boolean {
  try { statSync(p); return true; } catch { return false; }
}
