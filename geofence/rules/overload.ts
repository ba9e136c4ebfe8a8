import { thresholds } from '../thresholds/overload.ts';
import type { RuleModule, Violation } from '../types.ts';
import { verdict } from './confirm.ts';
import { close, NO_EVENTS, open, quietResult, unchanged } from './lifecycle.ts';
import { refsWith } from './load-refs.ts';

/**
 * OVERLOAD (超载): weight above the vehicle's rated load (`ctx.vehicle.ratedLoadT`) for >=
 * `overloadMinMs`. Opens at the fix where the run has lasted the minimum, startTs = the first fix over
 * the rating. A run (pending or open) ends once the weight is confirmed at or under the rating
 * (rules/confirm.ts: the first fix at or under it, confirmed when it persisted `sensorConfirmMs` or the
 * truck unloads, lift up or load empty; a reading back over the rating sooner was a glitch, and the run
 * goes on), at that first fix (endTs). Version 2: version 1 ended at any reading under the rating, so a
 * weight sensor glitch split one overloaded haul into two violations. Skipped for vehicles without a known rated load
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
  /** first fix at or under the rating while a run goes on (the end, unless it was a glitch), -1 none */
  under: number;
  open: Violation | null;
}

/** No run, nothing open (shared by every such vehicle). */
const IDLE: OverloadState = Object.freeze({ since: -1, lon: 0, lat: 0, max: 0, under: -1, open: null });

const RULE_VERSION = 2;
const QUIET = quietResult(IDLE);

const pct = (w: number, rated: number) => Math.round(((w - rated) / rated) * 1000) / 10;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const overload: RuleModule<OverloadState> = {
  code: 'OVERLOAD',
  version: RULE_VERSION,
  thresholds,
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
      if (state.since < 0) return unchanged(state, QUIET);
      const under = state.under >= 0 ? state.under : fix.ts;
      const unloading = fix.lift === 'up' || fix.load === 'empty';
      if (verdict(under, fix.ts, true, unloading, t.sensorConfirmMs) === 'pending') {
        return { state: under === state.under ? state : { ...state, under }, events: NO_EVENTS };
      }
      if (state.open === null) return QUIET;
      const closed = close(state.open, Math.max(under, state.open.startTs), [fix.lon, fix.lat]);
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

    // over the rating again: a reading under it since `under` came back (a glitch), the run goes on
    if (state.open !== null) {
      const kept =
        max === state.max
          ? state.open
          : { ...state.open, details: { ...state.open.details, maxWeightT: max, overPct: pct(max, rated) } };
      const same = since === state.since && max === state.max && kept === state.open && state.under < 0;
      return { state: same ? state : { since, lon, lat, max, under: -1, open: kept }, events: NO_EVENTS };
    }
    if (fix.ts - since < t.overloadMinMs)
      return { state: { since, lon, lat, max, under: -1, open: null }, events: NO_EVENTS };
    const vehicle = ctx.vehicle!;
    const refs = refsWith(ctx, [], []);
    refs.push({ kind: 'vehicle', id: vehicle.id, version: vehicle.version });
    const o = open(ctx, {
      code: 'OVERLOAD',
      ruleVersion: RULE_VERSION,
      startTs: since,
      startPos: [lon, lat],
      refs,
      thresholds: { overloadMinMs: t.overloadMinMs, sensorConfirmMs: t.sensorConfirmMs },
      details: { ratedLoadT: rated, maxWeightT: max, overPct: pct(max, rated) },
    });
    return { state: { since, lon, lat, max, under: -1, open: o.violation }, events: [o.event] };
  },
};
