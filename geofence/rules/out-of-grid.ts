import { thresholds } from '../thresholds/out-of-grid.ts';
import type { RuleModule } from '../types.ts';
import { allowanceM, dutyAt, planRefs, r1 } from './plan-facts.ts';
import { type Reading, RUN_QUIET, type RunSlot, stepRun } from './sustained.ts';

/**
 * OUT_OF_GRID (脱离网格): a body camera on duty clearly outside its duty plan's grid (网格): farther out
 * than its GNSS allowance (max(accuracyFloorM, accuracy)) for `outOfGridMinMs` and `outOfGridMinFixes`
 * consecutive fixes. Ends once the camera has been back (not clearly outside) for `outOfGridEndInsideMs`,
 * from the first such fix, or at once when the shift ends (rules/sustained.ts). A fix without a valid
 * position says nothing. details: outsideM at open, maxOutsideM beyond the grid boundary at close.
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

const VERSION = 1;

export const outOfGrid: RuleModule<RunSlot> = {
  code: 'OUT_OF_GRID',
  version: VERSION,
  thresholds,
  appliesTo: ['body_camera'],
  initial: () => null,
  step(state, ctx) {
    const { fix, thresholds: th } = ctx;
    const duty = dutyAt(ctx.world, fix.vehicle, fix.officer, fix.ts);
    if (duty === undefined && state === null) return RUN_QUIET;
    let reading: Reading = 'end';
    let outsideM = 0;
    if (duty !== undefined) {
      if (!fix.valid) reading = 'skip';
      else {
        outsideM = ctx.world.gridDistance(duty.plan.id, ctx.facts.pos);
        reading = !Number.isFinite(outsideM) ? 'skip' : outsideM > allowanceM(fix, th) ? 'on' : 'off';
      }
    }
    return stepRun(
      state,
      ctx,
      reading,
      () => ({
        code: 'OUT_OF_GRID',
        version: VERSION,
        minMs: th.outOfGridMinMs,
        minFixes: th.outOfGridMinFixes,
        backMs: th.outOfGridEndInsideMs,
        refs: planRefs(ctx.world, 'duty_plan', duty?.plan),
        thresholds: {
          outOfGridMinMs: th.outOfGridMinMs,
          outOfGridMinFixes: th.outOfGridMinFixes,
          outOfGridEndInsideMs: th.outOfGridEndInsideMs,
          accuracyFloorM: th.accuracyFloorM,
        },
        details: { ...(fix.officer ? { officer: fix.officer } : {}), outsideM: r1(outsideM) },
      }),
      { value: outsideM, extreme: 'max', atClose: (x) => ({ maxOutsideM: r1(x) }) },
    );
  },
};
