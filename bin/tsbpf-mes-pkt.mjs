#!/usr/bin/env node
// `tsbpf-mes-pkt`: the tutorial's latency probe (programs/mes_pkt.ts), compiled.
import { load } from './load.mjs';
const [{ run }, { main }] = await Promise.all([load('programs/mes_pkt.js'), load('src/command.js')]);
await main(run);
