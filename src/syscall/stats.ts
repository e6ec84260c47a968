/**
 * Run-time statistics (bpf_prog_info.run_time_ns / run_cnt) cost a little on every program run,
 * so the kernel keeps them off until asked. BPF_ENABLE_STATS (5.8) turns them on for as long as
 * the returned fd is open; older kernels only have the global sysctl kernel.bpf_stats_enabled,
 * which we set and restore.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { enableStats as enableStatsCmd } from './bpf.ts';
import { BPF_STATS_RUN_TIME } from './constants.ts';
import { BpfError } from './errors.ts';
import { defaultSys, type Sys } from './sys.ts';
import { Errno } from '../errno.ts';

const SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';
const { EINVAL } = Errno;

export interface StatsHandle extends Disposable {
  /** 'fd' (BPF_ENABLE_STATS) or 'sysctl'. */
  readonly via: 'fd' | 'sysctl';
  close(): void;
}

/** Turn on run_time_ns / run_cnt accounting until the handle is closed. */
export function enableStats(sys: Sys = defaultSys): StatsHandle {
  let fd: number | undefined;
  try {
    fd = enableStatsCmd(sys, BPF_STATS_RUN_TIME);
  } catch (e) {
    if (!(e instanceof BpfError && e.errno === EINVAL)) throw e;
  }
  if (fd !== undefined) {
    let open = true;
    const h: StatsHandle = {
      via: 'fd',
      close() { if (open) { open = false; sys.close(fd!); } },
      [Symbol.dispose]() { h.close(); },
    };
    return h;
  }
  const before = readFileSync(SYSCTL, 'utf8').trim();
  writeFileSync(SYSCTL, '1');
  let open = true;
  const h: StatsHandle = {
    via: 'sysctl',
    close() { if (open) { open = false; writeFileSync(SYSCTL, before); } },
    [Symbol.dispose]() { h.close(); },
  };
  return h;
}
