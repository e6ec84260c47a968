/**
 * Lesson: a data_end check one byte short. The destination port occupies bytes 36 and 37 of
 * the frame; the check proves data + 37, the position of the last byte, instead of data + 38,
 * one past it (the classic fencepost error).
 */
import {
  program, r0, r1, r2, r3, skb, eth, ipv4, udp, htons, ETH_HLEN, IPV4_HLEN, ETH_P_IP, IPPROTO_UDP, TC_ACT_OK,
  type ProgramSpec,
} from '../../src/asm/index.ts';
import { MES_PORT } from '../mes_pkt/probe.ts';
import type { Lesson } from './lesson.ts';

/** How many bytes past data the check proves: up to and including the port's last byte. */
const PORT_END = ETH_HLEN + IPV4_HLEN + udp.dest.off + 2; // 38

function checkPkt(name: string, checked: number): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    b.ldx('u32', r2, r1, skb.data_end);
    b.ldx('u32', r1, r1, skb.data);
    b.mov(r3, r1);
    b.add(r3, checked);
    b.jgt(r3, r2, 'pass').comment('packet too short');
    b.ldField(r2, r1, eth.h_proto);
    b.jne(r2, htons(ETH_P_IP), 'pass').comment('not IPv4');
    b.ldField(r2, r1, ipv4.protocol, ETH_HLEN);
    b.jne(r2, IPPROTO_UDP, 'pass').comment('not UDP');
    b.ldField(r1, r1, udp.dest, ETH_HLEN + IPV4_HLEN).comment('bytes 36 and 37');
    b.jne(r1, htons(MES_PORT), 'pass').comment(`not port ${MES_PORT}`);
    b.call('ktime_get_ns').comment('stamp');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = checkPkt('short_check', PORT_END - 1);
export const fixed = checkPkt('short_check_fix', PORT_END);

export const lesson: Lesson = {
  name: 'short-bounds-check', id: 'packet-short-check', broken, fixed,
  expected: 'invalid access to packet, off=36 size=2, R1(id=0,off=36,r=37)',
};
