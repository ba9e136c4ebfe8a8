import { z } from 'zod';

/** The thresholds of rules/out-of-area.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  outOfAreaMinMs: z
    .number()
    .nonnegative()
    .default(60_000)
    .describe('OUT_OF_AREA: working clearly outside the plan this long (ms)'),
  outOfAreaMinFixes: z
    .number()
    .int()
    .positive()
    .default(3)
    .describe('OUT_OF_AREA: and for at least this many consecutive fixes'),
  outOfAreaEndInsideMs: z
    .number()
    .nonnegative()
    .default(30_000)
    .describe('OUT_OF_AREA: ends after back on the plan this long (ms)'),
});
