import type { EntityRef, Permit, Thresholds } from '../model.ts';
import { thresholds } from '../thresholds/off-route.ts';
import type { FixFacts, RuleContext, RuleModule, Violation, ViolationEvent } from '../types.ts';
import { baseRefs, close, NO_EVENTS, open, quietResult, unchanged, update } from './lifecycle.ts';
import { unloadedAt } from './load-refs.ts';
import { round1 } from './off-hours.ts';

export { MAX_ROUTE_HINTS } from '../facts.ts';

/**
 * OFF_ROUTE (线路偏离): a loaded muck truck outside the corridor of every route its permit names
 * (domain.md: > corridor for >= 60 s or >= 3 consecutive fixes; ends after >= 30 s back inside;
 * escalation at 10 and 15 min). Only the permit's routes are measured, never the whole network: the
 * engine core matches the fix against them once per fix (`facts.routes`, each search seeded with the
 * previous fix's segment), and OVERSPEED reads the same matches.
 *
 * Each fix is classified against the nearest permitted route, with `excess` = distance to the centre
 * line minus that route's corridor half-width:
 * - OUT when excess > max(accuracyFloorM, fix.accuracy): a fix is never accused from GPS noise;
 * - IN when excess < -accuracyFloorM / 2 (inside by a margin), or inside one of the permit's own sites
 *   (origin or disposal: never off-route there);
 * - EDGE otherwise (the noise band around the corridor edge).
 *
 * Hysteresis (so that jitter at the edge neither opens nor flaps):
 * - a pending outside run starts at an OUT fix (startTs) and is broken only by an IN fix; EDGE fixes
 *   keep it alive but do not count. It opens at an OUT fix once the run has >= offRouteMinFixes OUT fixes
 *   or lasts >= offRouteMinMs. So a cross-street excursion shorter than the minimum with fewer than three
 *   clear fixes opens nothing, and in/out/in jitter (each OUT followed by an IN) never accumulates;
 * - once open, a return run starts at the first fix that is not OUT (endTs candidate) and is broken only
 *   by an OUT fix; the violation closes when the return run lasts >= offRouteEndInsideMs, with
 *   endTs = the first fix of that run. Noise while back on the road never prolongs or reopens it.
 *
 * While open: `details.maxDeviationM` (distance to the nearest permitted centre line) is kept current in
 * state; an `updated` event is emitted when the escalation level rises (offRouteEscalationMs since
 * start) or the maximum grows by more than the accuracy floor since the last event. The closed event
 * carries the final figures. `refs` name the permit, the city thresholds and every permitted route with
 * the version it was judged by, fixed at onset (a route edited mid-trip does not rewrite the evidence).
 *
 * Not applicable (unloaded, no permit naming routes): an open violation closes at that fix (or at the
 * start of its return run), and a pending run is dropped. A fix with `valid: false` is not judged.
 */

export interface OffRouteState {
  /** first OUT fix of the pending run; -1 when none */
  outTs: number;
  outFixes: number;
  outLon: number;
  outLat: number;
  /** maximum deviation (m) seen in the pending run */
  outMaxM: number;
  /** while open: first fix of the current return run; -1 when none */
  inTs: number;
  /** maximum deviation last reported in an event */
  reportedMaxM: number;
  open: Violation | undefined;
}

/** The slice of every vehicle with nothing pending or open (shared: most vehicles, most of the time). */
const IDLE: OffRouteState = Object.freeze({
  outTs: -1,
  outFixes: 0,
  outLon: 0,
  outLat: 0,
  outMaxM: 0,
  inTs: -1,
  reportedMaxM: 0,
  open: undefined,
});
const QUIET = quietResult(IDLE);

/** The permit whose routes judge the vehicle (computed by the engine core, see facts.ts). */
export function routePermit(facts: FixFacts): Permit | undefined {
  return facts.routePermit;
}

/** Whether the position is inside one of the permit's own sites (origin or disposal). */
function inOwnSite(facts: FixFacts, permit: Permit): boolean {
  for (const s of facts.sites)
    if (permit.origins.includes(s.id) || permit.disposals.includes(s.id)) return true;
  return false;
}

/** Escalation level: how many of the (ascending) steps the elapsed time has reached. */
export function levelFor(elapsedMs: number, steps: readonly number[]): number {
  let level = 0;
  for (const s of steps) if (elapsedMs >= s) level++;
  return level;
}

function offRouteThresholds(th: Thresholds): Partial<Thresholds> {
  return {
    accuracyFloorM: th.accuracyFloorM,
    offRouteMinMs: th.offRouteMinMs,
    offRouteMinFixes: th.offRouteMinFixes,
    offRouteEndInsideMs: th.offRouteEndInsideMs,
    offRouteEscalationMs: th.offRouteEscalationMs,
  };
}

const OUT = 2;
const EDGE = 1;
const IN = 0;

function closeWith(v: Violation, endTs: number, reason: string): ViolationEvent {
  return close({ ...v, details: { ...v.details, endReason: reason } }, endTs);
}

/**
 * 2: judged on the confirmed load (`facts.loaded`, rules/confirm.ts), a violation that ends because the
 * truck unloaded ending at the unloading's onset (1: on the raw load reading of each fix).
 */
const RULE_VERSION = 2;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const offRoute: RuleModule<OffRouteState> = {
  code: 'OFF_ROUTE',
  version: RULE_VERSION,
  thresholds,
  initial: () => IDLE,
  step(state, ctx: RuleContext) {
    const { fix, facts, world, thresholds: th } = ctx;
    if (!fix.valid) return { state, events: NO_EVENTS };
    const permit = facts.loaded ? facts.routePermit : undefined;
    if (permit === undefined) {
      if (state.open) {
        const endTs =
          state.inTs >= 0 ? state.inTs : facts.loaded ? fix.ts : unloadedAt(ctx, state.open.startTs);
        return {
          state: IDLE,
          events: [closeWith(state.open, endTs, facts.loaded ? 'no_permit' : 'unloaded')],
        };
      }
      return state.outTs < 0 ? unchanged(state, QUIET) : QUIET;
    }

    // classify the fix
    const floor = th.accuracyFloorM;
    let cls = IN;
    let devM = 0;
    if (!inOwnSite(facts, permit)) {
      let minExcess = Infinity;
      let minDist = Infinity;
      for (const { route, match } of facts.routes) {
        const excess = match.distanceM - route.corridorM;
        if (excess < minExcess) minExcess = excess;
        if (match.distanceM < minDist) minDist = match.distanceM;
      }
      // none of the permit's routes is known to the world: nothing to judge against
      if (minExcess === Infinity) return { state, events: NO_EVENTS };
      devM = minDist;
      const margin = Math.max(floor, fix.accuracy ?? 0);
      cls = minExcess > margin ? OUT : minExcess < -floor / 2 ? IN : EDGE;
    }
    const base = state;

    const v = state.open;
    if (v === undefined) {
      // nothing pending: the slice is already idle (outFixes, outMaxM are 0 whenever outTs is -1)
      if (cls === IN) return state.outTs < 0 ? unchanged(state, QUIET) : QUIET;
      if (cls === EDGE) return unchanged(state, QUIET);
      const fresh = state.outTs < 0;
      const outTs = fresh ? fix.ts : state.outTs;
      const outFixes = fresh ? 1 : state.outFixes + 1;
      const outLon = fresh ? fix.lon : state.outLon;
      const outLat = fresh ? fix.lat : state.outLat;
      const outMaxM = Math.max(fresh ? 0 : state.outMaxM, devM);
      if (outFixes >= th.offRouteMinFixes || fix.ts - outTs >= th.offRouteMinMs) {
        const refs: EntityRef[] = baseRefs(ctx);
        if (!refs.some((r) => r.kind === 'permit' && r.id === permit.id)) {
          refs.push({ kind: 'permit', id: permit.id, version: permit.version });
        }
        for (const id of permit.routes) {
          const r = world.route(id);
          if (r) refs.push({ kind: 'route', id: r.id, version: r.version });
        }
        const maxM = round1(outMaxM);
        const o = open(ctx, {
          code: 'OFF_ROUTE',
          ruleVersion: RULE_VERSION,
          startTs: outTs,
          startPos: [outLon, outLat],
          refs,
          thresholds: offRouteThresholds(th),
          level: levelFor(fix.ts - outTs, th.offRouteEscalationMs),
          details: { maxDeviationM: maxM, outsideFixes: outFixes },
        });
        // keep the permit the violation was opened under (its routes are the ones in refs)
        if (o.violation.permit !== permit.id) o.violation.permit = permit.id;
        return {
          state: {
            ...base,
            outTs: -1,
            outFixes: 0,
            outMaxM: 0,
            inTs: -1,
            reportedMaxM: maxM,
            open: o.violation,
          },
          events: [o.event],
        };
      }
      return { state: { ...base, outTs, outFixes, outLon, outLat, outMaxM }, events: NO_EVENTS };
    }

    // open
    if (cls !== OUT) {
      const inTs = state.inTs < 0 ? fix.ts : state.inTs;
      if (fix.ts - inTs >= th.offRouteEndInsideMs) return { state: IDLE, events: [close(v, inTs)] };
      return { state: inTs === state.inTs ? state : { ...base, inTs }, events: NO_EVENTS };
    }
    const prevMax = Number(v.details.maxDeviationM ?? 0);
    const maxM = Math.max(prevMax, round1(devM));
    const level = Math.max(v.level, levelFor(fix.ts - v.startTs, th.offRouteEscalationMs));
    const outsideFixes = Number(v.details.outsideFixes ?? 0) + 1;
    if (level !== v.level || maxM - state.reportedMaxM > floor) {
      const u = update(v, {
        level,
        lastPos: [fix.lon, fix.lat],
        details: { maxDeviationM: maxM, outsideFixes },
      });
      return { state: { ...base, inTs: -1, reportedMaxM: maxM, open: u.violation }, events: [u.event] };
    }
    const silent: Violation = {
      ...v,
      lastPos: [fix.lon, fix.lat],
      details: { ...v.details, maxDeviationM: maxM, outsideFixes },
    };
    return { state: { ...base, inTs: -1, open: silent }, events: NO_EVENTS };
  },
};
