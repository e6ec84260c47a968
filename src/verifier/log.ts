/**
 * The verifier log, parsed. At log level 2 the kernel (6.x) prints, for every instruction it
 * walks, the instruction and the registers and stack slots it just changed:
 *
 *   0: R1=ctx() R10=fp0                                      state at the start of a path
 *   0: (61) r2 = *(u32 *)(r1 +80)         ; R1=ctx() R2_w=pkt_end()    instruction ; state after
 *   from 4 to 34: R0=... R10=fp0                             a branch taken later (or ": safe")
 *   invalid access to packet, off=12 size=2, R1(id=0,off=12,r=0)       the verdict
 *   processed 42 insns (limit 1000000) max_states_per_insn 0 total_states 4 peak_states 4 mark_read 0
 *
 * plus, on newer kernels, a "Live regs before insn:" table and liveness/precision debug lines.
 * parseLog() turns that text into events; visitsByInsn() groups them per instruction, which is
 * what `explain` prints beside each line. Indexes are slot indexes (an LD_IMM64 counts twice),
 * as in the log.
 */

/** One register's value as the verifier tracks it, e.g. `pkt(off=42,r=42)` or `scalar(smin=0,…)`. */
export interface RegValue {
  /** ctx, pkt, pkt_end, pkt_meta, scalar, map_ptr, map_value, map_value_or_null, fp, ptr_…  */
  readonly type: string;
  /** The value exactly as logged. */
  readonly text: string;
  /** key=value pairs inside the parentheses; `smax=umax=0xffff` gives both keys. */
  readonly fields: Readonly<Record<string, string>>;
  /** A known constant (`R2=8`, `R1=0x8913`), as logged. */
  readonly const?: string;
  /** Stack pointers (`fp-4`): the offset from the frame pointer r10. */
  readonly fpOffset?: number;
  /** `P` prefix: the verifier has marked this value precise (it matters for a later decision). */
  readonly precise?: boolean;
}

export interface RegState extends RegValue {
  /** 'R1' */
  readonly name: string;
  readonly reg: number;
  /** `_w` suffix: written by this instruction (or since the last checkpoint). */
  readonly written: boolean;
  /** Call frame (0 = main program; `frame1:` prefixes a callee's registers). */
  readonly frame: number;
}

export interface StackSlot {
  /** 'fp-8' */
  readonly name: string;
  /** Offset from r10 of the 8-byte slot (-8, -16, …). */
  readonly offset: number;
  readonly written: boolean;
  readonly frame: number;
  readonly text: string;
  /**
   * Per-byte slot types, highest address first, for the bytes not covered by a spilled register:
   * `0` zero, `m` misc (some data), `?` uninitialised, `f` dynptr, `i` iterator.
   */
  readonly bytes?: string;
  /** A spilled register (`fp-16=scalar(id=1)`). */
  readonly spilled?: RegValue;
}

export interface VerifierState {
  readonly text: string;
  readonly regs: readonly RegState[];
  readonly stack: readonly StackSlot[];
}

export type LogEvent =
  | { readonly kind: 'insn'; readonly line: number; readonly index: number; readonly opcode: number; readonly text: string; readonly after?: VerifierState }
  | { readonly kind: 'state'; readonly line: number; readonly index: number; readonly state: VerifierState }
  /** `11: safe`: this path reached a state already verified at 11 (pruned). */
  | { readonly kind: 'safe'; readonly line: number; readonly index: number }
  | { readonly kind: 'branch'; readonly line: number; readonly from: number; readonly to: number; readonly safe: boolean; readonly state?: VerifierState }
  | { readonly kind: 'source'; readonly line: number; readonly text: string }
  | { readonly kind: 'func'; readonly line: number; readonly func: number; readonly index: number }
  | { readonly kind: 'detail'; readonly line: number; readonly label: string; readonly state: VerifierState }
  | { readonly kind: 'debug'; readonly line: number; readonly text: string }
  | { readonly kind: 'message'; readonly line: number; readonly text: string };

export interface LogStats {
  readonly processed?: number;
  readonly limit?: number;
  readonly maxStatesPerInsn?: number;
  readonly totalStates?: number;
  readonly peakStates?: number;
  readonly markRead?: number;
  readonly timeUsec?: number;
  /** Per subprogram, bytes. */
  readonly stackDepth?: readonly number[];
}

export interface LogError {
  /** The verdict, first line (e.g. "invalid access to packet, off=12 size=2, R1(id=0,off=12,r=0)"). */
  readonly message: string;
  /** Every line of the verdict ("R1 offset is outside of the packet" follows the line above). */
  readonly lines: readonly string[];
  /** Slot index of the instruction the verifier stopped at, when the log says. */
  readonly index: number | undefined;
  /** `cur state:` / `old state:` and similar states printed with the verdict. */
  readonly details: readonly { readonly label: string; readonly state: VerifierState }[];
}

export interface ParsedLog {
  readonly events: readonly LogEvent[];
  readonly stats: LogStats;
  /** Registers live before each instruction (the "Live regs before insn" table), by slot index. */
  readonly liveRegs: ReadonlyMap<number, readonly number[]>;
  readonly error: LogError | undefined;
}

/** Split a state string at spaces outside parentheses: `R1=scalar(var_off=(0x0; 0xff)) R10=fp0`. */
function tokens(s: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ' ' && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** Split `a=1,b=(x; y),c=2` at commas outside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** Parse one logged value: `ctx()`, `pkt(off=42,r=42)`, `8`, `0x8913`, `fp-4`, `Pscalar(umax=3)`, `inv`. */
export function parseValue(text: string): RegValue {
  let t = text;
  let precise = false;
  if (/^P(?=[a-z\d-])/.test(t)) { precise = true; t = t.slice(1); }
  const base = { text, ...(precise ? { precise } : {}) };
  const num = /^-?(?:0x[0-9a-f]+|\d+)$/i.exec(t);
  if (num) return { ...base, type: 'scalar', fields: {}, const: t };
  const fp = /^fp(-?\d+)$/.exec(t);
  if (fp) return { ...base, type: 'fp', fields: {}, fpOffset: Number(fp[1]) };
  const call = /^([A-Za-z_][\w]*)\((.*)\)$/.exec(t);
  if (call) {
    const fields: Record<string, string> = {};
    for (const part of splitTop(call[2]!)) {
      const keys = part.split('=');
      if (keys.length < 2) { if (part) fields[part] = ''; continue; }
      // `smin=smin32=0`: every key but the last names the same value. var_off=(0x0; 0xff) keeps its parentheses.
      const eq = part.lastIndexOf('=', part.indexOf('(') < 0 ? part.length : part.indexOf('('));
      const value = part.slice(eq + 1);
      for (const k of part.slice(0, eq).split('=')) fields[k] = value;
    }
    return { ...base, type: call[1]!, fields };
  }
  return { ...base, type: t, fields: {} };
}

/** Parse a state: `R1=ctx() R2_w=pkt_end() fp-8=0000???? frame1: R1=…`. Unknown tokens are skipped. */
export function parseState(text: string): VerifierState {
  const regs: RegState[] = [];
  const stack: StackSlot[] = [];
  let frame = 0;
  for (const tok of tokens(text.trim())) {
    const f = /^frame(\d+):$/.exec(tok);
    if (f) { frame = Number(f[1]); continue; }
    const eq = tok.indexOf('=');
    if (eq < 0) continue;
    const name = tok.slice(0, eq), value = tok.slice(eq + 1);
    const r = /^R(\d+)(?:_(r|w|rw))?$/.exec(name);
    if (r) {
      regs.push({ ...parseValue(value), name: `R${r[1]}`, reg: Number(r[1]), written: (r[2] ?? '').includes('w'), frame });
      continue;
    }
    const s = /^fp(-\d+)(?:_(r|w|rw))?$/.exec(name);
    if (s) {
      const slot = { name: `fp${s[1]}`, offset: Number(s[1]), written: (s[2] ?? '').includes('w'), frame, text: value };
      // Eight slot-type characters; a spilled register's value; or both (`0000scalar(…)`: a
      // 32-bit spill over bytes already zero).
      const kinds = /^[0mfi?r]{8}$/.test(value) ? [value, ''] : (/^([0mfi?r]{1,7})([a-zA-Z].*)$/.exec(value)?.slice(1) ?? ['', value]);
      stack.push({ ...slot, ...(kinds[0] ? { bytes: kinds[0] } : {}), ...(kinds[1] ? { spilled: parseValue(kinds[1]) } : {}) });
    }
  }
  return { text: text.trim(), regs, stack };
}

const INSN = /^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; (.*))?$/;
const STATE_AT = /^(\d+): (?=R\d|frame\d|fp-?\d)(.*)$/;
const BRANCH = /^from (\d+) to (\d+): (.*)$/;
const PROCESSED = /^processed (\d+) insns \(limit (\d+)\) max_states_per_insn (\d+) total_states (\d+) peak_states (\d+) mark_read (\d+)/;
const LIVE_ROW = /^\s+(\d+): ([.\d]{10,}) \(/;
/** Lines that narrate the verifier's bookkeeping rather than a verdict. */
const DEBUG = /^(SCC |\(\d+\) frame \d+ |mark_precise:|last_idx |regs=|parent (?:didn't|already)|propagating |Live regs before insn:|-- END|\s*$|stack depth |verification time |processed \d+ insns|max_states_per_insn|Func#|func#|Validating |Global function )/;

/** Parse a verifier log (any level). `rejected` says whether the load failed; default: guess from the log. */
export function parseLog(text: string, opts: { rejected?: boolean } = {}): ParsedLog {
  const events: LogEvent[] = [];
  const live = new Map<number, number[]>();
  let stats: { -readonly [K in keyof LogStats]: LogStats[K] } = {};
  let inLive = false;
  text.split('\n').forEach((raw, line) => {
    const l = raw.replace(/\s+$/, '');
    if (l === 'Live regs before insn:') { inLive = true; events.push({ kind: 'debug', line, text: l }); return; }
    if (inLive) {
      const m = LIVE_ROW.exec(l);
      if (m) {
        live.set(Number(m[1]), [...m[2]!].flatMap((c) => (c === '.' ? [] : [Number(c)])));
        events.push({ kind: 'debug', line, text: l });
        return;
      }
      inLive = false;
    }
    let m: RegExpExecArray | null;
    if ((m = /^(\d+): safe$/.exec(l))) {
      events.push({ kind: 'safe', line, index: Number(m[1]) });
    } else if ((m = INSN.exec(l))) {
      events.push({ kind: 'insn', line, index: Number(m[1]), opcode: parseInt(m[2]!, 16), text: m[3]!.trim(), ...(m[4] !== undefined ? { after: parseState(m[4]) } : {}) });
    } else if ((m = STATE_AT.exec(l))) {
      events.push({ kind: 'state', line, index: Number(m[1]), state: parseState(m[2]!) });
    } else if ((m = BRANCH.exec(l))) {
      const safe = m[3]!.trim() === 'safe';
      events.push({ kind: 'branch', line, from: Number(m[1]), to: Number(m[2]), safe, ...(safe ? {} : { state: parseState(m[3]!) }) });
    } else if ((m = PROCESSED.exec(l))) {
      stats = { ...stats, processed: Number(m[1]), limit: Number(m[2]), maxStatesPerInsn: Number(m[3]), totalStates: Number(m[4]), peakStates: Number(m[5]), markRead: Number(m[6]) };
      events.push({ kind: 'debug', line, text: l });
    } else if ((m = /^verification time (\d+) usec/.exec(l))) {
      stats = { ...stats, timeUsec: Number(m[1]) };
      events.push({ kind: 'debug', line, text: l });
    } else if ((m = /^stack depth (.*)$/.exec(l))) {
      stats = { ...stats, stackDepth: m[1]!.trim().split(/\s*\+\s*/).map(Number) };
      events.push({ kind: 'debug', line, text: l });
    } else if ((m = /^func#(\d+) @(\d+)/.exec(l))) {
      events.push({ kind: 'func', line, func: Number(m[1]), index: Number(m[2]) });
    } else if ((m = /^(cur state|old state|caller|callee|returning from callee|to caller at \d+):\s*(.*)$/.exec(l)) && /=/.test(m[2]!)) {
      events.push({ kind: 'detail', line, label: m[1]!, state: parseState(m[2]!) });
    } else if (l.startsWith('; ')) {
      events.push({ kind: 'source', line, text: l.slice(2) });
    } else if (DEBUG.test(l)) {
      events.push({ kind: 'debug', line, text: l });
    } else {
      events.push({ kind: 'message', line, text: l.trim() });
    }
  });
  return { events, stats, liveRegs: live, error: findError(events, opts.rejected) };
}

/** The verdict: the message lines after the last instruction the verifier walked. */
function findError(events: readonly LogEvent[], rejected: boolean | undefined): LogError | undefined {
  if (rejected === false) return undefined;
  let lastInsn = -1;
  events.forEach((e, i) => { if (e.kind === 'insn' || e.kind === 'state') lastInsn = i; });
  const after = events.slice(lastInsn + 1);
  const lines = after.filter((e): e is Extract<LogEvent, { kind: 'message' }> => e.kind === 'message').map((e) => e.text);
  if (lines.length === 0) {
    if (rejected !== true) return undefined;
    return { message: 'the verifier gave no message', lines: [], index: undefined, details: [] };
  }
  const details = after.filter((e): e is Extract<LogEvent, { kind: 'detail' }> => e.kind === 'detail').map((e) => ({ label: e.label, state: e.state }));
  // "infinite loop detected at insn 8", "unreachable insn 1", "jump into the middle of ldimm64 insn 1"
  // name the instruction more exactly than the last one walked (which may be before the back-edge).
  const named = /\binsn (\d+)\b/.exec(lines[0]!);
  const last = lastInsn >= 0 ? events[lastInsn]! : undefined;
  const index = named ? Number(named[1]) : last && (last.kind === 'insn' || last.kind === 'state') ? last.index : undefined;
  return { message: lines[0]!, lines, index, details };
}

/** What the verifier logged at one instruction on one path through the program. */
export interface Visit {
  /** The branch this path started at ("from 4 to 34"), undefined on the first path. */
  readonly from?: number;
  /** The full state logged at the start of a path (`34: R0=… R10=fp0`). */
  readonly before?: VerifierState;
  /** The registers and slots this instruction changed (`; R2_w=pkt_end()`). */
  readonly after?: VerifierState;
  /** The path stopped here: a state already verified at this instruction covers it (pruning). */
  readonly safe?: boolean;
}

/** Every visit of every instruction, in log order, keyed by slot index. */
export function visitsByInsn(log: ParsedLog): Map<number, Visit[]> {
  const out = new Map<number, Visit[]>();
  let from: number | undefined;
  let pending: { index: number; state: VerifierState } | undefined;
  const push = (index: number, v: Visit): void => {
    const list = out.get(index) ?? [];
    list.push(v);
    out.set(index, list);
  };
  for (const e of log.events) {
    if (e.kind === 'branch') {
      from = e.from;
      pending = undefined;
      if (e.safe) push(e.to, { from: e.from, safe: true });
    } else if (e.kind === 'safe') {
      push(e.index, { ...(from !== undefined ? { from } : {}), safe: true });
      pending = undefined;
    } else if (e.kind === 'state') {
      pending = { index: e.index, state: e.state };
    } else if (e.kind === 'insn') {
      const before = pending && pending.index === e.index ? pending.state : undefined;
      pending = undefined;
      push(e.index, { ...(from !== undefined ? { from } : {}), ...(before ? { before } : {}), ...(e.after ? { after: e.after } : {}) });
    }
  }
  return out;
}

/** A value in words, for listings and docs: `pkt(off=42,r=42)` -> "packet pointer +42, 42 bytes checked". */
export function describeValue(v: RegValue): string {
  const f = v.fields;
  const off = f.off !== undefined && f.off !== '0' ? ` +${f.off}` : '';
  switch (v.type) {
    case 'ctx': return 'the context (struct __sk_buff *)';
    case 'pkt': return `packet pointer${off}, ${f.r ?? '0'} bytes proven in bounds`;
    case 'pkt_end': return 'end of the packet (data_end)';
    case 'pkt_meta': return `packet metadata pointer${off}`;
    case 'fp': return `stack pointer r10${v.fpOffset ? `${v.fpOffset}` : ''}`;
    case 'map_ptr': return `the map ${f.map ?? ''}`.trim();
    case 'map_value': return `pointer into a value of map ${f.map ?? '?'} (${f.vs ?? '?'} bytes)`;
    case 'map_value_or_null': return `pointer into a value of map ${f.map ?? '?'}, or NULL: check it before use`;
    case 'scalar': {
      if (v.const !== undefined) return `the number ${v.const}`;
      const lo = f.umin ?? f.smin, hi = f.umax ?? f.smax;
      return lo !== undefined || hi !== undefined ? `a number in [${lo ?? 0}, ${hi ?? '?'}]` : 'an unknown number';
    }
    default: return v.type;
  }
}
