import { z } from 'zod';
import { lowReadingRule } from './low-reading.ts';

/** LOW_BATTERY (电量不足): a body camera on duty under `lowBatteryPct` (rules/low-reading.ts). */

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

export const lowBattery = { ...lowReadingRule('LOW_BATTERY', 'battery', 'lowBatteryPct'), thresholds };
