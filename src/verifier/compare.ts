/**
 * The kernel half of `xlated`: load a program (creating the maps it names), read back what
 * the kernel runs and align it with the original (xlated.ts).
 */
import type { ProgramSpec } from '../asm/program.ts';
import { loadProgram } from '../syscall/index.ts';
import { kernelCallNamer } from './kallsyms.ts';
import { withMapsFor } from './maps.ts';
import { sideBySide, type SideBySide } from './xlated.ts';

/** Load `spec`, fetch its xlated instructions, and pair them with the original's. */
export async function compareXlated(spec: ProgramSpec): Promise<SideBySide> {
  return withMapsFor(spec, (maps) => {
    const p = loadProgram(spec, { maps });
    try {
      return sideBySide(spec.name, spec.insns, p.xlated(), { labels: spec.labels, callName: kernelCallNamer(), programType: spec.type });
    } finally {
      p.close();
    }
  });
}
