/** `tc detach --id/--name` that matches nothing is an error, like --link: one line naming `tsbpf tc list`. */
import * as assert from 'uvu/assert';
import { kernelSuite, withNetns } from '../support/kernel.ts';
import { cli } from '../support/cli.ts';

const s = kernelSuite('tc detach with no match');

s('--id, --name and --link that match nothing: exit 1, one line, the list command with --netns', async () => {
  await withNetns((ns) => {
    for (const sel of [['--id', '999999'], ['--name', 'fixa_nothing'], ['--link', '999999']]) {
      const r = cli('tc', 'detach', ns.a, 'ingress', ...sel, '--netns', ns.name);
      assert.is(r.code, 1, `${sel.join(' ')}: ${r.stdout}`);
      assert.is(r.stdout, '');
      assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, `tsbpf tc list ${ns.a} --netns ${ns.name}`);
    }
    const all = cli('tc', 'detach', ns.a, 'ingress', '--all', '--netns', ns.name);
    assert.is(all.code, 0, '--all on an empty hook is not an error');
  });
});

s.run();
