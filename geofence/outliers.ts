import type { Fix } from '../core/fix.ts';
import { metresPerDegree } from './geo/ruler.ts';
import type { Thresholds } from './model.ts';
import { thresholds } from './thresholds/outliers.ts';
import type { LastFix } from './types.ts';

/**
 * Outlier rejection before the rules (issue 17; domain.md: "a single fix that would need an implausible
 * speed to reach is an outlier, never an entry"). A fix is an OUTLIER when it implies an implausible
 * speed from BOTH of its neighbours while they agree with each other: a multipath fix 100 m inside a
 * school zone that the truck would have needed ~200 km/h to reach and leave. It is stored and shown in
 * the track like any fix (ingest does that before the engine sees it), counted per vehicle, never judged.
 *
 * The engine sees fixes one at a time, so "both neighbours" needs the next fix. Deterministic choice:
 * hold back only a SUSPECT (a fix implausible from the last judged one) until the next fix arrives, and
 * judge everything else at once. Latency: none for ordinary fixes; one report interval for a suspect,
 * which is rare (a jump) and is then judged with its true timestamps, so no verdict changes, only when
 * it is raised. The alternative (judge at once, retract later) would withdraw violations the firms had
 * already been sent. The next fix decides:
 * - it agrees with the suspect (plausible from it): the track really jumped (a gap, a cold start, a
 *   relocation): the suspect is judged, then the fix (TRACK_GAP judges the jump);
 * - it agrees with the last judged fix but not with the suspect: the suspect was an outlier;
 * - it agrees with neither: the suspect had no support and is an outlier, and this fix is the new suspect.
 * A fix without a valid position (or a last judged one without) is never a suspect; a suspect followed by
 * one is judged (nothing can show it wrong). The engine's silence tick counts a held suspect as heard.
 *
 * Plausible: the distance between the two fixes, less 2 x max(accuracyFloorM, accuracy) for EACH fix (the
 * noise allowance TRACK_GAP uses), covered at no more than `outlierSpeedKmh` (150 km/h, the TRACK_GAP
 * speed: an outlier is a fix that would make a jump with both neighbours while removing it leaves none).
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) can be built from every rule's without an import cycle.
export { thresholds };

export interface Screened {
  /** the suspect to hold back now (the fix itself), or undefined */
  held: Fix | undefined;
  /** the fixes to judge now, in order: the fix, a released suspect and the fix, or none */
  judge: readonly Fix[];
  /** the earlier suspect found to be an outlier at this fix, if any */
  outlier: Fix | undefined;
}

type Placed = Pick<Fix, 'ts' | 'lon' | 'lat' | 'valid' | 'accuracy'>;

/** Whether b can follow a at no more than the plausible speed, noise allowed for (see the header). */
export function plausible(
  a: Placed,
  b: Placed,
  th: Pick<Thresholds, 'accuracyFloorM' | 'outlierSpeedKmh'>,
): boolean {
  if (!a.valid || !b.valid) return true;
  const dtMs = Math.abs(b.ts - a.ts);
  const { kx, ky } = metresPerDegree((a.lat + b.lat) / 2);
  const dx = (b.lon - a.lon) * kx;
  const dy = (b.lat - a.lat) * ky;
  const noiseM =
    2 * (Math.max(th.accuracyFloorM, a.accuracy ?? 0) + Math.max(th.accuracyFloorM, b.accuracy ?? 0));
  const judgedM = Math.max(0, Math.sqrt(dx * dx + dy * dy) - noiseM);
  if (judgedM === 0) return true;
  if (dtMs === 0) return false;
  return (judgedM / dtMs) * 3_600 <= th.outlierSpeedKmh;
}

const ONE = (fix: Fix): Screened => ({ held: undefined, judge: [fix], outlier: undefined });

/**
 * Screens the next in-order fix of a vehicle: `prev` the last judged fix, `held` the suspect held back
 * (if any). Returns what to judge now, what to hold, and the outlier found (if any).
 */
export function screenFix(
  prev: LastFix | undefined,
  held: Fix | undefined,
  fix: Fix,
  th: Pick<Thresholds, 'accuracyFloorM' | 'outlierSpeedKmh'>,
): Screened {
  if (held === undefined) {
    if (prev === undefined || plausible(prev, fix, th)) return ONE(fix);
    return { held: fix, judge: [], outlier: undefined };
  }
  if (!fix.valid || plausible(held, fix, th))
    return { held: undefined, judge: [held, fix], outlier: undefined };
  if (prev === undefined || plausible(prev, fix, th)) return { held: undefined, judge: [fix], outlier: held };
  return { held: fix, judge: [], outlier: held };
}
