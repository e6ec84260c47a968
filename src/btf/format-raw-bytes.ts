/**
 * The raw dump written straight into bytes: the same lines as formatRaw(), without a string or
 * object per type. For vmlinux (126k types, 300k lines) this is what makes `tsbpf btf dump`
 * keep pace with bpftool. formatRaw() stays the readable definition; a unit test holds the two
 * equal.
 */
import type { Btf } from './decode.ts';
import { KIND_NAMES } from './types.ts';

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);
const KIND = KIND_NAMES.map((k) => b(` ${k} '`));
const ANON = b('(anon)');
const INT_ENC: Readonly<Record<number, Uint8Array>> = { 0: b('(none)'), 1: b('SIGNED'), 2: b('CHAR'), 4: b('BOOL') };
const UNKN = b('UNKN');
const LINKAGE = [b('static'), b('global'), b('extern')];
const UNKNOWN = b('(unknown)');

class Out {
  buf = new Uint8Array(1 << 20);
  n = 0;
  room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
  bytes(x: Uint8Array): void { this.room(x.length); this.buf.set(x, this.n); this.n += x.length; }
  ascii(s: string): void { this.room(s.length); for (let i = 0; i < s.length; i++) this.buf[this.n++] = s.charCodeAt(i); }
  num(x: number): void {
    if (x < 0 || x > 0xffffffff) { this.ascii(String(x)); return; }
    this.room(10);
    if (x < 10) { this.buf[this.n++] = 48 + x; return; }
    let digits = 0;
    for (let y = x; y > 0; y = Math.floor(y / 10)) digits++;
    let at = this.n + digits;
    this.n = at;
    for (let y = x; y > 0; y = Math.floor(y / 10)) this.buf[--at] = 48 + (y % 10);
  }
  ch(c: number): void { this.room(1); this.buf[this.n++] = c; }
}

export function formatRawBytes(btf: Btf): Uint8Array {
  const { view: v, offsets, strings, stringsBase } = btf.raw();
  const o = new Out();
  const name = (off: number) => {
    if (off === 0) { o.bytes(ANON); return; }
    if (off < stringsBase) { o.bytes(enc.encode(btf.string(off))); return; }
    const rel = off - stringsBase, end = strings.indexOf(0, rel);
    if (end === rel) { o.bytes(ANON); return; }
    o.bytes(strings.subarray(rel, end));
  };
  const kv = (key: string, x: number) => { o.ascii(key); o.num(x); };
  for (let i = 0; i < offsets.length; i++) {
    const p = offsets[i]!, id = btf.firstId + i;
    const info = v.getUint32(p + 4, true), kind = (info >>> 24) & 0x1f, vlen = info & 0xffff, kflag = info >>> 31;
    const su = v.getUint32(p + 8, true);
    o.ch(0x5b); o.num(id); o.ch(0x5d); o.bytes(KIND[kind]!); name(v.getUint32(p, true)); o.ch(0x27);
    switch (kind) {
      case 1: { const x = v.getUint32(p + 12, true); kv(' size=', su); kv(' bits_offset=', (x >>> 16) & 0xff); kv(' nr_bits=', x & 0xff); o.ascii(' encoding='); o.bytes(INT_ENC[(x >>> 24) & 0xf] ?? UNKN); break; }
      case 2: case 8: case 9: case 10: case 11: case 18: kv(' type_id=', su); break;
      case 3: kv(' type_id=', v.getUint32(p + 12, true)); kv(' index_type_id=', v.getUint32(p + 16, true)); kv(' nr_elems=', v.getUint32(p + 20, true)); break;
      case 4: case 5:
        kv(' size=', su); kv(' vlen=', vlen);
        for (let j = 0, q = p + 12; j < vlen; j++, q += 12) {
          const off = v.getUint32(q + 8, true);
          o.ascii("\n\t'"); name(v.getUint32(q, true)); o.ch(0x27); kv(' type_id=', v.getUint32(q + 4, true));
          kv(' bits_offset=', kflag ? off & 0xffffff : off);
          if (kflag && off >>> 24) kv(' bitfield_size=', off >>> 24);
        }
        break;
      case 6: case 19:
        o.ascii(kflag ? ' encoding=SIGNED' : ' encoding=UNSIGNED'); kv(' size=', su); kv(' vlen=', vlen);
        for (let j = 0, q = p + 12; j < vlen; j++, q += kind === 6 ? 8 : 12) {
          o.ascii("\n\t'"); name(v.getUint32(q, true)); o.ascii("' val=");
          if (kind === 6) o.num(kflag ? v.getInt32(q + 4, true) : v.getUint32(q + 4, true));
          else {
            const u = (BigInt(v.getUint32(q + 8, true)) << 32n) | BigInt(v.getUint32(q + 4, true));
            o.ascii(kflag ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`);
          }
        }
        break;
      case 7: o.ascii(kflag ? ' fwd_kind=union' : ' fwd_kind=struct'); break;
      case 12: kv(' type_id=', su); o.ascii(' linkage='); o.bytes(LINKAGE[vlen] ?? UNKNOWN); break;
      case 13:
        kv(' ret_type_id=', su); kv(' vlen=', vlen);
        for (let j = 0, q = p + 12; j < vlen; j++, q += 8) { o.ascii("\n\t'"); name(v.getUint32(q, true)); o.ch(0x27); kv(' type_id=', v.getUint32(q + 4, true)); }
        break;
      case 14: kv(' type_id=', su); o.ascii(', linkage='); o.bytes(LINKAGE[v.getUint32(p + 12, true)] ?? UNKNOWN); break;
      case 15:
        kv(' size=', su); kv(' vlen=', vlen);
        for (let j = 0, q = p + 12; j < vlen; j++, q += 12) {
          const t = v.getUint32(q, true);
          kv('\n\ttype_id=', t); kv(' offset=', v.getUint32(q + 4, true)); kv(' size=', v.getUint32(q + 8, true));
          if (t > 0 && t < btf.count) { o.ascii(' ('); o.ascii(KIND_NAMES[btf.kindOf(t)]!); o.ascii(" '"); o.bytes(enc.encode(btf.nameOf(t) || '(anon)')); o.ascii("')"); }
        }
        break;
      case 16: kv(' size=', su); break;
      case 17: kv(' type_id=', su); kv(' component_idx=', v.getInt32(p + 12, true)); break;
    }
    o.ch(0x0a);
  }
  return o.buf.subarray(0, o.n);
}
