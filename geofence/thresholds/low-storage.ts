import { z } from 'zod';

/** The thresholds of rules/low-storage.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  lowStorageMB: z
    .number()
    .nonnegative()
    .default(1024)
    .describe('LOW_STORAGE: a camera on duty with less free storage than this (MB)'),
});
