import { z } from 'zod';
import { durationMs, speedKmh } from './kinds.ts';

/** offHours's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  offHoursSpeedKmh: speedKmh(5, 'OFF_HOURS, NO_PERMIT: a loaded truck faster than this (km/h) is moving'),
  offHoursMinMs: durationMs(60_000, 'OFF_HOURS: loaded and moving outside the permit windows this long (ms)'),
});
