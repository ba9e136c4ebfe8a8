import { permitWindowStartUtcMs } from '../calendar.ts';
import type { EntityRef, Permit } from '../model.ts';
import type { RuleModule, TickContext, Violation } from '../types.ts';
import { close, quietResult, unchanged, violationId } from './lifecycle.ts';

/**
 * OFFLINE (离线): the device is silent while it should report (domain.md: no fix for > 3x the report
 * interval while the ignition is on or inside permit hours). Silence has no fix, so it is found by the
 * shell's explicit `tick(nowMs)`: allowed = offlineFactor x vehicle.reportIntervalS (30 s when the
 * vehicle has no profile). When nowMs - last.ts > allowed and
 * - the ignition was on at the last fix: opened with startTs = last.ts + allowed;
 * - or the tick instant is inside a window of a permit of the vehicle that started on one of its valid
 *   dates (calendar.ts `permitWindowStartUtcMs`, as the engine's facts): opened with startTs = the later of last.ts + allowed and the start of that window (silence before the
 *   hours began was allowed).
 * Position: the last fix's. Closed by the next in-order fix in `step` (endTs = that fix's ts, or startTs
 * for a backfilled fix recorded before the onset), whatever it carries. `step` is one comparison when
 * nothing is open; repeated ticks while open change nothing.
 */

export const DEFAULT_REPORT_INTERVAL_S = 30;

export interface OfflineState {
  open: Violation | undefined;
}

const IDLE: OfflineState = Object.freeze({ open: undefined });
const QUIET = quietResult(IDLE);

export const offline: RuleModule<OfflineState> = {
  code: 'OFFLINE',
  version: 1,
  initial: () => IDLE,
  step(state, ctx) {
    if (state.open === undefined) return unchanged(state, QUIET);
    // a backfilled fix recorded during the silence may predate the onset: never end before the start
    const endTs = Math.max(ctx.fix.ts, state.open.startTs);
    return { state: IDLE, events: [close(state.open, endTs, [ctx.fix.lon, ctx.fix.lat])] };
  },
  tick(state, ctx: TickContext) {
    const last = ctx.last;
    if (state.open !== undefined || last === undefined) return unchanged(state, QUIET);
    const profile = ctx.world.vehicle(ctx.vehicle);
    const intervalS = profile?.reportIntervalS ?? DEFAULT_REPORT_INTERVAL_S;
    const allowedMs = ctx.thresholds.offlineFactor * intervalS * 1000;
    if (ctx.nowMs - last.ts <= allowedMs) return unchanged(state, QUIET);
    let startTs = last.ts + allowedMs;
    let permit: Permit | undefined;
    let reason: string;
    if (last.ign === true) {
      reason = 'ignition_on';
    } else {
      let windowStart: number | undefined;
      for (const p of ctx.world.permitsOf(ctx.vehicle)) {
        // the same coverage test as the engine's facts: a night window counts for the date it started
        const s = permitWindowStartUtcMs(p, ctx.nowMs);
        if (s !== undefined && (windowStart === undefined || s < windowStart)) {
          windowStart = s;
          permit = p;
        }
      }
      if (windowStart === undefined || permit === undefined) return unchanged(state, QUIET);
      reason = 'permit_hours';
      if (windowStart > startTs) startTs = windowStart;
    }
    const refs: EntityRef[] = [ctx.world.thresholdsRef];
    if (permit) refs.push({ kind: 'permit', id: permit.id, version: permit.version });
    if (profile) refs.push({ kind: 'vehicle', id: profile.id, version: profile.version });
    const violation: Violation = {
      id: violationId(ctx.vehicle, 'OFFLINE', startTs),
      code: 'OFFLINE',
      vehicle: ctx.vehicle,
      firm: last.firm,
      ...(permit ? { permit: permit.id } : {}),
      startTs,
      detectedTs: ctx.nowMs,
      level: 0,
      startPos: [last.lon, last.lat],
      lastPos: [last.lon, last.lat],
      refs,
      thresholds: { offlineFactor: ctx.thresholds.offlineFactor },
      ruleVersion: 1,
      details: { reason, lastFixTs: last.ts, reportIntervalS: intervalS, allowedSilenceMs: allowedMs },
    };
    return { state: { open: violation }, events: [{ phase: 'opened', violation }] };
  },
};
