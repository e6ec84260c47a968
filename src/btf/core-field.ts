/**
 * CO-RE for the DSL: a DSL program is built on the machine that loads it, so a kernel struct's
 * field can be looked up in the running kernel's BTF while the program is built, by name, the
 * way a CO-RE relocation would be resolved at load time:
 *
 *   b.ldField(r2, r1, coreField('sk_buff', 'len'))      // r2 = skb->len, at this kernel's offset
 *   b.ldField(r3, r1, coreField('task_struct', 'se.vruntime'))
 *
 * The path is member names separated by dots, found through anonymous structs and unions as
 * libbpf finds them; the field must be a 1, 2, 4 or 8-byte integer, enum or pointer (what one
 * load can read). A missing struct or field is a BtfError naming what this kernel has instead.
 */
import type { Field } from '../asm/headers.ts';
import type { Btf } from './decode.ts';
import { BtfError } from './errors.ts';
import { runningKernelBtf } from './kernel.ts';
import type { BtfType } from './types.ts';

const SIZES: Readonly<Record<number, Field['size']>> = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' };

function resolve(btf: Btf, id: number): BtfType | undefined {
  for (let d = 0; d < 32 && id !== 0; d++) {
    const t = btf.type(id);
    if (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG') { id = t.type; continue; }
    return t;
  }
  return undefined;
}

function member(btf: Btf, t: BtfType | undefined, name: string, depth = 0): { type: number; bitOffset: number; bitfieldSize: number } | null {
  if (depth > 32 || (t?.kind !== 'STRUCT' && t?.kind !== 'UNION')) return null;
  for (const m of t.members) {
    if (m.name === name) return m;
    if (!m.name) {
      const inner = member(btf, resolve(btf, m.type), name, depth + 1);
      if (inner) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    }
  }
  return null;
}

/** The offset and load size of a field of a kernel struct, in the running kernel (or `btf`). */
export function coreField(struct: string, path: string, btf: Btf = runningKernelBtf()): Field {
  const ids = btf.find(struct, 'STRUCT').concat(btf.find(struct, 'UNION'));
  if (!ids.length) throw new BtfError(`this kernel's BTF has no struct or union '${struct}'`);
  let t = resolve(btf, ids[0]!), bitOffset = 0, type = ids[0]!;
  for (const name of path.split('.')) {
    const m = member(btf, t, name);
    if (!m) {
      const have = t && (t.kind === 'STRUCT' || t.kind === 'UNION') ? t.members.map((x) => x.name || '(anon)').slice(0, 12).join(', ') : '';
      throw new BtfError(`${struct}.${path}: this kernel's ${t?.name || struct} has no member '${name}'${have ? ` (it has ${have}…)` : ''}`);
    }
    if (m.bitfieldSize) throw new BtfError(`${struct}.${path} is a ${m.bitfieldSize}-bit bitfield: one load cannot read it alone`);
    bitOffset += m.bitOffset;
    type = m.type;
    t = resolve(btf, m.type);
  }
  const size = t?.kind === 'PTR' ? 8 : t && 'size' in t && (t.kind === 'INT' || t.kind === 'ENUM' || t.kind === 'ENUM64') ? t.size : 0;
  const name = SIZES[size];
  if (!name) throw new BtfError(`${struct}.${path} is a ${t?.kind ?? 'void'}${size ? ` of ${size} bytes` : ''} (type [${type}]): not something one load reads`);
  return { off: bitOffset / 8, size: name };
}
