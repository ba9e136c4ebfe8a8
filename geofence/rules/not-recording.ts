import { z } from 'zod';
import type { RuleModule } from '../types.ts';
import { dutyAt, planRefs } from './plan-facts.ts';
import { RUN_QUIET, type RunSlot, stepRun } from './sustained.ts';

/**
 * NOT_RECORDING (未全程记录): a body camera on duty (a shift of a duty plan naming it or its officer)
 * that is not recording for longer than `notRecordingMinMs` (执法全过程记录: the whole enforcement process
 * is recorded). Opens with startTs = the first not-recording fix on duty; ends at the first recording fix,
 * or at once when the shift ends. A fix without the `recording` field says nothing.
 * Incidents (issue 15 item 5) are not modelled yet: the policy judged is "during the shift".
 */

export const thresholds = z.object({
  notRecordingMinMs: z
    .number()
    .nonnegative()
    .default(5 * 60_000)
    .describe('NOT_RECORDING: on duty and not recording for longer than this (ms)'),
});

const VERSION = 1;

export const notRecording: RuleModule<RunSlot> = {
  code: 'NOT_RECORDING',
  version: VERSION,
  thresholds,
  appliesTo: ['body_camera'],
  initial: () => null,
  step(state, ctx) {
    const { fix, thresholds: th } = ctx;
    if (fix.recording === undefined) return state === null ? RUN_QUIET : { state, events: RUN_QUIET.events };
    const duty = dutyAt(ctx.world, fix.vehicle, fix.officer, fix.ts);
    if (duty === undefined && state === null) return RUN_QUIET;
    const reading = duty === undefined ? 'end' : fix.recording ? 'off' : 'on';
    return stepRun(state, ctx, reading, () => ({
      code: 'NOT_RECORDING',
      version: VERSION,
      minMs: th.notRecordingMinMs,
      minFixes: 1,
      backMs: 0,
      refs: planRefs(ctx.world, 'duty_plan', duty?.plan),
      thresholds: { notRecordingMinMs: th.notRecordingMinMs },
      details: { ...(fix.officer ? { officer: fix.officer } : {}), shiftStart: duty?.shift.start ?? -1 },
    }));
  },
};
