/**
 * tsbpf/frame: build test frames (Ethernet, IPv4, IPv6, UDP, TCP, ARP) with correct lengths
 * and checksums, read them back, print them one line each like tcpdump, and save them as pcap.
 * Pure: no system calls.
 */
export { formatIP, formatIPv4, formatIPv6, formatMac, parseIP, parseIPv4, parseIPv6, parseMac } from './address.ts';
export { ARP_LEN, ARPOP_REPLY, ARPOP_REQUEST, arpPacket, type ArpOptions } from './arp.ts';
export { arpFrame, tcpFrame, udpFrame, type ArpFrameOptions, type IpFrameOptions, type TcpFrameOptions, type UdpFrameOptions } from './build.ts';
export { internetChecksum, onesComplementSum, pseudoHeader } from './checksum.ts';
export {
  decodeFrame, type ArpLayer, type DecodedFrame, type EthernetLayer, type IPLayer, type TcpLayer, type UdpLayer,
} from './decode.ts';
export { describeDecoded, describeFrame, tcpFlagString } from './describe.ts';
export { FrameError } from './errors.ts';
export { ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ETH_ZLEN, ethernetFrame, type EthernetOptions } from './ethernet.ts';
export { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPV4_HLEN, ipv4Packet, type IPv4Options } from './ipv4.ts';
export { IPV6_HLEN, ipv6Packet, type IPv6Options } from './ipv6.ts';
export { LINKTYPE_ETHERNET, pcapFile } from './pcap.ts';
export { FRAME_SPEC_HELP, frameFromSpec, isFrameSpec, type FrameKind } from './spec.ts';
export { TCP_FLAGS, TCP_HLEN, tcpChecksum, tcpSegment, type TcpFlag, type TcpOptions } from './tcp.ts';
export { UDP_HLEN, udpChecksum, udpDatagram, type UdpOptions } from './udp.ts';
