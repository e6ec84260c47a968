/**
 * `explain`: a program's listing with, beside each instruction, the TypeScript line that
 * emitted it and what the verifier believed there (parsed from its level-2 log), and on a
 * rejection the failing instruction, the kernel's message and a plain-language lesson.
 *
 * explainLog() is pure (a spec and a log in, rows out); explainProgram() loads the program to
 * get the log; renderExplain() prints the result.
 */
import { listing } from '../asm/index.ts';
import type { ProgramSpec } from '../asm/program.ts';
import { BpfError, VerifierError, loadProgram } from '../syscall/index.ts';
import { lessonFor } from './lessons-index.ts';
import { parseLog, visitsByInsn, type LogStats, type VerifierState, type Visit } from './log.ts';
import { withMapsFor } from './maps.ts';

export interface ExplainedInsn {
  /** Instruction index (LD_IMM64 counts once). */
  readonly index: number;
  /** Slot index: what the verifier log and jump offsets count. */
  readonly slot: number;
  readonly text: string;
  readonly source?: string;
  readonly comment?: string;
  readonly labels: readonly string[];
  /** What the verifier logged here, one entry per path that reached it (empty: never reached). */
  readonly visits: readonly Visit[];
  /**
   * The line the kernel itself attributes to this instruction (from the program's BTF
   * line_info, as its log prints it: "; text @ file.ts:42"), when the program was loaded with
   * BTF. `source` then comes from it.
   */
  readonly kernelLine?: KernelLine;
  /** Registers live before it (the log's "Live regs before insn" table), when logged. */
  readonly live?: readonly number[];
  readonly failing: boolean;
}

export interface ExplainError {
  /** First line of the verdict. */
  readonly message: string;
  readonly lines: readonly string[];
  /** Slot index of the failing instruction, and the rest of its identity. */
  readonly slot?: number;
  readonly index?: number;
  readonly text?: string;
  readonly source?: string;
  readonly details: readonly { readonly label: string; readonly state: VerifierState }[];
  readonly lesson?: { readonly id: string; readonly title: string; readonly explanation: string };
  /** 'EACCES', 'EINVAL'… */
  readonly errno?: string;
}

export interface Explanation {
  readonly program: string;
  readonly type: string;
  readonly license: string;
  readonly loaded: boolean;
  /** The state the verifier starts from (`0: R1=ctx() R10=fp0`). */
  readonly entry?: VerifierState;
  readonly insns: readonly ExplainedInsn[];
  readonly error?: ExplainError;
  readonly stats: LogStats;
  readonly log: string;
}

/** A source line as the kernel printed it from line_info: base name of the file, line number, text. */
export interface KernelLine { readonly file: string; readonly line: number; readonly text: string }

const LINE_MARK = /^; (.*) @ (\S+):(\d+)$/;
const INSN_AT = /^(\d+): \(/;

/**
 * The kernel's line mapping, from its log: with BTF line_info, the verifier prints
 * "; <line text> @ <file>:<line>" before the first instruction of each line it walks. An
 * instruction without a mark of its own belongs to the nearest marked one before it (the
 * kernel's find_linfo rule: the last line_info at or before the instruction).
 */
export function kernelLines(log: string, slots: readonly number[]): Map<number, KernelLine> {
  const marked = new Map<number, KernelLine>();
  let pending: KernelLine | undefined;
  for (const l of log.split('\n')) {
    const m = LINE_MARK.exec(l);
    if (m) { pending = { text: m[1]!, file: m[2]!, line: Number(m[3]) }; continue; }
    const i = INSN_AT.exec(l);
    if (i && pending) { if (!marked.has(Number(i[1]))) marked.set(Number(i[1]), pending); pending = undefined; }
  }
  const out = new Map<number, KernelLine>();
  if (!marked.size) return out;
  let cur: KernelLine | undefined;
  for (const s of [...slots].sort((a, b) => a - b)) {
    cur = marked.get(s) ?? cur;
    if (cur) out.set(s, cur);
  }
  return out;
}

/** "programs/x.ts:42" from the kernel's "x.ts" and 42, keeping our path when the base names agree. */
function sourceFromKernel(k: KernelLine, ours: string | undefined): string {
  const file = ours?.replace(/:\d+$/, '');
  return `${file && (file === k.file || file.endsWith(`/${k.file}`)) ? file : k.file}:${k.line}`;
}

/** Annotate a spec with a verifier log (pure). */
export function explainLog(spec: ProgramSpec, log: string, opts: { loaded: boolean; errno?: string }): Explanation {
  const parsed = parseLog(log, { rejected: !opts.loaded });
  const visits = visitsByInsn(parsed);
  const lines = listing(spec.insns, { labels: spec.labels, source: true });
  const err = parsed.error;
  const failing = err?.index !== undefined ? lines.find((l) => l.slot === err.index) : undefined;
  const first = parsed.events.find((e) => e.kind === 'state' && e.index === 0);
  const fromKernel = kernelLines(log, lines.map((l) => l.slot));
  const sourceOf = (slot: number, ours: string | undefined): string | undefined => {
    const k = fromKernel.get(slot);
    return k ? sourceFromKernel(k, ours) : ours;
  };
  const insns: ExplainedInsn[] = lines.map((l) => ({
    index: l.index, slot: l.slot, text: l.text,
    ...(sourceOf(l.slot, l.insn.source) ? { source: sourceOf(l.slot, l.insn.source)! } : {}),
    ...(fromKernel.has(l.slot) ? { kernelLine: fromKernel.get(l.slot)! } : {}),
    ...(l.comment ? { comment: l.comment } : {}),
    labels: l.labels,
    visits: visits.get(l.slot) ?? [],
    ...(parsed.liveRegs.has(l.slot) ? { live: parsed.liveRegs.get(l.slot)! } : {}),
    failing: failing !== undefined && failing.index === l.index,
  }));
  let error: ExplainError | undefined;
  if (err) {
    const lesson = lessonFor(err.lines.join('\n'), failing?.text);
    error = {
      message: err.message, lines: err.lines, details: err.details,
      ...(err.index !== undefined ? { slot: err.index } : {}),
      ...(failing ? { index: failing.index, text: failing.text, ...(sourceOf(failing.slot, failing.insn.source) ? { source: sourceOf(failing.slot, failing.insn.source)! } : {}) } : {}),
      ...(lesson ? { lesson: { id: lesson.id, title: lesson.title, explanation: lesson.explanation } } : {}),
      ...(opts.errno ? { errno: opts.errno } : {}),
    };
  }
  return {
    program: spec.name, type: spec.type, license: spec.license, loaded: opts.loaded,
    ...(first && first.kind === 'state' ? { entry: first.state } : {}),
    insns, ...(error ? { error } : {}), stats: parsed.stats, log,
  };
}

/**
 * Load a program at verifier log level 2 (maps it references are created for the occasion)
 * and annotate it. A rejection is a result, not an error; other failures throw.
 */
export async function explainProgram(spec: ProgramSpec, opts: { logSize?: number } = {}): Promise<Explanation> {
  return withMapsFor(spec, (maps) => {
    try {
      const p = loadProgram(spec, { maps, logLevel: 2, logStats: true, ...(opts.logSize ? { logSize: opts.logSize } : {}) });
      const log = p.verifierLog;
      p.close();
      return explainLog(spec, log, { loaded: true });
    } catch (e) {
      if (e instanceof VerifierError) return explainLog(spec, e.log, { loaded: false, errno: e.code });
      if (e instanceof BpfError && e.command === 'BPF_PROG_LOAD') {
        return { ...explainLog(spec, '', { loaded: false, errno: e.code }), error: { message: e.message, lines: [e.message], details: [], errno: e.code } };
      }
      throw e;
    }
  });
}

export interface RenderOptions {
  /** Extra paths per instruction to print (default 3; Infinity for all). */
  readonly paths?: number;
  readonly width?: number;
  /** Print the lesson's explanation under the failing instruction (default true). */
  readonly lesson?: boolean;
}

/** The annotated listing as text. */
export function renderExplain(x: Explanation, opts: RenderOptions = {}): string {
  const maxPaths = opts.paths ?? 3;
  const w = opts.width ?? 34;
  const srcW = Math.max(0, ...x.insns.map((i) => (i.source ?? '').length));
  const s = x.stats;
  const head = x.loaded
    ? `loaded: the verifier accepted it${s.processed !== undefined ? ` after walking ${s.processed} instructions` : ''}` +
      `${s.totalStates !== undefined ? `, ${s.totalStates} states saved` : ''}${s.stackDepth ? `, stack ${s.stackDepth.join('+')} bytes` : ''}`
    : `REJECTED${x.error?.errno ? ` (${x.error.errno})` : ''}${x.error?.slot !== undefined ? ` at instruction ${x.error.slot}` : ''}`;
  const out = [`${x.program}  (${x.type}, license ${x.license}, ${x.insns.length} instructions)  ${head}`, ''];
  const pad = ' '.repeat(8 + w + 2 + srcW + 2);
  if (x.entry) out.push(`${' '.repeat(8 + w + 2 + srcW + 2)}start: ${x.entry.text}`);
  for (const i of x.insns) {
    for (const l of i.labels) out.push(`${l}:`);
    const [first, ...rest] = i.visits;
    const state = first === undefined ? (i.failing ? '' : 'not reached') : first.safe ? SAFE : first.after?.text ?? '';
    const mark = i.failing ? '>>' : '  ';
    out.push(`${mark}${String(i.slot).padStart(4)}: ${i.text.padEnd(w)}  ${(i.source ?? '').padEnd(srcW)}  ${state}`.trimEnd());
    const shown = rest.slice(0, maxPaths);
    for (const v of shown) {
      const t = v.safe ? SAFE : v.after?.text ?? '';
      out.push(`${pad}path from ${v.from ?? '?'}: ${t}`.trimEnd());
    }
    if (rest.length > shown.length) out.push(`${pad}… ${rest.length - shown.length} more paths (--paths N, or --json)`);
    if (i.failing && x.error) out.push(...errorBlock(x.error, opts.lesson !== false));
  }
  if (x.error && !x.insns.some((i) => i.failing)) out.push('', ...errorBlock(x.error, opts.lesson !== false));
  return out.join('\n') + '\n';
}

const SAFE = 'safe: a state already verified here covers this path';

function errorBlock(e: ExplainError, lesson: boolean): string[] {
  const out = [`        ^^^ the verifier stopped here${e.source ? ` (${e.source})` : ''}:`];
  for (const l of e.lines) out.push(`            ${l}`);
  for (const d of e.details) out.push(`            ${d.label}: ${d.state.text}`);
  if (e.lesson && lesson) {
    out.push(`        why (${e.lesson.title}):`);
    out.push(...wrap(e.lesson.explanation, 88).map((l) => `            ${l}`));
  }
  return out;
}

/** Word-wrap for terminal output. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/)) {
    if (cur && cur.length + 1 + word.length > width) { out.push(cur); cur = word; } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) out.push(cur);
  return out;
}
