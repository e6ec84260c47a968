#!/usr/bin/env node
// bpf_conformance's plugin: `tsbpf conformance plugin` through tsx (see src/conformance/plugin.ts).
//   bpf_conformance_runner --test_file_path tests --plugin_path bin/tsbpf-conformance-plugin.mjs
// tsx is resolved from this package, not from the current directory: the suite's runner
// starts plugins from wherever it runs.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.ts');
const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), cli, 'conformance', 'plugin', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
