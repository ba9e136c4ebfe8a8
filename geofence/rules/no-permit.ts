import type { RuleModule, Violation } from '../types.ts';
import { close, open, quietResult, unchanged } from './lifecycle.ts';
import { loadThresholds, refsWith } from './load-events.ts';

/**
 * NO_PERMIT (无证运输): a loading (load-events.ts) while the vehicle has no permit valid on that local
 * date (`facts.validPermits` empty). Opens at the loading fix; closes at the next unloading, or at the
 * first fix on which a permit has become valid. A loading on a date with a valid permit but outside its
 * hours is not this rule (OFF_HOURS judges loaded movement outside the windows).
 *
 * details: trigger (load|weight), site (id of the site it loaded in, '' outside every site), siteKind,
 * and at close endReason (unloading|permit).
 */

export interface NoPermitState {
  open: Violation | null;
}

/** Nothing open (shared by every such vehicle). */
const IDLE: NoPermitState = Object.freeze({ open: null });
const QUIET = quietResult(IDLE);

export const noPermit: RuleModule<NoPermitState> = {
  code: 'NO_PERMIT',
  version: 1,
  initial: () => IDLE,
  step(state, ctx) {
    // the transition is detected once per fix by the engine core (load-events.ts)
    const event = ctx.facts.load;
    if (state.open !== null) {
      const permitted = ctx.facts.validPermits.length > 0;
      if (event?.kind === 'unloading' || permitted) {
        const closed = close(state.open, ctx.fix.ts, [ctx.fix.lon, ctx.fix.lat]);
        closed.violation.details = {
          ...closed.violation.details,
          endReason: event?.kind === 'unloading' ? 'unloading' : 'permit',
        };
        return { state: IDLE, events: [closed] };
      }
      return unchanged(state, QUIET);
    }
    if (event?.kind !== 'loading' || ctx.facts.validPermits.length > 0) {
      return unchanged(state, QUIET);
    }
    const site = ctx.facts.sites.find((s) => s.kind === 'origin') ?? ctx.facts.sites[0];
    const o = open(ctx, {
      code: 'NO_PERMIT',
      ruleVersion: 1,
      startTs: ctx.fix.ts,
      startPos: [ctx.fix.lon, ctx.fix.lat],
      refs: refsWith(ctx, [], site ? [site] : []),
      thresholds: loadThresholds(ctx.thresholds),
      details: { trigger: event.trigger, site: site?.id ?? '', siteKind: site?.kind ?? '' },
    });
    return { state: { open: o.violation }, events: [o.event] };
  },
};
