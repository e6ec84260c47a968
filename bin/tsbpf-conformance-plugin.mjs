#!/usr/bin/env node
// bpf_conformance's plugin protocol, served by `tsbpf conformance plugin` (src/conformance/plugin.ts):
//   bpf_conformance_runner --test_file_path tests --plugin_path bin/tsbpf-conformance-plugin.mjs
import { load } from './load.mjs';
process.argv.splice(2, 0, 'conformance', 'plugin');
await load('src/cli.js');
