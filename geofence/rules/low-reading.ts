import type { Fix } from '../../core/fix.ts';
import type { Thresholds, ViolationCode } from '../model.ts';
import type { RuleModule } from '../types.ts';
import { dutyAt, planRefs } from './plan-facts.ts';
import { RUN_QUIET, type RunSlot, stepRun } from './sustained.ts';

/**
 * LOW_BATTERY and LOW_STORAGE (issue 15): a body camera on duty whose reading (battery %, free storage
 * MB) is under the threshold, confirmed: the low reading persisted `lowReadingMinMs` over at least two
 * fixes (a sensor glitch of one report is not judged, domain.md "Sensors glitch"). Ends at the first
 * reading back at or over the threshold, when the camera is docked (charging, uploading), or at once when
 * the shift ends (rules/sustained.ts). A fix without the reading says nothing. details: the reading at
 * open, its minimum at close (`min_battery`, `min_storageFree`).
 */

export function lowReadingRule(
  code: Extract<ViolationCode, 'LOW_BATTERY' | 'LOW_STORAGE'>,
  field: 'battery' | 'storageFree',
  limitKey: 'lowBatteryPct' | 'lowStorageMB',
): RuleModule<RunSlot> {
  const VERSION = 1;
  return {
    code,
    version: VERSION,
    appliesTo: ['body_camera'],
    initial: () => null,
    step(state, ctx) {
      const { fix, thresholds: th } = ctx;
      const value = (fix as Fix)[field];
      if (value === undefined) return state === null ? RUN_QUIET : { state, events: RUN_QUIET.events };
      const limit = (th as Thresholds)[limitKey];
      const duty = fix.docked === true ? undefined : dutyAt(ctx.world, fix.vehicle, fix.officer, fix.ts);
      if (duty === undefined && state === null) return RUN_QUIET;
      const reading = duty === undefined ? 'end' : value < limit ? 'on' : 'off';
      return stepRun(
        state,
        ctx,
        reading,
        () => ({
          code,
          version: VERSION,
          minMs: th.lowReadingMinMs,
          minFixes: 2,
          backMs: 0,
          refs: planRefs(ctx.world, 'duty_plan', duty?.plan),
          thresholds: { [limitKey]: limit, lowReadingMinMs: th.lowReadingMinMs },
          details: { [field]: value, ...(fix.officer ? { officer: fix.officer } : {}) },
        }),
        { value, extreme: 'min', atClose: (x) => ({ [`min_${field}`]: x }) },
      );
    },
  };
}
