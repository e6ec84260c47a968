/** VerifierError and BtfLoadError carry the whole log as `details` (main() prints it under TSBPF_DEBUG) and say so. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BtfLoadError } from '../../src/syscall/btf.ts';
import { Cmd } from '../../src/syscall/constants.ts';
import { VerifierError } from '../../src/syscall/errors.ts';

const log = Array.from({ length: 30 }, (_, i) => `${i}: (b7) r0 = ${i}`).join('\n') + '\nR0 invalid mem access \'scalar\'\n';

test('VerifierError: the message shows the tail and names TSBPF_DEBUG and tsbpf explain, details is the whole log', () => {
  const e = new VerifierError(Cmd.PROG_LOAD, 13, { program: 'p', log, index: 29, summary: "R0 invalid mem access 'scalar'" });
  assert.match(e.message, /TSBPF_DEBUG=1 prints the whole log, or run `tsbpf explain`/);
  assert.not.match(e.message, /\.log\b/);
  assert.not.match(e.message, /^0: \(b7\)/m, 'the head of the log is not in the message');
  assert.match(e.details, /^0: \(b7\) r0 = 0$/m);
  assert.match(e.details, /invalid mem access/);
});

test('BtfLoadError: details is the whole log; no log says the errno by name', () => {
  const e = new BtfLoadError(22, log);
  assert.match(e.message, /TSBPF_DEBUG=1 prints the whole log/);
  assert.not.match(e.message, /\.log\b/);
  assert.match(e.details, /^0: \(b7\) r0 = 0$/m);
  assert.match(new BtfLoadError(22, '').message, /\(EINVAL\) without a log/);
});

test.run();
