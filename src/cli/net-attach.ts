/**
 * What `tsbpf tc` and `tsbpf xdp` share: the --netns/--json options and their help, the device
 * and program arguments, and keeping a link the command made alive after it exits.
 */
import { defaultLinkPin, recordLinkPin, type Attachment } from '../attach/index.ts';
import { openPinnedProgram, openProgramById, type Program } from '../syscall/program.ts';
import { int, UsageError } from '../command.ts';

export const netnsHelp = `options:
  --netns NAME   work inside network namespace NAME (/var/run/netns/NAME)
  --json         print JSON instead of text
  -h, --help     show this help`;

export const netnsOptions = { netns: { type: 'string' }, json: { type: 'boolean' } } as const;

export function devArg(v: string | undefined, u: string): string | number {
  if (!v) throw new UsageError(`missing interface name\n\n${u}`);
  // A bare number is an ifindex, as in `ip link show index N`; names are never all digits in practice.
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** --id or --pinned: the program, opened (the caller closes it). */
export function programArg(values: { id?: string; pinned?: string }, u: string): Program {
  if ((values.id === undefined) === (values.pinned === undefined)) throw new UsageError(`give exactly one of --id or --pinned\n\n${u}`);
  return values.id !== undefined ? openProgramById(int(values.id, '--id')) : openPinnedProgram(values.pinned!);
}

/**
 * Let go of an attachment the command made, leaving it in place. A link ends with the process
 * that holds it, so a new one (`linkId`, when this handle created it) is pinned first, at `pin`
 * or <bpffs>/tsbpf/links/<id>; if pinning fails the link is detached, so nothing is left half-made.
 * Returns where the link was pinned.
 */
export function keepAttached(h: Attachment, linkId: number | undefined, pin: string | undefined): string | undefined {
  let pinned: string | undefined;
  if (linkId !== undefined) {
    try {
      pinned = pin ?? defaultLinkPin(linkId);
      h.pin(pinned);
      // A pin elsewhere keeps the link alive after `detach --id`/`--link`: recorded, so they remove it too.
      if (pin !== undefined) recordLinkPin(linkId, pin);
    } catch (e) {
      h.detach();
      throw e;
    }
  }
  h.release();
  return pinned;
}
