/**
 * The netlink wire codec: message headers, the two fixed family headers rtnetlink tc uses
 * (ifinfomsg, tcmsg), attributes, and the NLMSG_ERROR reply. Everything is host byte order
 * (netlink is a local protocol) and every object starts on a 4-byte boundary.
 *
 *   nlmsghdr (16)                    nlattr (4) + value, padded to 4
 *   0       4      6       8      12     16     0      2      4
 *   +-------+------+-------+------+------+      +------+------+-----------+...pad
 *   | len   | type | flags | seq  | pid  |      | len  | type | value     |
 *   +-------+------+-------+------+------+      +------+------+-----------+
 *   len counts the header itself;          len counts header + value, not the padding;
 *   messages are padded to 4 in a batch    type carries NLA_F_NESTED for nests
 *
 *   ifinfomsg (16)                           tcmsg (20)
 *   0      1     2     4       8      12     0      1     4        8        12       16
 *   +------+-----+-----+-------+------+----+ +------+-----+--------+--------+--------+------+
 *   |family| pad |type |index  |flags |chg | |family| pad |ifindex |handle  |parent  | info |
 *   +------+-----+-----+-------+------+----+ +------+-----+--------+--------+--------+------+
 *                                             for filters, info = priority << 16 | protocol,
 *                                             protocol in network byte order (htons(ETH_P_ALL))
 */
import {
  IFINFOMSG_LEN, NLA_ALIGNTO, NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ALIGNTO,
  NLMSG_HDRLEN, NLMSGERR_ATTR_MISS_TYPE, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, NLMSGERR_LEN, TCMSG_LEN,
} from './constants.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

export const nlmsgAlign = (n: number): number => (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
export const nlaAlign = (n: number): number => (n + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

// ---------------------------------------------------------------- nlmsghdr

export interface MessageHeader {
  readonly len: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
}

/** A message off the wire: its header and the payload after it (family header + attributes). */
export interface Message {
  readonly header: MessageHeader;
  readonly payload: Uint8Array;
}

/** What a request is before the socket stamps a sequence number on it. */
export interface Request {
  readonly type: number;
  readonly flags: number;
  /** family header followed by attributes */
  readonly payload: Uint8Array;
}

/** One complete message: nlmsghdr + payload. pid 0 addresses the kernel. */
export function encodeMessage(req: Request, seq: number, pid = 0): Uint8Array {
  const len = NLMSG_HDRLEN + req.payload.length;
  const out = new Uint8Array(nlmsgAlign(len));
  const v = dv(out);
  v.setUint32(0, len, true);
  v.setUint16(4, req.type, true);
  v.setUint16(6, req.flags, true);
  v.setUint32(8, seq >>> 0, true);
  v.setUint32(12, pid >>> 0, true);
  out.set(req.payload, NLMSG_HDRLEN);
  return out;
}

export function decodeHeader(b: Uint8Array): MessageHeader {
  const v = dv(b);
  return { len: v.getUint32(0, true), type: v.getUint16(4, true), flags: v.getUint16(6, true), seq: v.getUint32(8, true), pid: v.getUint32(12, true) };
}

/** Split one datagram into its messages; the kernel packs several per recv in a dump. */
export function parseMessages(buf: Uint8Array): Message[] {
  const out: Message[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const header = decodeHeader(buf.subarray(off));
    if (header.len < NLMSG_HDRLEN || off + header.len > buf.length) {
      throw new RangeError(`malformed netlink message at offset ${off}: length ${header.len}, ${buf.length - off} bytes left`);
    }
    out.push({ header, payload: buf.subarray(off + NLMSG_HDRLEN, off + header.len) });
    off += nlmsgAlign(header.len);
  }
  return out;
}

// ---------------------------------------------------------------- family headers

export interface IfInfoMsg {
  readonly family: number;
  /** ARPHRD_* device type */
  readonly type: number;
  readonly index: number;
  /** IFF_* flags */
  readonly flags: number;
  readonly change: number;
}

export function encodeIfInfoMsg(m: Partial<IfInfoMsg> = {}): Uint8Array {
  const out = new Uint8Array(IFINFOMSG_LEN);
  const v = dv(out);
  v.setUint8(0, m.family ?? 0);
  v.setUint16(2, m.type ?? 0, true);
  v.setInt32(4, m.index ?? 0, true);
  v.setUint32(8, m.flags ?? 0, true);
  v.setUint32(12, m.change ?? 0, true);
  return out;
}

export function decodeIfInfoMsg(b: Uint8Array): IfInfoMsg {
  const v = dv(b);
  return { family: v.getUint8(0), type: v.getUint16(2, true), index: v.getInt32(4, true), flags: v.getUint32(8, true), change: v.getUint32(12, true) };
}

export interface TcMsg {
  readonly family: number;
  readonly ifindex: number;
  readonly handle: number;
  readonly parent: number;
  /** filters: priority << 16 | protocol (big-endian u16); qdiscs: refcount, unused on requests */
  readonly info: number;
}

export function encodeTcMsg(m: Partial<TcMsg> = {}): Uint8Array {
  const out = new Uint8Array(TCMSG_LEN);
  const v = dv(out);
  v.setUint8(0, m.family ?? 0);
  v.setInt32(4, m.ifindex ?? 0, true);
  v.setUint32(8, (m.handle ?? 0) >>> 0, true);
  v.setUint32(12, (m.parent ?? 0) >>> 0, true);
  v.setUint32(16, (m.info ?? 0) >>> 0, true);
  return out;
}

export function decodeTcMsg(b: Uint8Array): TcMsg {
  const v = dv(b);
  return { family: v.getUint8(0), ifindex: v.getInt32(4, true), handle: v.getUint32(8, true), parent: v.getUint32(12, true), info: v.getUint32(16, true) };
}

/** tcm_info of a filter: the kernel reads the protocol as a big-endian u16 in the low half. */
export function filterInfo(priority: number, protocol: number): number {
  return ((priority & 0xffff) << 16 | htons(protocol)) >>> 0;
}

export function htons(x: number): number {
  return ((x & 0xff) << 8) | ((x >> 8) & 0xff);
}

// ---------------------------------------------------------------- attributes

export interface RawAttr {
  /** type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits */
  readonly type: number;
  readonly nested: boolean;
  readonly value: Uint8Array;
}

/** One attribute: header, value, zero padding to 4. */
export function encodeAttr(type: number, value: Uint8Array): Uint8Array {
  const len = NLA_HDRLEN + value.length;
  const out = new Uint8Array(nlaAlign(len));
  const v = dv(out);
  v.setUint16(0, len, true);
  v.setUint16(2, type, true);
  out.set(value, NLA_HDRLEN);
  return out;
}

export function parseAttrs(b: Uint8Array): RawAttr[] {
  const out: RawAttr[] = [];
  const v = dv(b);
  let off = 0;
  while (off + NLA_HDRLEN <= b.length) {
    const len = v.getUint16(off, true);
    const type = v.getUint16(off + 2, true);
    if (len < NLA_HDRLEN || off + len > b.length) throw new RangeError(`malformed netlink attribute at offset ${off}: length ${len}`);
    out.push({ type: type & NLA_TYPE_MASK, nested: (type & NLA_F_NESTED) !== 0, value: b.subarray(off + NLA_HDRLEN, off + len) });
    off += nlaAlign(len);
  }
  return out;
}

/** How one attribute's value becomes bytes and back, under its attribute type number. */
export interface AttrCodec<T> {
  readonly type: number;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** A schema names the attributes of one message or nest: field name -> codec. */
export type Schema = Readonly<Record<string, AttrCodec<any>>>;

/** The decoded form of a schema: every attribute is optional, as on the wire. */
export type Attrs<S extends Schema> = { readonly [K in keyof S]?: S[K] extends AttrCodec<infer T> ? T : never };

const fixed = <T>(type: number, size: number, put: (v: DataView, x: T) => void, get: (v: DataView) => T): AttrCodec<T> => ({
  type,
  encode(x) { const b = new Uint8Array(size); put(dv(b), x); return b; },
  decode(b) {
    if (b.length < size) throw new RangeError(`attribute ${type}: ${b.length} bytes, need ${size}`);
    return get(dv(b));
  },
});

export const u8 = (type: number): AttrCodec<number> => fixed(type, 1, (v, x) => v.setUint8(0, x), (v) => v.getUint8(0));
export const u16 = (type: number): AttrCodec<number> => fixed(type, 2, (v, x) => v.setUint16(0, x, true), (v) => v.getUint16(0, true));
export const u32 = (type: number): AttrCodec<number> => fixed(type, 4, (v, x) => v.setUint32(0, x >>> 0, true), (v) => v.getUint32(0, true));
export const s32 = (type: number): AttrCodec<number> => fixed(type, 4, (v, x) => v.setInt32(0, x, true), (v) => v.getInt32(0, true));
export const u64 = (type: number): AttrCodec<bigint> => fixed(type, 8, (v, x) => v.setBigUint64(0, x, true), (v) => v.getBigUint64(0, true));

/** NUL-terminated string (NLA_NUL_STRING / NLA_STRING: the kernel accepts the terminator). */
export const str = (type: number): AttrCodec<string> => ({
  type,
  encode: (s) => { const b = enc.encode(s); const out = new Uint8Array(b.length + 1); out.set(b); return out; },
  decode: (b) => { const nul = b.indexOf(0); return dec.decode(nul < 0 ? b : b.subarray(0, nul)); },
});

export const bytes = (type: number): AttrCodec<Uint8Array> => ({ type, encode: (b) => b, decode: (b) => b.slice() });

/**
 * A nest of attributes under `schema`. iproute2 and the kernel's tc handlers do not set
 * NLA_F_NESTED on TCA_OPTIONS (the policies are parsed with nla_parse_nested_deprecated), so it
 * is opt-in to keep our messages byte-identical to what `tc` sends.
 */
export const nested = <S extends Schema>(type: number, schema: S, flag = false): AttrCodec<Attrs<S>> => ({
  type: flag ? type | NLA_F_NESTED : type,
  encode: (v) => encodeAttrs(schema, v),
  decode: (b) => decodeAttrs(schema, b),
});

/** Encode `values` in the order their keys were written: order is part of the golden bytes. */
export function encodeAttrs<S extends Schema>(schema: S, values: Attrs<S>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    const codec = schema[k];
    if (!codec) throw new TypeError(`no attribute '${k}' in this schema`);
    parts.push(encodeAttr(codec.type, codec.encode(v)));
  }
  return concat(parts);
}

/** Decode what the schema knows; attributes it does not name are skipped (newer kernels add some). */
export function decodeAttrs<S extends Schema>(schema: S, b: Uint8Array): Attrs<S> {
  const byType = new Map<number, string>();
  for (const [k, c] of Object.entries(schema)) byType.set(c.type & NLA_TYPE_MASK, k);
  const out: Record<string, unknown> = {};
  for (const a of parseAttrs(b)) {
    const k = byType.get(a.type);
    if (k !== undefined) out[k] = schema[k]!.decode(a.value);
  }
  return out as Attrs<S>;
}

/** Family header followed by attributes: the payload of every rtnetlink request. */
export function payload(header: Uint8Array, ...attrs: Uint8Array[]): Uint8Array {
  return concat([header, ...attrs]);
}

// ---------------------------------------------------------------- NLMSG_ERROR

export interface ErrorReply {
  /** 0 for an ACK, else a positive errno */
  readonly errno: number;
  /** header of the request this answers (the kernel echoes it) */
  readonly request: MessageHeader;
  /** NLMSGERR_ATTR_MSG: the kernel's human-readable reason, with NETLINK_EXT_ACK on */
  readonly extack?: string;
  /** NLMSGERR_ATTR_OFFS: byte offset of the offending attribute in the request */
  readonly offset?: number;
  /** NLMSGERR_ATTR_MISS_TYPE: a required attribute that was absent */
  readonly missingType?: number;
}

/**
 *   nlmsgerr: int error | nlmsghdr of the request | [request payload unless NLM_F_CAPPED]
 *             | [TLVs if NLM_F_ACK_TLVS]
 * With NETLINK_CAP_ACK the kernel leaves the payload out, so TLVs start right after the header.
 */
export function decodeError(msg: Message): ErrorReply {
  const p = msg.payload;
  if (p.length < NLMSGERR_LEN) throw new RangeError(`short NLMSG_ERROR: ${p.length} bytes`);
  const errno = -dv(p).getInt32(0, true);
  const request = decodeHeader(p.subarray(4));
  return { errno, request, ...decodeAckTlvs(msg, NLMSGERR_LEN) };
}

/** The int at the start of NLMSG_DONE: a dump that failed midway reports its errno here. */
export function decodeDone(msg: Message): { readonly errno: number; readonly extack?: string } {
  if (msg.payload.length < 4) return { errno: 0 };
  return { errno: -dv(msg.payload).getInt32(0, true), ...decodeAckTlvs(msg, 4) };
}

function decodeAckTlvs(msg: Message, capped: number): { extack?: string; offset?: number; missingType?: number } {
  if (!(msg.header.flags & NLM_F_ACK_TLVS)) return {};
  // Without NLM_F_CAPPED the request's payload sits between the echoed header and the TLVs.
  let start = capped;
  if (capped === NLMSGERR_LEN && !(msg.header.flags & NLM_F_CAPPED)) start = nlmsgAlign(4 + decodeHeader(msg.payload.subarray(4)).len);
  const out: { extack?: string; offset?: number; missingType?: number } = {};
  for (const a of parseAttrs(msg.payload.subarray(start))) {
    if (a.type === NLMSGERR_ATTR_MSG) out.extack = str(a.type).decode(a.value);
    else if (a.type === NLMSGERR_ATTR_OFFS && a.value.length >= 4) out.offset = dv(a.value).getUint32(0, true);
    else if (a.type === NLMSGERR_ATTR_MISS_TYPE && a.value.length >= 4) out.missingType = dv(a.value).getUint32(0, true);
  }
  return out;
}

/** Hex of bytes, for debug output and golden tests. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Parse hex (whitespace and comments after '#' or '//' on a line are ignored). */
export function unhex(s: string): Uint8Array {
  const clean = s.split('\n').map((l) => l.replace(/(#|\/\/).*$/, '')).join('').replace(/[^0-9a-fA-F]/g, '');
  if (clean.length % 2) throw new RangeError('odd number of hex digits');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
