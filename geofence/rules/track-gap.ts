import { metresPerDegree } from '../geo/ruler.ts';
import { thresholds } from '../thresholds/track-gap.ts';
import type { RuleContext, RuleModule } from '../types.ts';
import { baseRefs, close, open, quietResult, unchanged } from './lifecycle.ts';
import { round1 } from './off-hours.ts';

/**
 * TRACK_GAP (轨迹不连续): a jump between two consecutive in-order fixes of the vehicle (`ctx.prev`):
 * a gap longer than trackGapMs while moving, or an implied speed above trackGapSpeedKmh (domain.md:
 * > 5 min while moving, or > 150 km/h). Instantaneous: opened and closed in the same step, startTs =
 * prev.ts, endTs = fix.ts, so its id (`vehicle:TRACK_GAP:prev.ts`) is unique per pair and it never has
 * zero length. details: gapMs, distanceM, impliedSpeedKmh (raw figures), reason 'gap' | 'speed',
 * positionsValid.
 *
 * Distance: equirectangular, metres per degree at the fix's latitude (a planar approximation that is
 * exact to well under 0.1 % at the distances that matter here).
 * Noise: both tests judge the distance less 2 x max(accuracyFloorM, accuracy) for EACH of the two fixes
 * (60 m with the 15 m floor, about two standard deviations per fix), so two noisy fixes of a parked
 * vehicle are neither a jump (simulated with 15 m noise per axis at 30 km/h: none in 72,000 pairs 5-10 s
 * apart; 1 in 36,000 pairs 1 s apart, where 150 km/h is only 42 m) nor a movement. The speed test needs
 * both positions valid.
 * "While moving": either fix reports a speed above spillageSpeedKmh (5 km/h: moving, as for SPILLAGE),
 * or the vehicle moved between the two fixes by more than that noise allowance. A vehicle that was
 * silent where it stood (parked, ignition on or off: the terminal slept, or it sat in a
 * basement) has no discontinuity in its track; silence with the ignition on is OFFLINE's to judge.
 * When both fixes report a speed at or below that (standing still at both ends), the displacement must
 * exceed twice the allowance to count as a move (version 3: a parked truck's two noisy fixes exceed the
 * allowance once in about 50 silences, a wrongful TRACK_GAP).
 * When a position is not valid the movement cannot be measured: the gap counts unless the ignition was
 * off at both fixes (version 1's rule for every parked vehicle).
 *
 * Version 2: a silent parked vehicle with the ignition on was a TRACK_GAP in version 1.
 */

export type TrackGapState = null;

const QUIET = quietResult<TrackGapState>(null);

/** 2: a long gap counts only when the vehicle moved; 3: standing still at both ends, twice the allowance (see the header). */
const RULE_VERSION = 3;

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const trackGap: RuleModule<TrackGapState> = {
  code: 'TRACK_GAP',
  version: RULE_VERSION,
  thresholds,
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
    // reported speed counts too: a vehicle driving at both ends of the silence moved, wherever it ended up
    const driving = (prev.speed ?? 0) > th.spillageSpeedKmh || (fix.speed ?? 0) > th.spillageSpeedKmh;
    // both fixes report standing still: the displacement alone must prove the move, beyond twice the
    // allowance (two fixes of a parked truck with 15 m noise differ by more than the 60 m allowance in
    // about 2 % of the pairs: hefei-faults seed 3 had one such false TRACK_GAP; twice is ~1e-7)
    const still =
      prev.speed !== undefined &&
      fix.speed !== undefined &&
      prev.speed <= th.spillageSpeedKmh &&
      fix.speed <= th.spillageSpeedKmh;
    const movedM = still ? 2 * noiseM : noiseM;
    const moved = driving || (bothValid ? distanceM > movedM : !(prev.ign === false && fix.ign === false));
    if (!tooFast && !moved) return unchanged(state, QUIET);
    const o = open(ctx, {
      code: 'TRACK_GAP',
      ruleVersion: RULE_VERSION,
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
