/**
 * The least of .BTF.ext the ELF reader needs for loading: per-section func_info and line_info
 * records, passed through to BPF_PROG_LOAD (so the verifier log shows the C source lines), and
 * the count of CO-RE relocations. CO-RE itself is applied before this runs, by src/btf's full
 * codec (decodeBtfExt, coreRelocateSections) in reader.ts. This reader predates src/btf and
 * duplicates part of it; src/btf/ext.ts is the codec to move onto.
 *
 *   btf_ext_header: magic:2 version:1 flags:1 hdr_len:4 func_info_off:4 func_info_len:4
 *                   line_info_off:4 line_info_len:4 [core_relo_off:4 core_relo_len:4]
 *   each info block: rec_size:4, then per section: sec_name_off:4 num_info:4 records…
 *   func_info record: insn_off:4 (bytes) type_id:4
 *   line_info record: insn_off:4 file_name_off:4 line_off:4 line_col:4 (line << 10 | column)
 */
import { BTF_MAGIC } from './btf-maps.ts';
import { ElfError } from './errors.ts';

export interface FuncInfo {
  /** Byte offset in the section. */
  readonly insnOff: number;
  readonly typeId: number;
}

export interface LineInfo {
  readonly insnOff: number;
  readonly fileNameOff: number;
  readonly lineOff: number;
  readonly lineCol: number;
}

export interface BtfExt {
  readonly funcInfo: ReadonlyMap<string, readonly FuncInfo[]>;
  readonly lineInfo: ReadonlyMap<string, readonly LineInfo[]>;
  /** CO-RE relocations per section name. */
  readonly coreRelos: ReadonlyMap<string, number>;
}

const SECTION = '.BTF.ext';
const MAX_RECORDS = 1 << 24;

export function parseBtfExt(data: Uint8Array, strings: (off: number) => string): BtfExt {
  const err = (reason: string, offset?: number) => new ElfError(reason, { section: SECTION, offset });
  if (data.length < 24) throw err(`${data.length} bytes is too short for a .BTF.ext header (24)`, 0);
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (v.getUint16(0, true) !== BTF_MAGIC) throw err(`bad magic 0x${v.getUint16(0, true).toString(16)} (want 0xeb9f)`, 0);
  const hdrLen = v.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > data.length) throw err(`header length ${hdrLen} is out of range`, 4);

  function blocks<T>(offAt: number, minRec: number, read: (p: number) => T): Map<string, T[]> {
    const out = new Map<string, T[]>();
    if (offAt + 8 > hdrLen) return out;
    const off = v.getUint32(offAt, true), len = v.getUint32(offAt + 4, true);
    if (len === 0) return out;
    const start = hdrLen + off;
    if (start > data.length || len > data.length - start || len < 4) throw err(`info block [${start}, +${len}) is past the end (${data.length} bytes)`, offAt);
    const end = start + len;
    const rec = v.getUint32(start, true);
    if (rec < minRec || rec > 256) throw err(`record size ${rec} is out of range (at least ${minRec})`, start);
    let p = start + 4;
    while (p < end) {
      if (end - p < 8) throw err('section block header is cut short', p);
      const name = strings(v.getUint32(p, true));
      const n = v.getUint32(p + 4, true);
      p += 8;
      if (n > MAX_RECORDS || n * rec > end - p) throw err(`${n} records of ${rec} bytes for section '${name}' do not fit`, p - 4);
      const list = out.get(name) ?? [];
      for (let i = 0; i < n; i++, p += rec) list.push(read(p));
      out.set(name, list);
    }
    return out;
  }

  const funcInfo = blocks(8, 8, (p) => ({ insnOff: v.getUint32(p, true), typeId: v.getUint32(p + 4, true) }));
  const lineInfo = blocks(16, 16, (p) => ({
    insnOff: v.getUint32(p, true), fileNameOff: v.getUint32(p + 4, true), lineOff: v.getUint32(p + 8, true), lineCol: v.getUint32(p + 12, true),
  }));
  const core = blocks(24, 16, () => 1);
  const coreRelos = new Map<string, number>();
  for (const [k, list] of core) if (list.length) coreRelos.set(k, list.length);
  return { funcInfo, lineInfo, coreRelos };
}
