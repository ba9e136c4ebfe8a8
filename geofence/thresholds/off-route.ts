import { z } from 'zod';
import { count, durationMs, figures } from './kinds.ts';

/** offRoute's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  offRouteMinFixes: count(
    3,
    'OFF_ROUTE: loaded and outside every permitted corridor for this many consecutive fixes',
  ),
  offRouteMinMs: durationMs(60_000, 'OFF_ROUTE: or for this long (ms), whichever comes first'),
  offRouteEndInsideMs: durationMs(30_000, 'OFF_ROUTE: ends after back inside a corridor this long (ms)'),
  offRouteEscalationMs: figures(
    [10 * 60_000, 15 * 60_000],
    'OFF_ROUTE: the level rises after this long off the route (ms, one per level)',
  ),
});
