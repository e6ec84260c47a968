/**
 * The test frames, built with src/frame: the same packets as the reference build's
 * pkt_*.bin (a 64-byte Ethernet/IPv4/UDP frame from 10.231.0.1:40000 to 10.231.0.2:5001 with
 * 22 zero bytes of payload, and three that a UDP-to-5001 filter must not match), so tests need
 * nothing outside the repository. Unlike the reference files these carry a real UDP checksum,
 * a real TCP header and a real ARP packet.
 */
import { arpFrame, tcpFrame, udpFrame } from '../../src/frame/index.ts';

const zeros = (n: number) => new Uint8Array(n);

export const FRAMES = {
  /** UDP to port 5001, 64 bytes (pkt_match.bin). */
  match: udpFrame({ dport: 5001, payload: zeros(22) }),
  /** UDP to port 5002 (pkt_nomatch_port.bin). */
  otherPort: udpFrame({ dport: 5002, payload: zeros(22) }),
  /** TCP to port 5001: the port at the same offset, only the protocol differs (pkt_nomatch_tcp.bin). */
  tcp: tcpFrame({ dport: 5001, flags: ['psh', 'ack'], payload: zeros(10) }),
  /** An ARP request, padded to 60 bytes (pkt_nomatch_arp.bin). */
  arp: arpFrame(),
} as const;

/** The frame description `tsbpf prog run --data` and test children take for FRAMES.match. */
export const MATCH_SPEC = 'udp:dport=5001,size=22';
