/**
 * Lesson: a packet read with no data_end check. The probe's check_pkt() without its first
 * comparison: the EtherType load at data + 12 is not proven to be inside the packet.
 */
import {
  program, r0, r1, r2, r3, skb, eth, ipv4, udp, htons, ETH_HLEN, IPV4_HLEN, UDP_HLEN, ETH_P_IP, IPPROTO_UDP, TC_ACT_OK,
  type ProgramSpec,
} from '../../src/asm/index.ts';
import { MES_PORT } from '../mes_pkt/probe.ts';
import type { Lesson } from './lesson.ts';

function checkPkt(name: string, withBoundsCheck: boolean): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    b.ldx('u32', r2, r1, skb.data_end);
    b.ldx('u32', r1, r1, skb.data);
    if (withBoundsCheck) {
      // if (data + sizeof(ethhdr) + sizeof(iphdr) + sizeof(udphdr) > data_end) return TC_ACT_OK;
      b.mov(r3, r1);
      b.add(r3, ETH_HLEN + IPV4_HLEN + UDP_HLEN);
      b.jgt(r3, r2, 'pass').comment('packet too short');
    }
    b.ldField(r2, r1, eth.h_proto);
    b.jne(r2, htons(ETH_P_IP), 'pass').comment('not IPv4');
    b.ldField(r2, r1, ipv4.protocol, ETH_HLEN);
    b.jne(r2, IPPROTO_UDP, 'pass').comment('not UDP');
    b.ldField(r1, r1, udp.dest, ETH_HLEN + IPV4_HLEN);
    b.jne(r1, htons(MES_PORT), 'pass').comment(`not port ${MES_PORT}`);
    b.call('ktime_get_ns').comment('stamp (the probe stores it in a map)');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = checkPkt('no_bounds', false);
export const fixed = checkPkt('no_bounds_fix', true);

export const lesson: Lesson = {
  name: 'no-bounds-check', id: 'packet-no-check', broken, fixed,
  expected: 'invalid access to packet, off=12 size=2, R1(id=0,off=12,r=0)',
};
