/**
 * struct __sk_buff (linux/bpf.h): the context a SCHED_CLS / socket filter program receives in
 * r1. These are the offsets in the uapi mirror struct; the verifier rewrites each access into a
 * load from the real struct sk_buff (for example data at +76 becomes a u64 load at another
 * offset). Checked against the header by test/unit/offsets.test.ts.
 */
export const skb = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24,
  vlan_proto: 28, priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68,
  tc_classid: 72, data: 76, data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96,
  remote_ip6: 100, local_ip6: 116, remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144,
  tstamp: 152, wire_len: 160, gso_segs: 164, sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;
export type SkbField = keyof typeof skb;

/** tc actions (linux/pkt_cls.h): what a direct-action classifier returns. */
export const TC_ACT = {
  UNSPEC: -1, OK: 0, RECLASSIFY: 1, SHOT: 2, PIPE: 3, STOLEN: 4, QUEUED: 5, REPEAT: 6, REDIRECT: 7, TRAP: 8,
} as const;
export const TC_ACT_OK = TC_ACT.OK;
export const TC_ACT_SHOT = TC_ACT.SHOT;
