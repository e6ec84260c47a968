/**
 * ElfError: the one error the ELF reader throws for bad input. It names the section (when
 * there is one) and the file or section offset, so a truncated download or a stray byte can
 * be found with `llvm-readelf -S` or `xxd`.
 */
export class ElfError extends Error {
  override name = 'ElfError';
  /** The reason alone, without section and offset. */
  readonly reason: string;
  /** The section the problem is in, by name (or `#index` when its name is unreadable). */
  readonly section: string | undefined;
  /** Byte offset: within the section when `section` is set, else within the file. */
  readonly offset: number | undefined;

  constructor(reason: string, where: { section?: string; offset?: number } = {}) {
    const at = where.section !== undefined
      ? `section '${where.section}'${where.offset !== undefined ? ` at offset 0x${where.offset.toString(16)}` : ''}: `
      : where.offset !== undefined ? `at file offset 0x${where.offset.toString(16)}: ` : '';
    super(`ELF ${at}${reason}`);
    this.reason = reason;
    this.section = where.section;
    this.offset = where.offset;
  }
}
