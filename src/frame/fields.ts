/** Range checks shared by the layer builders: one clear FrameError naming the field. */
import { FrameError } from './errors.ts';

export function uint(value: number | undefined, dflt: number, bits: number, field: string): number {
  const v = value ?? dflt;
  const max = 2 ** bits - 1;
  if (!Number.isInteger(v) || v < 0 || v > max) throw new FrameError(field, `${v} is not an integer in [0, ${max}]`);
  return v;
}

export function bytesOf(v: Uint8Array | string | undefined, field: string): Uint8Array {
  if (v === undefined) return new Uint8Array(0);
  if (typeof v === 'string') return new TextEncoder().encode(v);
  if (!(v instanceof Uint8Array)) throw new FrameError(field, 'expected bytes (a Uint8Array) or a string');
  return v;
}
