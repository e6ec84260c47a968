/**
 * What reading an object gives: the same ProgramSpec and MapSpec a DSL module builds, with the
 * extra facts an object file carries (where a map is pinned, what a global-data map holds at
 * load time, the section a program came from, its BTF line info). loadCollection takes these
 * as they are; a DSL program and a clang-built one meet here.
 */
import type { ProgramSpec } from '../asm/program.ts';
import type { MapSpec } from '../asm/map-spec.ts';
import type { FuncInfo, LineInfo } from './btf-ext.ts';

/** Which of the three ways of declaring maps a map came from. */
export type MapOrigin = 'btf' | 'bpf_elf_map' | 'bpf_map_def' | 'data';

/**
 * Where the object says a map is pinned, relative to the bpffs mount (/sys/fs/bpf):
 *   iproute2 PIN_GLOBAL_NS (2)  tc/globals/<name>       shared by every tc object
 *   iproute2 PIN_OBJECT_NS (1)  tc/<object sha1>/<name> shared by loads of this same object
 *   libbpf LIBBPF_PIN_BY_NAME   <name>                  under libbpf's pin root
 */
export interface ObjectPin {
  readonly kind: 'tc_global' | 'tc_object' | 'by_name';
  readonly path: string;
}

export interface ElfMapSpec extends MapSpec {
  readonly origin: MapOrigin;
  /** The section it is declared in ('maps', '.maps', '.data'…). */
  readonly section: string;
  /** The C symbol (the map name is it cut to 15 characters). */
  readonly symbol: string;
  /** The pin the object asks for (its `pinning` is then 'by_name'); maps without one follow the loader's pin directory. */
  readonly pin?: ObjectPin;
  /** Global data: the value of key 0 at load time (.data, .rodata; .bss starts zeroed). */
  readonly contents?: Uint8Array;
  /** .rodata: frozen after its contents are written (BPF_MAP_FREEZE), so the verifier trusts them. */
  readonly freeze?: boolean;
  readonly numaNode?: number;
  readonly mapExtra?: number;
  /** BTF ids of the key and value types in the object's .BTF (BTF-defined maps). */
  readonly btfKeyTypeId?: number;
  readonly btfValueTypeId?: number;
}

/** func_info and line_info for BPF_PROG_LOAD, with insn_off already in instruction slots of the linked program. */
export interface ProgramBtfInfo {
  readonly funcInfo: readonly FuncInfo[];
  readonly lineInfo: readonly LineInfo[];
}

/**
 * The object's own BTF for BPF_PROG_LOAD, in the kernel's record formats: prog_btf_fd is the
 * fd of `btf` after BPF_BTF_LOAD; func_info records are 8 bytes (insn_off, type_id) and
 * line_info records 16 (insn_off, file_name_off, line_off, line_col), insn_off in slots of the
 * linked program. The same shape as src/btf's ProgramBtf, so a loader can take either.
 */
export interface ObjectBtf {
  readonly btf: Uint8Array;
  readonly funcInfo: Uint8Array;
  readonly funcInfoCount: number;
  readonly lineInfo: Uint8Array;
  readonly lineInfoCount: number;
}

export interface ElfProgramSpec extends ProgramSpec {
  readonly section: string;
  /** The function symbol (the program name is it cut to 15 characters). */
  readonly symbol: string;
  /** What the section name says to attach to ('do_nanosleep', 'syscalls/sys_enter_getpid'…). */
  readonly attachTo?: string;
  /** Where the type came from: the section name, the caller's explicit type, or the caller's default for unknown names. */
  readonly typeSource: 'section' | 'explicit' | 'default';
  /** PROG_LOAD prog_flags the section name implies (sleepable, XDP frags). */
  readonly flags: number;
  /** Loading needs a BTF attach target id (fentry, lsm, tp_btf…), which tsbpf does not resolve yet. */
  readonly needsAttachBtf: boolean;
  /** The `version` section, for kprobes on kernels before 5.0. */
  readonly kernelVersion?: number;
  /** The functions linked in after the entry: .text subprograms it calls, each once. */
  readonly callees: readonly string[];
  readonly btfInfo?: ProgramBtfInfo;
  /** btfInfo encoded for the kernel, with the object's fixed-up .BTF. */
  readonly objectBtf?: ObjectBtf;
}

export interface ElfCollection {
  readonly maps: readonly ElfMapSpec[];
  readonly programs: readonly ElfProgramSpec[];
  readonly license: string;
  readonly kernelVersion?: number;
  /** .BTF with DATASEC sizes and offsets filled in, ready for BPF_BTF_LOAD. */
  readonly btf?: Uint8Array;
  /** sha1 of the file: iproute2's PIN_OBJECT_NS directory name. */
  readonly objectId: string;
  /** CO-RE relocations the target kernel could not satisfy: their instructions are poisoned. */
  readonly corePoisons?: readonly CorePoison[];
}

/** An instruction CO-RE poisoned (`call 0xbad2310`), and why: the verifier refuses it if it can run. */
export interface CorePoison {
  readonly section: string;
  /** Instruction slot within the section. */
  readonly insn: number;
  readonly reason: string;
}
