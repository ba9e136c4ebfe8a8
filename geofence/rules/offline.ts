import type { EntityRef } from '../model.ts';
import { thresholds } from '../thresholds/offline.ts';
import type { RuleModule, TickContext, Violation } from '../types.ts';
import { close, quietResult, unchanged, violationId } from './lifecycle.ts';

/**
 * OFFLINE (离线): the device is silent while it should report (domain.md: no fix for more than
 * max(offlineFactor x the report interval, offlineMinMs) while the last fix had the ignition on or the
 * truck was loaded outside every site). A truck parked with the ignition off is the terminal's sleep, not
 * OFFLINE, wherever it is and at whatever hour (version 1 also charged silence inside permit hours, so
 * a truck asleep in its own site overnight was OFFLINE all night); a 60 s underpass is not OFFLINE
 * (version 1 allowed 3 x 10 s).
 *
 * Silence has no fix, so it is found by the shell's explicit `tick(nowMs)`: allowed = max(offlineFactor x
 * vehicle.reportIntervalS (30 s when the vehicle has no profile), offlineMinMs). When nowMs - last.ts >
 * allowed and the last fix had `ign: true`, or was a muck truck loaded (the confirmed load of
 * `facts.loaded`) inside no site, it opens with startTs = last.ts + allowed, at the last fix's position.
 * Whether the last fix was loaded outside sites is kept in the slice by `step` (the tick has no facts).
 *
 * Closed by the next in-order fix in `step` (endTs = that fix's ts, or startTs for a fix recorded before
 * the onset that arrived after the tick: see below), whatever it carries. Repeated ticks while open
 * change nothing.
 *
 * details: reason (ignition_on | loaded_outside_sites), lastFixTs, reportIntervalS, allowedSilenceMs.
 * refs: thresholds, the vehicle's first permit (if any), the vehicle profile.
 *
 * A fix recorded before the onset but delivered after the tick proves the device was not silent that
 * long: the silence was never there. Closing it at startTs would list a zero-length OFFLINE; the
 * violation is withdrawn instead (phase `withdrawn`, reason backfill, the fix's instant as `lateTs`:
 * types.ts Withdrawal), which no scorecard counts.
 */

export const DEFAULT_REPORT_INTERVAL_S = 30;

export interface OfflineState {
  open: Violation | undefined;
  /** the last fix was a muck truck loaded outside every site */
  lo: boolean;
}

const IDLE: OfflineState = Object.freeze({ open: undefined, lo: false });
const LOADED_OUTSIDE: OfflineState = Object.freeze({ open: undefined, lo: true });
const QUIET = quietResult(IDLE);
const QUIET_LOADED = quietResult(LOADED_OUTSIDE);

/** 2: max(3 x interval, 10 min), ignition on or loaded outside sites (1: 3 x interval, ignition or permit hours). */
const RULE_VERSION = 2;

/** The silence a unit is allowed before it is OFFLINE, ms. */
export function allowedSilenceMs(
  th: { offlineFactor: number; offlineMinMs: number },
  reportIntervalS: number,
): number {
  return Math.max(th.offlineFactor * reportIntervalS * 1000, th.offlineMinMs);
}

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const offline: RuleModule<OfflineState> = {
  code: 'OFFLINE',
  version: RULE_VERSION,
  thresholds,
  initial: () => IDLE,
  step(state, ctx) {
    const lo = ctx.fix.kind === 'muck_truck' && ctx.facts.loaded && ctx.facts.sites.length === 0;
    const next = lo ? LOADED_OUTSIDE : IDLE;
    if (state.open === undefined) return unchanged(next, lo ? QUIET_LOADED : QUIET);
    const v = state.open;
    if (ctx.fix.ts <= v.startTs) {
      // recorded before the onset: the device was not silent that long (see the header)
      const withdrawal = { reason: 'backfill', lateTs: ctx.fix.ts } as const;
      return {
        state: next,
        events: [{ phase: 'withdrawn', violation: { ...v, withdrawal }, rejudged: withdrawal }],
      };
    }
    return { state: next, events: [close(v, ctx.fix.ts, [ctx.fix.lon, ctx.fix.lat])] };
  },
  tick(state, ctx: TickContext) {
    const last = ctx.last;
    if (state.open !== undefined || last === undefined) return unchanged(state, QUIET);
    let reason: string;
    if (last.ign === true) reason = 'ignition_on';
    else if (state.lo === true) reason = 'loaded_outside_sites';
    else return unchanged(state, QUIET);
    const profile = ctx.world.vehicle(ctx.vehicle);
    const intervalS = profile?.reportIntervalS ?? DEFAULT_REPORT_INTERVAL_S;
    const allowedMs = allowedSilenceMs(ctx.thresholds, intervalS);
    if (ctx.nowMs - last.ts <= allowedMs) return unchanged(state, QUIET);
    const startTs = last.ts + allowedMs;
    const permit = ctx.world.permitsOf(ctx.vehicle)[0];
    const refs: EntityRef[] = [ctx.world.thresholdsRef];
    if (permit) refs.push({ kind: 'permit', id: permit.id, version: permit.version });
    if (profile) refs.push({ kind: 'vehicle', id: profile.id, version: profile.version });
    const violation = offlineViolation(
      { vehicle: ctx.vehicle, nowMs: ctx.nowMs, thresholds: ctx.thresholds, last },
      {
        startTs,
        refs,
        ruleVersion: RULE_VERSION,
        reason,
        intervalS,
        allowedMs,
        ...(permit ? { permit: permit.id } : {}),
      },
    );
    return { state: { open: violation, lo: state.lo }, events: [{ phase: 'opened', violation }] };
  },
};

/**
 * The OFFLINE violation a silence tick opens, for the vehicle rule here and the body cameras' duty rule
 * (rules/duty-offline.ts): dated from `startTs` (the last fix, or the shift's start, plus the allowance),
 * at the last fix's position, with the thresholds and the silence's figures.
 */
export function offlineViolation(
  ctx: Pick<TickContext, 'vehicle' | 'nowMs' | 'thresholds'> & { last: NonNullable<TickContext['last']> },
  o: {
    startTs: number;
    refs: EntityRef[];
    ruleVersion: number;
    reason: string;
    intervalS: number;
    allowedMs: number;
    permit?: string;
  },
): Violation {
  const { last } = ctx;
  return {
    id: violationId(ctx.vehicle, 'OFFLINE', o.startTs),
    code: 'OFFLINE',
    vehicle: ctx.vehicle,
    firm: last.firm,
    ...(o.permit !== undefined ? { permit: o.permit } : {}),
    startTs: o.startTs,
    detectedTs: ctx.nowMs,
    level: 0,
    startPos: [last.lon, last.lat],
    lastPos: [last.lon, last.lat],
    refs: o.refs,
    thresholds: { offlineFactor: ctx.thresholds.offlineFactor, offlineMinMs: ctx.thresholds.offlineMinMs },
    ruleVersion: o.ruleVersion,
    details: {
      reason: o.reason,
      lastFixTs: last.ts,
      reportIntervalS: o.intervalS,
      allowedSilenceMs: o.allowedMs,
    },
  };
}
