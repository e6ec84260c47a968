/**
 * src/netlink without root: golden request bytes (cross-checked once against what iproute2's
 * `tc` sends, via `strace -e trace=sendmsg -xx tc ...` in a throwaway namespace), decoding of
 * reply bytes captured from a real kernel (test/fixtures/netlink/replies.json, recorded by
 * capture.ts beside it), and the socket protocol rules, over a fake transport.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import * as nl from '../../src/netlink/index.ts';
import {
  NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP_INTR, NLM_F_MULTI, NLMSG_DONE, NLMSG_ERROR, RTM_NEWQDISC, RTM_NEWTFILTER,
  TCA_KIND, TCMSG_LEN,
} from '../../src/netlink/constants.ts';
import { bytes, encodeAttr, nested, str, u32 } from '../../src/netlink/message.ts';

const { hex, unhex } = nl;

// ---------------------------------------------------------------- a fake transport

interface Fake extends nl.Transport { readonly sent: Uint8Array[] }

/** `answer` gets each request (decoded) and returns the datagrams the "kernel" sends back. */
function fakeTransport(answer: (req: nl.Message) => Uint8Array[], portId = 4242): Fake {
  const sent: Uint8Array[] = [];
  const queue: Uint8Array[] = [];
  return {
    portId, sent,
    send(d) { sent.push(d); for (const m of nl.parseMessages(d)) queue.push(...answer(m)); },
    receive() {
      const d = queue.shift();
      if (!d) throw new nl.NetlinkError({ op: 'receive netlink reply', errno: 11, message: 'no reply from the kernel within 5000 ms' });
      return d;
    },
    close() {},
  };
}

const le32 = (x: number): Uint8Array => new Uint8Array(new Int32Array([x]).buffer);
const cat = (...p: Uint8Array[]): Uint8Array => { const o = new Uint8Array(p.reduce((n, x) => n + x.length, 0)); let i = 0; for (const x of p) { o.set(x, i); i += x.length; } return o; };

/** An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK (header only) and EXT_ACK. */
function errorReply(req: nl.Message, errno: number, extack?: string, pid = 4242): Uint8Array {
  const echoed = nl.encodeMessage({ type: req.header.type, flags: req.header.flags, payload: new Uint8Array(0) }, req.header.seq).subarray(0, 16);
  const hdr = new Uint8Array(echoed); new DataView(hdr.buffer).setUint32(0, req.header.len, true);
  const tlv = extack ? encodeAttr(1, str(1).encode(extack)) : new Uint8Array(0);
  return nl.encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_CAPPED | (extack ? NLM_F_ACK_TLVS : 0), payload: cat(le32(-errno), hdr, tlv) }, req.header.seq, pid);
}
const ack = (req: nl.Message, pid = 4242) => errorReply(req, 0, undefined, pid);
const done = (req: nl.Message, errno = 0, pid = 4242) => nl.encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, payload: le32(-errno) }, req.header.seq, pid);

// ---------------------------------------------------------------- golden requests

// `tc qdisc add dev X clsact`, X = ifindex 3. strace of iproute2 6.1's tc showed exactly these
// 48 bytes (its seq was 0x6b06e9dc; everything else identical).
const QDISC_ADD_CLSACT = `
  30000000        # nlmsg_len 48
  2400            # nlmsg_type RTM_NEWQDISC (36)
  0506            # nlmsg_flags NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE (0x605)
  01000000        # nlmsg_seq 1
  00000000        # nlmsg_pid 0: to the kernel
  00 00 0000      # tcm_family AF_UNSPEC, pads
  03000000        # tcm_ifindex 3
  0000ffff        # tcm_handle ffff:0 (clsact's own handle)
  f1ffffff        # tcm_parent ffff:fff1 (TC_H_CLSACT = TC_H_INGRESS: the ingress slot)
  00000000        # tcm_info
  0b00 0100       # nla_len 11, TCA_KIND
  636c7361637400  # "clsact\\0"
  00              # pad to 4
`;

// `tc filter add dev X ingress bpf da object-pinned P` as iproute2 6.1 sent it (fd 4, and the
// name tc makes up for a pinned program). tsbpf builds the same bytes from the same inputs.
const FILTER_ADD_TC = `
  54000000        # nlmsg_len 84
  2c00            # RTM_NEWTFILTER (44)
  0506            # NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE
  01000000 00000000
  00 00 0000      # AF_UNSPEC
  03000000        # tcm_ifindex 3
  00000000        # tcm_handle 0: the kernel picks (1)
  f2ffffff        # tcm_parent ffff:fff2: clsact's ingress hook
  00030000        # tcm_info: priority 0 (kernel picks 49152) << 16 | htons(ETH_P_ALL) = 0x0300
  0800 0100 62706600              # TCA_KIND "bpf\\0"
  2800 0200                       # TCA_OPTIONS, 40 bytes, no NLA_F_NESTED (as tc sends it)
    0800 0600 04000000            #   TCA_BPF_FD 4
    1300 0700 70726f62653a5b2a66736f626a5d00 00  # TCA_BPF_NAME "probe:[*fsobj]\\0" + pad
    0800 0800 01000000            #   TCA_BPF_FLAGS TCA_BPF_FLAG_ACT_DIRECT ("da")
`;

// What attachBpf sends: the same with NLM_F_ECHO, our name, and an explicit priority 1.
const FILTER_ADD_TSBPF = `
  4c000000        # nlmsg_len 76
  2c00            # RTM_NEWTFILTER
  0d06            # NLM_F_REQUEST|NLM_F_ACK|NLM_F_ECHO|NLM_F_EXCL|NLM_F_CREATE (0x60d)
  01000000 00000000
  00 00 0000
  03000000        # ifindex 3
  00000000        # handle 0: kernel picks
  f3ffffff        # parent ffff:fff3: egress
  00030100        # info: priority 1 << 16 | 0x0300
  0800 0100 62706600              # TCA_KIND "bpf"
  2000 0200                       # TCA_OPTIONS, 32 bytes
    0800 0600 07000000            #   TCA_BPF_FD 7
    0a00 0700 70726f626500 0000   #   TCA_BPF_NAME "probe\\0" + 2 pad
    0800 0800 01000000            #   TCA_BPF_FLAGS direct-action
`;

// `tc filter del dev X ingress pref 49152 handle 1 bpf` (iproute2 6.1, byte-identical).
const FILTER_DELETE = `
  2c000000        # nlmsg_len 44
  2d00            # RTM_DELTFILTER (45)
  0500            # NLM_F_REQUEST|NLM_F_ACK
  01000000 00000000
  00 00 0000
  03000000        # ifindex 3
  01000000        # tcm_handle 1
  f2ffffff        # ingress
  000000c0        # tcm_info: priority 49152 << 16, protocol 0 (any)
  0800 0100 62706600  # TCA_KIND "bpf": the kernel checks it matches
`;

// `tc filter del dev X ingress`: no priority, no handle: flush the hook (byte-identical to tc).
const FILTER_DELETE_ALL = `
  24000000 2d00 0500 01000000 00000000
  00 00 0000 03000000 00000000 f2ffffff 00000000
`;

// `tc filter show dev X ingress` (iproute2 6.1, byte-identical).
const FILTER_DUMP = `
  24000000        # nlmsg_len 36
  2e00            # RTM_GETTFILTER (46)
  0103            # NLM_F_REQUEST|NLM_F_DUMP (0x301)
  01000000 00000000
  00 00 0000
  03000000        # ifindex 3
  00000000        # handle
  f2ffffff        # parent: ingress hook
  00000000        # info
`;

// `tc qdisc del dev X clsact` (iproute2 6.1, byte-identical).
const QDISC_DELETE_CLSACT = `
  30000000 2500 0500 01000000 00000000   # RTM_DELQDISC, NLM_F_REQUEST|NLM_F_ACK
  00 00 0000 03000000 0000ffff f1ffffff 00000000
  0b00 0100 636c7361637400 00            # TCA_KIND "clsact"
`;

/** Run `fn` on a socket over a fake kernel that ACKs everything; return what was sent. */
function sentBy(fn: (s: nl.RouteSocket) => void, answer: (m: nl.Message) => Uint8Array[] = (m) => [ack(m)]): Uint8Array[] {
  const t = fakeTransport(answer);
  const s = nl.routeSocket({ transport: t, seq: 0 });
  fn(s);
  return t.sent;
}

test('golden: tc qdisc add dev X clsact', () => {
  const [sent] = sentBy((s) => nl.ensureClsact(s, 3));
  assert.is(hex(sent!), hex(unhex(QDISC_ADD_CLSACT)));
});

test('golden: tc filter add dev X ingress bpf da: same bytes as iproute2 for the same inputs', () => {
  const req = nl.filterAddRequest(3, 'ingress', { fd: 4, name: 'probe:[*fsobj]' }, 'add', false);
  assert.is(hex(nl.encodeMessage({ ...req, flags: req.flags | 0x05 }, 1)), hex(unhex(FILTER_ADD_TC)));
});

test('golden: attachBpf sends the add with NLM_F_ECHO', () => {
  const [sent] = sentBy((s) => nl.attachBpf(s, 3, 'egress', { fd: 7, name: 'probe', priority: 1 }));
  assert.is(hex(sent!), hex(unhex(FILTER_ADD_TSBPF)));
});

test('golden: replace uses NLM_F_CREATE|NLM_F_REPLACE and needs an address', () => {
  const [sent] = sentBy((s) => nl.replaceBpf(s, 3, 'ingress', { fd: 4, priority: 2, handle: 5 }));
  const h = nl.parseMessages(sent!)[0]!.header;
  assert.is(h.flags, 0x0001 | 0x0004 | 0x0008 | 0x0400 | 0x0100);
  const t = nl.decodeTcMsg(nl.parseMessages(sent!)[0]!.payload);
  assert.is(t.handle, 5);
  assert.is(t.info, (2 << 16 | 0x0300) >>> 0);
  assert.throws(() => nl.replaceBpf(nl.routeSocket({ transport: fakeTransport(() => []) }), 3, 'ingress', { fd: 4, priority: 0, handle: 0 }), /priority and handle/);
});

test('golden: tc filter del dev X ingress pref 49152 handle 1 bpf', () => {
  const [sent] = sentBy((s) => nl.detachBpf(s, 3, 'ingress', { priority: 49152, handle: 1 }));
  assert.is(hex(sent!), hex(unhex(FILTER_DELETE)));
});

test('golden: tc filter del dev X ingress (all)', () => {
  const req = nl.filterDeleteRequest(3, 'ingress');
  assert.is(hex(nl.encodeMessage({ ...req, flags: req.flags | 0x05 }, 1)), hex(unhex(FILTER_DELETE_ALL)));
});

/** RTM_NEWLINK for (index, name), then the ACK: a GETLINK answered. */
const linkReply = (m: nl.Message, index: number, name: string) => [
  nl.encodeMessage({ type: 16, flags: 0, payload: cat(nl.encodeIfInfoMsg({ index, type: 1 }), encodeAttr(3, str(3).encode(name))) }, m.header.seq, 4242),
  ack(m),
];

test('golden: tc filter show dev X ingress', () => {
  const sent = sentBy((s) => nl.listFilters(s, 3, 'ingress'), (m) => (m.header.type === 18 ? linkReply(m, 3, 'va0') : [done(m)]));
  assert.is(hex(sent[0]!), hex(unhex(FILTER_DUMP)));
  // An empty dump for a bare ifindex is confirmed with RTM_GETLINK: the kernel would not say ENODEV.
  assert.is(nl.parseMessages(sent[1]!)[0]!.header.type, 18);
});

test('an empty dump for an ifindex that does not exist says so', () => {
  const t = fakeTransport((m) => (m.header.type === 18 ? [errorReply(m, 19)] : [done(m)]));
  assert.throws(() => nl.listFilters(nl.routeSocket({ transport: t }), 77), /no interface with index 77/);
});

test('golden: tc qdisc del dev X clsact', () => {
  const [sent] = sentBy((s) => nl.deleteClsact(s, 3));
  assert.is(hex(sent!), hex(unhex(QDISC_DELETE_CLSACT)));
});

test('golden: RTM_GETLINK by name asks for no stats and no VFs', () => {
  const req = nl.getLinkRequest('va0');
  assert.is(hex(nl.encodeMessage({ ...req, flags: req.flags | 0x05 }, 0x3e9)), [
    '30000000', '1200', '0500', 'e9030000', '00000000', // RTM_GETLINK, REQUEST|ACK, seq 1001
    '00000000 00000000 00000000 00000000',               // ifinfomsg: family 0, index 0
    '0800 0300 76613000',                                // IFLA_IFNAME "va0"
    '0800 1d00 09000000',                                // IFLA_EXT_MASK RTEXT_FILTER_VF|SKIP_STATS
  ].join('').replace(/ /g, ''));
  // Names past IFNAMSIZ-1 can only be altnames.
  const alt = nl.parseAttrs(nl.getLinkRequest('a-very-long-interface-name').payload.subarray(16));
  assert.is(alt[0]!.type, 53);
});

// ---------------------------------------------------------------- captured kernel replies

interface Exchange { op: string; seq: number; portId: number; sent: string[]; received: string[] }
const captured = JSON.parse(readFileSync(new URL('../fixtures/netlink/replies.json', import.meta.url), 'utf8')) as { kernel: string; ifindex: number; exchanges: Record<string, Exchange> };

/** A socket that replays one captured exchange and checks we send what we sent then. */
function replay(key: string): nl.RouteSocket {
  const x = captured.exchanges[key]!;
  const queue = x.received.map(unhex);
  const t: nl.Transport = {
    portId: x.portId,
    send(d) { assert.is(hex(d), x.sent[0], `${key}: request bytes`); },
    receive() { const d = queue.shift(); if (!d) throw new Error(`${key}: no more captured replies`); return d; },
    close() {},
  };
  return nl.routeSocket({ transport: t, seq: x.seq - 1 });
}
const IFX = captured.ifindex;

test(`captured (${captured.kernel}): RTM_NEWLINK decodes to a veth`, () => {
  const l = nl.getLink(replay('getLink'), 'va0');
  assert.is(l.name, 'va0');
  assert.is(l.index, IFX);
  assert.is(l.kind, 'veth');
  assert.is(l.mtu, 1500);
  assert.is(l.type, 1); // ARPHRD_ETHER
  assert.match(l.address ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
});

test('captured: an unknown interface is "no interface named \'eth9\'"', () => {
  try {
    nl.getLink(replay('getLinkMissing'), 'eth9');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, nl.NetlinkError);
    const err = e as nl.NetlinkError;
    assert.is(err.code, 'ENODEV');
    assert.is(err.errno, 19);
    assert.match(err.message, /^no interface named 'eth9'/);
    assert.match(err.message, /ip link/);
  }
});

test('captured: EEXIST on a second clsact add carries the kernel extack', () => {
  try {
    replay('clsactAddAgain').request('add clsact qdisc on va0', nl.clsactAddRequest(IFX));
    assert.unreachable();
  } catch (e) {
    const err = e as nl.NetlinkError;
    assert.is(err.code, 'EEXIST');
    assert.is(err.extack, 'Exclusivity flag on, cannot modify');
    assert.is(err.op, 'add clsact qdisc on va0');
    assert.match(err.message, /kernel: Exclusivity flag on/);
  }
});

test('captured: the NLM_F_ECHO reply gives the priority and handle the kernel chose', () => {
  const x = captured.exchanges.filterAdd!;
  const fd = new DataView(unhex(x.sent[0]!).buffer).getUint32(16 + TCMSG_LEN + 8 + 8, true);
  const f = nl.attachBpf(replay('filterAdd'), IFX, 'ingress', { fd, name: 'probe' });
  assert.is(f.priority, 49152);
  assert.is(f.handle, 1);
  assert.is(f.hook, 'ingress');
  assert.is(f.protocol, 3);
  assert.is(f.kind, 'bpf');
  assert.is(f.bpf?.name, 'probe');
  assert.ok((f.bpf?.progId ?? 0) > 0);
  assert.is(f.bpf?.tag, '59f4a931744dcdc6'); // the tag of `r0 = 0; exit`
  assert.ok(f.bpf?.directAction);
  assert.is(f.bpf?.flagsGen, 8); // TCA_CLS_FLAGS_NOT_IN_HW
});

test('captured: a bad program fd is EBADF, said plainly', () => {
  const x = captured.exchanges.filterAddBadFd!;
  try {
    nl.attachBpf(replay('filterAddBadFd'), IFX, 'ingress', { fd: 9999, name: 'probe' });
    assert.unreachable(x.op);
  } catch (e) {
    assert.is((e as nl.NetlinkError).code, 'EBADF');
    assert.match((e as Error).message, /fd 9999 is not a BPF program/);
  }
});

test('captured: a filter dump skips the per-priority header and decodes cls_bpf', () => {
  const fs = nl.listFilters(replay('filterDump'), IFX, 'ingress');
  assert.is(fs.length, 1);
  assert.is(fs[0]!.priority, 49152);
  assert.is(fs[0]!.handle, 1);
  assert.is(fs[0]!.bpf?.name, 'probe');
  assert.is(fs[0]!.bpf?.tag, '59f4a931744dcdc6');
  // The raw dump really has two messages, the first without a handle or TCA_OPTIONS.
  const msgs = nl.parseMessages(unhex(captured.exchanges.filterDump!.received[0]!));
  assert.is(msgs.length, 2);
  assert.is(nl.decodeFilter(msgs[0]!), undefined);
});

test('captured: deleting a filter that is gone is ENOENT with the kernel reason', () => {
  try {
    nl.detachBpf(replay('filterDeleteMissing'), IFX, 'ingress', { priority: 49152, handle: 1 });
    assert.unreachable();
  } catch (e) {
    const err = e as nl.NetlinkError;
    assert.is(err.code, 'ENOENT');
    assert.is(err.extack, 'Cannot find specified filter chain');
    assert.match(err.message, /no filter with priority 49152 handle 1/);
  }
});

test('captured: a qdisc dump shows clsact in the ingress slot', () => {
  const qs = nl.listQdiscs(replay('qdiscDump'), IFX);
  assert.equal(qs.map((q) => [q.kind, q.handle, q.parent]), [['clsact', 0xffff0000, 0xfffffff1]]);
});

test('captured: ack of a filter delete', () => {
  assert.is(nl.detachBpf(replay('filterDelete'), IFX, 'ingress', { priority: 49152, handle: 1 }), 1);
});

// ---------------------------------------------------------------- socket protocol rules

test('replies with an old sequence number are skipped', () => {
  const t = fakeTransport((m) => {
    const stale = errorReply({ ...m, header: { ...m.header, seq: m.header.seq - 1 } }, 17, 'stale');
    return [stale, ack(m)];
  });
  nl.routeSocket({ transport: t }).request('x', nl.clsactAddRequest(3));
});

test('a reply addressed to another port is refused', () => {
  const t = fakeTransport((m) => [ack(m, 1)]);
  assert.throws(() => nl.routeSocket({ transport: t }).request('x', nl.clsactAddRequest(3)), /addressed to port 1/);
});

test('a dump is read across datagrams up to NLMSG_DONE, several messages per datagram', () => {
  const qdisc = (m: nl.Message, ifindex: number) => nl.encodeMessage({
    type: RTM_NEWQDISC, flags: NLM_F_MULTI,
    payload: cat(nl.encodeTcMsg({ ifindex, handle: 0xffff0000, parent: 0xfffffff1 }), encodeAttr(TCA_KIND, str(TCA_KIND).encode('clsact'))),
  }, m.header.seq, 4242);
  const t = fakeTransport((m) => [cat(qdisc(m, 2), qdisc(m, 3)), qdisc(m, 4), done(m)]);
  const qs = nl.listQdiscs(nl.routeSocket({ transport: t }));
  assert.equal(qs.map((q) => q.ifindex), [2, 3, 4]);
});

test('NLMSG_DONE carrying an errno fails the dump', () => {
  const t = fakeTransport((m) => [done(m, 22)]);
  assert.throws(() => nl.listQdiscs(nl.routeSocket({ transport: t })), (e: unknown) => (e as nl.NetlinkError).code === 'EINVAL');
});

test('an interrupted dump (NLM_F_DUMP_INTR) is retried', () => {
  let n = 0;
  const t = fakeTransport((m) => {
    const msg = nl.encodeMessage({ type: RTM_NEWQDISC, flags: NLM_F_MULTI | (n++ === 0 ? NLM_F_DUMP_INTR : 0), payload: nl.encodeTcMsg({ ifindex: 2 }) }, m.header.seq, 4242);
    return [msg, done(m)];
  });
  assert.is(nl.listQdiscs(nl.routeSocket({ transport: t })).length, 1);
  assert.is(t.sent.length, 2);
});

test('no reply: a timeout error, not a hang', () => {
  const t = fakeTransport(() => []);
  assert.throws(() => nl.routeSocket({ transport: t }).request('x', nl.clsactAddRequest(3)), /no reply from the kernel/);
});

test('EPERM says root or CAP_NET_ADMIN', () => {
  const t = fakeTransport((m) => [errorReply(m, 1)]);
  try {
    nl.ensureClsact(nl.routeSocket({ transport: t }), 3);
    assert.unreachable();
  } catch (e) {
    assert.is((e as nl.NetlinkError).code, 'EPERM');
    assert.match((e as Error).message, /root or CAP_NET_ADMIN/);
  }
});

test('EINVAL keeps the extack text', () => {
  const t = fakeTransport((m) => [errorReply(m, 22, "Parent Qdisc doesn't exists")]);
  try {
    nl.attachBpf(nl.routeSocket({ transport: t }), 3, 'ingress', { fd: 5 });
    assert.unreachable();
  } catch (e) {
    const err = e as nl.NetlinkError;
    assert.is(err.extack, "Parent Qdisc doesn't exists");
    assert.match(err.message, /no clsact qdisc/);
    assert.match(err.message, /ensureClsact/);
  }
});

// ---------------------------------------------------------------- ensureClsact decisions

/** A fake kernel whose ingress slot holds `slot` (or nothing). */
function kernelWithSlot(slot: string | undefined): Fake {
  return fakeTransport((m) => {
    if (m.header.type === RTM_NEWQDISC) return [slot ? errorReply(m, 17, 'Exclusivity flag on, cannot modify') : ack(m)];
    const q = slot ? [nl.encodeMessage({ type: RTM_NEWQDISC, flags: NLM_F_MULTI, payload: cat(nl.encodeTcMsg({ ifindex: 3, handle: 0xffff0000, parent: 0xfffffff1 }), encodeAttr(TCA_KIND, str(TCA_KIND).encode(slot))) }, m.header.seq, 4242)] : [];
    return [...q, done(m)];
  });
}

test('ensureClsact reports whether it created the qdisc', () => {
  assert.equal(nl.ensureClsact(nl.routeSocket({ transport: kernelWithSlot(undefined) }), 3), { ifindex: 3, created: true });
  assert.equal(nl.ensureClsact(nl.routeSocket({ transport: kernelWithSlot('clsact') }), 3), { ifindex: 3, created: false });
});

test('an ingress qdisc in clsact\'s place is a clear error', () => {
  try {
    nl.ensureClsact(nl.routeSocket({ transport: kernelWithSlot('ingress') }), 3);
    assert.unreachable();
  } catch (e) {
    const err = e as nl.NetlinkError;
    assert.is(err.code, 'EEXIST');
    assert.match(err.message, /'ingress' qdisc where clsact must go/);
    assert.match(err.message, /tc qdisc del dev 3 ingress/);
  }
});

// ---------------------------------------------------------------- codec

test('attributes: 4-byte alignment, padding not counted in nla_len', () => {
  assert.is(hex(encodeAttr(7, str(7).encode('ab'))), '0700070061620000');
  assert.is(hex(encodeAttr(7, str(7).encode('abc'))), '0800070061626300');
  const parsed = nl.parseAttrs(unhex('0700070061620000 08000600 2a000000'));
  assert.equal(parsed.map((a) => [a.type, hex(a.value)]), [[7, '616200'], [6, '2a000000']]);
});

test('attributes: schema round trip, nests, unknown types skipped', () => {
  const inner = { a: u32(1), b: str(2) } as const;
  const outer = { n: nested(5, inner, true), raw: bytes(6) } as const;
  const b = nl.encodeAttrs(outer, { n: { a: 9, b: 'x' }, raw: Uint8Array.of(1, 2) });
  assert.is(hex(b.subarray(0, 4)), '14000580'); // len 20, type 5|NLA_F_NESTED
  const d = nl.decodeAttrs(outer, cat(b, encodeAttr(99, Uint8Array.of(1))));
  assert.equal(d.n, { a: 9, b: 'x' });
  assert.equal(Array.from(d.raw ?? []), [1, 2]);
});

test('malformed lengths are errors, not garbage', () => {
  assert.throws(() => nl.parseAttrs(unhex('2000 0100 00000000')), /malformed netlink attribute/);
  assert.throws(() => nl.parseMessages(unhex('40000000 0200 0000 01000000 00000000')), /malformed netlink message/);
});

test('tcmsg info: priority high, protocol big-endian low', () => {
  const req = nl.filterAddRequest(3, 'ingress', { fd: 1, priority: 0x1234, protocol: 0x0800 });
  assert.is(hex(req.payload.subarray(16, 20)), '08003412');
  const f = nl.decodeFilter({ header: { len: 0, type: RTM_NEWTFILTER, flags: 0, seq: 0, pid: 0 }, payload: cat(req.payload.subarray(0, 20), encodeAttr(TCA_KIND, str(TCA_KIND).encode('bpf')), encodeAttr(2, new Uint8Array(0))) });
  assert.is(f?.priority, 0x1234);
  assert.is(f?.protocol, 0x0800);
  assert.is(f?.hook, 'ingress');
});

test('errors keep typed fields', () => {
  const e = new nl.NetlinkError({ op: 'do it', errno: 17, extack: 'nope' });
  assert.is(e.name, 'NetlinkError');
  assert.is(e.code, 'EEXIST');
  assert.is(e.errno, 17);
  assert.is(e.extack, 'nope');
  assert.is(e.op, 'do it');
  assert.ok(nl.isNetlinkError(e, 'EEXIST'));
  assert.not.ok(nl.isNetlinkError(e, 'ENOENT'));
});

test('withNetns refuses an async callback and a missing namespace', () => {
  assert.throws(() => nl.withNetns('tsbpf-no-such-namespace', () => 1), /no network namespace 'tsbpf-no-such-namespace'/);
  assert.is(nl.netnsPath('x'), '/var/run/netns/x');
  assert.is(nl.netnsPath('/proc/1/ns/net'), '/proc/1/ns/net');
});

test.run();
