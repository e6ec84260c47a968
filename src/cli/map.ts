/**
 * `tsbpf map`: maps, like `bpftool map`. JSON field names are bpftool's (id, type, name, flags,
 * bytes_key, bytes_value, max_entries, key, value, formatted), so scripts can switch.
 *
 *   list                          -> MAP_GET_NEXT_ID, MAP_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD per id
 *   show <id|path>                -> the same for one map (a path is OBJ_GET)
 *   dump <id|path>                -> MAP_LOOKUP_BATCH (GET_NEXT_KEY + LOOKUP_ELEM where batching is unsupported)
 *   update <id|path> --key K --value V [--flags any|noexist|exist] -> MAP_UPDATE_ELEM
 *
 * A map created with BTF (typed keys and values) dumps field by field, as bpftool's "formatted"
 * output does. Otherwise keys and values print as numbers when they are 4 or 8 bytes, else as hex bytes; --key and
 * --value take a number (decimal or 0x…) for such sizes, or hex bytes ("01 02 03" / hex:010203).
 */
import {
  BPF_ANY, BPF_EXIST, BPF_F_RDONLY, BPF_NOEXIST, BpfError, BpfMap, bytes as bytesCodec, defaultSys, fdInfo, listMaps,
  mapFdById, mapInfo, openPinnedAs, specFromInfo, type MapInfo,
} from '../syscall/index.ts';
import { json, parse, splitCommand, table, UsageError } from '../command.ts';
import { objectArg } from './args.ts';
import { decodeBtf, formatValue, type Formatted } from '../btf/index.ts';
import { btfById, mapBtfIds } from '../syscall/btf.ts';

const usage = `usage: tsbpf map <command> [options]

commands:
  list                                   every map
  show <id|pinned path>                  one map
  dump <id|pinned path>                  every entry
  update <id|pinned path> --key K --value V [--flags any|noexist|exist]
                                         set one entry

A map is named by its id, by 'id N', or by a bpffs path ('pinned PATH' or any path).
K and V: a number (decimal or 0x...) for 1/2/4/8-byte keys and values, or hex bytes
('01 02 03 04' or hex:01020304) for any size.

options:
  --json         print JSON (bpftool's field names)
  -h, --help     show this help
`;

const options = {
  json: { type: 'boolean' },
  key: { type: 'string' },
  value: { type: 'string' },
  flags: { type: 'string' },
} as const;

type RawMap = BpfMap<Uint8Array, Uint8Array>;

/** Open the map a command names, with raw byte codecs: `5`, `id 5`, `pinned PATH` or `PATH`. */
export function openMapArg(args: readonly string[], opts: { readonly?: boolean } = {}): RawMap {
  // Raw byte codecs sized from what the kernel says the map is.
  const adopt = (fd: number): RawMap => {
    try {
      const spec = specFromInfo(mapInfo(fd));
      return new BpfMap(fd, spec, { key: bytesCodec(spec.keySize), value: bytesCodec(spec.valueSize), readonly: opts.readonly });
    } catch (e) {
      defaultSys.close(fd);
      throw e;
    }
  };
  const byId = (id: number): RawMap => adopt(mapFdById(id, opts.readonly ? BPF_F_RDONLY : 0));
  const byPath = (path: string): RawMap => adopt(openPinnedAs(path, 'map', { readonly: opts.readonly }));
  const o = objectArg(args, 'map', usage);
  return 'id' in o ? byId(o.id) : byPath(o.path);
}

/** One map as bpftool --json prints it. */
export function mapJson(i: MapInfo, fdinfo?: Readonly<Record<string, string>>): Record<string, unknown> {
  return {
    id: i.id, type: i.type, name: i.name, flags: i.flags, bytes_key: i.keySize, bytes_value: i.valueSize,
    max_entries: i.maxEntries,
    ...(fdinfo?.memlock !== undefined ? { bytes_memlock: Number(fdinfo.memlock) } : {}),
    ...(fdinfo?.frozen !== undefined ? { frozen: Number(fdinfo.frozen) } : {}),
  };
}

/** A number for 1/2/4/8-byte fields (little-endian, as the kernel stores them), else null. */
export function asNumber(b: Uint8Array): number | bigint | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (b.length) {
    case 1: return v.getUint8(0);
    case 2: return v.getUint16(0, true);
    case 4: return v.getUint32(0, true);
    case 8: return v.getBigUint64(0, true);
    default: return null;
  }
}

const hexList = (b: Uint8Array): string[] => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`);
const hexText = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const shown = (b: Uint8Array): string => {
  const n = asNumber(b);
  return n === null || b.length < 4 ? hexText(b) : String(n);
};

/** Parse a --key / --value argument into exactly `size` bytes. */
export function parseBytes(text: string, size: number, what: string): Uint8Array {
  const out = new Uint8Array(size);
  const t = text.trim();
  if (/^hex:/i.test(t) || /\s/.test(t)) {
    const digits = t.replace(/^hex:/i, '').replace(/0x/gi, '').replace(/[\s,]+/g, ' ').trim();
    const parts = /\s/.test(digits) ? digits.split(' ') : digits.match(/../g) ?? [];
    if (parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p))) throw new UsageError(`${what}: '${text}' is not hex bytes`);
    if (parts.length !== size) throw new UsageError(`${what}: ${parts.length} bytes given, the map's ${what.replace('--', '')}s are ${size} bytes`);
    parts.forEach((p, i) => { out[i] = parseInt(p, 16); });
    return out;
  }
  let n: bigint;
  try { n = BigInt(t); } catch { throw new UsageError(`${what}: '${text}' is neither a number nor hex bytes ('01 02' or hex:0102)`); }
  if (![1, 2, 4, 8].includes(size)) throw new UsageError(`${what}: the map's ${what.replace('--', '')}s are ${size} bytes: give hex bytes`);
  if (n < 0n || n >= 1n << BigInt(size * 8)) throw new UsageError(`${what}: ${text} does not fit in ${size} bytes`);
  const v = new DataView(out.buffer);
  if (size === 8) v.setBigUint64(0, n, true);
  else if (size === 4) v.setUint32(0, Number(n), true);
  else if (size === 2) v.setUint16(0, Number(n), true);
  else v.setUint8(0, Number(n));
  return out;
}

/** Key and value readers from the map's BTF, when it was created with one (bpftool's "formatted"). */
export function btfFormatter(fd: number): { key: (b: Uint8Array) => Formatted; value: (b: Uint8Array) => Formatted } | null {
  const ids = mapBtfIds(fd);
  if (!ids.btfId || !ids.valueTypeId) return null;
  const btf = decodeBtf(btfById(ids.btfId).bytes);
  return {
    key: (b) => (ids.keyTypeId ? formatValue(btf, ids.keyTypeId, b) : hexList(b)),
    value: (b) => formatValue(btf, ids.valueTypeId, b),
  };
}

/** A formatted value as one line: JSON with field names, bigints as numbers. */
function line(v: Formatted): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(line).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${line(x)}`).join(', ')}}`;
  return JSON.stringify(v);
}

/** Every entry: batch when the kernel supports it for this map, else key by key. */
function entries(m: RawMap): [Uint8Array, Uint8Array][] {
  try {
    return m.batchRead();
  } catch (e) {
    if (!(e instanceof BpfError) || !['EINVAL', 'ENOTSUPP', 'EOPNOTSUPP'].includes(e.code)) throw e;
    return [...m.entries()];
  }
}

const FLAGS: Readonly<Record<string, number>> = { any: BPF_ANY, noexist: BPF_NOEXIST, exist: BPF_EXIST };

export async function run(argv: string[]): Promise<number> {
  const c = splitCommand(argv, usage);
  if (typeof c === 'number') return c;
  const { cmd, rest } = c;
  const p = parse(rest, options, usage);
  if (!p) return 0;
  const { values: v, positionals } = p;
  switch (cmd) {
    case 'list':
    case 'show': {
      if (cmd === 'list' || positionals.length === 0) {
        const all = listMaps();
        process.stdout.write(v.json ? json(all.map((i) => mapJson(i)))
          : table(all.map((i) => ({ id: i.id, type: i.type, name: i.name || '-', key: `${i.keySize}B`, value: `${i.valueSize}B`, max_entries: i.maxEntries, flags: `0x${i.flags.toString(16)}` })),
            ['id', 'type', 'name', 'key', 'value', 'max_entries', 'flags']));
        return 0;
      }
      using m = openMapArg(positionals, { readonly: true });
      const i = m.info();
      process.stdout.write(v.json ? json(mapJson(i, fdInfo(m.fd)))
        : `${i.id}: ${i.type}  name ${i.name || '-'}  flags 0x${i.flags.toString(16)}\n\tkey ${i.keySize}B  value ${i.valueSize}B  max_entries ${i.maxEntries}\n`);
      return 0;
    }
    case 'dump': {
      using m = openMapArg(positionals, { readonly: true });
      const typed = btfFormatter(m.fd);
      if (m.perCpu) {
        // One value per possible CPU; bpftool prints them as "values": [{cpu, value}].
        const all = [...m.keys()].map((k) => [k, m.getPerCpu(k) ?? []] as const);
        if (v.json) {
          process.stdout.write(json(all.map(([k, vals]) => ({
            key: hexList(k), values: vals.map((val, cpu) => ({ cpu, value: hexList(val) })),
            ...(typed ? { formatted: { key: typed.key(k), values: vals.map((val, cpu) => ({ cpu, value: typed.value(val) })) } } : {}),
          }))));
        } else {
          for (const [k, vals] of all) process.stdout.write(`key: ${typed ? line(typed.key(k)) : shown(k)}
${vals.map((val, cpu) => `	value (CPU ${String(cpu).padStart(2, '0')}): ${typed ? line(typed.value(val)) : shown(val)}\n`).join('')}`);
          process.stdout.write(`Found ${all.length} element${all.length === 1 ? '' : 's'}\n`);
        }
        return 0;
      }
      const all = entries(m);
      if (v.json) {
        process.stdout.write(json(all.map(([k, val]) => {
          const nk = asNumber(k), nv = asNumber(val);
          // bpftool prints key/value as hex byte lists, and "formatted" when it can type them (BTF).
          const formatted = typed ? { formatted: { key: typed.key(k), value: typed.value(val) } }
            : nk !== null && nv !== null && k.length >= 4 && val.length >= 4 ? { formatted: { key: nk, value: nv } } : {};
          return { key: hexList(k), value: hexList(val), ...formatted };
        })));
      } else {
        for (const [k, val] of all) process.stdout.write(typed ? `key: ${line(typed.key(k))}  value: ${line(typed.value(val))}\n` : `key: ${shown(k)}  value: ${shown(val)}\n`);
        process.stdout.write(`Found ${all.length} element${all.length === 1 ? '' : 's'}\n`);
      }
      return 0;
    }
    case 'update': {
      if (v.key === undefined || v.value === undefined) throw new UsageError(`map update needs --key and --value\n\n${usage}`);
      const flags = FLAGS[(v.flags ?? 'any').toLowerCase()];
      if (flags === undefined) throw new UsageError(`--flags must be any, noexist or exist, got '${v.flags}'`);
      using m = openMapArg(positionals);
      m.set(parseBytes(v.key, m.keySize, '--key'), parseBytes(v.value, m.valueSize, '--value'), flags);
      if (v.json) process.stdout.write(json({ id: m.info().id, updated: true }));
      return 0;
    }
    default:
      throw new UsageError(`unknown map command '${cmd}'\n\n${usage}`);
  }
}
