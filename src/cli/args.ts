/**
 * Arguments several tsbpf commands spell the same way: a kernel object named as bpftool names
 * it (`5`, `id 5`, `pinned PATH` or `PATH`), and a packet given as a file or a frame description.
 */
import { existsSync, readFileSync } from 'node:fs';
import { FRAME_SPEC_HELP, FrameError, frameFromSpec, isFrameSpec } from '../frame/index.ts';
import { int, UsageError } from '../command.ts';

/** Which object a command names: by id or by bpffs path. `what` is 'map', 'program'… */
export function objectArg(args: readonly string[], what: string, usage: string): { id: number } | { path: string } {
  const [a, b] = args;
  if (a === undefined) throw new UsageError(`missing ${what} (an id or a pinned path)\n\n${usage}`);
  if (a === 'id') return { id: int(b, `${what} id`) };
  if (a === 'pinned') {
    if (!b) throw new UsageError('missing path after pinned');
    return { path: b };
  }
  return /^\d+$/.test(a) ? { id: Number(a) } : { path: a };
}

/** A file's bytes; a file that cannot be read is a usage error naming it. */
export function readBytes(file: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new UsageError(`cannot read ${what} '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * The packet `--data` names: an existing file's bytes, else a frame description
 * (udp:dport=5001); a file that exists wins over a description of the same spelling.
 */
export function packetArg(text: string): Uint8Array {
  if (existsSync(text)) return readBytes(text, 'the frame');
  if (!isFrameSpec(text)) throw new UsageError(`--data ${text}: no such file, and not a frame description\n\n${FRAME_SPEC_HELP}`);
  try {
    return frameFromSpec(text);
  } catch (e) {
    if (e instanceof FrameError) throw new UsageError(`--data ${text}: ${e.message}\n\n${FRAME_SPEC_HELP}`);
    throw e;
  }
}
