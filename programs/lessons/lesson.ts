/**
 * What a lesson is, and how one is run. A lesson is a broken variant of the mes_pkt probe
 * (programs/mes_pkt/probe.ts), the fragment of the kernel's message it must produce, why the
 * verifier says it (from src/verifier/lessons-index.ts, shared with `explain`), and the fixed
 * program, which must load. Each lesson file exports `broken`, `fixed` and `lesson`, so
 * `tsbpf explain programs/lessons/<name>.ts --entry broken` works on it too.
 */
import { spawnSync } from 'node:child_process';
import { nodeArgs, siblingFile } from '../../src/command.ts';
import { AsmError, Builder, link, referencedMaps, type ProgramOptions, type ProgramSpec } from '../../src/asm/index.ts';
import { loadProgram, VerifierError } from '../../src/syscall/index.ts';
import { explainProgram, lessonById, withMapsFor, type Explanation } from '../../src/verifier/index.ts';

export interface Lesson {
  /** The file name without .ts: 'no-bounds-check'. */
  readonly name: string;
  /** Its entry in src/verifier/lessons-index.ts (title and explanation). */
  readonly id: string;
  readonly broken: ProgramSpec;
  readonly fixed: ProgramSpec;
  /** A fragment of the kernel's message for `broken`, on this kernel (6.x). */
  readonly expected: string;
  /**
   * Load `broken` without CAP_PERFMON / CAP_SYS_ADMIN (keeping CAP_BPF and CAP_NET_ADMIN): what
   * the verifier forbids only to loaders that are not trusted with kernel memory.
   */
  readonly unprivileged?: boolean;
  /** Said after the explanation: a point this lesson adds. */
  readonly note?: string;
}

export interface LessonResult {
  readonly name: string;
  readonly title: string;
  readonly rejected: boolean;
  /** The kernel's message, every line of it. */
  readonly message: string;
  readonly expected: string;
  readonly fixed_loads: boolean;
  /** The failing instruction: slot index, text and the TypeScript line that emitted it. */
  readonly slot?: number;
  readonly instruction?: string;
  readonly source?: string;
  readonly explanation: string;
  /** What tsbpf's linker says about `broken`, when it catches the mistake first. */
  readonly assembler?: string;
  /** For unprivileged lessons: whether root (all capabilities) may load `broken`. */
  readonly root_loads?: boolean;
  readonly fixed_error?: string;
  readonly explain: Explanation;
}

/**
 * A program built without link(): raw jump offsets are kept as written, unchecked, so the
 * kernel sees exactly the mistake (only the jump-into-LD_IMM64 lesson needs this).
 */
export function unlinked(opts: ProgramOptions, build: (b: Builder) => void): ProgramSpec {
  const b = new Builder();
  build(b);
  return { ...opts, license: opts.license ?? 'GPL', insns: b.insns, labels: b.labels, maps: referencedMaps(b.insns) };
}

/** explain, run in a child process whose capability bounding set lacks CAP_PERFMON and CAP_SYS_ADMIN. */
function explainUnprivileged(name: string): Explanation {
  const file = siblingFile(import.meta.url, `./${name}.ts`);
  const drop = '-perfmon,-sys_admin';
  const r = spawnSync('setpriv', [`--bounding-set=${drop}`, `--inh-caps=${drop}`, '--',
    process.execPath, ...nodeArgs(import.meta.url, '../../src/cli.ts'), 'explain', file, '--entry', 'broken', '--json'],
  { encoding: 'utf8' });
  if (r.error) throw new Error(`lesson ${name}: cannot run setpriv (util-linux) to drop CAP_PERFMON: ${r.error.message}`);
  try {
    return JSON.parse(r.stdout) as Explanation;
  } catch {
    throw new Error(`lesson ${name}: the unprivileged explain printed no JSON (exit ${r.status}): ${r.stderr.trim()}`);
  }
}

/** Does the spec load (maps created for it)? The error message when it does not. */
async function loads(spec: ProgramSpec): Promise<{ ok: boolean; error?: string }> {
  return withMapsFor(spec, (maps) => {
    try {
      loadProgram(spec, { maps }).close();
      return { ok: true };
    } catch (e) {
      return { ok: false, error: e instanceof VerifierError ? e.summary : (e as Error).message };
    }
  });
}

/** Load the broken program (log level 2) and the fixed one; report what the kernel said. */
export async function runLesson(l: Lesson): Promise<LessonResult> {
  const entry = lessonById(l.id);
  let assembler: string | undefined;
  try {
    link(l.broken.insns, l.broken.labels);
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    assembler = e.message;
  }
  const x = l.unprivileged ? explainUnprivileged(l.name) : await explainProgram(l.broken);
  const rootLoads = l.unprivileged ? (await loads(l.broken)).ok : undefined;
  const fixed = await loads(l.fixed);
  const failing = x.insns.find((i) => i.failing);
  return {
    name: l.name, title: entry.title, rejected: !x.loaded,
    message: x.error?.lines.join('\n') ?? '', expected: l.expected, fixed_loads: fixed.ok,
    ...(x.error?.slot !== undefined ? { slot: x.error.slot } : {}),
    ...(failing ? { instruction: failing.text } : {}),
    ...(failing?.source ? { source: failing.source } : {}),
    explanation: entry.explanation + (l.note ? ` ${l.note}` : ''),
    ...(assembler !== undefined ? { assembler } : {}),
    ...(rootLoads !== undefined ? { root_loads: rootLoads } : {}),
    ...(fixed.error ? { fixed_error: fixed.error } : {}),
    explain: x,
  };
}
