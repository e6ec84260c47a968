/**
 * The original program beside what the kernel runs. After verification the kernel rewrites
 * the program (kernel/bpf/verifier.c: convert_ctx_accesses, do_misc_fixups): context loads
 * become loads from the real structure (`__sk_buff->data` at +76 is a u64 in struct sk_buff),
 * array-map lookups are inlined (map_gen_lookup), helper calls become direct calls (imm is
 * the function's address minus __bpf_call_base), and jump offsets are moved over inserted code.
 *
 * alignXlated() pairs the two instruction lists: a global alignment (both in order, the
 * xlated list has insertions) that scores identical instructions highest, then instructions
 * of the same shape (a load from the same registers, a call for a call). Each xlated
 * instruction ends up same, rewritten or inserted; an original instruction with no partner
 * (the inlined call) is replaced by the inserted run that follows it.
 */
import { formatInstruction, listing } from '../asm/index.ts';
import { slots, type Instruction } from '../asm/instruction.ts';
import { branchField, slotIndex } from '../asm/link.ts';
import { skb } from '../asm/skb.ts';
import { CallKind, Class, JmpOp, LD_IMM64, Pseudo, opClass, opCode, sizeName } from '../asm/opcode.ts';

export type RowKind = 'same' | 'rewritten' | 'inserted' | 'removed';

export interface AlignedRow {
  readonly kind: RowKind;
  /** Instruction index in the original program. */
  readonly orig?: number;
  /** Instruction index in the xlated program. */
  readonly xlated?: number;
  /** For an inserted instruction: the original instruction whose replacement it belongs to. */
  readonly of?: number;
  /** What changed, in words. */
  readonly note?: string;
}

const isJump = (i: Instruction): boolean => {
  const c = opClass(i.op);
  return (c === Class.JMP || c === Class.JMP32) && opCode(i.op) !== JmpOp.call && opCode(i.op) !== JmpOp.exit;
};
const isCall = (i: Instruction): boolean => opClass(i.op) === Class.JMP && opCode(i.op) === JmpOp.call;
const isMapLoad = (i: Instruction): boolean => i.op === LD_IMM64 && (i.src === Pseudo.map_fd || i.src === Pseudo.map_value || i.src === Pseudo.map_idx || i.src === Pseudo.map_idx_value);
const isMem = (i: Instruction): boolean => [Class.LDX, Class.ST, Class.STX].includes(opClass(i.op) as never);

/** Identical for the program's meaning: maps compare by kind (fd vs id), jumps ignore their offset. */
function same(a: Instruction, b: Instruction): boolean {
  if (isMapLoad(a) && isMapLoad(b)) return a.dst === b.dst && a.src === b.src && (a.imm2 ?? 0) === (b.imm2 ?? 0);
  if (a.op !== b.op || a.dst !== b.dst || a.src !== b.src || a.imm !== b.imm) return false;
  if (a.op === LD_IMM64 && (a.imm2 ?? 0) !== (b.imm2 ?? 0)) return false;
  return isJump(a) ? true : a.off === b.off;
}

/** Same shape, different details: a rewrite of a into b is plausible. */
function similar(a: Instruction, b: Instruction): boolean {
  const ca = opClass(a.op), cb = opClass(b.op);
  if (isCall(a) && isCall(b)) return true;
  if (isMem(a) && isMem(b)) return ca === cb && a.dst === b.dst && a.src === b.src;
  if ((ca === Class.ALU || ca === Class.ALU64) && (cb === Class.ALU || cb === Class.ALU64)) return opCode(a.op) === opCode(b.op) && a.dst === b.dst;
  if (isJump(a) && isJump(b)) return opCode(a.op) === opCode(b.op) && a.dst === b.dst;
  if (a.op === LD_IMM64 && b.op === LD_IMM64) return a.dst === b.dst;
  return false;
}

/** Where each jump lands, as an instruction index. */
function jumpTargets(insns: readonly Instruction[]): (number | undefined)[] {
  const at = slotIndex(insns);
  const bySlot = new Map<number, number>();
  at.slice(0, insns.length).forEach((s, idx) => bySlot.set(s, idx));
  return insns.map((i, idx) => {
    const f = branchField(i);
    return f === null || (isCall(i) && i.src !== CallKind.local) ? undefined : bySlot.get(at[idx]! + 1 + i[f]);
  });
}

const SKB_FIELD = new Map<number, string>(Object.entries(skb).map(([k, v]) => [v, k]));

export interface AlignOptions {
  /** Name of a helper or kernel function from an xlated call's imm (see kallsyms.ts). */
  readonly callName?: (imm: number) => string | undefined;
  /** The program type: sched_cls names __sk_buff fields in notes. */
  readonly programType?: string;
}

/** Why `a` became `b`, in a few words. */
function rewriteNote(a: Instruction, b: Instruction, opts: AlignOptions): string {
  const parts: string[] = [];
  if (isCall(a) && isCall(b)) {
    const name = opts.callName?.(b.imm);
    return `helper #${a.imm} -> direct call${name ? ` to ${name}` : ''} (imm = address - __bpf_call_base)`;
  }
  if (isMem(a) && isMem(b)) {
    const ctxField = opts.programType && ['sched_cls', 'sched_act', 'socket_filter', 'cgroup_skb'].includes(opts.programType) && a.src === 1 && opClass(a.op) === Class.LDX
      ? SKB_FIELD.get(a.off) : undefined;
    if (ctxField) parts.push(`__sk_buff->${ctxField}`);
    if (a.op !== b.op) parts.push(`${sizeName(a.op)} -> ${sizeName(b.op)}`);
    if (a.off !== b.off) parts.push(`+${a.off} -> +${b.off}${ctxField ? ' (struct sk_buff)' : ''}`);
    return parts.join(', ') || 'rewritten';
  }
  if (a.imm !== b.imm) parts.push(`imm ${a.imm} -> ${b.imm}`);
  if (a.off !== b.off) parts.push(`off ${a.off} -> ${b.off}`);
  if (a.op !== b.op) parts.push(`opcode 0x${a.op.toString(16)} -> 0x${b.op.toString(16)}`);
  return parts.join(', ') || 'rewritten';
}

/**
 * Pair the original instructions with the xlated ones. O(m·n) dynamic programming: fine for
 * programs of thousands of instructions.
 */
export function alignXlated(orig: readonly Instruction[], xlated: readonly Instruction[], opts: AlignOptions = {}): AlignedRow[] {
  const m = orig.length, n = xlated.length;
  const W = n + 1;
  const score = new Float64Array((m + 1) * W);
  const move = new Uint8Array((m + 1) * W); // 1 diagonal, 2 up (orig removed), 3 left (xlated inserted)
  for (let i = 1; i <= m; i++) move[i * W] = 2;
  for (let j = 1; j <= n; j++) move[j] = 3;
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const a = orig[i - 1]!, b = xlated[j - 1]!;
      const pair = same(a, b) ? 3 : similar(a, b) ? 1 : -Infinity;
      const d = score[(i - 1) * W + j - 1]! + pair, u = score[(i - 1) * W + j]!, l = score[i * W + j - 1]!;
      // Prefer a pairing, then an insertion (the kernel adds far more than it removes).
      if (d >= u && d >= l) { score[i * W + j] = d; move[i * W + j] = 1; } else if (l >= u) { score[i * W + j] = l; move[i * W + j] = 3; } else { score[i * W + j] = u; move[i * W + j] = 2; }
    }
  }
  const path: { o?: number; x?: number }[] = [];
  for (let i = m, j = n; i > 0 || j > 0;) {
    const mv = move[i * W + j];
    if (mv === 1) { path.push({ o: i - 1, x: j - 1 }); i--; j--; } else if (mv === 2) { path.push({ o: i - 1 }); i--; } else { path.push({ x: j - 1 }); j--; }
  }
  path.reverse();

  // Inserted runs next to an unpaired original: that original was replaced by the run.
  const rows: AlignedRow[] = [];
  for (let k = 0; k < path.length;) {
    const p = path[k]!;
    if (p.o !== undefined && p.x !== undefined) {
      const a = orig[p.o]!, b = xlated[p.x]!;
      rows.push(same(a, b) ? { kind: 'same', orig: p.o, xlated: p.x } : { kind: 'rewritten', orig: p.o, xlated: p.x, note: rewriteNote(a, b, opts) });
      k++;
      continue;
    }
    let e = k;
    while (e < path.length && (path[e]!.o === undefined || path[e]!.x === undefined)) e++;
    const removed = path.slice(k, e).filter((q) => q.o !== undefined).map((q) => q.o!);
    const inserted = path.slice(k, e).filter((q) => q.x !== undefined).map((q) => q.x!);
    inserted.forEach((x, t) => {
      const r = removed[t];
      if (t === 0 && r !== undefined) {
        const a = orig[r]!;
        const what = isCall(a) ? `${formatInstruction(a)} inlined` : 'replaced';
        rows.push({ kind: 'rewritten', orig: r, xlated: x, note: `${what}: ${inserted.length} instruction${inserted.length > 1 ? 's' : ''}` });
      } else rows.push({ kind: 'inserted', xlated: x, ...(removed[0] !== undefined ? { of: removed[0] } : {}) });
    });
    for (const r of removed.slice(inserted.length ? 1 : 0)) rows.push({ kind: 'removed', orig: r });
    k = e;
  }

  // A jump whose offset changed is the same jump if it still lands on the partner of its old target.
  const xOf = new Map<number, number>();
  for (const r of rows) if (r.orig !== undefined && r.xlated !== undefined) xOf.set(r.orig, r.xlated);
  const ot = jumpTargets(orig), xt = jumpTargets(xlated);
  return rows.map((r) => {
    if (r.kind !== 'same' || r.orig === undefined || r.xlated === undefined) return r;
    const a = orig[r.orig]!, b = xlated[r.xlated]!;
    if (!isJump(a)) return r;
    const want = ot[r.orig] !== undefined ? xOf.get(ot[r.orig]!) : undefined;
    if (want !== undefined && want !== xt[r.xlated]) return { ...r, kind: 'rewritten', note: 'jump lands elsewhere' };
    const fa = branchField(a)!, fb = branchField(b)!;
    return a[fa] !== b[fb] ? { ...r, note: `offset ${a[fa]} -> ${b[fb]}, same target` } : r;
  });
}

export interface SideBySideLine {
  readonly kind: RowKind;
  readonly orig?: { readonly index: number; readonly slot: number; readonly text: string; readonly source?: string };
  readonly xlated?: { readonly index: number; readonly slot: number; readonly text: string };
  readonly of?: number;
  readonly note?: string;
}

export interface SideBySide {
  readonly program: string;
  readonly rows: readonly SideBySideLine[];
  readonly counts: { readonly orig: number; readonly xlated: number; readonly origSlots: number; readonly xlatedSlots: number } & Readonly<Record<RowKind, number>>;
}

/** Text of xlated instructions: labels carried over from the original, helper calls named, map ids shown. */
function xlatedTexts(xlated: readonly Instruction[], labels: ReadonlyMap<string, number>, opts: AlignOptions): string[] {
  return listing(xlated, { labels, comments: false, mapIds: true }).map((l) => {
    let t = l.text;
    if (isCall(l.insn) && l.insn.src === CallKind.helper) {
      const name = opts.callName?.(l.insn.imm);
      t = name ? `call ${name}#${l.insn.imm}` : `call ${l.insn.imm}`;
    }
    return t;
  });
}

/** The aligned listing: each original instruction's text beside the xlated instruction it became. */
export function sideBySide(name: string, orig: readonly Instruction[], xlated: readonly Instruction[], opts: AlignOptions & { labels?: ReadonlyMap<string, number> } = {}): SideBySide {
  const rows = alignXlated(orig, xlated, opts);
  const oList = listing(orig, { labels: opts.labels ?? true, comments: false, source: true });
  // Give the xlated jumps the original's label names, so `goto +29 <pass>` reads against `goto +35 <pass>`.
  const xLabels = new Map<string, number>();
  for (const l of oList) for (const name of l.labels) {
    const r = rows.find((q) => q.orig === l.index && q.xlated !== undefined);
    if (r) xLabels.set(name, r.xlated!);
  }
  const xText = xlatedTexts(xlated, xLabels, opts);
  const xSlot = slotIndex(xlated);
  const counts = { same: 0, rewritten: 0, inserted: 0, removed: 0 };
  for (const r of rows) counts[r.kind]++;
  return {
    program: name,
    rows: rows.map((r) => ({
      kind: r.kind,
      ...(r.orig !== undefined ? { orig: { index: r.orig, slot: oList[r.orig]!.slot, text: oList[r.orig]!.text, ...(oList[r.orig]!.source ? { source: oList[r.orig]!.source } : {}) } } : {}),
      ...(r.xlated !== undefined ? { xlated: { index: r.xlated, slot: xSlot[r.xlated]!, text: xText[r.xlated]! } } : {}),
      ...(r.of !== undefined ? { of: r.of } : {}),
      ...(r.note !== undefined ? { note: r.note } : {}),
    })),
    counts: {
      orig: orig.length, xlated: xlated.length,
      origSlots: orig.reduce((s, i) => s + slots(i), 0), xlatedSlots: xlated.reduce((s, i) => s + slots(i), 0), ...counts,
    },
  };
}

const MARK: Readonly<Record<RowKind, string>> = { same: ' ', rewritten: '~', inserted: '+', removed: '-' };

/** Two columns: original | xlated, with a mark (~ rewritten, + inserted, - removed) and a note. */
export function renderSideBySide(s: SideBySide, opts: { width?: number } = {}): string {
  const w = opts.width ?? 36;
  const c = s.counts;
  const out = [
    `${s.program}: ${c.orig} instructions (${c.origSlots} slots) -> the kernel runs ${c.xlated} (${c.xlatedSlots} slots): ` +
      `${c.same} same, ${c.rewritten} rewritten, ${c.inserted} inserted${c.removed ? `, ${c.removed} removed` : ''}`,
    `  ${'original (DSL)'.padEnd(w + 6)}   ${'xlated (what the kernel runs)'.padEnd(w + 6)}  note`,
  ];
  for (const r of s.rows) {
    const left = r.orig ? `${String(r.orig.slot).padStart(4)}: ${r.orig.text}` : '';
    const right = r.xlated ? `${String(r.xlated.slot).padStart(4)}: ${r.xlated.text}` : '';
    const note = r.note ?? '';
    out.push(`${MARK[r.kind]} ${left.padEnd(w + 6)} ${MARK[r.kind] === ' ' ? '|' : MARK[r.kind]} ${right.padEnd(w + 6)}  ${note}`.trimEnd());
  }
  out.push('', '  ~ rewritten   + inserted by the kernel   - removed');
  return out.join('\n') + '\n';
}
