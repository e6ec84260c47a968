/**
 * The tutorial's latency probe (the Japanese tutorial "bpfプログラムの作成と実行(1)(tc)", mes_pkt.c), written in the DSL so it reads
 * beside the C. Two entries share one body:
 *   mes_start (tc ingress) stamps bpf_ktime_get_ns() into map_mes_start[cnt[0]++]
 *   mes_end   (tc egress)  stamps bpf_ktime_get_ns() into map_mes_end[cnt[1]++]
 * for UDP/IPv4 datagrams to port 5001, and lets every packet through (TC_ACT_OK).
 */
import { program, r0, r1, r2, r3, r4, r6, r7, r10, TC_ACT_OK, type Builder, type ProgramSpec } from '../../src/asm/index.ts';
import { checkPkt } from './check.ts';
import { CNT_END, CNT_START, maps, MES_SLOTS, type ProbeMapSpec } from './layout.ts';

// The layout lives in layout.ts (show reads it without loading the DSL); re-exported here so
// every existing import of it from probe.ts keeps working.
export * from './layout.ts';

/**
 * cnt = bpf_map_lookup_elem(&map_mes_cnt, &idx); if (!cnt) return TC_ACT_OK;
 * Leaves r6 = cnt (callee-saved, so it survives later helper calls); jumps to 'pass' on NULL.
 */
export function lookupCounter(b: Builder, cntIdx: number): void {
  b.st('u32', r10, -4, cntIdx).comment('idx = counter index');
  b.mov(r2, r10);
  b.add(r2, -4);
  b.ldMap(r1, maps.cnt);
  b.call('map_lookup_elem');
  b.mov(r6, r0);
  b.jeq(r6, 0, 'pass').comment('if (!cnt)');
}

/**
 * check_pkt() + stamp() of the tutorial. Differences from clang -O2's 37 instructions, each
 * saving one: the key is stored with ST (an immediate store) instead of mov + stx, and the
 * counter value is kept in r7 (callee-saved) instead of being reloaded after each call.
 */
function stamp(name: string, cntIdx: number, tsMap: ProbeMapSpec): ProgramSpec {
  return program({ name, type: 'sched_cls', license: 'GPL' }, (b) => {
    checkPkt(b);
    lookupCounter(b, cntIdx);
    // if (*cnt >= MES_DATA_SIZE) return TC_ACT_OK;
    b.ldx('u32', r7, r6, 0);
    b.jgt(r7, MES_SLOTS - 1, 'pass').comment('buffer full');
    // t = bpf_ktime_get_ns(); bpf_map_update_elem(ts_map, cnt, &t, BPF_ANY);
    b.call('ktime_get_ns');
    b.stx('u64', r10, -16, r0).comment('t');
    b.stx('u32', r10, -4, r7).comment('key = *cnt');
    b.mov(r2, r10);
    b.add(r2, -4);
    b.mov(r3, r10);
    b.add(r3, -16);
    b.ldMap(r1, tsMap);
    b.mov(r4, 0).comment('BPF_ANY');
    b.call('map_update_elem');
    // *cnt += 1;  (a plain load/add/store, as in the tutorial: not atomic)
    b.add(r7, 1);
    b.stx('u32', r6, 0, r7);
    b.label('pass');
    b.mov(r0, TC_ACT_OK);
    b.exit();
  });
}

/** The ingress entry: stamps when the packet enters the first interface. */
export const mesStart = stamp('mes_start', CNT_START, maps.start);
/** The egress entry: stamps when the packet leaves the second interface. */
export const mesEnd = stamp('mes_end', CNT_END, maps.end);
