/**
 * The link commands and tcx detection without a kernel: a fake Sys records each attr, so the
 * bytes of LINK_CREATE (tcx ordering, XDP modes), LINK_UPDATE, LINK_DETACH and PROG_QUERY are
 * checked against the upstream layout, and replies are decoded as the kernel writes them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { anchorFlags, hasTcx } from '../../src/attach/tc.ts';
import { LINK_CREATE, LINK_INFO, LINK_UPDATE, PROG_QUERY, INFO, readU64, write, dv } from '../../src/syscall/attr.ts';
import { AttachFlags, Cmd, XdpFlags, attachTypeId } from '../../src/syscall/constants.ts';
import { BpfLink, linkCreate, linkDetach, linkInfo, linkUpdate, progQuery } from '../../src/syscall/link.ts';
import { FakeSys } from '../support/fake-sys.ts';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const golden = (s: string): string => s.replace(/#.*$/gm, '').replace(/\s+/g, '');

test('LINK_CREATE for tcx: ifindex, attach type, BEFORE|LINK, relative fd, expected revision at 16 and 24', () => {
  const k = new FakeSys(() => 9);
  assert.is(linkCreate(k, { progFd: 5, target: 3, attachType: attachTypeId('tcx_ingress'), flags: AttachFlags.BEFORE | AttachFlags.LINK, relative: 7, expectedRevision: 4n }), 9);
  assert.is(k.calls[0]!.cmd, Cmd.LINK_CREATE);
  assert.is(hex(k.calls[0]!.attr), golden(`
    05000000   # prog_fd 5
    03000000   # target_ifindex 3
    2e000000   # attach_type BPF_TCX_INGRESS (46)
    08200000   # flags BPF_F_BEFORE (1<<3) | BPF_F_LINK (1<<13)
    07000000   # tcx.relative_fd 7
    00000000   # (padding before the u64)
    0400000000000000  # tcx.expected_revision 4
  `));
  assert.is(LINK_CREATE.size, 32);
});

test('LINK_CREATE for XDP: attach type BPF_XDP, the mode bit in flags, nothing past it set', () => {
  const k = new FakeSys(() => 9);
  linkCreate(k, { progFd: 5, target: 3, attachType: attachTypeId('xdp'), flags: XdpFlags.SKB_MODE });
  assert.is(hex(k.calls[0]!.attr), golden('05000000 03000000 25000000 02000000 00000000 00000000 0000000000000000'));
});

test('LINK_UPDATE with the expected old program sets BPF_F_REPLACE; LINK_DETACH is the fd alone', () => {
  const k = new FakeSys(() => 0);
  linkUpdate(k, 11, 12, { oldProgFd: 13 });
  linkUpdate(k, 11, 12);
  linkDetach(k, 11);
  assert.equal(k.cmds(), [Cmd.LINK_UPDATE, Cmd.LINK_UPDATE, Cmd.LINK_DETACH]);
  assert.is(hex(k.calls[0]!.attr), golden('0b000000 0c000000 04000000 0d000000'));
  assert.is(hex(k.calls[1]!.attr), golden('0b000000 0c000000 00000000 00000000'));
  assert.is(hex(k.calls[2]!.attr), golden('0b000000 00000000'));
  assert.is(LINK_UPDATE.size, 16);
});

test('PROG_QUERY asks for the count, then for that many ids, and reads link ids and the revision', () => {
  const k = new FakeSys((cmd, a, kk) => {
    const v = dv(a);
    const room = v.getUint32(PROG_QUERY.fields.prog_cnt.off, true);
    v.setUint32(PROG_QUERY.fields.prog_cnt.off, 2, true);
    v.setBigUint64(PROG_QUERY.fields.revision.off, 7n, true);
    if (room >= 2) {
      const ids = dv(kk.mem(readU64(PROG_QUERY, a, 'prog_ids'))), links = dv(kk.mem(readU64(PROG_QUERY, a, 'link_ids')));
      ids.setUint32(0, 101, true); ids.setUint32(4, 102, true);
      links.setUint32(0, 0, true); links.setUint32(4, 55, true);
    }
    return cmd === Cmd.PROG_QUERY ? 0 : -22;
  });
  const q = progQuery(k, 3, attachTypeId('tcx_egress'));
  assert.equal(q, { progIds: [101, 102], linkIds: [0, 55], revision: 7n, attachFlags: 0 });
  assert.is(k.calls.length, 2);
  assert.is(dv(k.calls[0]!.attr).getUint32(4, true), 47, 'attach_type BPF_TCX_EGRESS');
  assert.is(PROG_QUERY.size, 64);
});

test('link info: tcx and xdp links decode their ifindex and attach type at 16 and 20', () => {
  const k = new FakeSys((_c, a, kk) => {
    write(LINK_INFO, kk.mem(readU64(INFO, a, 'info')), { type: 11, id: 4, prog_id: 99, 'tcx.ifindex': 3, 'tcx.attach_type': 47 });
    return 0;
  });
  assert.equal(linkInfo(8, k), { id: 4, type: 'tcx', typeId: 11, progId: 99, ifindex: 3, attachType: 'tcx_egress' });
  const x = new FakeSys((_c, a, kk) => { write(LINK_INFO, kk.mem(readU64(INFO, a, 'info')), { type: 6, id: 5, prog_id: 98, 'xdp.ifindex': 2 }); return 0; });
  assert.equal(new BpfLink(8, x).info(), { id: 5, type: 'xdp', typeId: 6, progId: 98, ifindex: 2, attachType: 'xdp' });
});

test('hasTcx: EINVAL from PROG_QUERY means no tcx; the answer is kept per Sys', () => {
  const old = new FakeSys(() => -22);
  assert.not.ok(hasTcx(old));
  assert.not.ok(hasTcx(old));
  assert.is(old.calls.length, 1, 'asked once');
  assert.is(dv(old.calls[0]!.attr).getUint32(0, true), 1, 'on lo (ifindex 1)');
  const now = new FakeSys(() => 0);
  assert.ok(hasTcx(now));
  const denied = new FakeSys(() => -1);
  assert.throws(() => hasTcx(denied), /EPERM/);
});

test('before/after anchors become flags and a relative fd or id', () => {
  const link = new BpfLink(7, new FakeSys());
  const rows: [Parameters<typeof anchorFlags>, { flags: number; relative: number | undefined }][] = [
    [[true, undefined, 't'], { flags: AttachFlags.BEFORE, relative: undefined }],
    [[undefined, true, 't'], { flags: AttachFlags.AFTER, relative: undefined }],
    [[{ progId: 42 }, undefined, 't'], { flags: AttachFlags.BEFORE | AttachFlags.ID, relative: 42 }],
    [[undefined, { linkId: 9 }, 't'], { flags: AttachFlags.AFTER | AttachFlags.LINK | AttachFlags.ID, relative: 9 }],
    [[link, undefined, 't'], { flags: AttachFlags.BEFORE | AttachFlags.LINK, relative: 7 }],
    [[{ fd: 12 }, undefined, 't'], { flags: AttachFlags.BEFORE, relative: 12 }],
    [[undefined, undefined, 't'], { flags: 0, relative: undefined }],
  ];
  for (const [args, want] of rows) assert.equal(anchorFlags(...args), want);
  assert.throws(() => anchorFlags(true, true, 'tcx ingress on x'), /before or after, not both/);
});

test.run();
