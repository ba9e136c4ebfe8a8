import { z } from 'zod';

/** The thresholds of rules/collection-visits.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  collectionStopSpeedKmh: z
    .number()
    .nonnegative()
    .default(5)
    .describe('MISSED/LATE_COLLECTION: a visit is a stop (at most this speed, km/h) at the point'),
  collectionLateGraceMs: z
    .number()
    .nonnegative()
    .default(60 * 60_000)
    .describe(
      'MISSED/LATE_COLLECTION: a first visit this long (ms) after the window is late; none is missed',
    ),
});
