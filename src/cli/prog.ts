/**
 * `tsbpf prog`: loaded programs, like `bpftool prog`. JSON field names are bpftool's (id, type,
 * name, tag, bytes_xlated, bytes_jited, map_ids, retval, duration), so scripts can switch.
 *
 *   list                        -> PROG_GET_NEXT_ID, PROG_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD per id
 *   show <id|path>              -> the same for one program (a path is OBJ_GET)
 *   dump <id|path> [--xlated]   -> OBJ_GET_INFO_BY_FD with xlated_prog_insns, through our disassembler
 *   run <id|path> --data FILE|FRAME -> PROG_TEST_RUN (data_in, repeat), printing retval and duration;
 *                               FRAME is a description built by src/frame (udp:dport=5001)
 */
import { writeFileSync } from 'node:fs';
import { FRAME_SPEC_HELP, describeFrame } from '../frame/index.ts';
import {
  fdInfo, listInstructions, listPrograms, loadedAt, openPinnedProgram, openProgramById, progInfo, rawInstructions,
  type Program, type ProgInfo,
} from '../syscall/index.ts';
import { formatInstruction } from '../asm/disasm.ts';
import { int, json, parse, splitCommand, table, UsageError } from '../command.ts';
import { objectArg, packetArg } from './args.ts';

const usage = `usage: tsbpf prog <command> [options]

commands:
  list                              every loaded program
  show <id|pinned path>             one program
  dump <id|pinned path> [--xlated]  the instructions the kernel runs, disassembled
       [--jited]                    the JIT's machine code as hex
  run <id|pinned path> --data FILE|FRAME [--repeat N] [--data-out FILE]
                                    BPF_PROG_TEST_RUN on a packet: retval and duration
  load OBJ PATH [--type T] [--section S] [--pinmaps DIR]
                                    load a program from an object file and pin it at PATH
  loadall OBJ DIR [--type T] [--pinmaps DIR]
                                    load every program of an object, pinned as DIR/<name>

A program is named by its id, by 'id N', or by a bpffs path ('pinned PATH' or any path).

--data takes a file holding the packet's bytes, or
${FRAME_SPEC_HELP}
  e.g. tsbpf prog run 12 --data udp:dport=5001,payload=hello --repeat 1000

options:
  --json         print JSON (bpftool's field names)
  -h, --help     show this help
`;

const options = {
  json: { type: 'boolean' },
  xlated: { type: 'boolean' },
  jited: { type: 'boolean' },
  data: { type: 'string' },
  'data-out': { type: 'string' },
  repeat: { type: 'string' },
} as const;

/** Open the program a command names: `5`, `id 5`, `pinned /sys/fs/bpf/p` or `/sys/fs/bpf/p`. */
export function openProgramArg(args: readonly string[]): Program {
  const o = objectArg(args, 'program', usage);
  return 'id' in o ? openProgramById(o.id) : openPinnedProgram(o.path);
}

/** One program as bpftool --json prints it (the fields both know). */
export function progJson(i: ProgInfo, memlock?: string): Record<string, unknown> {
  return {
    id: i.id, type: i.type, name: i.name, tag: i.tag, gpl_compatible: i.gplCompatible,
    loaded_at: loadedAt(i.loadTime), uid: i.createdByUid,
    ...(i.runCnt || i.runTimeNs ? { run_time_ns: i.runTimeNs, run_cnt: i.runCnt } : {}),
    bytes_xlated: i.xlatedLen, jited: i.jitedLen > 0, bytes_jited: i.jitedLen,
    ...(memlock !== undefined ? { bytes_memlock: Number(memlock) } : {}),
    ...(i.mapIds.length ? { map_ids: i.mapIds } : {}),
    verified_insns: i.verifiedInsns,
  };
}

const row = (i: ProgInfo) => ({ id: i.id, type: i.type, name: i.name || '-', tag: i.tag, xlated: `${i.xlatedLen}B`, jited: `${i.jitedLen}B`, maps: i.mapIds.join(',') || '-' });
const COLUMNS = ['id', 'type', 'name', 'tag', 'xlated', 'jited', 'maps'] as const;

function showText(i: ProgInfo): string {
  const lines = [`${i.id}: ${i.type}  name ${i.name || '-'}  tag ${i.tag}${i.gplCompatible ? '  gpl' : ''}`,
    `\tloaded_at ${new Date(loadedAt(i.loadTime) * 1000).toISOString()}  uid ${i.createdByUid}`,
    `\txlated ${i.xlatedLen}B  jited ${i.jitedLen}B${i.mapIds.length ? `  map_ids ${i.mapIds.join(',')}` : ''}`];
  if (i.runCnt) lines.push(`\trun_time_ns ${i.runTimeNs}  run_cnt ${i.runCnt}`);
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const c = splitCommand(argv, usage);
  if (typeof c === 'number') return c;
  const { cmd, rest } = c;
  if (cmd === 'load' || cmd === 'loadall') return (await import('./elf.ts')).runProgLoad(cmd, rest);
  const p = parse(rest, options, usage);
  if (!p) return 0;
  const { values: v, positionals } = p;
  switch (cmd) {
    case 'list':
    case 'show': {
      if (cmd === 'list' || positionals.length === 0) {
        const all = listPrograms();
        process.stdout.write(v.json ? json(all.map((i) => progJson(i))) : table(all.map(row), COLUMNS));
        return 0;
      }
      using prog = openProgramArg(positionals);
      const i = prog.info();
      process.stdout.write(v.json ? json(progJson(i, fdInfo(prog.fd).memlock)) : showText(i));
      return 0;
    }
    case 'dump': {
      using prog = openProgramArg(positionals);
      if (v.jited) {
        const code = prog.jited();
        const hex = Array.from(code, (b) => b.toString(16).padStart(2, '0'));
        process.stdout.write(v.json ? json({ id: prog.info().id, bytes_jited: code.length, opcodes: hex })
          : hex.join(' ').replace(/((?:\S+ ){16})/g, '$1\n').trim() + '\n');
        return 0;
      }
      const info = progInfo(prog.fd, { xlated: true });
      if (!info.xlated) throw new Error(`the kernel returned no instructions for program ${info.id} (needs root)`);
      const insns = rawInstructions(info.xlated);
      if (v.json) {
        process.stdout.write(json(insns.map((i) => {
          let text: string;
          try { text = formatInstruction(i, { mapIds: true }); } catch { text = `.raw op 0x${i.op.toString(16)}`; }
          return { disasm: text };
        })));
      } else {
        process.stdout.write(listInstructions(insns, { mapIds: true }));
      }
      return 0;
    }
    case 'run': {
      if (!v.data) throw new UsageError(`prog run needs --data FILE or a frame like udp:dport=5001 (the packet)\n\n${usage}`);
      const data = packetArg(v.data);
      using prog = openProgramArg(positionals);
      const r = prog.testRun({ data, repeat: int(v.repeat, '--repeat', 1) });
      if (v['data-out']) writeFileSync(v['data-out'], r.data);
      process.stdout.write(v.json ? json({ retval: r.retval, duration: r.duration, data_size_out: r.data.length })
        : `Return value: ${r.retval}, duration${(int(v.repeat, '--repeat', 1) > 1) ? ' (average)' : ''}: ${r.duration}ns\n`
          + `Packet: ${describeFrame(data)} (${data.length} bytes)\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown prog command '${cmd}'\n\n${usage}`);
  }
}
