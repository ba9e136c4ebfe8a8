import { z } from 'zod';
import { speedKmh } from './kinds.ts';

/** The outlier screen's threshold, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  outlierSpeedKmh: speedKmh(
    150,
    'every rule: a fix implying more than this speed (km/h) from both neighbours, while they agree, is an outlier: stored, never judged',
  ),
});
