import { z } from 'zod';
import { durationMs, figure } from './kinds.ts';

/** offline's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  offlineFactor: figure(3, 'OFFLINE: the silence allowed is max(this x the report interval, offlineMinMs)'),
  offlineMinMs: durationMs(10 * 60_000, 'OFFLINE: and at least this long (ms)'),
});
