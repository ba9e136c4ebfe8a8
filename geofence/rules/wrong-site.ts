import type { Site } from '../model.ts';
import type { RuleModule } from '../types.ts';
import { close, open, quietResult, unchanged } from './lifecycle.ts';
import { loadThresholds, namedSites, nearestSite, refsWith } from './load-events.ts';

/**
 * WRONG_SITE (违规进出场): a loading inside a known ORIGIN site that none of the vehicle's valid permits
 * names, or an unloading inside a known DISPOSAL site that none of them names. Instantaneous (opened and
 * closed in one step). Transitions come from load-events.ts, shared with the other rules and the trips.
 *
 * Not judged: when the vehicle has no valid permit at all (NO_PERMIT / ILLEGAL_DUMP speak for it), when
 * the position is not valid, when any site of the right kind at the position is named by a permit
 * (overlapping polygons), and when the fix lies within `accuracyFloorM` of a named site of that kind
 * (benefit of the doubt next to a boundary).
 *
 * details: action (loading|unloading), trigger, site, siteKind. refs: thresholds, the valid permits and
 * the wrong site(s) with their versions.
 */

/** Stateless: the transition comes from `facts.load` (the engine core keeps the detector's state). */
export type WrongSiteState = null;

const QUIET = quietResult<WrongSiteState>(null);

export const wrongSite: RuleModule<WrongSiteState> = {
  code: 'WRONG_SITE',
  version: 1,
  initial: () => null,
  step(state, ctx) {
    // the transition is detected once per fix by the engine core (load-events.ts)
    const event = ctx.facts.load;
    if (event === null || !ctx.fix.valid) return unchanged(state, QUIET);
    const permits = ctx.facts.validPermits;
    if (permits.length === 0) return unchanged(state, QUIET);
    const kind = event.kind === 'loading' ? 'origin' : 'disposal';
    const here = ctx.facts.sites.filter((s) => s.kind === kind);
    if (here.length === 0) return unchanged(state, QUIET);
    const named = namedSites(permits, kind === 'origin' ? 'origins' : 'disposals');
    if (here.some((s) => named.includes(s.id))) return unchanged(state, QUIET);
    const near = nearestSite(ctx, named);
    if (near !== null && near.distanceM <= ctx.thresholds.accuracyFloorM) return unchanged(state, QUIET);
    const wrong: Site = here[0]!;
    const pos: [number, number] = [ctx.fix.lon, ctx.fix.lat];
    const o = open(ctx, {
      code: 'WRONG_SITE',
      ruleVersion: 1,
      startTs: ctx.fix.ts,
      startPos: pos,
      refs: refsWith(ctx, permits, here),
      thresholds: { ...loadThresholds(ctx.thresholds), accuracyFloorM: ctx.thresholds.accuracyFloorM },
      details: { action: event.kind, trigger: event.trigger, site: wrong.id, siteKind: kind },
    });
    return { state, events: [o.event, close(o.violation, ctx.fix.ts, pos)] };
  },
};
