/**
 * BtfError: bytes that are not valid BTF, or a type graph that cannot be encoded. Carries where
 * (byte offset, type id) so a bad blob can be found with a hex dump.
 */
export class BtfError extends Error {
  override name = 'BtfError';
  /** The byte offset in the blob (from its start) where decoding stopped, when known. */
  readonly offset: number | undefined;
  /** The type id being decoded or encoded, when known. */
  readonly typeId: number | undefined;

  constructor(reason: string, where: { offset?: number; typeId?: number } = {}) {
    const at = [where.typeId !== undefined ? `type [${where.typeId}]` : '', where.offset !== undefined ? `byte ${where.offset}` : ''].filter(Boolean).join(', ');
    super(`invalid BTF${at ? ` at ${at}` : ''}: ${reason}`);
    this.offset = where.offset;
    this.typeId = where.typeId;
  }
}
