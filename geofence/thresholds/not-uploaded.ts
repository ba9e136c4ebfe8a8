import { z } from 'zod';

/** The thresholds of rules/not-uploaded.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  uploadMaxMs: z
    .number()
    .positive()
    .default(24 * 3_600_000)
    .describe('NOT_UPLOADED: footage must be docked at an upload station within this time of recording (ms)'),
});
