/**
 * rtnetlink tc from TypeScript: what `tc qdisc add dev X clsact` and
 * `tc filter add dev X ingress bpf da …` do, over a NETLINK_ROUTE socket, no `tc` process.
 *
 *   using sock = routeSocket({ netns: 'test' });
 *   const { created } = ensureClsact(sock, 'veth0');
 *   const f = attachBpf(sock, 'veth0', 'ingress', { fd, name: 'probe' });
 *   detachBpf(sock, 'veth0', 'ingress', f);
 *   if (created) deleteClsact(sock, 'veth0');
 */
export { NetlinkError, isNetlinkError, type NetlinkErrorInit } from './error.ts';
export { routeSocket, withRouteSocket, openTransport, DEFAULT_TIMEOUT_MS, type RouteSocket, type RouteSocketOptions, type Transport, type TransportOptions } from './socket.ts';
export { withNetns, netnsPath, NETNS_RUN_DIR } from './netns.ts';
export { getLink, listLinks, ifindexOf, getLinkRequest, listLinksRequest, decodeLink, type Link, type Dev } from './link.ts';
export {
  ensureClsact, getClsact, deleteClsact, listQdiscs, clsactAddRequest, clsactDeleteRequest, qdiscDumpRequest, decodeQdisc,
  CLSACT_HANDLE, type Qdisc, type EnsureResult,
} from './qdisc.ts';
export {
  attachBpf, replaceBpf, detachBpf, listFilters, hookParent, parentHook, filterAddRequest, filterDeleteRequest, filterDumpRequest,
  decodeFilter, type Hook, type Filter, type BpfFilterInfo, type BpfFilterSpec, type FilterAddress, type FilterSelector, type AddMode,
} from './filter.ts';
export {
  encodeMessage, parseMessages, decodeError, encodeTcMsg, decodeTcMsg, encodeIfInfoMsg, decodeIfInfoMsg, encodeAttrs, decodeAttrs,
  parseAttrs, hex, unhex, type Message, type MessageHeader, type Request, type TcMsg, type IfInfoMsg, type RawAttr, type Schema,
  type Attrs, type AttrCodec, type ErrorReply,
} from './message.ts';
export { linkSchema, tcSchema, clsBpfSchema } from './schema.ts';
export {
  xdpSetRequest, xdpFlags, decodeXdp, getXdp, setXdp, xdpSchema, XDP_MODE_FLAG, type XdpMode, type XdpState, type XdpSetOptions,
} from './xdp.ts';
