import { z } from 'zod';
import { dailyWindows, durationMs, figures, speedLimitsByKind } from './kinds.ts';

/** overspeed's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  overspeedMinMs: durationMs(10_000, 'OVERSPEED: over the lowest limit that applies this long (ms)'),
  overspeedGrades: figures([0.2, 0.5], 'OVERSPEED: grades, as the fraction over the limit'),
  overspeedEscalationMs: figures(
    [5 * 60_000, 10 * 60_000],
    'OVERSPEED: the level rises after this long over (ms, one per level)',
  ),
  nightWindows: dailyWindows(
    ['22:00-06:00'],
    'OVERSPEED: the night windows (China Standard Time) of route night limits and the default night limits',
  ),
  defaultSpeedLimitKmh: speedLimitsByKind(
    { muck_truck: 60, sanitation: 60 },
    'OVERSPEED: the city default limit by unit kind (km/h) wherever no route stretch or speed zone limit applies; a kind left out has none',
  ),
  defaultNightSpeedLimitKmh: speedLimitsByKind(
    { muck_truck: 50, sanitation: 50 },
    'OVERSPEED: the same inside the night windows (km/h)',
  ),
});
