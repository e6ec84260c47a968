/**
 * Every number rtnetlink tc needs, written once, under the kernel's own names so that
 * test/unit/netlink-constants.test.ts can compile a C program that prints the same names from
 * the headers and compare. Sources: <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>,
 * <linux/pkt_sched.h>, <linux/pkt_cls.h>, <linux/if.h>, <linux/if_ether.h>, <sys/socket.h>.
 *
 * Add a constant here under its header name and the check covers it automatically; sizes of
 * structs are listed in `structSizes` with the C expression that checks them.
 */

// ---- <sys/socket.h>: the socket itself ----
export const AF_UNSPEC = 0;
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SOL_NETLINK = 270;
export const SO_RCVBUF = 8;
export const SO_SNDBUF = 7;
/** The `struct timeval` flavour of the option (SO_RCVTIMEO_OLD); a 64-bit timeval is 16 bytes. */
export const SO_RCVTIMEO = 20;
export const MSG_TRUNC = 0x20;

// ---- <linux/netlink.h> ----
export const NETLINK_ROUTE = 0;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;

/** nlmsg_flags, all requests */
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP_FILTERED = 0x20;
/** nlmsg_flags, GET requests */
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = 0x300;
/** nlmsg_flags, NEW requests */
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** nlmsg_flags on an NLMSG_ERROR reply */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLMSG_ALIGNTO = 4;
export const NLMSG_HDRLEN = 16;
export const NLA_ALIGNTO = 4;
export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

/** TLVs after an NLMSG_ERROR when NETLINK_EXT_ACK is on */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

// ---- <linux/rtnetlink.h> ----
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

/** IFLA_EXT_MASK bits: we never want VF details or stats, which make link dumps large. */
export const RTEXT_FILTER_VF = 1;
export const RTEXT_FILTER_SKIP_STATS = 8;

/** tcmsg attributes (enum TCA_*) */
export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_STATS = 3;
export const TCA_XSTATS = 4;
export const TCA_RATE = 5;
export const TCA_FCNT = 6;
export const TCA_STATS2 = 7;
export const TCA_STAB = 8;
export const TCA_PAD = 9;
export const TCA_DUMP_INVISIBLE = 10;
export const TCA_CHAIN = 11;
export const TCA_HW_OFFLOAD = 12;
export const TCA_INGRESS_BLOCK = 13;
export const TCA_EGRESS_BLOCK = 14;
export const TCA_DUMP_FLAGS = 15;
export const TCA_EXT_WARN_MSG = 16;

// ---- <linux/if_link.h> ----
export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_QDISC = 6;
export const IFLA_MASTER = 10;
export const IFLA_TXQLEN = 13;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_EXT_MASK = 29;
export const IFLA_LINK_NETNSID = 37;
export const IFLA_ALT_IFNAME = 53;
export const IFLA_INFO_KIND = 1;

// ---- <linux/if.h>, <linux/if_ether.h> ----
export const IFNAMSIZ = 16;
export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const ETH_P_ALL = 0x0003;

// ---- <linux/pkt_sched.h>: handles are major:minor, 16 bits each ----
export const TC_H_MAJ_MASK = 0xffff0000;
export const TC_H_MIN_MASK = 0x0000ffff;
export const TC_H_UNSPEC = 0;
export const TC_H_ROOT = 0xffffffff;
/** The ingress/clsact qdisc's parent. clsact reuses the ingress slot, so only one of them fits. */
export const TC_H_INGRESS = 0xfffffff1;
export const TC_H_CLSACT = 0xfffffff1;
/** Minors that name clsact's two hooks: parent ffff:fff2 is ingress, ffff:fff3 egress. */
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;

// ---- <linux/pkt_cls.h>: cls_bpf ----
export const TCA_BPF_ACT = 1;
export const TCA_BPF_POLICE = 2;
export const TCA_BPF_CLASSID = 3;
export const TCA_BPF_OPS_LEN = 4;
export const TCA_BPF_OPS = 5;
export const TCA_BPF_FD = 6;
export const TCA_BPF_NAME = 7;
export const TCA_BPF_FLAGS = 8;
export const TCA_BPF_FLAGS_GEN = 9;
export const TCA_BPF_TAG = 10;
export const TCA_BPF_ID = 11;
/** direct-action: the program's return value is the tc verdict (TC_ACT_*), no separate action. */
export const TCA_BPF_FLAG_ACT_DIRECT = 1;
export const TCA_CLS_FLAGS_SKIP_HW = 1;
export const TCA_CLS_FLAGS_SKIP_SW = 2;
export const TCA_CLS_FLAGS_IN_HW = 4;
export const TCA_CLS_FLAGS_NOT_IN_HW = 8;
export const TCA_CLS_FLAGS_VERBOSE = 16;

/** Sizes of the fixed headers, each with the C expression the constants check compiles. */
export const structSizes = {
  NLMSG_HDRLEN: 'sizeof(struct nlmsghdr)',
  IFINFOMSG_LEN: 'sizeof(struct ifinfomsg)',
  TCMSG_LEN: 'sizeof(struct tcmsg)',
  NLMSGERR_LEN: 'sizeof(struct nlmsgerr)',
  SOCKADDR_NL_LEN: 'sizeof(struct sockaddr_nl)',
  NLATTR_LEN: 'sizeof(struct nlattr)',
} as const;
export const IFINFOMSG_LEN = 16;
export const TCMSG_LEN = 20;
export const NLMSGERR_LEN = 20;
export const SOCKADDR_NL_LEN = 12;
export const NLATTR_LEN = 4;

/** IFLA_XDP (linux/if_link.h): the nest that attaches an XDP program over RTM_SETLINK. */
export const IFLA_XDP = 43;
export const IFLA_XDP_FD = 1;
export const IFLA_XDP_ATTACHED = 2;
export const IFLA_XDP_FLAGS = 3;
export const IFLA_XDP_PROG_ID = 4;
export const IFLA_XDP_DRV_PROG_ID = 5;
export const IFLA_XDP_SKB_PROG_ID = 6;
export const IFLA_XDP_HW_PROG_ID = 7;
export const IFLA_XDP_EXPECTED_FD = 8;
/** IFLA_XDP_ATTACHED values: which mode a device's program runs in (MULTI: more than one). */
export const XDP_ATTACHED_NONE = 0;
export const XDP_ATTACHED_DRV = 1;
export const XDP_ATTACHED_SKB = 2;
export const XDP_ATTACHED_HW = 3;
export const XDP_ATTACHED_MULTI = 4;
/** IFLA_XDP_FLAGS: UPDATE_IF_NOEXIST refuses to replace (EBUSY); one mode bit; REPLACE checks EXPECTED_FD. */
export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1;
export const XDP_FLAGS_SKB_MODE = 2;
export const XDP_FLAGS_DRV_MODE = 4;
export const XDP_FLAGS_HW_MODE = 8;
export const XDP_FLAGS_REPLACE = 16;
