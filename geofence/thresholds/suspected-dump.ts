import { z } from 'zod';
import { durationMs, speedKmh } from './kinds.ts';

/** suspectedDump's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  suspectedDumpSpeedKmh: speedKmh(3, 'SUSPECTED_DUMP, ILLEGAL_DUMP: slower than this (km/h) is stopped'),
  suspectedDumpMinMs: durationMs(
    5 * 60_000,
    'SUSPECTED_DUMP: loaded and stopped outside every site longer than this (ms)',
  ),
});
