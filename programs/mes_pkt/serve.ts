/**
 * `mes_pkt serve`: an HTTP endpoint for Prometheus. Each scrape of /metrics opens the pins,
 * reads v2's counters and histogram by mmap (no syscall per sample, nothing consumed), and
 * answers in the text exposition format (exposition.ts). Labels come from the probe's state.
 */
import http from 'node:http';
import { exposition } from './exposition.ts';
import { readV2Counters } from './reader-v2.ts';
import { pinnedMode, readState } from './control.ts';

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
}

export function parseListen(v: string | undefined): ServeOptions {
  const s = v ?? '127.0.0.1:9464';
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--listen must be ADDR:PORT (for example 0.0.0.0:9464), not '${s}'`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** The text one scrape returns, or an error to answer with 503. */
export function scrape(dir: string): string {
  if (pinnedMode(dir) !== 'v2') throw new Error(`serve exports the v2 probe's in-kernel counters; the tutorial's maps are pinned in ${dir}: attach with --mode v2`);
  const { counters, inFlight, config } = readV2Counters(dir);
  const st = readState(dir);
  return exposition(counters, inFlight, {
    ingressDevice: st?.devs.ingress ?? 'unknown', egressDevice: st?.devs.egress ?? 'unknown',
    match: config.match ?? st?.match ?? 'unknown', netns: st?.netns,
  });
}

export function serve(dir: string, o: ServeOptions): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }).end(); return; }
    if (url !== '/metrics') {
      res.writeHead(url === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(`mes_pkt serve: metrics are at /metrics (pins in ${dir})\n`);
      return;
    }
    let body: string;
    try {
      body = scrape(dir);
    } catch (e) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(e as Error).message}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => { server.off('error', reject); resolve(server); });
  });
}
