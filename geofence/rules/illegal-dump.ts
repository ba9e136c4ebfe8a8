import type { RuleModule } from '../types.ts';
import { close, open, quietResult, unchanged } from './lifecycle.ts';
import { loadThresholds, namedSites, nearestSite, refsWith } from './load-events.ts';

/**
 * ILLEGAL_DUMP (乱倒/偷倒): an unloading (load-events.ts: lift up, load full->empty, or weight drop >
 * `dumpWeightDropT` while stopped) at a position inside NO disposal site. Unloading inside a known
 * disposal site that the permit does not name is WRONG_SITE (wrong-site.ts), not this rule; unloading
 * inside an origin site counts here (recorded as `insideSite`).
 *
 * GNSS accuracy: when the fix is within `accuracyFloorM` of a disposal site named by one of the vehicle's
 * valid permits, it is given the benefit of the doubt (no violation).
 *
 * Instantaneous: opened and closed in the same step (durationMs 0). A fix whose position is not valid
 * (`fix.valid === false`, last known position) is not judged; the transition is still consumed.
 *
 * details: trigger (lift|load|weight), weightDropT, insideSite ('' or an origin site id),
 * nearestPermittedM (distance to the nearest permitted disposal site, -1 when the vehicle has none).
 * refs: thresholds, the valid permits, the permitted disposal sites (and the origin site if inside one).
 */

/** Stateless: the transition comes from `facts.load` (the engine core keeps the detector's state). */
export type IllegalDumpState = null;

const QUIET = quietResult<IllegalDumpState>(null);

export const illegalDump: RuleModule<IllegalDumpState> = {
  code: 'ILLEGAL_DUMP',
  version: 1,
  initial: () => null,
  step(state, ctx) {
    // the transition is detected once per fix by the engine core (load-events.ts)
    const event = ctx.facts.load;
    if (event?.kind !== 'unloading' || !ctx.fix.valid) return unchanged(state, QUIET);
    if (ctx.facts.sites.some((s) => s.kind === 'disposal')) return unchanged(state, QUIET);
    const permits = ctx.facts.validPermits;
    const permittedIds = namedSites(permits, 'disposals');
    const nearest = nearestSite(ctx, permittedIds);
    if (nearest !== null && nearest.distanceM <= ctx.thresholds.accuracyFloorM) {
      return unchanged(state, QUIET);
    }
    const pos: [number, number] = [ctx.fix.lon, ctx.fix.lat];
    const inside = ctx.facts.sites[0];
    const sites = permittedIds.flatMap((id) => {
      const s = ctx.world.site(id);
      return s ? [s] : [];
    });
    if (inside) sites.push(inside);
    const o = open(ctx, {
      code: 'ILLEGAL_DUMP',
      ruleVersion: 1,
      startTs: ctx.fix.ts,
      startPos: pos,
      refs: refsWith(ctx, permits, sites),
      thresholds: { ...loadThresholds(ctx.thresholds), accuracyFloorM: ctx.thresholds.accuracyFloorM },
      details: {
        trigger: event.trigger,
        weightDropT: event.weightChangeT,
        insideSite: inside?.id ?? '',
        nearestPermittedM: nearest === null ? -1 : Math.round(nearest.distanceM),
      },
    });
    return { state, events: [o.event, close(o.violation, ctx.fix.ts, pos)] };
  },
};
