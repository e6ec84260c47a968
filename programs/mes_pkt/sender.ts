/**
 * The tutorial's `nc -u`: sends UDP datagrams. Run inside the sending namespace by send.ts
 * (`ip netns exec ns1 …`), so the socket belongs to that namespace.
 * Usage: sender.ts ADDR PORT COUNT INTERVAL_US [PAYLOAD_BYTES]
 * Prints one JSON line {sent, seconds} when done.
 */
import dgram from 'node:dgram';

const [addr, port, count, intervalUs, size] = process.argv.slice(2);
const n = Number(count), gapNs = BigInt(Math.round(Number(intervalUs) * 1000));
const payload = Buffer.alloc(Number(size ?? 16));
const sock = dgram.createSocket('udp4');
const t0 = process.hrtime.bigint();
let sent = 0;

function done(): void {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ sent, seconds }) + '\n');
  sock.close();
}

async function main(): Promise<void> {
  let next = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (gapNs > 0n) {
      // sleep most of the gap, then spin for the rest: setTimeout alone has ~1 ms granularity
      const wait = next - process.hrtime.bigint();
      if (wait > 2_000_000n) await new Promise((r) => setTimeout(r, Number(wait / 1_000_000n) - 1));
      while (process.hrtime.bigint() < next);
      // pace from now: after a stall, keep the gap instead of sending a burst to catch up
      next = process.hrtime.bigint() + gapNs;
    }
    payload.writeUInt32BE(i, 0); // sequence number, for readers that match by identity
    await new Promise<void>((resolve, reject) => sock.send(payload, Number(port), addr, (err) => {
      if (err) reject(err); else { sent++; resolve(); }
    }));
  }
  done();
}

main().catch((e) => { process.stderr.write(`send failed: ${(e as Error).message}\n`); process.exit(1); });
