/**
 * The tutorial's mes_start exactly as clang -O2 compiles it (the clang + tc reference
 * build's clang-O2-listing.txt), transcribed into the DSL instruction for instruction: 37 instructions
 * where probe.ts needs 34. Tests compare its bytes and listing with clang's and llvm-objdump's;
 * learners can diff it against probe.ts to see what a hand-written program saves.
 */
import {
  program, r0, r1, r2, r3, r4, r6, r10, skb, eth, ipv4, udp, htons,
  ETH_HLEN, IPV4_HLEN, UDP_HLEN, ETH_P_IP, IPPROTO_UDP, TC_ACT_OK, type MapRef, type ProgramSpec,
} from '../../src/asm/index.ts';

export function clangMesStart(cnt: MapRef = { name: 'map_mes_cnt' }, start: MapRef = { name: 'map_mes_start' }): ProgramSpec {
  return program({ name: 'mes_start', type: 'sched_cls', license: 'GPL' }, (b) => {
    b.ldx('u32', r2, r1, skb.data_end);
    b.ldx('u32', r1, r1, skb.data);
    b.mov(r3, r1);
    b.add(r3, ETH_HLEN + IPV4_HLEN + UDP_HLEN);
    b.jgt(r3, r2, 'pass');
    b.ldField(r2, r1, eth.h_proto);
    b.jne(r2, htons(ETH_P_IP), 'pass');
    b.ldField(r2, r1, ipv4.protocol, ETH_HLEN);
    b.jne(r2, IPPROTO_UDP, 'pass');
    b.ldField(r1, r1, udp.dest, ETH_HLEN + IPV4_HLEN);
    b.jne(r1, htons(5001), 'pass');
    b.mov(r1, 0); // clang: mov + stx where an ST immediate would do
    b.stx('u32', r10, -4, r1);
    b.mov(r2, r10);
    b.add(r2, -4);
    b.ldMap(r1, cnt);
    b.call('map_lookup_elem');
    b.mov(r6, r0);
    b.jeq(r6, 0, 'pass');
    b.ldx('u32', r1, r6, 0);
    b.jgt(r1, 511, 'pass');
    b.call('ktime_get_ns');
    b.stx('u64', r10, -16, r0);
    b.ldx('u32', r1, r6, 0); // clang reloads *cnt after the call
    b.stx('u32', r10, -4, r1);
    b.mov(r2, r10);
    b.add(r2, -4);
    b.mov(r3, r10);
    b.add(r3, -16);
    b.ldMap(r1, start);
    b.mov(r4, 0);
    b.call('map_update_elem');
    b.ldx('u32', r1, r6, 0); // and again before the increment
    b.add(r1, 1);
    b.stx('u32', r6, 0, r1);
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}
