/**
 * What a pair means: the three ways v2 can tell that a packet at the end hook is the one it
 * saw at the start hook (docs/mes_pkt.md, "What is measured"), and the one line that says so.
 *
 *   seq      the first 4 payload bytes (UDP) or the TCP sequence number: right for `send` and
 *            for iperf2, whose datagrams start with a sequence number
 *   headers  a hash of the fields that do not change in flight (RFC 5475's invariant fields):
 *            IP id and flags, addresses, ports, UDP length and checksum (TCP seq), and the
 *            next 4 bytes (UDP payload, TCP ack); any traffic that crosses both hooks unchanged
 *   reply    one device: a request at ingress (to the port) and the reply at egress (from the
 *            port, the flow reversed): the host's service time
 */
export type Match = 'seq' | 'headers' | 'reply';
export const MATCHES: readonly Match[] = ['seq', 'headers', 'reply'];
/** The code stored in the config map, so a reader without the state file knows the mode. */
export const MATCH_CODE: Readonly<Record<Match, number>> = { seq: 1, headers: 2, reply: 3 };

export type Proto = 'udp' | 'tcp';
export const PROTO_NUMBER: Readonly<Record<Proto, number>> = { udp: 17, tcp: 6 };

export const DEFAULT_PORTS: readonly number[] = [5001];

/** `reply` when both hooks are on one device (the only honest meaning there), else `headers`. */
export function defaultMatch(ingressDev: string, egressDev: string): Match {
  return ingressDev === egressDev ? 'reply' : 'headers';
}

export function parseMatch(v: string | undefined, ingressDev: string, egressDev: string): Match {
  if (v === undefined) return defaultMatch(ingressDev, egressDev);
  if (!(MATCHES as readonly string[]).includes(v)) throw new RangeError(`--match must be ${MATCHES.join(', ')}, not '${v}'`);
  return v as Match;
}

export function parsePorts(values: readonly string[] | undefined): number[] {
  if (!values || values.length === 0) return [...DEFAULT_PORTS];
  const out = new Set<number>();
  for (const v of values.flatMap((x) => x.split(','))) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RangeError(`--port must be 1..65535, not '${v}'`);
    out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

export function parseProto(v: string | undefined): Proto {
  if (v === undefined) return 'udp';
  if (v !== 'udp' && v !== 'tcp') throw new RangeError(`--proto must be udp or tcp, not '${v}'`);
  return v;
}

export interface Measured {
  readonly ingressDev: string;
  readonly egressDev: string;
  readonly match: Match;
  readonly ports: readonly number[];
  readonly proto: Proto;
  readonly netns?: string;
}

const portList = (ports: readonly number[]) => ports.map((p) => `:${p}`).join(',');

/** The one line attach prints and show repeats: what a pair's latency is. */
export function describe(m: Measured): string {
  const where = m.netns ? ` (netns ${m.netns})` : '';
  const path = `${m.ingressDev} ingress → ${m.egressDev} egress${where}`;
  const what = `${m.proto.toUpperCase()} to ${portList(m.ports)}`;
  switch (m.match) {
    case 'reply':
      return `${path}: time from a request to ${portList(m.ports)}/${m.proto} to its reply (the flow reversed)`;
    case 'headers':
      return `${path}: time each ${what} packet takes between the hooks, matched by a hash of its invariant header fields`;
    case 'seq':
      return `${path}: time each ${what} packet takes between the hooks, matched by its ${m.proto === 'tcp' ? 'TCP sequence number' : 'first 4 payload bytes'}`;
  }
}

/** A warning for a choice that cannot measure what it seems to, or null. */
export function matchWarning(m: Measured): string | null {
  if (m.ingressDev === m.egressDev && m.match !== 'reply') {
    return `warning: --match ${m.match} on one device pairs packets arriving at ${m.ingressDev} with other packets leaving it ` +
      `that happen to share an identity; --match reply (the default here) measures request-to-reply time`;
  }
  if (m.ingressDev !== m.egressDev && m.match === 'reply') {
    return `warning: --match reply pairs a request at ${m.ingressDev} with a reply leaving ${m.egressDev}; that is a service time only if replies leave there`;
  }
  return null;
}
