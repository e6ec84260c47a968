/**
 * Links by id or by pin, for commands that outlive the process that attached: where tsbpf's
 * CLI pins the links it creates (<bpffs>/tsbpf/links/<id>), and detaching a link found later,
 * from another process, by its pin or id (LINK_DETACH ends the attachment at once, whoever
 * else holds the link; then the pin is removed).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ensureBpffs } from '../syscall/bpffs.ts';
import { BpfError } from '../syscall/errors.ts';
import { openLinkById, openPinnedLink, type LinkInfo } from '../syscall/link.ts';
import { unpin } from '../syscall/pin.ts';
import { defaultSys, type Sys } from '../syscall/sys.ts';

/** <bpffs>/tsbpf/links: where the CLI pins links so that they outlive it. Created (0700) if missing. */
export function linkPinDir(): string {
  const dir = path.join(ensureBpffs(), 'tsbpf', 'links');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The CLI's pin path for a link id. */
export const defaultLinkPin = (id: number): string => path.join(linkPinDir(), String(id));

/** Detach the link pinned at path and remove the pin; what it was, for reports. */
export function detachPinnedLink(pin: string, sys: Sys = defaultSys): LinkInfo {
  using link = openPinnedLink(pin, sys);
  const info = link.info();
  link.detach();
  unpin(pin);
  return info;
}

/** Detach the link with this id, and remove tsbpf's default pin of it when there is one. */
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
    const pin = path.join(ensureBpffs(), 'tsbpf', 'links', String(id));
    if (existsSync(pin)) unpin(pin);
    return info;
  } finally {
    link.close();
  }
}
