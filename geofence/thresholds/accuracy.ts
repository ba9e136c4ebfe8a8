import { z } from 'zod';
import { metres } from './kinds.ts';

/**
 * The GNSS allowance every geometric rule shares: a fix is never judged closer to a boundary than
 * max(accuracyFloorM, its own accuracy) (domain.md: 15 m is ordinary GNSS noise, JT/T 794). Declared once
 * here (issue 11) because no single rule owns it; index.ts gathers it with every rule's.
 */
export const thresholds = z.object({
  accuracyFloorM: metres(
    15,
    'every geometric rule: a fix is never judged closer than max(this, its accuracy) in metres to a boundary',
  ),
});
