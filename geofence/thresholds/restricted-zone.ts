import { z } from 'zod';
import { count, durationMs } from './kinds.ts';

/** restrictedZone's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  restrictedZoneMinFixes: count(
    2,
    'RESTRICTED_ZONE: inside a closed zone for this many consecutive plausible fixes (a single fix inside proves nothing)',
  ),
  restrictedZoneMinMs: durationMs(20_000, 'RESTRICTED_ZONE: or inside this long (ms) from the first'),
  restrictedZoneExitMs: durationMs(
    30_000,
    'RESTRICTED_ZONE: ends after clearly outside (beyond the GNSS allowance) this long (ms)',
  ),
});
