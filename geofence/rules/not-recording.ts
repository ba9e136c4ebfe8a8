import { incidentAt } from '../plans.ts';
import { thresholds } from '../thresholds/not-recording.ts';
import type { RuleModule } from '../types.ts';
import { dutyAt, planRefs } from './plan-facts.ts';
import { RUN_QUIET, type RunSlot, stepRun } from './sustained.ts';

/**
 * NOT_RECORDING (未全程记录): the whole enforcement process is recorded (执法全过程记录). Two policies, one
 * rule: a body camera assigned to an open incident (dispatch, issue 15 item 5) that is not recording for
 * longer than `notRecordingIncidentMinMs`, on duty or not; and a camera on duty (a shift of a duty plan
 * naming it or its officer) not recording for longer than `notRecordingMinMs`. Opens with startTs = the
 * first not-recording fix of the run; ends at the first recording fix, or at once when neither holds any
 * more (shift over, incident closed). A fix without the `recording` field says nothing. An incident's
 * instants (assignment, closing) are in the world the fix is judged against, so replaying the same
 * fixes against the same registry versions gives the same violations.
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

const VERSION = 2;

export const notRecording: RuleModule<RunSlot> = {
  code: 'NOT_RECORDING',
  version: VERSION,
  thresholds,
  appliesTo: ['body_camera'],
  initial: () => null,
  step(state, ctx) {
    const { fix, thresholds: th } = ctx;
    if (fix.recording === undefined) return state === null ? RUN_QUIET : { state, events: RUN_QUIET.events };
    const incident = incidentAt(ctx.world.incidentsOf(fix.vehicle), fix.ts);
    const duty = dutyAt(ctx.world, fix.vehicle, fix.officer, fix.ts);
    if (duty === undefined && incident === undefined && state === null) return RUN_QUIET;
    const reading = duty === undefined && incident === undefined ? 'end' : fix.recording ? 'off' : 'on';
    return stepRun(state, ctx, reading, () => {
      const refs = planRefs(ctx.world, 'duty_plan', duty?.plan);
      if (incident !== undefined) refs.push({ kind: 'incident', id: incident.id, version: incident.version });
      return {
        code: 'NOT_RECORDING',
        version: VERSION,
        // in an incident its (shorter) policy applies, whatever the duty's
        minMs: incident !== undefined ? th.notRecordingIncidentMinMs : th.notRecordingMinMs,
        minFixes: 1,
        backMs: 0,
        refs,
        thresholds:
          incident !== undefined
            ? { notRecordingIncidentMinMs: th.notRecordingIncidentMinMs }
            : { notRecordingMinMs: th.notRecordingMinMs },
        details: {
          ...(fix.officer ? { officer: fix.officer } : {}),
          shiftStart: duty?.shift.start ?? -1,
          ...(incident !== undefined ? { incident: incident.id } : {}),
        },
      };
    });
  },
};
