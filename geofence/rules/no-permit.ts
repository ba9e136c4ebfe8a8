import { thresholds } from '../thresholds/no-permit.ts';
import type { RuleModule, Violation } from '../types.ts';
import { close, NO_EVENTS, open, quietResult, unchanged } from './lifecycle.ts';
import { loadThresholds, onsetOf, refsWith } from './load-refs.ts';

/**
 * NO_PERMIT (无证运输): a loaded trip with no valid permit for the vehicle and the time (domain.md):
 * (a) a confirmed loading (load-events.ts) while the vehicle has no permit in force (`facts.validPermits`
 *     empty: none valid on that local date, nor a window that started on a valid date): opened at the
 *     loading's onset (details.trigger load|weight, the site it loaded in);
 * (b) loaded movement with no permit in force: the truck is loaded (the confirmed load, `facts.loaded`)
 *     and moves faster than `offHoursSpeedKmh` while no permit is in force, for `noPermitMovingMinMs`
 *     (60 s): its permit was revoked while it hauled (the engine sees only approved permits), or the last
 *     window of its validity ended (a 22:00-06:00 window counts for the date it started, so a truck still
 *     hauling at 06:10 the morning after its last valid date is here), or it never had one and its loading
 *     was not seen. Opened with startTs = the first loaded moving fix of the run (trigger 'moving'); stops
 *     do not break the run, unloading or a permit does.
 * Closes at the next unloading (endTs = its onset, endReason unloading) or at the first fix with a
 * permit in force again (endReason permit). A loading on a date with a valid permit but outside its hours
 * is not this rule (OFF_HOURS judges loaded movement outside the windows).
 *
 * details: trigger (load|weight|moving), site (id of the site it loaded in, '' outside every site or for
 * movement), siteKind, and at close endReason (unloading|permit).
 *
 * Version 2: version 1 judged only loadings, so a truck whose permit was revoked mid-trip and drove on
 * to unload was never charged.
 */

export interface NoPermitState {
  open: Violation | null;
  /** first fix of a loaded moving run without a permit in force, -1 none */
  mt: number;
  mlon: number;
  mlat: number;
}

/** Nothing open, no run (shared by every such vehicle). */
const IDLE: NoPermitState = Object.freeze({ open: null, mt: -1, mlon: 0, mlat: 0 });
const QUIET = quietResult(IDLE);

const RULE_VERSION = 2;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const noPermit: RuleModule<NoPermitState> = {
  code: 'NO_PERMIT',
  version: RULE_VERSION,
  thresholds,
  initial: () => IDLE,
  step(state, ctx) {
    // the transition is detected once per fix by the engine core (load-events.ts)
    const event = ctx.facts.load;
    const permitted = ctx.facts.validPermits.length > 0;
    if (state.open !== null) {
      if (event?.kind === 'unloading' || permitted) {
        const unloading = event?.kind === 'unloading';
        const endTs = unloading ? Math.max(event.ts, state.open.startTs) : ctx.fix.ts;
        const closed = close(state.open, endTs, [ctx.fix.lon, ctx.fix.lat]);
        closed.violation.details = {
          ...closed.violation.details,
          endReason: unloading ? 'unloading' : 'permit',
        };
        return { state: IDLE, events: [closed] };
      }
      return unchanged(state, QUIET);
    }
    if (permitted) return state.mt < 0 ? unchanged(state, QUIET) : QUIET;
    const th = ctx.thresholds;
    if (event?.kind === 'loading') {
      const at = onsetOf(ctx, event);
      const site = at.sites.find((s) => s.kind === 'origin') ?? at.sites[0];
      const o = open(ctx, {
        code: 'NO_PERMIT',
        ruleVersion: RULE_VERSION,
        startTs: event.ts,
        startPos: at.pos,
        refs: refsWith(ctx, [], site ? [site] : []),
        thresholds: loadThresholds(th),
        details: { trigger: event.trigger, site: site?.id ?? '', siteKind: site?.kind ?? '' },
      });
      return { state: { ...IDLE, open: o.violation }, events: [o.event] };
    }
    // (b) loaded movement
    if (!ctx.facts.loaded) return state.mt < 0 ? unchanged(state, QUIET) : QUIET;
    const moving = ctx.fix.valid && (ctx.fix.speed ?? 0) > th.offHoursSpeedKmh;
    if (state.mt < 0) {
      if (!moving) return unchanged(state, QUIET);
      return {
        state: { open: null, mt: ctx.fix.ts, mlon: ctx.fix.lon, mlat: ctx.fix.lat },
        events: NO_EVENTS,
      };
    }
    if (!moving || ctx.fix.ts - state.mt < th.noPermitMovingMinMs) return { state, events: NO_EVENTS };
    const o = open(ctx, {
      code: 'NO_PERMIT',
      ruleVersion: RULE_VERSION,
      startTs: state.mt,
      startPos: [state.mlon, state.mlat],
      refs: refsWith(ctx, [], []),
      thresholds: {
        ...loadThresholds(th),
        offHoursSpeedKmh: th.offHoursSpeedKmh,
        noPermitMovingMinMs: th.noPermitMovingMinMs,
      },
      details: { trigger: 'moving', site: '', siteKind: '' },
    });
    return { state: { ...IDLE, open: o.violation }, events: [o.event] };
  },
};
