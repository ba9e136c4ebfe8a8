import { z } from 'zod';

/** The thresholds of rules/low-battery.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  lowBatteryPct: z
    .number()
    .min(0)
    .max(100)
    .default(20)
    .describe('LOW_BATTERY: a camera on duty under this battery level (%)'),
  lowReadingMinMs: z
    .number()
    .nonnegative()
    .default(60_000)
    .describe('LOW_BATTERY, LOW_STORAGE: the low reading persisted this long (ms) over two fixes'),
});
