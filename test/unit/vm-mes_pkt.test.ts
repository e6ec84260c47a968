/**
 * mes_pkt's probes (programs/mes_pkt/probe.ts and probe-v2.ts) unit-tested in the VM: no root,
 * no kernel. Frames come from src/frame (test/support/frames.ts: the reference build's
 * pkt_*.bin, rebuilt), the clock is the test's, and the maps are read afterwards through the same get()/entries() calls a
 * kernel BpfMap has. The kernel tests (test/kernel/mes_pkt*.test.ts) stay the referee.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mesStart, mesEnd, maps, MES_SLOTS, CNT_START, CNT_END } from '../../programs/mes_pkt/probe.ts';
import { mesStartV2, mesEndV2, v2Maps, configBytes, PAIR, CTL, PCPU, SEEN, SEEN_SLOTS, type V2Maps } from '../../programs/mes_pkt/probe-v2.ts';
import { TC_ACT_OK } from '../../src/asm/skb.ts';
import { Vm } from '../../src/vm/index.ts';
import { FRAMES } from '../support/frames.ts';
import { arpFrame, tcpFrame, udpFrame } from '../../src/frame/index.ts';

/** A UDP/IPv4 datagram (src/frame), or the TCP, IPv6 and ARP frames the probe must ignore. */
function frame(o: { dport?: number; tcp?: boolean; ipv6?: boolean; payload?: Uint8Array; pad?: boolean } = {}): Uint8Array {
  const payload = o.payload ?? new Uint8Array(18);
  if (o.tcp) return tcpFrame({ dport: o.dport ?? 5001, payload });
  if (o.ipv6) return udpFrame({ src: 'fd00::1', dst: 'fd00::2', dport: o.dport ?? 5001, payload });
  return udpFrame({ dport: o.dport ?? 5001, payload, pad: o.pad ?? true });
}

/** attach writes the config block (UDP, port 5001, match by sequence number); a VM test does it by hand. */
function configure(vm: Vm, m: V2Maps): void {
  vm.map<number, Uint8Array>(m.cfg).set(0, configBytes({ proto: 'udp', ports: [5001], match: 'seq' }));
}

const seqPayload = (seq: number): Uint8Array => { const p = new Uint8Array(18); new DataView(p.buffer).setUint32(0, seq); return p; };

test('mes_start stamps a matching frame (FRAMES.match: pkt_match.bin rebuilt) into map_mes_start[cnt[0]++]', () => {
  const vm = new Vm({ clock: 1_000n });
  const start = vm.load(mesStart);
  const r = start.run({ data: FRAMES.match });
  assert.is(r.retval, TC_ACT_OK);
  assert.is(vm.map(maps.cnt).get(CNT_START), 1);
  assert.is(vm.map(maps.start).get(0), 1_000n);
  vm.setTime(2_500n);
  start.run({ data: frame() });
  assert.is(vm.map(maps.cnt).get(CNT_START), 2);
  assert.is(vm.map(maps.start).get(1), 2_500n);
  assert.is(vm.map(maps.cnt).get(CNT_END), 0, 'mes_end\'s counter untouched');
});

test('frames that do not match leave every map alone and pass', () => {
  const vm = new Vm();
  const start = vm.load(mesStart);
  const frames = [
    FRAMES.otherPort, FRAMES.tcp, FRAMES.arp,
    frame({ dport: 5002 }), frame({ tcp: true }), frame({ ipv6: true }), arpFrame({ targetIp: '10.0.0.9' }), frame().subarray(0, 41),
  ];
  for (const f of frames) assert.is(start.run({ data: f }).retval, TC_ACT_OK);
  assert.is(vm.map(maps.cnt).get(CNT_START), 0);
  assert.equal([...vm.map(maps.start).entries()].filter(([, v]) => v !== 0n), []);
});

test('a full buffer stops at MES_SLOTS stamps; mes_end fills its own map; latency is end - start', () => {
  const vm = new Vm({ clock: { ns: 10_000n, step: 0n } });
  const start = vm.load(mesStart), end = vm.load(mesEnd);
  const f = frame();
  for (let i = 0; i < MES_SLOTS + 3; i++) {
    vm.setTime(10_000n + BigInt(i) * 100n);
    start.run({ data: f });
    vm.advance(42n);
    end.run({ data: f });
  }
  assert.is(vm.map(maps.cnt).get(CNT_START), MES_SLOTS);
  assert.is(vm.map(maps.cnt).get(CNT_END), MES_SLOTS);
  const s = vm.map<number, bigint>(maps.start), e = vm.map<number, bigint>(maps.end);
  for (const i of [0, 1, 255, MES_SLOTS - 1]) assert.is(e.get(i)! - s.get(i)!, 42n, `slot ${i}`);
  assert.is(s.get(MES_SLOTS - 1), 10_000n + BigInt(MES_SLOTS - 1) * 100n);
});

test('mes_start runs 34 instructions on a matching frame, 13 on a wrong port, 9 on ARP (counted by hand from the listing)', () => {
  const vm = new Vm();
  const start = vm.load(mesStart);
  assert.is(start.run({ data: frame() }).insns, 34);
  assert.is(start.run({ data: frame({ dport: 1 }) }).insns, 13);
  assert.is(start.run({ data: arpFrame() }).insns, 9);
});

test('v2: a matched pair lands in the ring with its latency in the histogram; an end without start is counted', () => {
  const m = v2Maps(16);
  const vm = new Vm();
  configure(vm, m);
  const start = vm.load(mesStartV2(m)), end = vm.load(mesEndV2(m));
  vm.setTime(1_000_000n);
  start.run({ data: frame({ payload: seqPayload(7) }) });
  const seen = vm.map<number, Uint8Array>(m.seen).get(0)!;
  const sv = new DataView(seen.buffer);
  assert.is(sv.getBigUint64(7 * SEEN.size + SEEN.ts, true), 1_000_000n);
  assert.is(sv.getUint32(7 * SEEN.size + SEEN.id, true), 7);
  vm.advance(3_000n); // latency 3000 ns: bucket floor(log2(3000)) = 11
  end.run({ data: frame({ payload: seqPayload(7) }) });
  end.run({ data: frame({ payload: seqPayload(8) }) }); // never started
  const ctl = new DataView(vm.map<number, Uint8Array>(m.ctl).get(0)!.buffer);
  assert.is(ctl.getBigUint64(CTL.head, true), 1n);
  assert.is(ctl.getBigUint64(CTL.unmatchedEnd, true), 1n);
  const hist = CTL.percpu + 0 * PCPU.size + PCPU.hist; // the VM runs on CPU 0 unless told otherwise
  assert.is(ctl.getBigUint64(hist + 11 * 8, true), 1n);
  for (let b = 0; b < 32; b++) if (b !== 11) assert.is(ctl.getBigUint64(hist + b * 8, true), 0n, `bucket ${b}`);
  assert.is(ctl.getBigUint64(CTL.percpu + PCPU.sum, true), 3_000n, 'the CPU block\'s latency sum');
  const pairs = new DataView(vm.map<number, Uint8Array>(m.pairs).get(0)!.buffer);
  assert.is(pairs.getBigUint64(PAIR.start, true), 1_000_000n);
  assert.is(pairs.getBigUint64(PAIR.end, true), 1_003_000n);
  assert.is(pairs.getUint32(PAIR.id, true), 7);
  assert.is(pairs.getUint32(PAIR.seq, true), 1);
  const seenAfter = new DataView(vm.map<number, Uint8Array>(m.seen).get(0)!.buffer);
  assert.is(seenAfter.getUint32(7 * SEEN.size + SEEN.matched, true), 1);
});

test('v2: the ring wraps and counts the pairs nobody read as lost', () => {
  const m = v2Maps(16);
  const vm = new Vm({ clock: { ns: 5_000n, step: 10n } });
  configure(vm, m);
  const start = vm.load(mesStartV2(m)), end = vm.load(mesEndV2(m));
  for (let seq = 0; seq < 20; seq++) {
    const f = frame({ payload: seqPayload(seq) });
    start.run({ data: f });
    end.run({ data: f });
  }
  const ctl = new DataView(vm.map<number, Uint8Array>(m.ctl).get(0)!.buffer);
  assert.is(ctl.getBigUint64(CTL.head, true), 20n);
  assert.is(ctl.getBigUint64(CTL.lost, true), 4n, '20 pairs into 16 slots, tail never moved');
  const pairs = new DataView(vm.map<number, Uint8Array>(m.pairs).get(0)!.buffer);
  assert.is(pairs.getUint32(0 * PAIR.size + PAIR.id, true), 16, 'slot 0 holds pair 16');
  assert.is(pairs.getUint32(0 * PAIR.size + PAIR.seq, true), 17);
  assert.is(SEEN_SLOTS, 1 << 16);
});

test('v2: a frame too short for the id is ignored', () => {
  const m = v2Maps(16);
  const vm = new Vm();
  const start = vm.load(mesStartV2(m));
  assert.is(start.run({ data: frame({ payload: new Uint8Array(3), pad: false }) }).retval, TC_ACT_OK);
  const seen = vm.map<number, Uint8Array>(m.seen).get(0)!;
  assert.ok(seen.every((b) => b === 0));
});

test.run();
