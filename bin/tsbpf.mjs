#!/usr/bin/env node
// The `tsbpf` command: the compiled CLI, in this process (no tsx, no second Node).
import { load } from './load.mjs';
await load('src/cli.js');
