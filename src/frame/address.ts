/**
 * Addresses in their usual text forms: MAC `02:00:00:00:00:01`, IPv4 `10.0.0.1`, IPv6
 * `fd00::1` (RFC 4291 §2.2 input, RFC 5952 output).
 */
import { FrameError } from './errors.ts';

export type Mac = Uint8Array;

/** `02:00:00:00:00:01` (or with `-`) to 6 bytes. */
export function parseMac(text: string, field = 'mac'): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{1,2}$/i.test(p))) throw new FrameError(field, `'${text}' is not a MAC address (like 02:00:00:00:00:01)`);
  return Uint8Array.from(parts, (p) => Number.parseInt(p, 16));
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** `10.0.0.1` to 4 bytes. */
export function parseIPv4(text: string, field = 'ipv4'): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) throw new FrameError(field, `'${text}' is not an IPv4 address (like 10.0.0.1)`);
  return Uint8Array.from(parts, Number);
}

export function formatIPv4(b: Uint8Array): string {
  return Array.from(b).join('.');
}

/** `fd00::1`, `::`, `::ffff:10.0.0.1` to 16 bytes. */
export function parseIPv6(text: string, field = 'ipv6'): Uint8Array {
  const bad = (): never => { throw new FrameError(field, `'${text}' is not an IPv6 address (like fd00::1)`); };
  let t = text;
  const words: number[] = [];
  // a trailing dotted quad is two words
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  let tail: number[] = [];
  if (v4) {
    const b = parseIPv4(v4[2]!, field);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    t = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = t.split('::');
  if (halves.length > 2) bad();
  const group = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16) : bad())));
  const head = group(halves[0]!), rest = halves.length === 2 ? group(halves[1]!) : [];
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 && given !== 8) bad();
  if (halves.length === 2 && given > 7) bad();
  words.push(...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail);
  const out = new Uint8Array(16);
  words.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

/** RFC 5952: lower case, leading zeros dropped, the longest run (≥ 2) of zero words as `::`. */
export function formatIPv6(b: Uint8Array): string {
  const w = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** An IPv4 or IPv6 address by its text (a `:` means IPv6). */
export function parseIP(text: string, field = 'address'): Uint8Array {
  return text.includes(':') ? parseIPv6(text, field) : parseIPv4(text, field);
}

export function formatIP(b: Uint8Array): string {
  return b.length === 4 ? formatIPv4(b) : formatIPv6(b);
}
