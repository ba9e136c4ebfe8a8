import type { Fix } from '../../core/fix.ts';
import type { Thresholds } from '../model.ts';
import type { WeightLoss } from '../types.ts';
import { verdict } from './confirm.ts';
import { type LoadTrack, round2 } from './load-track.ts';

/**
 * The weight-loss part of the load detector (load-events.ts runs it at every fix, after the transitions).
 *
 * Weight loss on the road (SPILLAGE): in a moving run (speed > `spillageSpeedKmh`, lift not up) that
 * began loaded, the weight falls more than `spillageWeightDropT` below its weight at the run's first
 * fix: the onset. Confirmed at the first fix `sensorConfirmMs` later still that far down (it survives
 * stops; the lift going up drops it: unloading explains it); a glitch when it comes back sooner (within
 * half the threshold). `weightLoss` is reported from the confirming fix on, while the run goes on (and at
 * the confirming fix itself when it is a stopped one), with the largest drop so far.
 *
 * Returns the loss in force at this fix; updates the `w*` fields of the track (and `gl` on a glitch).
 */
export function stepWeightLoss(o: LoadTrack, fix: Fix, t: Thresholds): WeightLoss | null {
  if (fix.lift === 'up') {
    // unloading explains any change of weight
    o.wr = -1;
    o.wt = -1;
    o.wd = 0;
    o.wc = 0;
    return null;
  }
  const w = fix.weight ?? -1;
  const moving = (fix.speed ?? 0) > t.spillageSpeedKmh;
  const limit = t.spillageWeightDropT;
  let confirmedNow = false;
  if (o.wt >= 0 && w >= 0) {
    const d = round2(o.wr - w);
    if (o.wc === 0) {
      const v = verdict(o.wt, fix.ts, d > limit / 2, false, t.sensorConfirmMs);
      if (v === 'glitch') {
        o.gl += 1;
        o.wt = -1;
        o.wd = 0;
      } else {
        o.wd = Math.max(o.wd, d);
        if (v === 'confirmed') {
          o.wc = 1;
          confirmedNow = true;
        }
      }
    } else {
      o.wd = Math.max(o.wd, d);
    }
  }
  const loss =
    o.wc === 1 && (moving || confirmedNow) ? { ts: o.wt, lon: o.wlon, lat: o.wlat, dropT: o.wd } : null;
  if (!moving) {
    if (o.wc === 1) {
      o.wt = -1;
      o.wd = 0;
      o.wc = 0;
    }
    // a pending loss keeps the reference of its run; otherwise the next moving run takes its own
    if (o.wt < 0) o.wr = -1;
  } else if (w >= 0 && o.wt < 0) {
    if (o.wr < 0) {
      if (o.lc === 1) o.wr = w;
    } else if (round2(o.wr - w) > limit) {
      o.wt = fix.ts;
      o.wlon = fix.lon;
      o.wlat = fix.lat;
      o.wd = round2(o.wr - w);
      if (t.sensorConfirmMs <= 0) {
        o.wc = 1;
        return { ts: o.wt, lon: o.wlon, lat: o.wlat, dropT: o.wd };
      }
    }
  }
  return loss;
}
