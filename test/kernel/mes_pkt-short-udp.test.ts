/**
 * The v2 probe on UDP datagrams with fewer than 4 payload bytes, as a veth sends them (short
 * frames are not padded; the tutorial's `nc -u` lines are such datagrams): `headers` and `reply`
 * read only the L4 header, so they pair them; `seq` needs 4 payload bytes and skips them
 * (documented). BPF_PROG_TEST_RUN on private maps; nothing outlives a test.
 */
import * as assert from 'uvu/assert';
import { kernelSuite } from '../support/kernel.ts';
import { createMap, loadProgram } from '../../src/syscall/index.ts';
import { udpFrame } from '../../src/frame/index.ts';
import { CTL, configBytes, mesEndV2, mesStartV2, v2Maps } from '../../programs/mes_pkt/probe-v2.ts';
import type { Match } from '../../programs/mes_pkt/match.ts';

const t = kernelSuite('v2 probe on 1-byte UDP payloads');

function pairsAfter(match: Match, start: Uint8Array, end: Uint8Array): bigint {
  const maps = v2Maps(1024);
  const live = { mes2_ctl: createMap(maps.ctl), mes2_seen: createMap(maps.seen), mes2_pairs: createMap(maps.pairs), mes2_cfg: createMap(maps.cfg) };
  const ps = loadProgram(mesStartV2(maps, { match }), { maps: live });
  const pe = loadProgram(mesEndV2(maps, { match }), { maps: live });
  try {
    const cfg = live.mes2_cfg.mmap();
    try { cfg.bytes.set(configBytes({ proto: 'udp', ports: [5001], match })); } finally { cfg.close(); }
    assert.is(ps.testRun({ data: start }).retval, 0);
    assert.is(pe.testRun({ data: end }).retval, 0);
    const ctl = live.mes2_ctl.mmap();
    try { return new DataView(ctl.bytes.buffer, ctl.bytes.byteOffset).getBigUint64(CTL.head, true); } finally { ctl.close(); }
  } finally {
    ps.close(); pe.close();
    for (const m of Object.values(live)) m.close();
  }
}

const one = new Uint8Array([0x61]);
const request = udpFrame({ src: '10.231.0.1', dst: '10.231.0.2', sport: 40000, dport: 5001, payload: one, pad: false });
const reply = udpFrame({ src: '10.231.0.2', dst: '10.231.0.1', sport: 5001, dport: 40000, payload: one, pad: false });

t('the frames are unpadded: 14 + 20 + 8 + 1 bytes', () => {
  assert.is(request.length, 43);
});

t('--match headers pairs a 1-byte datagram', () => {
  assert.is(pairsAfter('headers', request, request), 1n);
});

t('--match reply pairs a 1-byte request with its 1-byte reply', () => {
  assert.is(pairsAfter('reply', request, reply), 1n);
});

t('--match seq needs 4 payload bytes: a 1-byte datagram is not counted', () => {
  assert.is(pairsAfter('seq', request, request), 0n);
});

t.run();
