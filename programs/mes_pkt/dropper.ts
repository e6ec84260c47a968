/**
 * A loss to measure: a tc filter that drops UDP datagrams to port 5001 whose sequence number
 * (the first 4 payload bytes, big-endian, as `send` writes it) is `residue` modulo `n`, and lets
 * everything else continue to the next filter. Put it ahead of mes_end (a lower priority
 * number on the same egress hook) to lose packets between the two hooks on purpose.
 */
import { program, r0, r1, r2, TC_ACT, TC_ACT_SHOT, type ProgramSpec } from '../../src/asm/index.ts';
import { checkPkt, PAYLOAD } from './check.ts';

export function dropEveryNth(n = 10, residue = n - 1): ProgramSpec {
  if (!Number.isInteger(n) || n < 2 || residue < 0 || residue >= n) throw new RangeError(`drop needs n >= 2 and 0 <= residue < n, got ${n}, ${residue}`);
  return program({ name: `drop_1_in_${n}`.slice(0, 15), type: 'sched_cls', license: 'GPL' }, (b) => {
    checkPkt(b, 4);
    b.ldx('u32', r2, r1, PAYLOAD);
    b.be(r2, 32);
    b.mod(r2, n);
    b.jne(r2, residue, 'pass');
    b.mov(r0, TC_ACT_SHOT);
    b.exit();
    b.label('pass');
    // UNSPEC, not OK: in direct-action mode OK ends classification and mes_end would never run
    b.mov(r0, TC_ACT.UNSPEC);
    b.exit();
  });
}
