import type { Position } from '../model.ts';
import { thresholds } from '../thresholds/off-hours.ts';
import type { RuleContext, RuleModule, Violation, ViolationEvent } from '../types.ts';
import { baseRefs, close, NO_EVENTS, open, quietResult, unchanged } from './lifecycle.ts';
import { unloadedAt } from './load-refs.ts';

/**
 * OFF_HOURS (时间违规): a loaded truck moving (> offHoursSpeedKmh) while it holds a permit valid on the
 * day but no permit window covers the instant, for >= offHoursMinMs (domain.md). The engine's calendar
 * decides coverage (`facts.coveringPermit`), windows crossing midnight included. With no valid permit
 * at all the trip is NO_PERMIT's business, not this rule's.
 *
 * - Onset: the pending run starts at the first loaded, moving, uncovered fix (startTs) and opens at a
 *   moving fix >= offHoursMinMs later. Stops shorter than offHoursMinMs (a red light) do not break the
 *   run, symmetric with the close rule, so stop-and-go traffic cannot dodge the rule.
 * - End: at the first fix covered again, unloaded, or without any valid permit (endTs = that fix), or
 *   after a stop of >= offHoursMinMs (endTs = the first stopped fix).
 * - A fix with `valid: false` (last known position, stale speed) is not judged: state unchanged.
 *
 * Local-time windows (night, zone, permit) are the calendar's business: geofence/calendar.ts.
 */

/** Rounds a figure for `details` (0.1 unit): stable, readable evidence. */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export interface OffHoursState {
  /** first fix of the pending (not yet open) run; -1 when none */
  runTs: number;
  runLon: number;
  runLat: number;
  runMaxKmh: number;
  /** first fix of the current stop (speed <= threshold) within a run or an open violation; -1 when moving */
  stopTs: number;
  open: Violation | undefined;
}

const IDLE: OffHoursState = Object.freeze({
  runTs: -1,
  runLon: 0,
  runLat: 0,
  runMaxKmh: 0,
  stopTs: -1,
  open: undefined,
});
const QUIET = quietResult(IDLE);

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

export const offHours: RuleModule<OffHoursState> = {
  code: 'OFF_HOURS',
  version: RULE_VERSION,
  thresholds,
  initial: () => IDLE,
  step(state, ctx: RuleContext) {
    const { fix, facts, thresholds: th } = ctx;
    if (!fix.valid) return unchanged(state, QUIET);
    const noValid = facts.validPermits.length === 0;
    const applies = facts.loaded && facts.coveringPermit === undefined && !noValid;
    if (!applies) {
      if (state.open) {
        const reason = !facts.loaded ? 'unloaded' : noValid ? 'no_valid_permit' : 'covered';
        const endTs = facts.loaded ? fix.ts : unloadedAt(ctx, state.open.startTs);
        return { state: IDLE, events: [closeWith(state.open, endTs, reason)] };
      }
      return state.runTs < 0 ? unchanged(state, QUIET) : QUIET;
    }
    const speed = fix.speed ?? 0;
    const pos: Position = [fix.lon, fix.lat];
    if (speed <= th.offHoursSpeedKmh) {
      if (state.open === undefined && state.runTs < 0) return unchanged(state, QUIET);
      const stopTs = state.stopTs < 0 ? fix.ts : state.stopTs;
      if (fix.ts - stopTs >= th.offHoursMinMs) {
        const events = state.open ? [closeWith(state.open, stopTs, 'stopped')] : [];
        return { state: IDLE, events };
      }
      return { state: stopTs === state.stopTs ? state : { ...state, stopTs }, events: NO_EVENTS };
    }
    // loaded, moving, uncovered, with a valid permit
    if (state.open) {
      const v = state.open;
      const max = Math.max(Number(v.details.maxSpeedKmh ?? 0), round1(speed));
      const next: Violation = { ...v, lastPos: pos, details: { ...v.details, maxSpeedKmh: max } };
      return { state: { ...state, stopTs: -1, open: next }, events: NO_EVENTS };
    }
    const runTs = state.runTs < 0 ? fix.ts : state.runTs;
    const runLon = state.runTs < 0 ? fix.lon : state.runLon;
    const runLat = state.runTs < 0 ? fix.lat : state.runLat;
    const runMaxKmh = Math.max(state.runTs < 0 ? 0 : state.runMaxKmh, speed);
    if (fix.ts - runTs >= th.offHoursMinMs) {
      const permit = facts.validPermits[0]!;
      const o = open(ctx, {
        code: 'OFF_HOURS',
        ruleVersion: RULE_VERSION,
        startTs: runTs,
        startPos: [runLon, runLat],
        refs: baseRefs(ctx),
        thresholds: { offHoursSpeedKmh: th.offHoursSpeedKmh, offHoursMinMs: th.offHoursMinMs },
        details: {
          maxSpeedKmh: round1(runMaxKmh),
          localDate: facts.localDate,
          permitWindows: permit.windows.join(','),
        },
      });
      return { state: { ...IDLE, open: o.violation }, events: [o.event] };
    }
    const same = runTs === state.runTs && runMaxKmh === state.runMaxKmh && state.stopTs < 0;
    return {
      state: same ? state : { runTs, runLon, runLat, runMaxKmh, stopTs: -1, open: undefined },
      events: NO_EVENTS,
    };
  },
};
