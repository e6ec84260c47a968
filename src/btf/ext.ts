/**
 * .BTF.ext: what clang writes beside .BTF for the loader: per ELF section, which instruction
 * starts which function (func_info), which source line each instruction came from (line_info),
 * and the CO-RE relocations. Strings (section, file and line text, access strings) live in the
 * .BTF string table.
 *
 *   btf_ext_header: magic eb9f u16, version u8, flags u8, hdr_len u32,
 *                   func_info_off, func_info_len, line_info_off, line_info_len,
 *                   [core_relo_off, core_relo_len]     (offsets from the end of the header)
 *   each info block: rec_size u32, then { sec_name_off u32, num_info u32, rec_size x num_info }…
 *   func_info  { insn_off, type_id }                         (insn_off in bytes in .BTF.ext,
 *   line_info  { insn_off, file_name_off, line_off, line_col }  in instructions for the kernel)
 *   core_relo  { insn_off, type_id, access_str_off, kind }
 *   line_col = line << 10 | column (10 bits)
 */
import type { Btf } from './decode.ts';
import { BtfError } from './errors.ts';
import type { StringTable } from './strings.ts';
import { BTF_MAGIC } from './types.ts';

export interface FuncInfo { readonly insnOff: number; readonly typeId: number }
export interface LineInfo { readonly insnOff: number; readonly file: string; readonly line: string; readonly lineNum: number; readonly column: number }
export interface CoreRelo { readonly insnOff: number; readonly typeId: number; readonly access: string; readonly kind: number }

export interface ExtSection<R> { readonly section: string; readonly records: readonly R[] }

export interface BtfExt {
  readonly funcInfo: readonly ExtSection<FuncInfo>[];
  readonly lineInfo: readonly ExtSection<LineInfo>[];
  readonly coreRelo: readonly ExtSection<CoreRelo>[];
}

/** bpf_core_relo_kind, by number. */
export const CORE_RELO_KINDS = [
  'field_byte_offset', 'field_byte_size', 'field_exists', 'field_signed', 'field_lshift_u64', 'field_rshift_u64',
  'type_id_local', 'type_id_target', 'type_exists', 'type_size', 'enumval_exists', 'enumval_value', 'type_matches',
] as const;

export const FUNC_INFO_SIZE = 8;
export const LINE_INFO_SIZE = 16;
export const CORE_RELO_SIZE = 16;
const EXT_HEADER_MIN = 24, EXT_HEADER_CORE = 32;

/** The line number and column packed into line_col. */
export const lineCol = (line: number, column: number): number => ((line << 10) | Math.min(column, 0x3ff)) >>> 0;

function block<R>(bytes: Uint8Array, v: DataView, at: number, len: number, min: number, what: string,
  read: (o: number) => R, names: (off: number, at: number) => string): ExtSection<R>[] {
  if (len === 0) return [];
  const end = at + len;
  if (end > bytes.length) throw new BtfError(`${what} runs past the end of .BTF.ext`, { offset: at });
  if (len < 4) throw new BtfError(`${what} has no record size`, { offset: at });
  const rec = v.getUint32(at, true);
  if (rec < min || rec % 4 || rec > 1024) throw new BtfError(`${what} record size ${rec} (needs ${min}..1024, a multiple of 4)`, { offset: at });
  const out: ExtSection<R>[] = [];
  for (let p = at + 4; p < end;) {
    if (p + 8 > end) throw new BtfError(`${what}: a section header needs 8 bytes, ${end - p} are left`, { offset: p });
    const section = names(v.getUint32(p, true), p);
    const n = v.getUint32(p + 4, true);
    p += 8;
    if (n === 0) throw new BtfError(`${what} for section '${section}' has no records`, { offset: p - 4 });
    if (n > (end - p) / rec) throw new BtfError(`${what} for section '${section}' claims ${n} records of ${rec} bytes, only ${end - p} bytes are left`, { offset: p - 4 });
    const records: R[] = [];
    for (let i = 0; i < n; i++, p += rec) records.push(read(p));
    out.push({ section, records });
  }
  return out;
}

/** Decode .BTF.ext; its strings are looked up in btf (the .BTF beside it). */
export function decodeBtfExt(bytes: Uint8Array, btf: Pick<Btf, 'string' | 'stringsEnd'>): BtfExt {
  if (bytes.length < EXT_HEADER_MIN) throw new BtfError(`.BTF.ext of ${bytes.length} bytes is shorter than its ${EXT_HEADER_MIN}-byte header`, { offset: 0 });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = v.getUint16(0, true);
  if (magic !== BTF_MAGIC) throw new BtfError(`.BTF.ext magic 0x${magic.toString(16)}, expected 0xeb9f`, { offset: 0 });
  if (v.getUint8(2) !== 1) throw new BtfError(`.BTF.ext version ${v.getUint8(2)}, only 1 exists`, { offset: 2 });
  if (v.getUint8(3) !== 0) throw new BtfError(`.BTF.ext flags 0x${v.getUint8(3).toString(16)}: none are defined`, { offset: 3 });
  const hdr = v.getUint32(4, true);
  if (hdr < EXT_HEADER_MIN || hdr > bytes.length) throw new BtfError(`.BTF.ext header length ${hdr} is outside ${EXT_HEADER_MIN}..${bytes.length}`, { offset: 4 });
  const str = (off: number, at: number): string => {
    if (off >= btf.stringsEnd) throw new BtfError(`.BTF.ext string offset ${off} is past the .BTF string section (${btf.stringsEnd} bytes)`, { offset: at });
    return btf.string(off);
  };
  const u = (o: number) => v.getUint32(o, true);
  const funcInfo = block(bytes, v, hdr + u(8), u(12), FUNC_INFO_SIZE, 'func_info',
    (o) => ({ insnOff: u(o), typeId: u(o + 4) }), str);
  const lineInfo = block(bytes, v, hdr + u(16), u(20), LINE_INFO_SIZE, 'line_info',
    (o) => ({ insnOff: u(o), file: str(u(o + 4), o + 4), line: str(u(o + 8), o + 8), lineNum: u(o + 12) >>> 10, column: u(o + 12) & 0x3ff }), str);
  const coreRelo = hdr >= EXT_HEADER_CORE
    ? block(bytes, v, hdr + u(24), u(28), CORE_RELO_SIZE, 'core_relo',
      (o) => ({ insnOff: u(o), typeId: u(o + 4), access: str(u(o + 8), o + 8), kind: u(o + 12) }), str)
    : [];
  return { funcInfo, lineInfo, coreRelo };
}

function encodeBlock<R>(secs: readonly ExtSection<R>[], rec: number, strings: StringTable, write: (v: DataView, o: number, r: R) => void): Uint8Array {
  if (!secs.length) return new Uint8Array(0);
  let len = 4;
  for (const s of secs) len += 8 + rec * s.records.length;
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  v.setUint32(0, rec, true);
  let p = 4;
  for (const s of secs) {
    if (!s.records.length) throw new BtfError(`section '${s.section}' has no records (the kernel's loaders reject empty info blocks)`);
    v.setUint32(p, strings.add(s.section), true);
    v.setUint32(p + 4, s.records.length, true);
    p += 8;
    for (const r of s.records) { write(v, p, r); p += rec; }
  }
  return out;
}

/** Encode .BTF.ext, adding its strings to the .BTF's table (encode the .BTF after this). */
export function encodeBtfExt(ext: BtfExt, strings: StringTable): Uint8Array {
  const f = encodeBlock(ext.funcInfo, FUNC_INFO_SIZE, strings, (v, o, r) => { v.setUint32(o, r.insnOff, true); v.setUint32(o + 4, r.typeId, true); });
  const l = encodeBlock(ext.lineInfo, LINE_INFO_SIZE, strings, (v, o, r) => {
    v.setUint32(o, r.insnOff, true); v.setUint32(o + 4, strings.add(r.file), true);
    v.setUint32(o + 8, strings.add(r.line), true); v.setUint32(o + 12, lineCol(r.lineNum, r.column), true);
  });
  const c = encodeBlock(ext.coreRelo, CORE_RELO_SIZE, strings, (v, o, r) => {
    v.setUint32(o, r.insnOff, true); v.setUint32(o + 4, r.typeId, true);
    v.setUint32(o + 8, strings.add(r.access), true); v.setUint32(o + 12, r.kind, true);
  });
  const out = new Uint8Array(EXT_HEADER_CORE + f.length + l.length + c.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, BTF_MAGIC, true); v.setUint8(2, 1); v.setUint32(4, EXT_HEADER_CORE, true);
  v.setUint32(8, 0, true); v.setUint32(12, f.length, true);
  v.setUint32(16, f.length, true); v.setUint32(20, l.length, true);
  v.setUint32(24, f.length + l.length, true); v.setUint32(28, c.length, true);
  out.set(f, EXT_HEADER_CORE); out.set(l, EXT_HEADER_CORE + f.length); out.set(c, EXT_HEADER_CORE + f.length + l.length);
  return out;
}

/** bpf_func_info records as BPF_PROG_LOAD takes them (insn_off in instructions). */
export function encodeFuncInfo(records: readonly FuncInfo[]): Uint8Array {
  const out = new Uint8Array(records.length * FUNC_INFO_SIZE);
  const v = new DataView(out.buffer);
  records.forEach((r, i) => { v.setUint32(i * 8, r.insnOff, true); v.setUint32(i * 8 + 4, r.typeId, true); });
  return out;
}

/** bpf_line_info records as BPF_PROG_LOAD takes them; strings must already be in the BTF's table. */
export function encodeLineInfo(records: readonly LineInfo[], strings: StringTable): Uint8Array {
  const out = new Uint8Array(records.length * LINE_INFO_SIZE);
  const v = new DataView(out.buffer);
  records.forEach((r, i) => {
    const o = i * 16;
    v.setUint32(o, r.insnOff, true); v.setUint32(o + 4, strings.add(r.file), true);
    v.setUint32(o + 8, strings.add(r.line), true); v.setUint32(o + 12, lineCol(r.lineNum, r.column), true);
  });
  return out;
}

/**
 * Decode kernel-format line_info records (bpf_prog_info's), strings from the program's BTF;
 * a string offset past that BTF's strings is a BtfError, as in .BTF.ext.
 */
export function decodeLineInfo(bytes: Uint8Array, recSize: number, btf: Pick<Btf, 'string' | 'stringsEnd'>): LineInfo[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: LineInfo[] = [];
  if (recSize < LINE_INFO_SIZE) throw new BtfError(`line_info record size ${recSize} is below ${LINE_INFO_SIZE}`);
  const str = (at: number): string => {
    const off = v.getUint32(at, true);
    if (off >= btf.stringsEnd) throw new BtfError(`line_info string offset ${off} is past the BTF string section (${btf.stringsEnd} bytes)`, { offset: at });
    return btf.string(off);
  };
  for (let o = 0; o + recSize <= bytes.length; o += recSize) {
    const lc = v.getUint32(o + 12, true);
    out.push({ insnOff: v.getUint32(o, true), file: str(o + 4), line: str(o + 8), lineNum: lc >>> 10, column: lc & 0x3ff });
  }
  return out;
}
