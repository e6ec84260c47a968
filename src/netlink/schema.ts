/**
 * Typed attribute schemas for the rtnetlink objects tc touches: links, tc objects (qdiscs and
 * filters share the TCA_* set) and cls_bpf's options. Field order in an encode call is the
 * order on the wire, so requests can match `tc` byte for byte.
 */
import {
  IFLA_ADDRESS, IFLA_ALT_IFNAME, IFLA_BROADCAST, IFLA_EXT_MASK, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINK,
  IFLA_LINK_NETNSID, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, IFLA_OPERSTATE, IFLA_QDISC, IFLA_TXQLEN,
  TCA_BPF_CLASSID, TCA_BPF_FD, TCA_BPF_FLAGS, TCA_BPF_FLAGS_GEN, TCA_BPF_ID, TCA_BPF_NAME, TCA_BPF_TAG,
  TCA_CHAIN, TCA_KIND, TCA_OPTIONS, TCA_HW_OFFLOAD, TCA_EXT_WARN_MSG,
} from './constants.ts';
import { bytes, nested, s32, str, u32, u8 } from './message.ts';

/** IFLA_LINKINFO nest: we only read the driver kind ("veth", "bridge", ...). */
export const linkInfoSchema = {
  kind: str(IFLA_INFO_KIND),
} as const;

/** RTM_NEWLINK / RTM_GETLINK attributes (after struct ifinfomsg). */
export const linkSchema = {
  ifname: str(IFLA_IFNAME),
  altIfname: str(IFLA_ALT_IFNAME),
  extMask: u32(IFLA_EXT_MASK),
  address: bytes(IFLA_ADDRESS),
  broadcast: bytes(IFLA_BROADCAST),
  mtu: u32(IFLA_MTU),
  link: u32(IFLA_LINK),
  qdisc: str(IFLA_QDISC),
  master: u32(IFLA_MASTER),
  txqlen: u32(IFLA_TXQLEN),
  operstate: u8(IFLA_OPERSTATE),
  linkinfo: nested(IFLA_LINKINFO, linkInfoSchema),
  linkNetnsid: s32(IFLA_LINK_NETNSID),
} as const;

/** RTM_*QDISC / RTM_*TFILTER attributes (after struct tcmsg). TCA_OPTIONS depends on TCA_KIND. */
export const tcSchema = {
  kind: str(TCA_KIND),
  options: bytes(TCA_OPTIONS),
  chain: u32(TCA_CHAIN),
  hwOffload: u8(TCA_HW_OFFLOAD),
  extWarnMsg: str(TCA_EXT_WARN_MSG),
} as const;

/** TCA_OPTIONS of a "bpf" filter (cls_bpf). */
export const clsBpfSchema = {
  /** program fd, on add/replace only; the kernel reports ID and TAG instead */
  fd: u32(TCA_BPF_FD),
  /** free-form label shown by `tc filter show`, at most 256 bytes */
  name: str(TCA_BPF_NAME),
  /** TCA_BPF_FLAG_ACT_DIRECT */
  flags: u32(TCA_BPF_FLAGS),
  /** TCA_CLS_FLAGS_* (skip_hw, skip_sw, in_hw, not_in_hw) */
  flagsGen: u32(TCA_BPF_FLAGS_GEN),
  /** 8-byte program tag (sha1 prefix of the instructions) */
  tag: bytes(TCA_BPF_TAG),
  id: u32(TCA_BPF_ID),
  classid: u32(TCA_BPF_CLASSID),
} as const;
