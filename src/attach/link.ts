/**
 * Links by id or by pin, for commands that outlive the process that attached: where tsbpf's
 * CLI pins the links it creates (<bpffs>/tsbpf/links/<id>), what a `pin` option finds pinned
 * already (tcx and XDP reuse their own link there), and detaching a link found later, from
 * another process, by its pin or id (LINK_DETACH ends the attachment at once, whoever else
 * holds the link; then the pin is removed).
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { ensureBpffs } from '../syscall/bpffs.ts';
import { BpfError } from '../syscall/errors.ts';
import { openLinkById, openPinnedLink, type BpfLink, type LinkInfo } from '../syscall/link.ts';
import { unpin } from '../syscall/pin.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';
import { AttachError } from './attachment.ts';

/** <bpffs>/tsbpf/links: where the CLI pins links so that they outlive it. Created (0700) if missing. */
export function linkPinDir(): string {
  const dir = path.join(ensureBpffs(), 'tsbpf', 'links');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The CLI's pin path for a link id. */
export const defaultLinkPin = (id: number): string => path.join(linkPinDir(), String(id));

/**
 * <bpffs>/tsbpf/link-pins/<id>: a symlink per pin the CLI made for link <id> outside
 * tsbpf/links (`--pin PATH`, `tsbpf link pin`). A pin keeps a link alive, and nothing lists a
 * link's pins, so detaching by id could not remove them otherwise.
 */
const pinRecordDir = (id: number): string => path.join(ensureBpffs(), 'tsbpf', 'link-pins', String(id));

/** Remember that link `id` is pinned at `pin` (beyond its default pin), for detachLinkById. */
export function recordLinkPin(id: number, pin: string): void {
  const at = path.resolve(pin);
  if (at === defaultLinkPin(id)) return;
  const dir = pinRecordDir(id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = readdirSync(dir);
  if (names.some((n) => readlinkSync(path.join(dir, n)) === at)) return;
  let n = 0;
  while (names.includes(String(n))) n++;
  symlinkSync(at, path.join(dir, String(n)));
}

/** Whether a link with this id is pinned at path. */
function pinnedHere(pin: string, id: number, sys: Sys): boolean {
  try {
    using link = openPinnedLink(pin, sys);
    return link.info().id === id;
  } catch (e) {
    if (e instanceof BpfError) return false;
    throw e;
  }
}

/** Remove link `id`'s default pin and the pins recorded for it (those still its own); the paths removed. */
function removeLinkPins(id: number, sys: Sys): string[] {
  const removed: string[] = [];
  const pin = path.join(ensureBpffs(), 'tsbpf', 'links', String(id));
  if (existsSync(pin)) { unpin(pin); removed.push(pin); }
  const dir = pinRecordDir(id);
  if (!existsSync(dir)) return removed;
  for (const n of readdirSync(dir)) {
    const marker = path.join(dir, n);
    const at = lstatSync(marker).isSymbolicLink() ? readlinkSync(marker) : undefined;
    if (at !== undefined && pinnedHere(at, id, sys)) { unpin(at); removed.push(at); }
    rmSync(marker, { force: true });
  }
  rmdirSync(dir);
  return removed;
}

/** Detach the link pinned at path and remove the pin, and the other pins tsbpf made of it; what it was, for reports. */
export function detachPinnedLink(pin: string, sys: Sys = defaultSys): LinkInfo {
  using link = openPinnedLink(pin, sys);
  const info = link.info();
  link.detach();
  unpin(pin);
  removeLinkPins(info.id, sys);
  return info;
}

/** Detach the link with this id, and remove tsbpf's pins of it: the default one and those recorded by recordLinkPin. */
export function detachLinkById(id: number, sys: Sys = defaultSys): LinkInfo {
  let link;
  try {
    link = openLinkById(id, sys);
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT') throw new Error(`no link with id ${id}: list them with \`tsbpf link list\``);
    throw e;
  }
  try {
    const info = link.info();
    link.detach();
    removeLinkPins(id, sys);
    return info;
  } finally {
    link.close();
  }
}

/**
 * What is pinned at a path, for a `pin` option: 'absent', 'ours' (a link of this attach type on
 * this ifindex), or 'gone' after removing a pin whose link lost its device (ifindex 0). A live
 * link of another kind is an error: removing its pin would detach it.
 */
export function pinnedLinkState(pin: string, attachType: string, ifindex: number, target: string, sys: Sys): 'absent' | 'ours' | 'gone' {
  let link: BpfLink;
  try {
    link = openPinnedLink(pin, sys);
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT') return 'absent';
    throw e;
  }
  try {
    const info = link.info();
    if (info.attachType === attachType && info.ifindex === ifindex) return 'ours';
    if (info.ifindex === 0) { unpin(pin); return 'gone'; }
    throw new AttachError(target, `the link pinned at ${pin} is ${info.type} ${info.attachType ?? ''} on ifindex ${info.ifindex}, not ${attachType} on ${ifindex}: ` +
      'choose another pin path, or detach that link (tsbpf link detach --pinned PATH)');
  } finally {
    link.close();
  }
}
