/**
 * For the no-root tests of test/kernel/probe-attach.test.ts: run under setpriv with every
 * capability dropped, with a loaded program's fd inherited as fd 3, try one attach and print
 * either "attached" or the error's message (one line), then exit 0.
 * Usage: probe-child.ts uprobe|tracepoint|socket_filter BINARY
 */
import { attachSocketFilter } from '../../src/attach/socket-filter.ts';
import { attachTracepoint } from '../../src/attach/tracepoint.ts';
import { attachUprobe } from '../../src/attach/uprobe.ts';
import { Program } from '../../src/syscall/program.ts';

const [kind, binary] = process.argv.slice(2);
const type = kind === 'uprobe' ? 'kprobe' : kind!;
const prog = new Program(3, { name: 'inherited', type });
try {
  const a = kind === 'uprobe' ? attachUprobe(prog, { binary: binary!, symbol: 'tick' })
    : kind === 'tracepoint' ? attachTracepoint(prog, 'syscalls', 'sys_enter_getpid')
    : attachSocketFilter(prog, {});
  a.close();
  process.stdout.write('attached\n');
} catch (e) {
  process.stdout.write(`${(e as Error).message}\n`);
}
