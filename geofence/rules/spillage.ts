import { thresholds } from '../thresholds/spillage.ts';
import type { RuleModule, Violation } from '../types.ts';
import { close, NO_EVENTS, open, update } from './lifecycle.ts';
import { refsWith } from './load-refs.ts';

/**
 * SPILLAGE (抛洒滴漏): load escaping on the road. Two triggers, one violation:
 * (a) cover: loaded (the confirmed load), cover open and speed > `spillageSpeedKmh` for >= `spillageMinMs`
 *     (startTs = the first fix of that run). The trigger ends at the first fix with the cover closed, the
 *     truck unloaded, or speed <= `spillageSpeedKmh`. A cover switch flickering open for less than the
 *     minimum opens nothing.
 * (b) weight: a confirmed weight loss on the road (`facts.weightLoss`, load-events.ts): in a moving run
 *     (lift down) that began loaded, the weight fell more than `spillageWeightDropT` below the run's first
 *     weight and stayed down for `sensorConfirmMs` (domain.md: "not back within 60 s"; a reading that
 *     comes back sooner is a glitch: 24 t -> 2.5 t -> 24 t while moving opens nothing). startTs = the
 *     first fix past the threshold; the trigger holds from the confirming fix while the moving run lasts
 *     (slow, or lift up, ends it), so one leaking run is one violation whose close carries the run's
 *     total drop.
 * One SPILLAGE is open at a time (ids are `vehicle:SPILLAGE:startTs`): it opens when either trigger
 * holds and closes when neither does; when the second trigger joins an open violation an `updated`
 * event names both.
 *
 * details: trigger (cover|weight|cover+weight), weightDropT (max drop in the run, t), coverOpenMs (length
 * of the cover-open run from its first fix to the fix that ended it; 0 when the cover never triggered).
 *
 * Version 2: version 1 opened on the first reading past the weight threshold, so a glitch opened a
 * SPILLAGE that stayed open until the truck unloaded.
 */

export interface SpillageState {
  /** first fix of the current cover-open moving loaded run, -1 none */
  cs: number;
  cLon: number;
  cLat: number;
  open: Violation | null;
}

function triggerOf(cover: boolean, weight: boolean): string {
  return cover && weight ? 'cover+weight' : cover ? 'cover' : 'weight';
}

/** Shared by every vehicle until its first change. */
const INITIAL: SpillageState = Object.freeze({ cs: -1, cLon: 0, cLat: 0, open: null });

const RULE_VERSION = 2;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const spillage: RuleModule<SpillageState> = {
  code: 'SPILLAGE',
  version: RULE_VERSION,
  thresholds,
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

    // (b) weight: confirmed by the engine core's detector
    const loss = ctx.facts.weightLoss;
    const weightOn = loss !== null;
    const wd = loss?.dropT ?? 0;

    // most fixes change nothing (no run, or a steady one): keep the slice object then
    const unchanged = cs === state.cs && cLon === state.cLon && cLat === state.cLat;
    const next: SpillageState = unchanged ? state : { cs, cLon, cLat, open: state.open };
    const active = coverOn || weightOn;

    if (state.open === null) {
      if (!active) return { state: next, events: NO_EVENTS };
      const o = open(ctx, {
        code: 'SPILLAGE',
        ruleVersion: RULE_VERSION,
        startTs: coverOn ? (loss !== null ? Math.min(cs, loss.ts) : cs) : loss!.ts,
        startPos: coverOn && (loss === null || cs <= loss.ts) ? [cLon, cLat] : [loss!.lon, loss!.lat],
        refs: refsWith(ctx, [], []),
        thresholds: {
          spillageSpeedKmh: t.spillageSpeedKmh,
          spillageMinMs: t.spillageMinMs,
          spillageWeightDropT: t.spillageWeightDropT,
          sensorConfirmMs: t.sensorConfirmMs,
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
