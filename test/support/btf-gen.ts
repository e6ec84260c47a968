/**
 * Random BTF type graphs for the round-trip and fuzz tests: every kind, references anywhere in
 * the graph (loops included: BTF allows a struct to point at itself, and the codec must not
 * care), from a seeded generator so a failure reproduces.
 */
import type { BtfType } from '../../src/btf/types.ts';

/** mulberry32: small, seeded, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomTypes(seed: number, n = 1 + Math.floor(rng(seed)() * 40)): BtfType[] {
  const r = rng(seed);
  const int = (max: number) => Math.floor(r() * max);
  const name = () => (r() < 0.3 ? '' : `n${int(50)}_${'abcdefgh'[int(8)]}${r() < 0.1 ? 'é' : ''}`);
  const ref = () => int(n + 1);
  const few = () => int(5);
  const out: BtfType[] = [];
  for (let i = 0; i < n; i++) {
    switch (int(19)) {
      case 0: out.push({ kind: 'INT', name: name(), size: [1, 2, 4, 8, 16][int(5)]!, encoding: [0, 1, 2, 4][int(4)]!, offset: int(8), bits: 1 + int(64) }); break;
      case 1: out.push({ kind: 'PTR', name: '', type: ref() }); break;
      case 2: out.push({ kind: 'ARRAY', name: '', type: ref(), indexType: ref(), nelems: int(1 << 20) }); break;
      case 3: case 4: {
        const kflag = r() < 0.5;
        out.push({ kind: r() < 0.5 ? 'STRUCT' : 'UNION', name: name(), size: int(4096), kflag,
          members: Array.from({ length: few() }, () => ({ name: name(), type: ref(), bitOffset: int(1 << 20), bitfieldSize: kflag ? int(64) : 0 })) });
        break;
      }
      case 5: {
        const signed = r() < 0.5;
        out.push({ kind: 'ENUM', name: name(), size: 4, signed, values: Array.from({ length: few() }, () => ({ name: name() || 'E', value: signed ? int(2 ** 32) - 2 ** 31 : int(2 ** 32) })) });
        break;
      }
      case 6: {
        const signed = r() < 0.5;
        out.push({ kind: 'ENUM64', name: name(), size: 8, signed, values: Array.from({ length: few() }, () => {
          const u = (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32));
          return { name: name() || 'E', value: signed ? BigInt.asIntN(64, u) : u };
        }) });
        break;
      }
      case 7: out.push({ kind: 'FWD', name: name() || 'f', union: r() < 0.5 }); break;
      case 8: out.push({ kind: 'TYPEDEF', name: name() || 't', type: ref() }); break;
      case 9: out.push({ kind: 'VOLATILE', name: '', type: ref() }); break;
      case 10: out.push({ kind: 'CONST', name: '', type: ref() }); break;
      case 11: out.push({ kind: 'RESTRICT', name: '', type: ref() }); break;
      case 12: out.push({ kind: 'FUNC', name: name() || 'fn', type: ref(), linkage: int(3) }); break;
      case 13: out.push({ kind: 'FUNC_PROTO', name: '', returnType: ref(), params: Array.from({ length: few() }, () => ({ name: name(), type: ref() })) }); break;
      case 14: out.push({ kind: 'VAR', name: name() || 'v', type: ref(), linkage: int(3) }); break;
      case 15: out.push({ kind: 'DATASEC', name: name() || '.data', size: int(1 << 16), vars: Array.from({ length: few() }, () => ({ type: ref(), offset: int(4096), size: int(64) })) }); break;
      case 16: out.push({ kind: 'FLOAT', name: name() || 'double', size: [2, 4, 8, 12, 16][int(5)]! }); break;
      case 17: out.push(r() < 0.2 ? { kind: 'DECL_TAG', name: name() || 'tag', type: ref(), componentIdx: int(5) - 1, kflag: true } : { kind: 'DECL_TAG', name: name() || 'tag', type: ref(), componentIdx: int(5) - 1 }); break;
      default: out.push({ kind: 'TYPE_TAG', name: name() || 'user', type: ref() }); break;
    }
  }
  return out;
}
