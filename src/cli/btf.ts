/**
 * `tsbpf btf`: BTF objects, like `bpftool btf`. The raw dump prints bpftool's lines exactly, so
 * the two can be diffed.
 *
 *   list                  -> BTF_GET_NEXT_ID, BTF_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD per id
 *   dump file F           -> the file (raw BTF, or an ELF object's .BTF section)
 *   dump id N             -> BTF_GET_FD_BY_ID + OBJ_GET_INFO_BY_FD (bytes)
 *   dump prog N | map N   -> the program's or map's btf_id, then as `id`
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Btf, BtfError, decodeBtf, elfSections, formatC, formatJson, formatRawBytes, formatRawType, isElf, typeJson } from '../btf/index.ts';
import { btfById, btfIds, btfInfo, btfFdById, defaultSys, mapBtfIds, mapFdById, progBtfInfo, progFdById } from '../syscall/index.ts';
import { int, json, parse, splitCommand, table, UsageError } from '../command.ts';

const usage = `usage: tsbpf btf <command> [options]

commands:
  list                                   every BTF object the kernel holds
  dump file F                            a BTF file (/sys/kernel/btf/*, a raw blob, or an ELF object's .BTF)
  dump id N                              a loaded BTF object
  dump prog N                            a program's BTF
  dump map N [key|value|kv|all]          a map's key and value types (kv, the default), or all of its BTF

options:
  --format raw|c|json   raw: bpftool's raw lines (default); c: a header clang compiles; json
  --base FILE           the base BTF of a split (module) BTF file (default: /sys/kernel/btf/vmlinux
                        for /sys/kernel/btf/<module>)
  --json                the same as --format json
  -h, --help            show this help
`;

const options = { format: { type: 'string' }, base: { type: 'string' }, json: { type: 'boolean' } } as const;

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** The .BTF bytes of a file: itself, or its .BTF section when it is an ELF object. */
export function btfBytesOfFile(file: string): Uint8Array {
  const bytes = new Uint8Array(readFileSync(file));
  if (!isElf(bytes)) return bytes;
  const sec = elfSections(bytes).get('.BTF');
  if (!sec) throw new Error(`${file} is an ELF object without a .BTF section: compile with clang -g`);
  return sec;
}

let vmlinux: Btf | undefined;
const base = (): Btf => (vmlinux ??= decodeBtf(new Uint8Array(readFileSync(VMLINUX))));

function fromId(id: number): Btf {
  const info = btfById(id);
  // Module BTF is split: it continues vmlinux's ids and strings.
  return decodeBtf(info.bytes, info.kernelBtf && info.name !== 'vmlinux' ? { base: base() } : {});
}

function print(btf: Btf, format: string, roots?: readonly number[]): void {
  if (format === 'raw') {
    if (!roots) { process.stdout.write(formatRawBytes(btf)); return; }
    for (const id of roots) process.stdout.write(formatRawType(btf, id) + '\n');
  } else if (format === 'json') {
    process.stdout.write(json(roots ? { types: roots.map((id) => typeJson(id, btf.type(id))) } : formatJson(btf)));
  } else if (format === 'c') {
    process.stdout.write(formatC(btf));
  } else {
    throw new UsageError(`--format must be raw, c or json, got '${format}'`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const c = splitCommand(argv, usage);
  if (typeof c === 'number') return c;
  const p = parse(c.rest, options, usage);
  if (!p) return 0;
  const { values: v, positionals } = p;
  const format = v.json ? 'json' : v.format ?? 'raw';
  switch (c.cmd) {
    case 'list': case 'show': {
      const rows = btfIds().map((id) => {
        let fd: number;
        try { fd = btfFdById(id); } catch { return null; }
        try { const i = btfInfo(fd); return { id, name: i.name || '-', size: i.size, kernel: i.kernelBtf }; } finally { defaultSys.close(fd); }
      }).filter((r) => r !== null);
      process.stdout.write(format === 'json' ? json(rows) : table(rows, ['id', 'name', 'size', 'kernel']));
      return 0;
    }
    case 'dump': {
      const [what, arg, sel] = positionals;
      if (!what || !arg) throw new UsageError(`btf dump needs what to dump: file F, id N, prog N or map N\n\n${usage}`);
      switch (what) {
        case 'file': {
          const isModule = path.dirname(path.resolve(arg)) === '/sys/kernel/btf' && path.basename(arg) !== 'vmlinux';
          const baseFile = v.base ?? (isModule ? VMLINUX : undefined);
          const decodeFile = (f: string, opts: { base?: Btf } = {}): Btf => {
            try { return decodeBtf(btfBytesOfFile(f), opts); } catch (e) {
              if (!(e instanceof BtfError)) throw e;
              throw new Error(`${f}: ${e.message}\n(btf dump file takes /sys/kernel/btf/*, a raw .BTF blob, or an ELF object built with clang -g)`);
            }
          };
          const b = baseFile ? decodeFile(baseFile) : undefined;
          print(decodeFile(arg, b ? { base: b } : {}), format);
          return 0;
        }
        case 'id':
          print(fromId(int(arg, 'BTF id')), format);
          return 0;
        case 'prog': {
          const fd = progFdById(int(arg, 'program id'));
          let id: number;
          try { id = progBtfInfo(fd).btfId; } finally { defaultSys.close(fd); }
          if (!id) throw new Error(`program ${arg} was loaded without BTF`);
          print(fromId(id), format);
          return 0;
        }
        case 'map': {
          const fd = mapFdById(int(arg, 'map id'));
          let ids: ReturnType<typeof mapBtfIds>;
          try { ids = mapBtfIds(fd); } finally { defaultSys.close(fd); }
          if (!ids.btfId) throw new Error(`map ${arg} was created without BTF`);
          const pick = sel ?? 'kv';
          const roots = pick === 'all' ? undefined
            : pick === 'key' ? [ids.keyTypeId] : pick === 'value' ? [ids.valueTypeId]
            : pick === 'kv' ? [ids.keyTypeId, ids.valueTypeId] : null;
          if (roots === null) throw new UsageError(`map ${arg}: choose key, value, kv or all, not '${pick}'`);
          print(fromId(ids.btfId), format, roots?.filter((r) => r !== 0));
          return 0;
        }
        default:
          throw new UsageError(`btf dump: '${what}' is not file, id, prog or map\n\n${usage}`);
      }
    }
    default:
      throw new UsageError(`unknown btf command '${c.cmd}'\n\n${usage}`);
  }
}
