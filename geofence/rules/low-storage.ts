import { z } from 'zod';
import { lowReadingRule } from './low-reading.ts';

/** LOW_STORAGE (存储不足): a body camera on duty with less free storage than `lowStorageMB` (rules/low-reading.ts). */

export const thresholds = z.object({
  lowStorageMB: z
    .number()
    .nonnegative()
    .default(1024)
    .describe('LOW_STORAGE: a camera on duty with less free storage than this (MB)'),
});

export const lowStorage = { ...lowReadingRule('LOW_STORAGE', 'storageFree', 'lowStorageMB'), thresholds };
