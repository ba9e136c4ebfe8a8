import { z } from 'zod';
import { durationMs } from './kinds.ts';

/** Signal confirmation's threshold, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  sensorConfirmMs: durationMs(
    60_000,
    'every rule reading a sensor: a change of the load state or the weight counts once it persisted this long (ms) or another signal corroborates it; one that returns sooner is a glitch, counted, never judged',
  ),
});
