import type { RuleModule, Violation } from '../types.ts';
import { close, NO_EVENTS, open, quietResult, unchanged } from './lifecycle.ts';
import { refsWith } from './load-events.ts';

/**
 * OVERLOAD (超载): weight above the vehicle's rated load (`ctx.vehicle.ratedLoadT`) for >=
 * `overloadMinMs`. Opens at the fix where the run has lasted the minimum, startTs = the first fix over
 * the rating; closes at the first fix at or under it. Skipped for vehicles without a known rated load
 * (an open violation is then closed at the next fix: nothing left to judge against). A fix without a
 * weight reading neither starts nor ends a run.
 *
 * details: ratedLoadT, maxWeightT (kept up to date in state; the close carries the final figure, no
 * `updated` event per new maximum), overPct (percent over the rating at the maximum, 1 decimal).
 * refs: thresholds, permit in force, and the vehicle profile with its version.
 */

export interface OverloadState {
  /** first fix over the rating of the current run, -1 none */
  since: number;
  lon: number;
  lat: number;
  /** max weight of the current run (t) */
  max: number;
  open: Violation | null;
}

/** No run, nothing open (shared by every such vehicle). */
const IDLE: OverloadState = Object.freeze({ since: -1, lon: 0, lat: 0, max: 0, open: null });
const QUIET = quietResult(IDLE);

const pct = (w: number, rated: number) => Math.round(((w - rated) / rated) * 1000) / 10;

export const overload: RuleModule<OverloadState> = {
  code: 'OVERLOAD',
  version: 1,
  initial: () => IDLE,
  step(state, ctx) {
    const { fix, thresholds: t } = ctx;
    const rated = ctx.vehicle?.ratedLoadT;
    if (rated === undefined || !(rated > 0)) {
      if (state.open === null) return state.since < 0 ? unchanged(state, QUIET) : QUIET;
      return { state: IDLE, events: [close(state.open, fix.ts, [fix.lon, fix.lat])] };
    }
    const w = fix.weight;
    if (w === undefined) return unchanged(state, QUIET);

    if (w <= rated) {
      if (state.open === null) return state.since < 0 ? unchanged(state, QUIET) : QUIET;
      const closed = close(state.open, fix.ts, [fix.lon, fix.lat]);
      closed.violation.details = {
        ...closed.violation.details,
        maxWeightT: state.max,
        overPct: pct(state.max, rated),
      };
      return { state: IDLE, events: [closed] };
    }

    const fresh = state.since < 0;
    const since = fresh ? fix.ts : state.since;
    const lon = fresh ? fix.lon : state.lon;
    const lat = fresh ? fix.lat : state.lat;
    const max = fresh ? w : Math.max(state.max, w);

    if (state.open !== null) {
      const kept =
        max === state.max
          ? state.open
          : { ...state.open, details: { ...state.open.details, maxWeightT: max, overPct: pct(max, rated) } };
      const same = since === state.since && max === state.max && kept === state.open;
      return { state: same ? state : { since, lon, lat, max, open: kept }, events: NO_EVENTS };
    }
    if (fix.ts - since < t.overloadMinMs)
      return { state: { since, lon, lat, max, open: null }, events: NO_EVENTS };
    const vehicle = ctx.vehicle!;
    const refs = refsWith(ctx, [], []);
    refs.push({ kind: 'vehicle', id: vehicle.id, version: vehicle.version });
    const o = open(ctx, {
      code: 'OVERLOAD',
      ruleVersion: 1,
      startTs: since,
      startPos: [lon, lat],
      refs,
      thresholds: { overloadMinMs: t.overloadMinMs },
      details: { ratedLoadT: rated, maxWeightT: max, overPct: pct(max, rated) },
    });
    return { state: { since, lon, lat, max, open: o.violation }, events: [o.event] };
  },
};
