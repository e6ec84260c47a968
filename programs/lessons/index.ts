/** Every lesson, in teaching order: packet bounds, maps, registers and stack, context, control flow, helpers. */
import type { Lesson } from './lesson.ts';
import { lesson as noBoundsCheck } from './no-bounds-check.ts';
import { lesson as shortBoundsCheck } from './short-bounds-check.ts';
import { lesson as missingNullCheck } from './missing-null-check.ts';
import { lesson as uninitRegister } from './uninit-register.ts';
import { lesson as uninitStack } from './uninit-stack.ts';
import { lesson as stackOutOfBounds } from './stack-out-of-bounds.ts';
import { lesson as r0NotSet } from './r0-not-set.ts';
import { lesson as writeCtxData } from './write-ctx-data.ts';
import { lesson as unboundedLoop } from './unbounded-loop.ts';
import { lesson as helperNotAllowed } from './helper-not-allowed.ts';
import { lesson as gplOnlyHelper } from './gpl-only-helper.ts';
import { lesson as pktEndArithmetic } from './pkt-end-arithmetic.ts';
import { lesson as jumpIntoLdImm64 } from './jump-into-ldimm64.ts';

export const lessons: readonly Lesson[] = [
  noBoundsCheck, shortBoundsCheck, missingNullCheck, uninitRegister, uninitStack, stackOutOfBounds, r0NotSet,
  writeCtxData, unboundedLoop, helperNotAllowed, gplOnlyHelper, pktEndArithmetic, jumpIntoLdImm64,
];

export type { Lesson, LessonResult } from './lesson.ts';
export { runLesson } from './lesson.ts';
