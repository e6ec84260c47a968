/**
 * Lesson: a write to a read-only context field. "Skip the Ethernet header" by moving
 * skb->data forward: __sk_buff.data may be read, never written. Keep the moved pointer in a
 * register instead.
 */
import { program, r0, r1, r2, r3, r6, skb, ipv4, ETH_HLEN, IPV4_HLEN, IPPROTO_UDP, TC_ACT_OK, type ProgramSpec } from '../../src/asm/index.ts';
import type { Lesson } from './lesson.ts';

function skipEthernet(name: string, writeCtx: boolean): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    b.mov(r6, r1).comment('skb');
    b.ldx('u32', r1, r6, skb.data);
    b.add(r1, ETH_HLEN).comment('the IPv4 header');
    if (writeCtx) b.stx('u32', r6, skb.data, r1).comment('skb->data = data + ETH_HLEN');
    b.ldx('u32', r2, r6, skb.data_end);
    b.mov(r3, r1);
    b.add(r3, IPV4_HLEN);
    b.jgt(r3, r2, 'pass').comment('packet too short');
    b.ldField(r2, r1, ipv4.protocol);
    b.jne(r2, IPPROTO_UDP, 'pass').comment('not UDP');
    b.call('ktime_get_ns').comment('stamp');
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

export const broken = skipEthernet('ctx_write', true);
export const fixed = skipEthernet('ctx_write_fix', false);

export const lesson: Lesson = {
  name: 'write-ctx-data', id: 'ctx-write', broken, fixed,
  expected: 'invalid bpf_context access off=76 size=4',
};
