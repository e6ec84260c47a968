/**
 * The ELF numbers a BPF relocatable object uses (elf.h, and LLVM's BPF relocation list in
 * llvm/BinaryFormat/ELFRelocs/BPF.def).
 */
export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46] as const;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_REL = 1;
export const EM_BPF = 247;

export const EHDR_SIZE = 64;
export const SHDR_SIZE = 64;
export const SYM_SIZE = 24;
export const REL_SIZE = 16;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

/** sh_type */
export const SHT = {
  NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, HASH: 5, DYNAMIC: 6, NOTE: 7, NOBITS: 8, REL: 9,
  SYMTAB_SHNDX: 18, LLVM_ADDRSIG: 0x6fff4c03,
} as const;

/** sh_flags */
export const SHF = { WRITE: 0x1, ALLOC: 0x2, EXECINSTR: 0x4, MERGE: 0x10, STRINGS: 0x20 } as const;

/** st_info: binding in the high nibble, type in the low one. */
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;

/** BPF relocation types (r_info & 0xffffffff). */
export const R_BPF = {
  NONE: 0, '64_64': 1, '64_ABS64': 2, '64_ABS32': 3, '64_NODYLD32': 4, '64_32': 10,
} as const;

const R_NAMES = new Map<number, string>(Object.entries(R_BPF).map(([k, v]) => [v, `R_BPF_${k}`]));
/** 'R_BPF_64_64' for 1; an unknown number is named by its value. */
export function relocationName(type: number): string {
  return R_NAMES.get(type) ?? `relocation type ${type}`;
}
