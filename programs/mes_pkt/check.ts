/**
 * check_pkt() of the tutorial, shared by both modes' entries: falls through with r1 = data
 * for a UDP/IPv4 datagram to port 5001 with at least `payloadBytes` of payload in reach, and
 * jumps to the label 'pass' for anything else.
 */
import {
  r1, r2, r3, skb, eth, ipv4, udp, htons, ETH_HLEN, IPV4_HLEN, UDP_HLEN, ETH_P_IP, IPPROTO_UDP, type Builder,
} from '../../src/asm/index.ts';
import { MES_PORT } from './layout.ts';

export { MES_PORT };
/** Where the UDP payload starts (the tutorial assumes a 20-byte IPv4 header, as do we). */
export const PAYLOAD = ETH_HLEN + IPV4_HLEN + UDP_HLEN;

export function checkPkt(b: Builder, payloadBytes = 0): void {
  // void *data_end = (void *)(long)skb->data_end; void *data = (void *)(long)skb->data;
  b.ldx('u32', r2, r1, skb.data_end);
  b.ldx('u32', r1, r1, skb.data);
  // if (data + sizeof(ethhdr) + sizeof(iphdr) + sizeof(udphdr) [+ payload] > data_end) return TC_ACT_OK;
  b.mov(r3, r1);
  b.add(r3, PAYLOAD + payloadBytes);
  b.jgt(r3, r2, 'pass').comment(payloadBytes ? 'too short for the id' : 'packet too short');
  // if (eth->h_proto != htons(ETH_P_IP)) …
  b.ldField(r2, r1, eth.h_proto);
  b.jne(r2, htons(ETH_P_IP), 'pass').comment('not IPv4');
  // if (ip->protocol != IPPROTO_UDP) …
  b.ldField(r2, r1, ipv4.protocol, ETH_HLEN);
  b.jne(r2, IPPROTO_UDP, 'pass').comment('not UDP');
  // if (udp->dest != htons(5001)) …
  b.ldField(r2, r1, udp.dest, ETH_HLEN + IPV4_HLEN);
  b.jne(r2, htons(MES_PORT), 'pass').comment(`not port ${MES_PORT}`);
}
