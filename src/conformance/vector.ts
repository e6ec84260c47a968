/**
 * A bpf_conformance test vector: the `.data` file format (bpf_conformance
 * src/bpf_test_parser.cc), parsed the way the suite's own runner parses it.
 *
 *   # Copyright ...                  lines before the first section are ignored
 *   -- asm                           the program, in the ubpf dialect (dialect-ubpf.ts)
 *   mov32 %r0, 1                     `#` starts a comment
 *   exit
 *   -- mem                           optional: input memory, hex bytes separated by spaces
 *   00 01 02 03                      (the program gets r1 = a pointer to it, r2 = its length)
 *   -- raw                           optional, instead of asm: one 64-bit instruction a line
 *   -- result                        the expected 64-bit r0, hex with 0x, else decimal
 *   0x1
 *   -- error                         or: the program must be rejected (text of the error)
 *   -- c / -- no register offset     other sections are ignored
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { assemble, type Assembled } from '../asm/assembler.ts';
import { AsmError } from '../asm/errors.ts';
import { decode } from '../asm/instruction.ts';

export interface Vector {
  /** The file name without `.data`, e.g. 'rfc9669_add32'. */
  readonly name: string;
  /** Where it was read from ('<input>' for text). */
  readonly file: string;
  /**
   * The `-- asm` section as assembler input: every other line of the file is blanked, so
   * line numbers in errors and in each instruction's `source` are the file's own.
   */
  readonly asm: string | undefined;
  /** The `-- raw` section: 64-bit instruction words in file order. */
  readonly raw: readonly bigint[] | undefined;
  /** Input memory (empty without a `-- mem` section). */
  readonly mem: Uint8Array;
  /** The expected r0 as an unsigned 64-bit value; undefined for a vector that expects an error. */
  readonly result: bigint | undefined;
  /** The `-- error` text: the program must be rejected. */
  readonly error: string | undefined;
  /** The first comment of the asm section, e.g. 'RFC 9669 Section 4.1: ADD (ALU) semantics.' */
  readonly description: string | undefined;
}

/** A .data file that cannot be used: no program, or no result and no error. */
export class VectorError extends Error {
  override name = 'VectorError';
  constructor(readonly file: string, reason: string) {
    super(`${file}: ${reason}`);
  }
}

type Section = 'ignore' | 'asm' | 'raw' | 'result' | 'mem' | 'error';

/** The section a `-- name` line opens. Matches the suite's own parser: anything else is ignored. */
function sectionOf(header: string): Section {
  const h = header.trim().toLowerCase();
  if (h === 'asm' || h === 'raw' || h === 'result' || h === 'mem' || h === 'error') return h;
  return 'ignore';
}

/** An integer in the suite's spelling: hex with 0x, else decimal; negative values wrap to u64. */
function u64(text: string, file: string, what: string): bigint {
  const t = text.trim();
  if (!/^-?(0x[0-9a-f]+|\d+)$/i.test(t)) throw new VectorError(file, `${what} '${t}' is not a number (hex with 0x, or decimal)`);
  const neg = t.startsWith('-');
  const v = BigInt(neg ? t.slice(1) : t);
  return BigInt.asUintN(64, neg ? -v : v);
}

/** Parse the text of a .data file. */
export function parseVector(text: string, file = '<input>'): Vector {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  let section: Section = 'ignore';
  const asmLines: (string | undefined)[] = [];
  let hasAsm = false, resultText: string | undefined, errorText: string | undefined;
  let raw: bigint[] | undefined;
  const mem: number[] = [];
  let description: string | undefined;
  for (const line of lines) {
    const header = /^\s*--\s*(.*)$/.exec(line);
    if (header) {
      section = sectionOf(header[1]!);
      if (section === 'asm') hasAsm = true;
      if (section === 'raw') raw ??= [];
      asmLines.push(undefined);
      continue;
    }
    asmLines.push(section === 'asm' ? line : undefined);
    const body = line.trim();
    if (body === '') continue;
    switch (section) {
      case 'asm': {
        const c = /^#\s*(.*?)\s*$/.exec(body);
        if (c && description === undefined && c[1]) description = c[1];
        break;
      }
      case 'result': resultText = body; break;
      case 'error': errorText = body; break;
      case 'mem':
        for (const tok of body.split(/\s+/)) {
          if (!/^(0x)?[0-9a-f]{1,2}$/i.test(tok)) throw new VectorError(file, `-- mem: '${tok}' is not a hex byte`);
          mem.push(Number.parseInt(tok, 16));
        }
        break;
      case 'raw':
        for (const tok of body.split(/\s+/)) raw!.push(u64(tok, file, '-- raw word'));
        break;
    }
  }
  if (!hasAsm && !raw) throw new VectorError(file, 'no program: expected a `-- asm` or `-- raw` section');
  if (resultText === undefined && errorText === undefined) throw new VectorError(file, 'expected a `-- result` or an `-- error` section');
  return {
    name: path.basename(file).replace(/\.data$/, ''),
    file,
    asm: hasAsm ? asmLines.map((l) => l ?? '').join('\n') : undefined,
    raw,
    mem: Uint8Array.from(mem),
    result: resultText !== undefined ? u64(resultText, file, '-- result') : undefined,
    error: errorText,
    description,
  };
}

/** Read and parse one .data file. */
export function readVector(file: string): Vector {
  return parseVector(readFileSync(file, 'utf8'), file);
}

/** The .data files named: directories give their *.data files, sorted by name. */
export function findVectorFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try { st = statSync(p); } catch { throw new VectorError(p, 'no such file or directory'); }
    if (st.isDirectory()) {
      const files = readdirSync(p).filter((f) => f.endsWith('.data')).sort();
      if (files.length === 0) throw new VectorError(p, 'no .data files in this directory');
      out.push(...files.map((f) => path.join(p, f)));
    } else out.push(p);
  }
  return out;
}

/** The bytes of a `-- raw` section: each word is one 8-byte slot, little-endian. */
export function rawBytes(words: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(words.length * 8);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setBigUint64(i * 8, w, true));
  return out;
}

/**
 * The vector's program as linked instructions (with its labels). Assembly errors are
 * AsmSyntaxErrors at the .data file's own line and column.
 */
export function vectorProgram(v: Vector): Pick<Assembled, 'insns' | 'labels'> {
  if (v.raw) {
    try {
      return { insns: decode(rawBytes(v.raw)), labels: new Map() };
    } catch (e) {
      if (e instanceof AsmError) throw new AsmError(`${v.file}: -- raw: ${e.message}`);
      throw e;
    }
  }
  const a = assemble(v.asm!, { file: v.file, dialect: 'ubpf' });
  if (a.insns.length === 0) throw new AsmError(`${v.file}: the -- asm section has no instructions`);
  return { insns: a.insns, labels: a.labels };
}
