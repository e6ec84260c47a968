/**
 * src/elf is a pure codec: it reaches only itself, src/asm (the instruction model and the spec
 * types), src/btf (the BTF codec and CO-RE, pure too) and node: builtins — never the syscall layer, netlink or the FFI. `import type` is
 * erased, so type-only imports (MapSpec lives in src/asm, MapType too) load nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('src/elf imports only src/elf, src/asm, src/btf and node: builtins', () => {
  const seen = new Set<string>();
  const todo = [path.join(root, 'src/elf/index.ts')];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const rel = path.relative(root, file);
    assert.ok(rel.startsWith('src/elf/') || rel.startsWith('src/asm/') || rel.startsWith('src/btf/'), `${rel} is reached from src/elf`);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) todo.push(path.resolve(path.dirname(file), spec));
      else assert.ok(spec.startsWith('node:'), `${rel} imports '${spec}'`);
    }
    assert.not.match(text, /\bimport\(/, `${rel} has a dynamic import`);
  }
  assert.ok(seen.size > 10);
});

test.run();
