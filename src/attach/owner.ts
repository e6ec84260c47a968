/**
 * The owner half of an attachment: what detach, pin, release and close do depends on the kernel
 * object that holds the attachment, not on the hook. What differs per hook (the handle's kind
 * and info) stays in tc.ts and xdp.ts.
 *
 * A bpf link (tcx, XDP in link mode):
 *   detach()   LINK_DETACH (ends it at once, pinned or not), remove our pin, close our fd
 *   close()    detach what we created unless a pin keeps it; close our fd
 *   release()  close our fd and leave the link to its pin (refused for an unpinned link we made)
 * A netlink object (a cls_bpf filter, an XDP program set with IFLA_XDP): no fd holds it, so
 *   detach()   remove it (the caller's remove(), once)
 *   close()    detach() if this attach created something, else just stop owning
 *   release()  stop owning and leave it in place
 *   pin()      refused: it is not a bpf object
 */
import type { BpfLink } from '../syscall/link.ts';
import { unpin } from '../syscall/pin.ts';
import { AttachError, type Attachment } from './attachment.ts';

export type OwnerMethods = Pick<Attachment, 'detach' | 'pin' | 'release' | 'close' | typeof Symbol.dispose>;

export interface LinkOwner {
  readonly methods: OwnerMethods;
  /** The pin path, once pinned (by the attach or by pin()). */
  pinned(): string | undefined;
}

export interface LinkOwnerSpec {
  /** What this attach created ('tcx link'); empty when it gave an existing link a new program. */
  readonly created: readonly string[];
  /** Where the link is pinned already. */
  readonly pinnedAt: string | undefined;
  /** False when the caller handed in its own BpfLink: its fd stays the caller's to close. */
  readonly ownsFd: boolean;
  /** For the release() refusal: 'tcx ingress on veth0'. */
  readonly target: string;
  /** 'tcx', 'XDP': "an unpinned tcx link ends with its last fd". */
  readonly what: string;
}

export function linkOwner(link: BpfLink, s: LinkOwnerSpec): LinkOwner {
  let pinned = s.pinnedAt;
  let done = false;
  const finish = (): void => { done = true; if (s.ownsFd) link.close(); };
  const close = (): void => {
    if (done) return;
    // Ours and unpinned: closing the fd ends it anyway; detach explicitly so it is gone now.
    // A link whose device went away is already inert: closing must not throw for it.
    try {
      if (!pinned && s.created.length) link.detach();
    } finally {
      finish();
    }
  };
  return {
    pinned: () => pinned,
    methods: {
      detach(): void {
        if (done) return;
        // LINK_DETACH ends the attachment even when a pin or another fd holds the link.
        link.detach();
        if (pinned) unpin(pinned);
        finish();
      },
      pin(path: string): void {
        link.pin(path);
        pinned = path;
      },
      release(): void {
        if (done) return;
        if (!pinned && s.created.length) throw new AttachError(s.target, `an unpinned ${s.what} link ends with its last fd: pin it before release()`);
        finish();
      },
      close,
      [Symbol.dispose]: close,
    },
  };
}

/**
 * The owner of a netlink attachment: remove() deletes what this attach made (and is called at
 * most once); pinRefusal says why this kind cannot be pinned.
 */
export function netlinkOwner(remove: () => void, s: { readonly created: readonly string[]; readonly pinRefusal: () => Error }): OwnerMethods {
  let done = false;
  const detach = (): void => {
    if (done) return;
    done = true;
    remove();
  };
  const close = (): void => {
    if (s.created.length) detach();
    else done = true;
  };
  return {
    detach,
    pin(): void { throw s.pinRefusal(); },
    release(): void { done = true; },
    close,
    [Symbol.dispose]: close,
  };
}

/**
 * Pin a link this attach just created; if pinning fails, end the link too, so the failed
 * attach leaves nothing behind.
 */
export function pinNewLink(link: BpfLink, path: string): void {
  try {
    link.pin(path);
  } catch (e) {
    link.detach();
    link.close();
    throw e;
  }
}

/** Give an opened (not created) link a new program; close it again if the kernel refuses. */
export function updateOpenedLink(link: BpfLink, progFd: number): BpfLink {
  try {
    link.update(progFd);
  } catch (e) {
    link.close();
    throw e;
  }
  return link;
}
