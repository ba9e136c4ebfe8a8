import { metresPerDegree } from '../geo/ruler.ts';
import type { RuleContext, RuleModule } from '../types.ts';
import { baseRefs, close, open, quietResult, unchanged } from './lifecycle.ts';
import { round1 } from './off-hours.ts';

/**
 * TRACK_GAP (轨迹不连续): a jump between two consecutive in-order fixes of the vehicle (`ctx.prev`):
 * the gap exceeds trackGapMs, or the implied speed exceeds trackGapSpeedKmh (domain.md: > 5 min or
 * > 150 km/h). Instantaneous: opened and closed in the same step, startTs = prev.ts, endTs = fix.ts, so
 * its id (`vehicle:TRACK_GAP:prev.ts`) is unique per pair. details: gapMs, distanceM, impliedSpeedKmh
 * (raw figures), reason 'gap' | 'speed'.
 *
 * Distance: equirectangular, metres per degree at the fix's latitude (a planar approximation that is
 * exact to well under 0.1 % at the distances that matter here).
 * Noise: the speed test is judged on the distance less 2 x max(accuracyFloorM, accuracy) for EACH of the
 * two fixes (60 m with the 15 m floor, about two standard deviations per fix), and needs both positions
 * valid, so two noisy fixes do not fake a jump (simulated with 15 m noise per axis at 30 km/h: none in
 * 72,000 pairs 5-10 s apart; 1 in 36,000 pairs 1 s apart, where 150 km/h is only 42 m).
 * A parked vehicle (ignition off at both fixes, not moved beyond that noise allowance) that was silent
 * is not a discontinuity of the track: devices may sleep with the ignition off (and OFFLINE only watches
 * silence while the ignition is on or within permit hours).
 */

export type TrackGapState = null;

const QUIET = quietResult<TrackGapState>(null);

export const trackGap: RuleModule<TrackGapState> = {
  code: 'TRACK_GAP',
  version: 1,
  initial: () => null,
  step(state, ctx: RuleContext) {
    const { fix, prev, thresholds: th } = ctx;
    if (prev === undefined) return unchanged(state, QUIET);
    const gapMs = fix.ts - prev.ts;
    if (gapMs <= 0) return unchanged(state, QUIET);
    const bothValid = fix.valid && prev.valid;
    let distanceM = 0;
    if (bothValid) {
      const { kx, ky } = metresPerDegree(fix.lat);
      const dx = (fix.lon - prev.lon) * kx;
      const dy = (fix.lat - prev.lat) * ky;
      distanceM = Math.sqrt(dx * dx + dy * dy);
    }
    // each position may be off by about twice its accuracy figure (a ~2 sigma allowance per fix)
    const noiseM =
      2 * (Math.max(th.accuracyFloorM, fix.accuracy ?? 0) + Math.max(th.accuracyFloorM, prev.accuracy ?? 0));
    const judgedM = Math.max(0, distanceM - noiseM);
    const impliedKmh = (distanceM / gapMs) * 3_600;
    const tooFast = bothValid && (judgedM / gapMs) * 3_600 > th.trackGapSpeedKmh;
    const tooLong = gapMs > th.trackGapMs;
    if (!tooFast && !tooLong) return unchanged(state, QUIET);
    if (!tooFast && prev.ign === false && fix.ign === false && bothValid && distanceM <= noiseM) {
      return unchanged(state, QUIET);
    }
    const o = open(ctx, {
      code: 'TRACK_GAP',
      ruleVersion: 1,
      startTs: prev.ts,
      startPos: [prev.lon, prev.lat],
      refs: baseRefs(ctx),
      thresholds: {
        trackGapMs: th.trackGapMs,
        trackGapSpeedKmh: th.trackGapSpeedKmh,
        accuracyFloorM: th.accuracyFloorM,
      },
      details: {
        gapMs,
        distanceM: round1(distanceM),
        impliedSpeedKmh: round1(impliedKmh),
        reason: tooLong ? 'gap' : 'speed',
        positionsValid: bothValid,
      },
    });
    return { state, events: [o.event, close(o.violation, fix.ts, [fix.lon, fix.lat])] };
  },
};
