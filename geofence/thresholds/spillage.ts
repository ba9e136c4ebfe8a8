import { z } from 'zod';
import { durationMs, speedKmh, tonnes } from './kinds.ts';

/** spillage's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  spillageSpeedKmh: speedKmh(5, 'SPILLAGE: loaded with the cover open faster than this (km/h)'),
  spillageMinMs: durationMs(30_000, 'SPILLAGE: for this long (ms)'),
  spillageWeightDropT: tonnes(
    0.5,
    'SPILLAGE: or, while moving, the weight down more than this (t) and not back within sensorConfirmMs',
  ),
});
