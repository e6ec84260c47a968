/** Errors of the frame builder and decoder. */

/** A frame description or field the builder cannot use; `field` names it. */
export class FrameError extends Error {
  override name = 'FrameError';
  constructor(readonly field: string, reason: string) {
    super(`${field}: ${reason}`);
  }
}
