/**
 * The read-only inputs beside the checkout (../shared: the reference build's frames and
 * listings, the conformance vectors). CI clones the repo with shared/ beside it, wherever that
 * is; TSBPF_SHARED points elsewhere.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = process.env.TSBPF_SHARED ?? path.resolve(ROOT, '..', 'shared');

export function sharedPath(...parts: string[]): string {
  return path.join(SHARED, ...parts);
}

/** A frame from ../shared/reference (pkt_match.bin, pkt_nomatch_port.bin, …). */
export function referenceFrame(name: string): Uint8Array {
  return new Uint8Array(readFileSync(sharedPath('reference', name)));
}
