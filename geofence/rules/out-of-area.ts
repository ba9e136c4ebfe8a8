import { containing } from '../plan-windows.ts';
import type { SweepPlan } from '../plans.ts';
import { thresholds } from '../thresholds/out-of-area.ts';
import type { RuleModule } from '../types.ts';
import { allowanceM, isRoadWork, planRefs, r1 } from './plan-facts.ts';
import { type Reading, RUN_QUIET, type RunSlot, stepRun } from './sustained.ts';

/**
 * OUT_OF_AREA (越界作业): a sanitation vehicle working a road (brush on, sweeping or spraying) during a
 * shift of one of its sweep plans, clearly outside every stretch of the plans in shift: farther than the
 * plan's corridor plus the GNSS allowance (max(accuracyFloorM, accuracy)) for `outOfAreaMinMs` and
 * `outOfAreaMinFixes` consecutive fixes. Ends once back (not clearly outside) for
 * `outOfAreaEndInsideMs`, or at once when it stops working or the shift ends (rules/sustained.ts).
 * Driving to the plan with the brush up is not working. details: outsideM at open, maxOutsideM beyond
 * the corridor at close.
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

const VERSION = 1;

export const outOfArea: RuleModule<RunSlot> = {
  code: 'OUT_OF_AREA',
  version: VERSION,
  thresholds,
  appliesTo: ['sanitation'],
  initial: () => null,
  step(state, ctx) {
    const { fix, thresholds: th, world } = ctx;
    const plans = world.sweepPlansOf(fix.vehicle);
    if (plans.length === 0 && state === null) return RUN_QUIET;
    const inShift: SweepPlan[] = [];
    for (const p of plans) if (containing(p.windows, fix.ts) !== undefined) inShift.push(p);
    let reading: Reading = 'end';
    // metres beyond the nearest corridor of the plans in shift
    let outsideM = Number.POSITIVE_INFINITY;
    if (inShift.length > 0 && isRoadWork(fix)) {
      if (!fix.valid) reading = 'skip';
      else {
        for (const p of inShift) {
          const m = world.sweepMatch(p.id, ctx.facts.pos);
          if (m !== undefined) outsideM = Math.min(outsideM, m.distanceM - p.corridorM);
        }
        reading = !Number.isFinite(outsideM) ? 'skip' : outsideM > allowanceM(fix, th) ? 'on' : 'off';
      }
    }
    if (reading === 'end' && state === null) return RUN_QUIET;
    return stepRun(
      state,
      ctx,
      reading,
      () => ({
        code: 'OUT_OF_AREA',
        version: VERSION,
        minMs: th.outOfAreaMinMs,
        minFixes: th.outOfAreaMinFixes,
        backMs: th.outOfAreaEndInsideMs,
        refs: planRefs(world, 'sweep_plan', inShift[0]),
        thresholds: {
          outOfAreaMinMs: th.outOfAreaMinMs,
          outOfAreaMinFixes: th.outOfAreaMinFixes,
          outOfAreaEndInsideMs: th.outOfAreaEndInsideMs,
          accuracyFloorM: th.accuracyFloorM,
        },
        details: { plan: inShift[0]?.id ?? '', outsideM: r1(outsideM) },
      }),
      { value: outsideM, extreme: 'max', atClose: (x) => ({ maxOutsideM: r1(x) }) },
    );
  },
};
