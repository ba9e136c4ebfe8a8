import { z } from 'zod';
import { durationMs } from './kinds.ts';

/** noPermit's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  noPermitMovingMinMs: durationMs(
    60_000,
    'NO_PERMIT: loaded movement (faster than offHoursSpeedKmh) with no permit in force this long (ms): revoked, or after the last window',
  ),
});
