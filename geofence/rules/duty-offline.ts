import type { EntityRef } from '../model.ts';
import { containing } from '../plan-windows.ts';
import type { RuleModule, Violation } from '../types.ts';
import { close, idleAsNull, quietResult, unchanged } from './lifecycle.ts';
import { DEFAULT_REPORT_INTERVAL_S, offlineViolation } from './offline.ts';

/**
 * OFFLINE for body cameras (issue 15: "OFFLINE during duty"): a camera silent for longer than
 * max(offlineFactor x its report interval, offlineMinMs) while one of its shifts is running. The vehicle
 * OFFLINE (rules/offline.ts) watches ignition and permit hours, which cameras have not; this module
 * watches duty instead, with the same code, thresholds and lifecycle: found by the silence tick, opened
 * with startTs = the later of the last fix and the start of the shift, plus the allowance; closed by the
 * next fix (never before its start: a backfilled fix recorded during the silence). The duty is the one
 * of the camera or of the officer of its last fix (kept in the slice: LastFix has no officer).
 */

export interface DutyOfflineState {
  /** officer of the last fix ('' none) */
  officer: string;
  open: Violation | undefined;
}

const IDLE: DutyOfflineState = Object.freeze({ officer: '', open: undefined });
const QUIET = quietResult(IDLE);
const VERSION = 1;

export const dutyOffline: RuleModule<DutyOfflineState | null> = idleAsNull<DutyOfflineState>(
  {
    code: 'OFFLINE',
    version: VERSION,
    appliesTo: ['body_camera'],
    initial: () => IDLE,
    step(state, ctx) {
      const officer = ctx.fix.officer ?? '';
      if (state.open === undefined) {
        return officer === state.officer
          ? unchanged(state, QUIET)
          : { state: { officer, open: undefined }, events: [] };
      }
      const endTs = Math.max(ctx.fix.ts, state.open.startTs);
      return {
        state: { officer, open: undefined },
        events: [close(state.open, endTs, [ctx.fix.lon, ctx.fix.lat])],
      };
    },
    tick(state, ctx) {
      const last = ctx.last;
      // ignition on: the vehicle OFFLINE (offline.ts) judges it; never two OFFLINEs for one silence
      if (state.open !== undefined || last === undefined || last.ign === true) return unchanged(state, QUIET);
      const profile = ctx.world.vehicle(ctx.vehicle);
      const intervalS = profile?.reportIntervalS ?? DEFAULT_REPORT_INTERVAL_S;
      const th = ctx.thresholds;
      const allowedMs = Math.max(th.offlineFactor * intervalS * 1000, th.offlineMinMs);
      if (ctx.nowMs - last.ts <= allowedMs) return unchanged(state, QUIET);
      let shiftStart: number | undefined;
      let planRef: EntityRef | undefined;
      for (const plan of ctx.world.dutyPlansOf(ctx.vehicle, state.officer || undefined)) {
        const shift = containing(plan.windows, ctx.nowMs);
        if (shift !== undefined && (shiftStart === undefined || shift.start < shiftStart)) {
          shiftStart = shift.start;
          planRef = { kind: 'duty_plan', id: plan.id, version: plan.version };
        }
      }
      if (shiftStart === undefined || planRef === undefined) return unchanged(state, QUIET);
      // a camera switched on late gets the same allowance from the start of the shift
      const startTs = Math.max(last.ts, shiftStart) + allowedMs;
      if (startTs > ctx.nowMs) return unchanged(state, QUIET);
      const refs: EntityRef[] = [ctx.world.thresholdsRef, planRef];
      if (profile) refs.push({ kind: 'vehicle', id: profile.id, version: profile.version });
      const violation = offlineViolation(
        { vehicle: ctx.vehicle, nowMs: ctx.nowMs, thresholds: th, last },
        { startTs, refs, ruleVersion: VERSION, reason: 'on_duty', intervalS, allowedMs },
      );
      return { state: { officer: state.officer, open: violation }, events: [{ phase: 'opened', violation }] };
    },
  },
  IDLE,
);
