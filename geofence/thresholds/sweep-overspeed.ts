import { z } from 'zod';

/** The thresholds of rules/sweep-overspeed.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  sweepSpeedLimitKmh: z
    .number()
    .positive()
    .default(15)
    .describe('SWEEP_OVERSPEED: the working speed limit while sweeping, km/h'),
  sweepOverspeedMinMs: z
    .number()
    .nonnegative()
    .default(30_000)
    .describe('SWEEP_OVERSPEED: sweeping over the limit this long (ms) is a violation'),
});
