import type { Site } from '../model.ts';
import type { RuleModule } from '../types.ts';
import { close, open, quietResult, unchanged } from './lifecycle.ts';
import { loadThresholds, namedSites, nearestSite, onsetOf, refsWith } from './load-refs.ts';

/**
 * WRONG_SITE (违规进出场): a loading inside a known ORIGIN site that none of the vehicle's valid permits
 * names, or an unloading inside a known DISPOSAL site that none of them names. Instantaneous (opened and
 * closed in one step, at the transition's onset: load-events.ts confirms sensor changes, so a loading
 * or unloading may be recognised a little after it began; the site is the one at its onset). Transitions
 * come from load-events.ts, shared with the other rules and the trips.
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

/** 2: at the onset of a confirmed transition (1: at the fix of an unconfirmed one). */
const RULE_VERSION = 2;

export const wrongSite: RuleModule<WrongSiteState> = {
  code: 'WRONG_SITE',
  version: RULE_VERSION,
  initial: () => null,
  step(state, ctx) {
    // the transition is detected once per fix by the engine core (load-events.ts)
    const event = ctx.facts.load;
    if (event === null || !event.valid) return unchanged(state, QUIET);
    const permits = ctx.facts.validPermits;
    if (permits.length === 0) return unchanged(state, QUIET);
    const kind = event.kind === 'loading' ? 'origin' : 'disposal';
    const at = onsetOf(ctx, event);
    const here = at.sites.filter((s) => s.kind === kind);
    if (here.length === 0) return unchanged(state, QUIET);
    const named = namedSites(permits, kind === 'origin' ? 'origins' : 'disposals');
    if (here.some((s) => named.includes(s.id))) return unchanged(state, QUIET);
    const near = nearestSite(ctx, named, at.pos);
    if (near !== null && near.distanceM <= ctx.thresholds.accuracyFloorM) return unchanged(state, QUIET);
    const wrong: Site = here[0]!;
    const pos = at.pos;
    const o = open(ctx, {
      code: 'WRONG_SITE',
      ruleVersion: RULE_VERSION,
      startTs: event.ts,
      startPos: pos,
      refs: refsWith(ctx, permits, here),
      thresholds: { ...loadThresholds(ctx.thresholds), accuracyFloorM: ctx.thresholds.accuracyFloorM },
      details: { action: event.kind, trigger: event.trigger, site: wrong.id, siteKind: kind },
    });
    return { state, events: [o.event, close(o.violation, event.ts, pos)] };
  },
};
