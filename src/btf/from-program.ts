/**
 * BTF for a DSL program: how the kernel learns that instruction 7 came from line 42 of
 * programs/mes_pkt/probe-v2.ts. The DSL records the TypeScript call site of every instruction
 * (`source`, "file:line"); this turns those into what BPF_PROG_LOAD takes beside the code:
 *
 *   - a small .BTF: `int` and `void *`, one FUNC_PROTO per function shape, one FUNC per entry
 *     point and subprogram (the kernel requires func_info for all of them or none);
 *   - func_info: { insn_off, FUNC type id } for each function's first slot;
 *   - line_info: { insn_off, file, line text, line << 10 | column } wherever the source line
 *     changes, and at each function's first slot (another kernel rule).
 *
 * The kernel then prints "; b.ldx('u32', r2, r1, skb.data_end) @ probe-v2.ts:42" in its
 * verifier log and in `bpftool prog dump xlated … linum`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Instruction } from '../asm/instruction.ts';
import type { ProgramSpec } from '../asm/program.ts';
import { encodeBtf } from './encode.ts';
import { encodeFuncInfo, encodeLineInfo, type FuncInfo, type LineInfo } from './ext.ts';
import { StringTable } from './strings.ts';
import type { BtfType } from './types.ts';

export interface ProgramBtf {
  /** The .BTF blob for BPF_BTF_LOAD. */
  readonly btf: Uint8Array;
  readonly funcInfo: Uint8Array;
  readonly funcInfoCount: number;
  readonly lineInfo: Uint8Array;
  readonly lineInfoCount: number;
  /** The same records, decoded, for tests and listings. */
  readonly funcs: readonly (FuncInfo & { readonly name: string })[];
  readonly lines: readonly LineInfo[];
  readonly types: readonly BtfType[];
}

export interface ProgramBtfOptions {
  /** The text of a source line (1-based); default: read the file, relative to the working directory. */
  readonly lineText?: (file: string, line: number) => string | undefined;
}

/**
 * The struct each program type's context pointer points at (the kernel's bpf_ctx_convert
 * names): the entry's parameter is typed with it, so the kernel recognises `ctx` and bpftool
 * prints `int mes_start(struct __sk_buff * ctx)`, as for C. Other types get `void *ctx`.
 */
const CTX_STRUCT: Readonly<Record<string, string>> = {
  socket_filter: '__sk_buff', sched_cls: '__sk_buff', sched_act: '__sk_buff', cgroup_skb: '__sk_buff',
  lwt_in: '__sk_buff', lwt_out: '__sk_buff', lwt_xmit: '__sk_buff', lwt_seg6local: '__sk_buff', sk_skb: '__sk_buff',
  flow_dissector: '__sk_buff', xdp: 'xdp_md', perf_event: 'bpf_perf_event_data', sock_ops: 'bpf_sock_ops',
  cgroup_sock: 'bpf_sock', cgroup_sock_addr: 'bpf_sock_addr', sk_msg: 'sk_msg_md', cgroup_device: 'bpf_cgroup_dev_ctx',
  cgroup_sysctl: 'bpf_sysctl', cgroup_sockopt: 'bpf_sockopt', sk_lookup: 'bpf_sk_lookup', sk_reuseport: 'sk_reuseport_md',
  netfilter: 'bpf_nf_ctx',
};

const LD_IMM64 = 0x18, CALL = 0x85, PSEUDO_CALL = 1, PSEUDO_FUNC = 4;

/** Slot index of each instruction's start. */
function slotStarts(insns: readonly Instruction[]): number[] {
  const at: number[] = [];
  let s = 0;
  for (const i of insns) { at.push(s); s += i.op === LD_IMM64 ? 2 : 1; }
  return at;
}

/** Where the kernel will see functions start: slot 0 and every bpf-to-bpf call or func reference target. */
export function subprogramStarts(insns: readonly Instruction[]): number[] {
  const at = slotStarts(insns);
  const starts = new Set<number>([0]);
  insns.forEach((i, k) => {
    if ((i.op === CALL && i.src === PSEUDO_CALL) || (i.op === LD_IMM64 && i.src === PSEUDO_FUNC)) starts.add(at[k]! + i.imm + 1);
  });
  return [...starts].sort((a, b) => a - b);
}

/** A C identifier the kernel accepts as a FUNC name (btf_name_valid_identifier). */
export function funcName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(s) ? s : `_${s}`;
}

const files = new Map<string, string[] | null>();
function readLine(file: string, line: number): string | undefined {
  if (!files.has(file)) {
    try { files.set(file, readFileSync(path.resolve(file), 'utf8').split('\n')); } catch { files.set(file, null); }
  }
  return files.get(file)?.[line - 1];
}

/** "programs/x.ts:42" -> { file, line }; sources the assembler made ("<input>:3") too. */
export function parseSource(source: string | undefined): { file: string; line: number } | undefined {
  const m = source ? /^(.*):(\d+)$/.exec(source) : null;
  return m ? { file: m[1]!, line: Number(m[2]) } : undefined;
}

export function programBtf(spec: Pick<ProgramSpec, 'name' | 'insns' | 'labels'> & { readonly type?: string }, opts: ProgramBtfOptions = {}): ProgramBtf {
  const lineText = opts.lineText ?? readLine;
  const at = slotStarts(spec.insns);
  const starts = subprogramStarts(spec.insns);
  const byLabel = new Map<number, string>();
  for (const [name, idx] of spec.labels) if (!byLabel.has(idx)) byLabel.set(idx, name);
  const insnAtSlot = new Map(at.map((s, k) => [s, k]));

  // [1] int, [2] ctx pointer, [3] int (ctx) for the entry, [4] int (void) for subprograms,
  // [5] the context struct (declared empty: the kernel matches it by name).
  const ctx = spec.type ? CTX_STRUCT[spec.type] : undefined;
  const types: BtfType[] = [
    { kind: 'INT', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 },
    { kind: 'PTR', name: '', type: ctx ? 5 : 0 },
    { kind: 'FUNC_PROTO', name: '', returnType: 1, params: [{ name: 'ctx', type: 2 }] },
    { kind: 'FUNC_PROTO', name: '', returnType: 1, params: [] },
  ];
  if (ctx) types.push({ kind: 'STRUCT', name: ctx, size: 0, kflag: false, members: [] });
  const funcs: (FuncInfo & { name: string })[] = [];
  const used = new Set<string>();
  for (const s of starts) {
    const k = insnAtSlot.get(s);
    let name = funcName(s === 0 ? spec.name || 'prog' : (k !== undefined ? byLabel.get(k) : undefined) ?? `sub_${s}`);
    while (used.has(name)) name += '_';
    used.add(name);
    // The entry is global, as clang makes it; subprograms are static, so the verifier checks
    // them in the caller's context instead of against a C signature the DSL does not have.
    types.push({ kind: 'FUNC', name, type: s === 0 ? 3 : 4, linkage: s === 0 ? 1 : 0 });
    funcs.push({ insnOff: s, typeId: types.length, name });
  }

  const lines: LineInfo[] = [];
  const startSet = new Set(starts);
  let prev: string | undefined;
  spec.insns.forEach((i, k) => {
    const s = at[k]!;
    const src = parseSource(i.source);
    const key = src ? `${src.file}:${src.line}` : '';
    if (key === prev && !startSet.has(s)) return;
    prev = key;
    if (!src) {
      // A function must start with a line_info; a made-up one says so.
      if (startSet.has(s)) lines.push({ insnOff: s, file: '', line: '', lineNum: 0, column: 0 });
      return;
    }
    const text = lineText(src.file, src.line) ?? '';
    const column = text ? text.length - text.trimStart().length + 1 : 0;
    lines.push({ insnOff: s, file: src.file, line: text, lineNum: src.line, column });
  });

  const strings = new StringTable();
  const lineInfo = encodeLineInfo(lines, strings);
  return {
    btf: encodeBtf(types, { strings }), funcInfo: encodeFuncInfo(funcs), funcInfoCount: funcs.length,
    lineInfo, lineInfoCount: lines.length, funcs, lines, types,
  };
}
