/**
 * The string section as it is written: names appended once each, NUL-terminated, offset 0 the
 * empty name. Equal names share one offset, as pahole and clang do.
 */
import { BtfError } from './errors.ts';
import { MAX_NAME_OFFSET } from './types.ts';

export class StringTable {
  private readonly offsets = new Map<string, number>([['', 0]]);
  private readonly chunks: Uint8Array[] = [new Uint8Array(1)];
  private size = 1;
  private readonly enc = new TextEncoder();
  /** Offsets start here: a split BTF's own strings follow its base's. */
  readonly start: number;

  constructor(start = 0) {
    this.start = start;
    if (start) { this.offsets.clear(); this.chunks.length = 0; this.size = 0; this.offsets.set('', 0); }
  }

  /** The offset of s, adding it on first use. */
  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    if (s.includes('\0')) throw new BtfError(`a name cannot contain NUL: ${JSON.stringify(s)}`);
    const bytes = this.enc.encode(s);
    const off = this.start + this.size;
    if (off > MAX_NAME_OFFSET) throw new BtfError(`the string section outgrew BTF_MAX_NAME_OFFSET (${MAX_NAME_OFFSET})`);
    const chunk = new Uint8Array(bytes.length + 1);
    chunk.set(bytes);
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.offsets.set(s, off);
    return off;
  }

  get length(): number { return this.size; }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let p = 0;
    for (const c of this.chunks) { out.set(c, p); p += c.length; }
    return out;
  }
}
