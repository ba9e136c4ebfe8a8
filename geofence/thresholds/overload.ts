import { z } from 'zod';
import { durationMs } from './kinds.ts';

/** overload's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  overloadMinMs: durationMs(60_000, 'OVERLOAD: the weight over the rated load this long (ms)'),
});
