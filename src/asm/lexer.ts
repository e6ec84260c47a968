/**
 * Tokens of one assembly line, shared by the assembler's dialects. A token remembers its
 * 1-based column so errors can point at it.
 *
 *   ident   r1  w0  goto  bpf_ktime_get_ns  .LBB0_7  s8  ll  %r1 (ubpf registers keep the %)
 *   num     42  0x2a  (unsigned; a sign is its own token)
 *   punct   the longest of  s>>= <<= >>= s/= s%= s>= s<= s> s< += -= *= /= %= |= &= ^= == != >= <= ...
 *
 * `#` starts a comment at the start of a line or after whitespace (so `bpf_ktime_get_ns#5`
 * keeps its `#`); `;` and `//` always start one.
 */
import { AsmSyntaxError } from './errors.ts';

export interface Token {
  readonly kind: 'ident' | 'num' | 'punct';
  readonly text: string;
  /** 1-based column of the token's first character. */
  readonly col: number;
  /** num only. */
  readonly value?: bigint;
}

export interface LexedLine {
  readonly tokens: readonly Token[];
  /** Comment text without its marker, trimmed; undefined when the line has none. */
  readonly comment?: string;
  /** 1-based column just past the last token, for "expected …, found end of line" errors. */
  readonly end: number;
}

const PUNCT = [
  's>>=', '<<=', '>>=', 's/=', 's%=', 's>=', 's<=', 's>', 's<',
  '+=', '-=', '*=', '/=', '%=', '|=', '&=', '^=', '==', '!=', '>=', '<=',
  '=', '<', '>', '(', ')', '[', ']', '*', '+', '-', ',', ':', '&', '#', '{', '}',
];

export function lexLine(text: string, line: number, file?: string): LexedLine {
  const tokens: Token[] = [];
  let p = 0, comment: string | undefined;
  while (p < text.length) {
    const c = text[p]!;
    if (c === ' ' || c === '\t' || c === '\r') { p++; continue; }
    if (c === ';' || (c === '/' && text[p + 1] === '/') || (c === '#' && (p === 0 || /\s/.test(text[p - 1]!)))) {
      comment = text.slice(p + (c === '/' ? 2 : 1)).trim();
      break;
    }
    const col = p + 1;
    const rest = text.slice(p);
    const num = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)(?![\w.$])/.exec(rest);
    if (num) {
      tokens.push({ kind: 'num', text: num[0], col, value: BigInt(num[0]) });
      p += num[0].length;
      continue;
    }
    // `s` directly before an operator is the signed variant of it (s>, s>>=, s/=), not a name.
    // Only after whitespace, so a label named `s` in `<s>` stays a name.
    const signedOk = p === 0 || /\s/.test(text[p - 1]!);
    const punct = PUNCT.find((x) => rest.startsWith(x) && (x[0] !== 's' || signedOk));
    if (punct) {
      tokens.push({ kind: 'punct', text: punct, col });
      p += punct.length;
      continue;
    }
    const id = /^%?[A-Za-z_.$][\w.$]*/.exec(rest);
    if (id) {
      tokens.push({ kind: 'ident', text: id[0], col });
      p += id[0].length;
      continue;
    }
    throw new AsmSyntaxError(`unexpected character '${c}'`, line, col, file);
  }
  const last = tokens[tokens.length - 1];
  const end = last ? last.col + last.text.length : 1;
  return { tokens, ...(comment !== undefined ? { comment } : {}), end };
}

/** A cursor over one line's tokens with "expected X, found Y" errors. */
export class Cursor {
  pos = 0;
  constructor(readonly lexed: LexedLine, readonly line: number, readonly file?: string) {}

  get tokens(): readonly Token[] { return this.lexed.tokens; }
  peek(k = 0): Token | undefined { return this.lexed.tokens[this.pos + k]; }
  atEnd(): boolean { return this.pos >= this.lexed.tokens.length; }
  next(): Token | undefined { return this.lexed.tokens[this.pos++]; }
  /** Column of the current token (or end of line). */
  col(): number { return this.peek()?.col ?? this.lexed.end; }

  error(msg: string, col = this.col()): AsmSyntaxError {
    return new AsmSyntaxError(msg, this.line, col, this.file);
  }
  /** "expected X, found 'Y'" at the current token. */
  expected(what: string): AsmSyntaxError {
    const t = this.peek();
    return this.error(`expected ${what}, found ${t ? `'${t.text}'` : 'end of line'}`);
  }
  /** Consume a punctuation or keyword token with this exact text, or fail. */
  expect(text: string, what = `'${text}'`): Token {
    const t = this.peek();
    if (!t || t.text !== text || t.kind === 'num') throw this.expected(what);
    this.pos++;
    return t;
  }
  /** Consume the token if it has this text. */
  accept(text: string): Token | undefined {
    const t = this.peek();
    if (t && t.kind !== 'num' && t.text === text) { this.pos++; return t; }
    return undefined;
  }
  ident(what: string): Token {
    const t = this.peek();
    if (!t || t.kind !== 'ident') throw this.expected(what);
    this.pos++;
    return t;
  }
  end(): void {
    if (!this.atEnd()) throw this.expected('end of line');
  }
}
