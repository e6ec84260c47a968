/**
 * tsbpf's command line: `npx tsx src/cli.ts <group> …`. Each group lives in src/cli/<group>.ts
 * and exports `run(argv)`; this file only dispatches, so groups load only what they use.
 */
import { readFileSync } from 'node:fs';
import { dispatch, main } from './command.ts';

const groups: Record<string, { about: string; load: () => Promise<{ run: (argv: string[]) => Promise<number | void> | number | void }> }> = {
  asm: { about: 'assemble text to raw instruction bytes', load: () => import('./cli/asm.ts') },
  disasm: { about: 'disassemble raw instruction bytes to text', load: () => import('./cli/disasm.ts') },
  prog: { about: 'list, show, dump and run loaded programs (like bpftool prog)', load: () => import('./cli/prog.ts') },
  map: { about: 'list, show, dump and update maps (like bpftool map)', load: () => import('./cli/map.ts') },
  conformance: { about: 'run eBPF ISA conformance vectors (bpf_conformance .data) through tsbpf and the kernel', load: () => import('./cli/conformance.ts') },
  explain: { about: 'load a DSL program with the verifier log and annotate every instruction', load: () => import('./cli/explain.ts') },
  xlated: { about: 'a program beside what the kernel runs after verification', load: () => import('./cli/xlated.ts') },
  btf: { about: 'list and dump BTF (files, ELF objects, programs\' and maps\' types) like bpftool btf', load: () => import('./cli/btf.ts') },
  elf: { about: 'sections, programs, maps and relocations of a BPF object file', load: () => import('./cli/elf.ts') },
  build: { about: 'a DSL module (.ts) to a BPF object file (.o)', load: () => import('./cli/build.ts') },
  xdp: { about: 'list, attach and detach XDP programs (as links or over netlink)', load: () => import('./cli/xdp.ts') },
  tc: { about: 'list, attach and detach tc programs (tcx links or cls_bpf filters)', load: () => import('./cli/tc.ts') },
  net: { about: 'XDP, tcx and cls_bpf attachments per device (like bpftool net)', load: () => import('./cli/net.ts') },
  link: { about: 'list, show, detach and pin BPF links (like bpftool link)', load: () => import('./cli/link.ts') },
  run: { about: 'run a program in the eBPF VM: no root, no kernel; --trace shows every step', load: () => import('./cli/run.ts') },
};

const usage = `usage: tsbpf <command> [args] [--help]   (tsbpf --version)

commands:
${Object.entries(groups).map(([k, g]) => `  ${k.padEnd(12)}${g.about}`).join('\n')}
`;

/** tsbpf's version, from the package.json above this file (src/ in a checkout, dist/src/ when built). */
function version(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (p.name === 'tsbpf' && p.version) return p.version;
    } catch { /* not there: look one level up */ }
  }
  return 'unknown';
}

await main((argv) => argv[0] === '--version' || argv[0] === '-V' ? void process.stdout.write(`tsbpf ${version()}\n`) : dispatch(argv, usage, Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, async (rest: string[]) => (await g.load()).run(rest)]))));
