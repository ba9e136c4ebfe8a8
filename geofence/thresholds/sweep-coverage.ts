import { z } from 'zod';

/** The thresholds of rules/sweep-coverage.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  sweepCoverageMin: z
    .number()
    .min(0)
    .max(1)
    .default(0.8)
    .describe('SWEEP_COVERAGE: the share of the planned road length to sweep in a shift (0..1)'),
  sweepLinkMaxMs: z
    .number()
    .nonnegative()
    .default(60_000)
    .describe('SWEEP_COVERAGE: two sweeping fixes this close in time (ms) sweep the road between them'),
});
