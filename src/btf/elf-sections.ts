/**
 * Just enough ELF to find .BTF and .BTF.ext in a clang object (64-bit little-endian, as
 * `clang -target bpf` writes): the section headers and their names. The full ELF reader is
 * src/elf's job; this stays so `btf dump file x.o` works without it.
 *
 *   Elf64_Ehdr: e_ident[16] ("\x7fELF", class 2, data 1) … e_shoff u64 @40, e_shentsize u16 @58,
 *               e_shnum u16 @60, e_shstrndx u16 @62
 *   Elf64_Shdr (64 bytes): sh_name u32 @0, sh_type u32 @4, sh_offset u64 @24, sh_size u64 @32
 */
import { BtfError } from './errors.ts';

export const isElf = (b: Uint8Array): boolean => b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;

/** Sections by name (their bytes, as views into the file). */
export function elfSections(b: Uint8Array): Map<string, Uint8Array> {
  if (!isElf(b) || b.length < 64) throw new BtfError('not an ELF file (no \\x7fELF magic)', { offset: 0 });
  if (b[4] !== 2 || b[5] !== 1) throw new BtfError('only 64-bit little-endian ELF objects are read (clang -target bpf makes these)', { offset: 4 });
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const shoff = Number(v.getBigUint64(40, true)), shentsize = v.getUint16(58, true), shnum = v.getUint16(60, true), shstrndx = v.getUint16(62, true);
  if (shentsize < 64 || shoff + shnum * shentsize > b.length) throw new BtfError('the ELF section header table runs past the end of the file', { offset: 40 });
  const sect = (i: number) => {
    const o = shoff + i * shentsize;
    const off = Number(v.getBigUint64(o + 24, true)), size = Number(v.getBigUint64(o + 32, true));
    const nobits = v.getUint32(o + 4, true) === 8;
    if (!nobits && off + size > b.length) throw new BtfError(`ELF section ${i} runs past the end of the file`, { offset: o });
    return { name: v.getUint32(o, true), bytes: nobits ? new Uint8Array(0) : b.subarray(off, off + size) };
  };
  if (shstrndx >= shnum) throw new BtfError('the ELF section name table index is out of range', { offset: 62 });
  const names = sect(shstrndx).bytes;
  const out = new Map<string, Uint8Array>();
  const dec = new TextDecoder();
  for (let i = 1; i < shnum; i++) {
    const s = sect(i);
    const end = names.indexOf(0, s.name);
    if (s.name >= names.length || end < 0) throw new BtfError(`ELF section ${i} has a name outside the name table`);
    out.set(dec.decode(names.subarray(s.name, end)), s.bytes);
  }
  return out;
}
