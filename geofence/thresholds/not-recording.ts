import { z } from 'zod';

/** The thresholds of rules/not-recording.ts, declared once (issue 11); index.ts gathers every rule's. */
export const thresholds = z.object({
  notRecordingMinMs: z
    .number()
    .nonnegative()
    .default(5 * 60_000)
    .describe('NOT_RECORDING: on duty and not recording for longer than this (ms)'),
  notRecordingIncidentMinMs: z
    .number()
    .nonnegative()
    .default(60_000)
    .describe('NOT_RECORDING: assigned to an open incident and not recording for longer than this (ms)'),
});
