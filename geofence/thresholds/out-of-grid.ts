import { z } from 'zod';

/** The thresholds of rules/out-of-grid.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  outOfGridMinMs: z
    .number()
    .nonnegative()
    .default(3 * 60_000)
    .describe('OUT_OF_GRID: clearly outside the grid on duty this long (ms)'),
  outOfGridMinFixes: z
    .number()
    .int()
    .positive()
    .default(3)
    .describe('OUT_OF_GRID: and for at least this many consecutive fixes'),
  outOfGridEndInsideMs: z
    .number()
    .nonnegative()
    .default(30_000)
    .describe('OUT_OF_GRID: ends after back inside this long (ms)'),
});
