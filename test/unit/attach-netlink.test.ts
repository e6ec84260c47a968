/**
 * IFLA_XDP without root: the bytes of `ip link set dev X xdp… pinned P` / `… off` (strace of
 * iproute2 6.1 on this machine, fd 4 and ifindex 3; only the sequence number differed), the
 * decoding of a link's XDP state, and the one-line EBUSY error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nl from '../../src/netlink/index.ts';
import { encodeAttr, str } from '../../src/netlink/message.ts';
import { NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR, RTM_NEWLINK } from '../../src/netlink/constants.ts';

const { hex, unhex } = nl;

// `ip link set dev a0 xdpgeneric pinned P`
const XDP_GENERIC = `
  34000000        # nlmsg_len 52
  1000            # RTM_NEWLINK (16): RTM_SETLINK is the same type
  0500            # NLM_F_REQUEST|NLM_F_ACK: no CREATE, the link exists
  01000000 00000000
  00 00 0000      # ifi_family AF_UNSPEC, pad, ifi_type 0
  03000000        # ifi_index 3
  00000000        # ifi_flags
  00000000        # ifi_change
  1400 2b00       # nla_len 20, IFLA_XDP (43), not marked NLA_F_NESTED
  0800 0100 04000000   # IFLA_XDP_FD 4
  0800 0300 03000000   # IFLA_XDP_FLAGS UPDATE_IF_NOEXIST|SKB_MODE
`;
// `ip -force link set dev a0 xdpgeneric pinned P`: the same without UPDATE_IF_NOEXIST.
const XDP_GENERIC_FORCE = XDP_GENERIC.replace('0800 0300 03000000', '0800 0300 02000000');
// `ip link set dev a0 xdpdrv pinned P`
const XDP_DRV = XDP_GENERIC.replace('0800 0300 03000000', '0800 0300 05000000');
// `ip link set dev a0 xdpgeneric off`: fd -1.
const XDP_GENERIC_OFF = XDP_GENERIC.replace('0800 0100 04000000', '0800 0100 ffffffff');

const req = (ifindex: number, fd: number, o: nl.XdpSetOptions): string => {
  const r = nl.xdpSetRequest(ifindex, fd, o);
  return hex(nl.encodeMessage({ ...r, flags: r.flags | 0x05 }, 1));
};

test('golden: IFLA_XDP attach and detach, byte for byte as iproute2', () => {
  assert.is(req(3, 4, { mode: 'skb' }), hex(unhex(XDP_GENERIC)));
  assert.is(req(3, 4, { mode: 'skb', replace: true }), hex(unhex(XDP_GENERIC_FORCE)));
  assert.is(req(3, 4, { mode: 'drv' }), hex(unhex(XDP_DRV)));
  assert.is(req(3, -1, { mode: 'skb' }), hex(unhex(XDP_GENERIC_OFF)));
});

test('replace with an expected program adds IFLA_XDP_EXPECTED_FD and XDP_FLAGS_REPLACE', () => {
  assert.is(req(3, 4, { mode: 'skb', replace: true, expectedFd: 9 }), hex(unhex(`
    3c000000 1000 0500 01000000 00000000
    00 00 0000 03000000 00000000 00000000
    1c00 2b00
    0800 0100 04000000   # FD 4
    0800 0800 09000000   # EXPECTED_FD 9
    0800 0300 12000000   # FLAGS SKB_MODE|REPLACE
  `)));
  assert.is(nl.xdpFlags({}), 1, 'no mode: UPDATE_IF_NOEXIST only, the kernel picks the mode');
});

/** An RTM_NEWLINK reply for ifindex 3 with an IFLA_XDP nest of these attributes. */
function linkReply(seq: number, nest: Uint8Array, pid = 4242): Uint8Array {
  const ifi = nl.encodeIfInfoMsg({ index: 3 });
  const name = encodeAttr(3, str(3).encode('a0'));
  const x = encodeAttr(43, nest);
  const payload = new Uint8Array(ifi.length + name.length + x.length);
  payload.set(ifi); payload.set(name, ifi.length); payload.set(x, ifi.length + name.length);
  return nl.encodeMessage({ type: RTM_NEWLINK, flags: 0, payload }, seq, pid);
}
const u8 = (t: number, v: number) => encodeAttr(t, Uint8Array.of(v));
const u32 = (t: number, v: number) => encodeAttr(t, new Uint8Array(new Uint32Array([v]).buffer));
const cat = (...p: Uint8Array[]): Uint8Array => { const o = new Uint8Array(p.reduce((n, x) => n + x.length, 0)); let i = 0; for (const x of p) { o.set(x, i); i += x.length; } return o; };

test('decoding IFLA_XDP: one mode fills its own id; MULTI lists each', () => {
  const one = nl.decodeXdp(nl.parseMessages(linkReply(1, cat(u8(2, 2), u32(4, 77))))[0]!);
  assert.equal(one, { ifindex: 3, attached: 'skb', progId: 77, skbProgId: 77, drvProgId: undefined, hwProgId: undefined });
  const multi = nl.decodeXdp(nl.parseMessages(linkReply(1, cat(u8(2, 4), u32(5, 8), u32(6, 9))))[0]!);
  assert.equal([multi.attached, multi.drvProgId, multi.skbProgId, multi.progId], ['multi', 8, 9, undefined]);
  const none = nl.decodeXdp(nl.parseMessages(linkReply(1, u8(2, 0)))[0]!);
  assert.is(none.attached, 'none');
});

test('attaching over a program: EBUSY becomes one line naming it', () => {
  const queue: Uint8Array[] = [];
  const t: nl.Transport = {
    portId: 4242,
    send(d) {
      for (const m of nl.parseMessages(d)) {
        if (m.header.type === 18) { queue.push(linkReply(m.header.seq, cat(u8(2, 2), u32(4, 77)))); queue.push(ackOf(m, 0)); }
        else queue.push(ackOf(m, 16, 'XDP program already attached.'));
      }
    },
    receive() { return queue.shift()!; },
    close() {},
  };
  using s = nl.routeSocket({ transport: t, seq: 0 });
  let e: unknown;
  try { nl.setXdp(s, 3, 4, { mode: 'skb' }); } catch (x) { e = x; }
  assert.instance(e, nl.NetlinkError);
  assert.is((e as Error).message, '3 already has an XDP program (id 77, skb mode) [EBUSY] (kernel: XDP program already attached.); attach with replace to swap it, or detach it first (tsbpf xdp detach)');
});

test('fuzz: decodeXdp on mutated and truncated replies returns or throws RangeError, nothing else', () => {
  let seed = 12345;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const good = linkReply(1, cat(u8(2, 4), u32(5, 8), u32(6, 9), u32(4, 7)));
  let decoded = 0, refused = 0;
  for (let i = 0; i < 5000; i++) {
    const b = good.slice(0, rand(4) === 0 ? rand(good.length + 1) : good.length);
    for (let k = rand(4); k >= 0; k--) if (b.length) b[rand(b.length)] = rand(256);
    try {
      for (const m of nl.parseMessages(b)) nl.decodeXdp(m);
      decoded++;
    } catch (e) {
      assert.instance(e, RangeError, String(e));
      refused++;
    }
  }
  assert.ok(decoded > 100 && refused > 100, `${decoded} decoded, ${refused} refused`);
});

function ackOf(req: nl.Message, errno: number, extack?: string): Uint8Array {
  const hdr = nl.encodeMessage({ type: req.header.type, flags: req.header.flags, payload: new Uint8Array(0) }, req.header.seq).subarray(0, 16);
  const tlv = extack ? encodeAttr(1, str(1).encode(extack)) : new Uint8Array(0);
  return nl.encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_CAPPED | (extack ? NLM_F_ACK_TLVS : 0), payload: cat(new Uint8Array(new Int32Array([-errno]).buffer), hdr, tlv) }, req.header.seq, 4242);
}

test.run();
