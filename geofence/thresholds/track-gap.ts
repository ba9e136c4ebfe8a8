import { z } from 'zod';
import { durationMs, speedKmh } from './kinds.ts';

/** trackGap's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  trackGapMs: durationMs(
    5 * 60_000,
    'TRACK_GAP: two consecutive fixes further apart than this (ms) while moving',
  ),
  trackGapSpeedKmh: speedKmh(150, 'TRACK_GAP: or implying more than this speed (km/h)'),
});
