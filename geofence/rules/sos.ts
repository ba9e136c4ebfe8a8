import { z } from 'zod';
import type { RuleModule } from '../types.ts';
import { dutyAt, planRefs } from './plan-facts.ts';
import { RUN_QUIET, type RunSlot, stepRun } from './sustained.ts';

/**
 * SOS (一键报警): an officer pressed the body camera's SOS button. Immediate (no minimum: a distress call
 * is never debounced), on duty or not, at level 2 with details.priority 'critical' so that the live
 * stream, MQTT alerts and webhooks carry it as top priority. Closes at the first fix with `sos: false`
 * (a fix without the field changes nothing).
 */

export const thresholds = z.object({});

const VERSION = 1;

export const sos: RuleModule<RunSlot> = {
  code: 'SOS',
  version: VERSION,
  thresholds,
  appliesTo: ['body_camera'],
  initial: () => null,
  step(state, ctx) {
    const { fix } = ctx;
    if (fix.sos === undefined) return state === null ? RUN_QUIET : { state, events: RUN_QUIET.events };
    const reading = fix.sos === true ? 'on' : fix.sos === false ? 'off' : 'skip';
    return stepRun(state, ctx, reading, () => {
      const duty = dutyAt(ctx.world, fix.vehicle, fix.officer, fix.ts);
      return {
        code: 'SOS',
        version: VERSION,
        minMs: 0,
        minFixes: 1,
        backMs: 0,
        level: 2,
        refs: planRefs(ctx.world, 'duty_plan', duty?.plan),
        thresholds: {},
        details: {
          priority: 'critical',
          onDuty: duty !== undefined,
          ...(fix.officer ? { officer: fix.officer } : {}),
        },
      };
    });
  },
};
