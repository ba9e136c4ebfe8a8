import type { RuleModule, Violation } from '../types.ts';
import { close, NO_EVENTS, open, update } from './lifecycle.ts';
import { refsWith } from './load-events.ts';

/**
 * SPILLAGE (抛洒滴漏): load escaping on the road. Two triggers, one violation:
 * (a) cover: loaded, cover open and speed > `spillageSpeedKmh` for >= `spillageMinMs` (startTs = the
 *     first fix of that run). The trigger ends at the first fix with the cover closed, the truck unloaded,
 *     or speed <= `spillageSpeedKmh`.
 * (b) weight: during a moving run (speed > `spillageSpeedKmh`, lift not up) that began loaded, the weight
 *     has fallen by more than `spillageWeightDropT` below the weight at the first fix of the run. It is
 *     NOT instantaneous: the violation opens at the fix where the drop first exceeds the threshold and
 *     the trigger holds until the moving run ends (slow, or lift up), so one leaking run is one violation
 *     whose close carries the run's total drop. A fix without a weight reading neither starts nor breaks
 *     the weight run.
 * One SPILLAGE is open at a time (ids are `vehicle:SPILLAGE:startTs`): it opens when either trigger
 * holds and closes when neither does; when the second trigger joins an open violation an `updated`
 * event names both.
 *
 * details: trigger (cover|weight|cover+weight), weightDropT (max drop in the run, t), coverOpenMs (length
 * of the cover-open run from its first fix to the fix that ended it; 0 when the cover never triggered).
 */

export interface SpillageState {
  /** first fix of the current cover-open moving loaded run, -1 none */
  cs: number;
  cLon: number;
  cLat: number;
  /** weight at the first fix of the moving run, -1 none */
  wr: number;
  /** largest drop below `wr` so far in the run (t) */
  wd: number;
  /** the weight trigger fired in this run */
  wh: boolean;
  open: Violation | null;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function triggerOf(cover: boolean, weight: boolean): string {
  return cover && weight ? 'cover+weight' : cover ? 'cover' : 'weight';
}

/** Shared by every vehicle until its first change. */
const INITIAL: SpillageState = Object.freeze({
  cs: -1,
  cLon: 0,
  cLat: 0,
  wr: -1,
  wd: 0,
  wh: false,
  open: null,
});

export const spillage: RuleModule<SpillageState> = {
  code: 'SPILLAGE',
  version: 1,
  initial: () => INITIAL,
  step(state, ctx) {
    const { fix, thresholds: t } = ctx;
    const loaded = ctx.facts.loaded;
    const moving = (fix.speed ?? 0) > t.spillageSpeedKmh;

    // (a) cover
    let { cs, cLon, cLat } = state;
    if (loaded && moving && fix.cover === 'open') {
      if (cs < 0) {
        cs = fix.ts;
        cLon = fix.lon;
        cLat = fix.lat;
      }
    } else {
      cs = -1;
    }
    const coverOn = cs >= 0 && fix.ts - cs >= t.spillageMinMs;

    // (b) weight
    let { wr, wd, wh } = state;
    if (!moving || fix.lift === 'up') {
      wr = -1;
      wd = 0;
      wh = false;
    } else if (fix.weight !== undefined) {
      if (wr < 0) {
        if (loaded) wr = fix.weight;
      } else {
        wd = Math.max(wd, round2(wr - fix.weight));
        if (wd > t.spillageWeightDropT) wh = true;
      }
    }
    const weightOn = wh;

    // most fixes change nothing (no run, or a steady one): keep the slice object then
    const unchanged =
      cs === state.cs &&
      cLon === state.cLon &&
      cLat === state.cLat &&
      wr === state.wr &&
      wd === state.wd &&
      wh === state.wh;
    const next: SpillageState = unchanged ? state : { cs, cLon, cLat, wr, wd, wh, open: state.open };
    const active = coverOn || weightOn;

    if (state.open === null) {
      if (!active) return { state: next, events: NO_EVENTS };
      const o = open(ctx, {
        code: 'SPILLAGE',
        ruleVersion: 1,
        startTs: coverOn ? cs : fix.ts,
        startPos: coverOn ? [cLon, cLat] : [fix.lon, fix.lat],
        refs: refsWith(ctx, [], []),
        thresholds: {
          spillageSpeedKmh: t.spillageSpeedKmh,
          spillageMinMs: t.spillageMinMs,
          spillageWeightDropT: t.spillageWeightDropT,
        },
        details: { trigger: triggerOf(coverOn, weightOn), weightDropT: wd, coverOpenMs: 0 },
      });
      return { state: { ...next, open: o.violation }, events: [o.event] };
    }

    const prevTrigger = String(state.open.details.trigger ?? '');
    // cover run length, fixed when the cover run ends (cover closed, stopped, unloaded)
    const coverOpenMs =
      prevTrigger.includes('cover') && state.cs >= 0 && cs < 0
        ? fix.ts - state.cs
        : Number(state.open.details.coverOpenMs ?? 0);
    const weightDropT = Math.max(Number(state.open.details.weightDropT ?? 0), wd);

    if (!active) {
      const closed = close(state.open, fix.ts, [fix.lon, fix.lat]);
      closed.violation.details = { ...closed.violation.details, weightDropT, coverOpenMs };
      return { state: { ...next, open: null }, events: [closed] };
    }

    const trig = triggerOf(
      coverOn || prevTrigger.includes('cover'),
      weightOn || prevTrigger.includes('weight'),
    );
    if (trig !== prevTrigger) {
      const u = update(state.open, {
        details: { trigger: trig, weightDropT, coverOpenMs },
        lastPos: [fix.lon, fix.lat],
      });
      return { state: { ...next, open: u.violation }, events: [u.event] };
    }
    // a new maximum drop / the cover run length are kept in state (reported at close), no event per fix
    const same =
      weightDropT === state.open.details.weightDropT && coverOpenMs === state.open.details.coverOpenMs;
    const kept = same
      ? state.open
      : { ...state.open, details: { ...state.open.details, weightDropT, coverOpenMs } };
    return {
      state: next === state && kept === state.open ? state : { ...next, open: kept },
      events: NO_EVENTS,
    };
  },
};
