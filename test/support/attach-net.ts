/**
 * For the attach kernel tests: two namespaces joined by a veth pair (a in nsA, b in nsB, one
 * /24), UDP sent from nsA to b's address with bash's /dev/udp (a subprocess inside the
 * namespace), and DSL programs that count IPv4 UDP datagrams to one port in a map.
 */
import { program, r0, r1, r2, r3, r4, r10, type MapSpec, type ProgramSpec } from '../../src/asm/index.ts';
import { sh, uniqueName } from './kernel.ts';

export interface Pair { readonly nsA: string; readonly nsB: string; readonly a: string; readonly b: string; readonly addrA: string; readonly addrB: string }

/** Build the pair, run fn, and always delete both namespaces (their devices and attachments go with them). */
export async function withPair<R>(fn: (p: Pair) => Promise<R> | R): Promise<R> {
  const p: Pair = { nsA: uniqueName('tsbpfA'), nsB: uniqueName('tsbpfB'), a: uniqueName('pa'), b: uniqueName('pb'), addrA: '10.77.0.1', addrB: '10.77.0.2' };
  try {
    sh('ip', ['netns', 'add', p.nsA]);
    sh('ip', ['netns', 'add', p.nsB]);
    sh('ip', ['-n', p.nsA, 'link', 'add', p.a, 'type', 'veth', 'peer', 'name', p.b, 'netns', p.nsB]);
    sh('ip', ['-n', p.nsA, 'addr', 'add', `${p.addrA}/24`, 'dev', p.a]);
    sh('ip', ['-n', p.nsB, 'addr', 'add', `${p.addrB}/24`, 'dev', p.b]);
    sh('ip', ['-n', p.nsA, 'link', 'set', p.a, 'up']);
    sh('ip', ['-n', p.nsB, 'link', 'set', p.b, 'up']);
    return await fn(p);
  } finally {
    sh('ip', ['netns', 'del', p.nsA], { allowFail: true });
    sh('ip', ['netns', 'del', p.nsB], { allowFail: true });
  }
}

/** `count` UDP datagrams from nsA to b's address, port `port` (nobody listens: b answers ICMP, which the counters skip). */
export function sendUdp(p: Pair, count: number, port = 5001): void {
  sh('ip', ['netns', 'exec', p.nsA, 'bash', '-c', `for i in $(seq ${count}); do echo -n x > /dev/udp/${p.addrB}/${port}; done`]);
}

export const countMap = (name: string): MapSpec => ({ name, type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });

export const TCX_NEXT = -1;
export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;
export const XDP_PASS = 2;

/**
 * cnt[0] += 1 for each IPv4 UDP datagram to `port` (IHL 5), then return `ret`; every other
 * packet returns `miss` (by default `ret` too).
 * sched_cls reads data/data_end from __sk_buff (+76/+80), xdp from xdp_md (+0/+4).
 */
export function udpCounter(name: string, type: 'sched_cls' | 'xdp', cnt: MapSpec, ret: number, port = 5001, miss = ret): ProgramSpec {
  const [data, end] = type === 'xdp' ? [0, 4] : [76, 80];
  return program({ name, type, license: 'GPL' }, (b) => {
    b.ldx('u32', r2, r1, data);
    b.ldx('u32', r3, r1, end);
    b.mov(r4, r2);
    b.add(r4, 14 + 20 + 8);
    b.jgt(r4, r3, 'out');
    b.ldx('u16', r4, r2, 12);
    b.jne(r4, 0x0008, 'out').comment('EtherType 0x0800, read as a little-endian u16');
    b.ldx('u8', r4, r2, 14 + 9);
    b.jne(r4, 17, 'out').comment('IPPROTO_UDP');
    b.ldx('u16', r4, r2, 14 + 20 + 2);
    b.jne(r4, ((port & 0xff) << 8) | (port >> 8), 'out').comment(`dport ${port}, network order`);
    b.st('u32', r10, -4, 0);
    b.mov(r2, r10);
    b.add(r2, -4);
    b.ldMap(r1, cnt);
    b.call('map_lookup_elem');
    b.jeq(r0, 0, 'out');
    b.mov(r1, 1);
    b.atomic('add', 'u64', r0, 0, r1);
    b.mov(r0, ret);
    b.exit();
    b.label('out');
    b.mov(r0, miss);
    b.exit();
  });
}
