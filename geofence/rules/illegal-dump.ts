import { thresholds } from '../thresholds/illegal-dump.ts';
import type { RuleModule } from '../types.ts';
import { close, open, quietResult, unchanged } from './lifecycle.ts';
import { loadThresholds, namedSites, nearestSite, onsetOf, refsWith } from './load-refs.ts';

/**
 * ILLEGAL_DUMP (乱倒/偷倒): a confirmed unloading (load-events.ts: lift up, moving or not; or, while
 * stopped, load full->empty or a weight drop > `dumpWeightDropT` that persisted `sensorConfirmMs` or was
 * corroborated) whose ONSET lies inside NO disposal site. Unloading inside a known disposal site that the
 * permit does not name is WRONG_SITE (wrong-site.ts), not this rule; unloading inside an origin site
 * counts here (recorded as `insideSite`). A load sensor flickering full -> empty -> full while the truck
 * drives, weight steady and lift down, is no unloading at all (a glitch, counted by the detector).
 *
 * GNSS accuracy: when the onset is within `accuracyFloorM` of a disposal site named by one of the
 * vehicle's valid permits, it is given the benefit of the doubt (no violation).
 *
 * Instantaneous: opened and closed in the same step at the onset (startTs = endTs = the onset instant,
 * the onset position; detectedTs = the fix that confirmed it). An onset whose position is not valid
 * (last known position) is not judged; the transition is still consumed.
 *
 * details: trigger (lift|load|weight), weightDropT, insideSite ('' or an origin site id),
 * nearestPermittedM (distance to the nearest permitted disposal site, -1 when the vehicle has none).
 * refs: thresholds, the valid permits, the permitted disposal sites (and the origin site if inside one).
 *
 * Version 2: version 1 took a load state turning empty at any speed, unconfirmed, as an unloading.
 */

/** Stateless: the transition comes from `facts.load` (the engine core keeps the detector's state). */
export type IllegalDumpState = null;

const QUIET = quietResult<IllegalDumpState>(null);

const RULE_VERSION = 2;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const illegalDump: RuleModule<IllegalDumpState> = {
  code: 'ILLEGAL_DUMP',
  version: RULE_VERSION,
  thresholds,
  initial: () => null,
  step(state, ctx) {
    // the transition is detected once per fix by the engine core (load-events.ts)
    const event = ctx.facts.load;
    if (event?.kind !== 'unloading' || !event.valid) return unchanged(state, QUIET);
    const at = onsetOf(ctx, event);
    if (at.sites.some((s) => s.kind === 'disposal')) return unchanged(state, QUIET);
    const permits = ctx.facts.validPermits;
    const permittedIds = namedSites(permits, 'disposals');
    const nearest = nearestSite(ctx, permittedIds, at.pos);
    if (nearest !== null && nearest.distanceM <= ctx.thresholds.accuracyFloorM) {
      return unchanged(state, QUIET);
    }
    const inside = at.sites[0];
    const sites = permittedIds.flatMap((id) => {
      const s = ctx.world.site(id);
      return s ? [s] : [];
    });
    if (inside) sites.push(inside);
    const o = open(ctx, {
      code: 'ILLEGAL_DUMP',
      ruleVersion: RULE_VERSION,
      startTs: event.ts,
      startPos: at.pos,
      refs: refsWith(ctx, permits, sites),
      thresholds: { ...loadThresholds(ctx.thresholds), accuracyFloorM: ctx.thresholds.accuracyFloorM },
      details: {
        trigger: event.trigger,
        weightDropT: event.weightChangeT,
        insideSite: inside?.id ?? '',
        nearestPermittedM: nearest === null ? -1 : Math.round(nearest.distanceM),
      },
    });
    return { state, events: [o.event, close(o.violation, event.ts, at.pos)] };
  },
};
