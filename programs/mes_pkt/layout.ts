/**
 * The tutorial's constants and map layouts (the Japanese tutorial "bpfプログラムの作成と実行(1)(tc)", mes_pkt.c): its port, its slots and
 * its three pinned arrays. The programs (probe.ts) and the readers (show.ts) share them; this
 * module imports nothing, so show reads the tutorial's maps without loading the DSL.
 */

/** The UDP destination port the tutorial measures. */
export const MES_PORT = 5001;

/** MES_DATA_SIZE in the tutorial: how many timestamps each map holds. */
export const MES_SLOTS = 512;
/** Index of each entry's next free slot in map_mes_cnt. */
export const CNT_START = 0;
export const CNT_END = 1;

/** A map as the tutorial's `struct bpf_elf_map` declares it (tc's PIN_TC_GLOBAL pinning). */
export interface ProbeMapSpec {
  readonly name: string;
  readonly type: 'array';
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

/** Same names and layouts as the tutorial, so a reader written for it works against ours. */
export const maps = {
  start: { name: 'map_mes_start', type: 'array', keySize: 4, valueSize: 8, maxEntries: MES_SLOTS },
  end: { name: 'map_mes_end', type: 'array', keySize: 4, valueSize: 8, maxEntries: MES_SLOTS },
  cnt: { name: 'map_mes_cnt', type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 },
} as const satisfies Record<string, ProbeMapSpec>;
