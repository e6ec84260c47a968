/**
 * The verifier log: how big a buffer to give the kernel, how to grow it, and how to read the
 * failing instruction and the last message out of it.
 */

/** The kernel rejects log_size < 128 when a log level is set (bpf_vlog_init / bpf_verifier_log_attr_valid). */
export const LOG_MIN_SIZE = 128;
/** ... and log_size > UINT_MAX >> 2 (EINVAL): the largest buffer it accepts. */
export const LOG_MAX_SIZE = 0xffffffff >>> 2;
/** First try: large enough for most rejections at level 1, small enough to be cheap. */
export const LOG_INITIAL_SIZE = 64 * 1024;

/**
 * The next log size after ENOSPC, or null at the kernel's maximum. Since 6.4 the kernel writes
 * back log_true_size, the exact size it needed; before, all we know is "more".
 */
export function nextLogSize(current: number, trueSize = 0): number | null {
  if (current >= LOG_MAX_SIZE) return null;
  const want = trueSize > current ? trueSize : current * 4;
  return Math.min(Math.max(want, LOG_MIN_SIZE), LOG_MAX_SIZE);
}

/** The NUL-terminated text in a log buffer. */
export function logText(buf: Uint8Array | null): string {
  if (!buf) return '';
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end < 0 ? buf : buf.subarray(0, end));
}

/** Trailer lines the verifier prints after its verdict: not the reason. */
const TRAILER = /^(processed \d+ insns|verification time|stack depth|max_states_per_insn|mark_read|peak_states|total_states|-- END|\s*$)/;
/** An instruction line at level 1/2: "12: (61) r3 = *(u32 *)(r1 +76)". */
const INSN_LINE = /^(\d+): \([0-9a-f]{2}\)/;

/** The verdict of a log: the kernel's last message and the instruction it stopped at. */
export function parseVerifierLog(log: string): { summary: string; index: number | undefined } {
  const lines = log.split('\n');
  let summary = '';
  let last = lines.length - 1;
  for (; last >= 0; last--) {
    if (!TRAILER.test(lines[last]!)) { summary = lines[last]!.trim(); break; }
  }
  let index: number | undefined;
  for (let i = last; i >= 0; i--) {
    const m = INSN_LINE.exec(lines[i]!);
    if (m) { index = Number(m[1]); break; }
  }
  // Errors found before the walk ("unreachable insn 5", "jump out of range from insn 3 to 9").
  if (index === undefined) {
    const m = /insn (\d+)/.exec(summary);
    if (m) index = Number(m[1]);
  }
  return { summary: summary || 'the verifier gave no message', index };
}
