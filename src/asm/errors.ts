/** Where an instruction came from, for errors: its index, the nearest label before it, its TS line. */
export interface Origin {
  readonly index?: number;
  readonly label?: string;
  readonly source?: string;
}

/**
 * A program that cannot be built, encoded or decoded. Carries the instruction index, the
 * nearest preceding label and the TypeScript line that emitted it, when known.
 */
export class AsmError extends Error {
  override name = 'AsmError';
  readonly index?: number;
  readonly label?: string;
  readonly source?: string;
  readonly reason: string;
  constructor(reason: string, origin: Origin = {}) {
    const where = [
      origin.index !== undefined ? `instruction ${origin.index}` : undefined,
      origin.label !== undefined ? `after label '${origin.label}'` : undefined,
      origin.source !== undefined ? `at ${origin.source}` : undefined,
    ].filter(Boolean).join(', ');
    super(where ? `${where}: ${reason}` : reason);
    this.reason = reason;
    this.index = origin.index;
    this.label = origin.label;
    this.source = origin.source;
  }
}

/** Text that does not assemble: carries line and column (1-based). */
export class AsmSyntaxError extends AsmError {
  override name = 'AsmSyntaxError';
  readonly line: number;
  readonly column: number;
  constructor(reason: string, line: number, column: number, file?: string) {
    super(reason, { source: `${file ?? '<input>'}:${line}:${column}` });
    this.line = line;
    this.column = column;
  }
}
