/**
 * Lesson: pointer arithmetic the verifier forbids. The bounds check written backwards,
 * `if (data > data_end - 42)`: it means the same in C, but data_end (pkt_end) may only be
 * compared with, never moved. Move data instead, as the probe does.
 */
import { program, r0, r1, r2, r3, skb, eth, htons, ETH_HLEN, IPV4_HLEN, UDP_HLEN, ETH_P_IP, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import type { Lesson } from './lesson.ts';

const HDRS = ETH_HLEN + IPV4_HLEN + UDP_HLEN;

function checkPkt(name: string, moveDataEnd: boolean): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    b.ldx('u32', r2, r1, skb.data_end);
    b.ldx('u32', r1, r1, skb.data);
    if (moveDataEnd) {
      b.sub(r2, HDRS).comment('data_end - 42');
      b.jgt(r1, r2, 'pass').comment('packet too short');
    } else {
      b.mov(r3, r1);
      b.add(r3, HDRS).comment('data + 42');
      b.jgt(r3, r2, 'pass').comment('packet too short');
    }
    b.ldField(r2, r1, eth.h_proto);
    b.jne(r2, htons(ETH_P_IP), 'pass').comment('not IPv4');
    b.call('ktime_get_ns').comment('stamp');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = checkPkt('pkt_end_math', true);
export const fixed = checkPkt('pkt_end_fix', false);

export const lesson: Lesson = {
  name: 'pkt-end-arithmetic', id: 'pointer-arithmetic', broken, fixed,
  expected: 'R2 pointer arithmetic on pkt_end prohibited',
};
