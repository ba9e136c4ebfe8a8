import { thresholds } from '../thresholds/sweep-overspeed.ts';
import type { RuleModule, Violation } from '../types.ts';
import { close, NO_EVENTS, open, quietResult } from './lifecycle.ts';
import { isSweeping, r1 } from './plan-facts.ts';

/**
 * SWEEP_OVERSPEED (作业超速): a sweeper sweeping (brush on, or task `sweeping`) faster than the working
 * speed limit for a sustained time (domain.md: "sweepers must keep a low working speed", e.g. 15 km/h).
 * Opens at the fix where the run of sweeping fixes over the limit has lasted `sweepOverspeedMinMs`, with
 * startTs = the run's first fix; closes at the first fix at or under the limit or not sweeping. A gap
 * longer than trackGapMs inside a run starts a new run (nothing is known of the silence). The speed is
 * the terminal's own reading: position noise does not enter. details: maxSpeedKmh (at open: so far; at
 * close: of the whole run), limitKmh.
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export interface SweepOverspeedState {
  /** first fix of the run over the limit */
  since: number;
  /** last fix of the run (gaps) */
  lastTs: number;
  lon: number;
  lat: number;
  maxKmh: number;
  open: Violation | null;
}

/** idle: null (no run), so a unit this rule does not judge keeps a few bytes of state */
const QUIET = quietResult<SweepOverspeedState | null>(null);
const VERSION = 1;

export const sweepOverspeed: RuleModule<SweepOverspeedState | null> = {
  code: 'SWEEP_OVERSPEED',
  version: VERSION,
  thresholds,
  appliesTo: ['sanitation'],
  initial: () => null,
  step(state, ctx) {
    const { fix, thresholds: th } = ctx;
    const speed = fix.speed ?? 0;
    const over = isSweeping(fix) && speed > th.sweepSpeedLimitKmh;
    if (!over) {
      if (state === null) return QUIET;
      if (state.open === null) return QUIET;
      const closed = close(state.open, fix.ts, [fix.lon, fix.lat]);
      closed.violation.details = { ...closed.violation.details, maxSpeedKmh: r1(state.maxKmh) };
      return { state: null, events: [closed] };
    }
    const fresh = state === null || (state.open === null && fix.ts - state.lastTs > th.trackGapMs);
    const since = fresh ? fix.ts : state.since;
    const next: SweepOverspeedState = {
      since,
      lastTs: fix.ts,
      lon: fresh ? fix.lon : state!.lon,
      lat: fresh ? fix.lat : state!.lat,
      maxKmh: fresh ? speed : Math.max(state!.maxKmh, speed),
      open: state?.open ?? null,
    };
    // the maximum is kept silently and reported at close (no update event per faster fix)
    if (next.open !== null) return { state: next, events: NO_EVENTS };
    if (fix.ts - since < th.sweepOverspeedMinMs) return { state: next, events: NO_EVENTS };
    const o = open(ctx, {
      code: 'SWEEP_OVERSPEED',
      ruleVersion: VERSION,
      startTs: since,
      startPos: [next.lon, next.lat],
      refs: [ctx.world.thresholdsRef],
      thresholds: { sweepSpeedLimitKmh: th.sweepSpeedLimitKmh, sweepOverspeedMinMs: th.sweepOverspeedMinMs },
      details: { maxSpeedKmh: r1(next.maxKmh), limitKmh: th.sweepSpeedLimitKmh },
    });
    return { state: { ...next, open: o.violation }, events: [o.event] };
  },
};
