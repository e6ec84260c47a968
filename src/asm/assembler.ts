/**
 * The assembler: text to instructions, then link() (the same label resolution and range checks
 * as the DSL). Every line is
 *
 *   [slot:] [8 or 16 hex bytes] [label:]... [instruction] [# comment | ; comment]
 *
 * so the disassembler's output in any mode (index, bytes, labels, comments) assembles back to
 * the same bytes; the index and byte columns are ignored. `llvm-objdump -d -r` output is
 * accepted too: its `0000000000000128 <LBB0_7>:` lines are labels and an R_BPF_64_64
 * relocation turns the LD_IMM64 above it into a map reference, as libbpf does.
 *
 * Dialects: 'llvm' (what disassemble() prints, see docs/listing.md) and 'ubpf' (the
 * bpf_conformance syntax, dialect-ubpf.ts). A dialect only parses one instruction from a
 * token cursor; lines, labels, comments and linking are shared here.
 */
import { parseLlvm } from './dialect-llvm.ts';
import { parseUbpf } from './dialect-ubpf.ts';
import { AsmError, AsmSyntaxError } from './errors.ts';
import { encode, invalidReason, type Instruction, type MapRef } from './instruction.ts';
import { Cursor, lexLine } from './lexer.ts';
import { link } from './link.ts';
import { Class, JmpOp, LD_IMM64, Pseudo } from './opcode.ts';
import { isRegToken, type DialectContext, type DialectParser } from './operands.ts';

export type Dialect = 'llvm' | 'ubpf';

export interface AssembleOptions {
  /** Named in errors and in each instruction's `source` (default '<input>'). */
  readonly file?: string;
  /** 'llvm' (default: what disassemble() prints), 'ubpf', or 'auto' (ubpf if it names registers as %rN). */
  readonly dialect?: Dialect | 'auto';
  /**
   * Keep instructions that are not valid encodings (what decode() and the kernel reject)
   * instead of failing on them. bpf_conformance's assembler writes such instructions for its
   * negative tests (`mov %r11, 1`, `call helper %r1`); with this, the ubpf dialect gives their
   * bytes too. Default false: an invalid instruction is an AsmSyntaxError at its line.
   */
  readonly allowInvalid?: boolean;
}

export interface Assembled {
  /** Linked instructions; each has `source` = file:line, and `comment` from its line. */
  readonly insns: Instruction[];
  /** label -> instruction index */
  readonly labels: Map<string, number>;
  /** Maps named by `map[name]` (or relocations), in order of first use. */
  readonly maps: MapRef[];
}

export type { DialectContext, DialectParser } from './operands.ts';

// ---------------------------------------------------------------------------------------------
// Lines, labels, linking.

/** 'ubpf' if the text names registers as %rN, else 'llvm'. */
export function detectDialect(text: string): Dialect {
  return /(^|[\s,[(])%r\d/m.test(text) ? 'ubpf' : 'llvm';
}

const EXIT = Class.JMP | JmpOp.exit;

const DIALECTS: Readonly<Record<Dialect, DialectParser>> = { llvm: parseLlvm, ubpf: parseUbpf };

const INDEX_AND_BYTES = /^(\s*\d+:)?(\s*(?:[0-9a-fA-F]{2}[ \t]){7}[0-9a-fA-F]{2}(?:(?:[ \t][0-9a-fA-F]{2}){8})?)?(?=\s|$)/;
const OBJDUMP_LABEL = /^\s*[0-9a-fA-F]+\s+<([A-Za-z_.$][\w.$]*)>:\s*$/;
const OBJDUMP_RELOC = /^\s*[0-9a-fA-F]+:\s+R_BPF_64_64\s+([A-Za-z_.$][\w.$]*)\s*$/;
const OBJDUMP_NOISE = /^\s*(Disassembly of section .*:|\S+:\s+file format .*|\.(text|section|globl|p2align|file)\b.*)\s*$/;

interface Pos { line: number; col: number }

/** Assemble text into linked instructions and labels. Errors are AsmSyntaxError with line:column. */
export function assemble(text: string, opts: AssembleOptions = {}): Assembled {
  const file = opts.file;
  const dialect = !opts.dialect || opts.dialect === 'auto' ? (opts.dialect === 'auto' ? detectDialect(text) : 'llvm') : opts.dialect;
  const parse: DialectParser = DIALECTS[dialect];
  const maps = new Map<string, MapRef>();
  const ctx: DialectContext = {
    map: (name) => {
      let m = maps.get(name);
      if (!m) { m = { name }; maps.set(name, m); }
      return m;
    },
  };
  const insns: Instruction[] = [];
  const at: Pos[] = [];
  const targetAt: (Pos | undefined)[] = [];
  const labels = new Map<string, number>();
  const labelAt = new Map<string, Pos>();
  const defineLabel = (name: string, pos: Pos): void => {
    if (labels.has(name)) throw new AsmSyntaxError(`duplicate label '${name}' (first defined at line ${labelAt.get(name)!.line})`, pos.line, pos.col, file);
    labels.set(name, insns.length);
    labelAt.set(name, pos);
  };
  let implicitExit: { index: number; pos: Pos } | undefined;
  const lines = text.split('\n');
  for (let ln = 1; ln <= lines.length; ln++) {
    let raw = lines[ln - 1]!;
    if (OBJDUMP_NOISE.test(raw)) continue;
    const objLabel = OBJDUMP_LABEL.exec(raw);
    if (objLabel) { defineLabel(objLabel[1]!, { line: ln, col: raw.indexOf('<') + 2 }); continue; }
    const reloc = OBJDUMP_RELOC.exec(raw);
    if (reloc) {
      const prev = insns[insns.length - 1];
      if (!prev || prev.op !== LD_IMM64) throw new AsmSyntaxError('an R_BPF_64_64 relocation must follow an LD_IMM64 (rN = 0 ll)', ln, 1, file);
      insns[insns.length - 1] = { ...prev, src: prev.src === Pseudo.imm ? Pseudo.map_fd : prev.src, map: ctx.map(reloc[1]!) };
      continue;
    }
    // Blank out the slot index and raw bytes columns, keeping columns for errors.
    raw = raw.replace(INDEX_AND_BYTES, (m) => ' '.repeat(m.length));
    const c = new Cursor(lexLine(raw, ln, file), ln, file);
    while (c.peek()?.kind === 'ident' && c.peek(1)?.text === ':' && !isRegToken(c.peek())) {
      const t = c.next()!;
      c.next();
      defineLabel(t.text, { line: ln, col: t.col });
    }
    if (c.atEnd()) continue;
    const col = c.col();
    let insn = parse(c, ctx);
    c.end();
    const invalid = opts.allowInvalid ? null : invalidReason(insn);
    if (invalid) throw new AsmSyntaxError(`${invalid} (no valid instruction; assemble with allowInvalid to get its bytes anyway)`, ln, col, file);
    const comment = c.lexed.comment;
    insn = { ...insn, source: `${file ?? '<input>'}:${ln}`, ...(comment ? { comment } : {}) };
    // ubpf: the first exit is also the label 'exit' (bpf_conformance's implicit label). It
    // moves an `exit:` line above it here, as there; it is listed in `labels` once used.
    if (dialect === 'ubpf' && implicitExit === undefined && insn.op === EXIT) {
      implicitExit = { index: insns.length, pos: { line: ln, col } };
      if (labels.has('exit')) labels.set('exit', insns.length);
    }
    insns.push(insn);
    at.push({ line: ln, col });
    // The column of a label operand, for "unknown label" errors.
    const tt = insn.target !== undefined ? c.tokens.find((x) => x.text === insn.target && x.kind === 'ident') : undefined;
    targetAt.push(tt ? { line: ln, col: tt.col } : undefined);
  }
  if (implicitExit !== undefined && !labels.has('exit') && insns.some((i) => i.target === 'exit')) {
    labels.set('exit', implicitExit.index);
    labelAt.set('exit', implicitExit.pos);
  }
  // A call to a name that is neither a label nor a helper is a typo'd helper more often than not.
  insns.forEach((i, idx) => {
    if (i.target !== undefined && !labels.has(i.target)) {
      const p = targetAt[idx] ?? at[idx]!;
      const isCall = i.op === (Class.JMP | JmpOp.call);
      throw new AsmSyntaxError(isCall ? `'${i.target}' is neither a label nor a helper name (helpers are named as in linux/bpf.h, e.g. bpf_map_lookup_elem)` : `unknown label '${i.target}'`, p.line, p.col, file);
    }
  });
  let linked: Instruction[];
  try {
    linked = link(insns, labels);
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    if (e.index !== undefined && at[e.index]) {
      const p = targetAt[e.index] ?? at[e.index]!;
      throw new AsmSyntaxError(e.reason, p.line, p.col, file);
    }
    const name = /label '([^']+)'/.exec(e.reason)?.[1];
    const p = name !== undefined ? labelAt.get(name) : undefined;
    throw new AsmSyntaxError(e.reason, p?.line ?? lines.length, p?.col ?? 1, file);
  }
  return { insns: linked, labels, maps: [...maps.values()] };
}

/**
 * Parse one instruction, unlinked: a label operand stays in `target`, and raw offsets are not
 * checked against a program (so `gotol +2147483647` parses). For tools and tests.
 */
export function parseInstruction(text: string, opts: AssembleOptions = {}): Instruction {
  const dialect = !opts.dialect || opts.dialect === 'auto' ? (opts.dialect === 'auto' ? detectDialect(text) : 'llvm') : opts.dialect;
  const c = new Cursor(lexLine(text, 1, opts.file), 1, opts.file);
  if (c.atEnd()) throw c.expected('an instruction');
  const insn = DIALECTS[dialect](c, { map: (name) => ({ name }) });
  c.end();
  return insn;
}

/** Assemble straight to the bytes the kernel reads. */
export function assembleBytes(text: string, opts: AssembleOptions = {}): Uint8Array {
  return encode(assemble(text, opts).insns);
}
