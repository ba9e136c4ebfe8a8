/** The world of the matrix-load rule tests. */

import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import type { Site } from '../../../geofence/model.ts';
import type { run } from './matrix/run.ts';
import { FULL, fixAt, type Sensors, Trk, tip } from './matrix/tracks.ts';
import { snapshot, square } from './matrix/world.ts';
import { local } from './track-kit.ts';

/*
 * Rule matrix, load rules and trips: NO_PERMIT, ILLEGAL_DUMP, SUSPECTED_DUMP, SPILLAGE, WRONG_SITE,
 * OVERLOAD and the trip record, through the real engine with ALL_RULES (test/support/rules/matrix/world.ts:
 * O1 -> R1 -> D1 permitted for V1 22:00-06:00; O2 and D2 straddle R1 but are not on the permit).
 * Complements test/geofence/rules/load.test.ts: exact thresholds, every trigger, end reasons, gaps, invalid
 * fixes, edits mid-violation, and trips judged by all twelve rules.
 */

export const T = local(23, 10);
export const codesOf = (r: ReturnType<typeof run>) =>
  [...new Set(r.events.map((e) => e.violation.code))].sort();
/** a V1 fix at (x, y) with the given sensors on top of FULL */
export const at = (ts: number, x: number, y: number, s: Sensors = {}, vehicle = 'V1'): Fix =>
  fixAt(vehicle, ts, x, y, { ...FULL, ...s });

// ---------------------------------------------------------------------------------------------- NO_PERMIT

/** V2 (no permit) reporting weight only, parked in O1, the weight rising to `to` t */
export function weightLoading(to: number): Fix[] {
  const out: Fix[] = [];
  // the reading stays up for over a minute: a change is a loading once it has persisted (sensorConfirmMs)
  const steps = [0.4, 0.4, 0.4, (0.4 + to) / 2, to, to, to, to, to, to, to, to];
  steps.forEach((w, i) => {
    out.push(fixAt('V2', T + i * 10_000, 20, 20, { weight: Math.round(w * 100) / 100, speed: 0 }));
  });
  return out;
}

/** V3 (weight only) stops on R1 and its weight falls by `drop` t while stopped */
export function weightDrop(drop: number): Fix[] {
  const out: Fix[] = [];
  const ws = [28, 28, 28, 28 - drop / 2, 28 - drop, 28 - drop, ...Array(6).fill(28 - drop)];
  for (const [i, w] of ws.entries()) {
    out.push(
      fixAt('V3', T + i * 10_000, 2000, 0, { weight: Math.round(w * 100) / 100, speed: i === 0 ? 30 : 0 }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- SUSPECTED_DUMP

/** a loaded V1 slowing to a stop on R1 at (2000, 0) for `stoppedMs`, then driving on */
export function stopFor(stoppedMs: number, x = 2000, y = 0): Fix[] {
  const out: Fix[] = [at(T, x - 80, y)];
  for (let s = 0; s <= stoppedMs; s += 10_000) out.push(at(T + 10_000 + s, x, y, { speed: 1 }));
  out.push(at(T + 10_000 + stoppedMs + 10_000, x, y + (y === 0 ? 0 : 0), { speed: 20 }));
  return out;
}

// ---------------------------------------------------------------------------------------------- WRONG_SITE

/** D3: a disposal site not on the permit, adjacent to D1 (touching its south edge at y = 2850), on R1 */
export const D3: Site = {
  id: 'D3',
  version: 1,
  kind: 'disposal',
  name: '消纳场三',
  polygons: [square(4000, 2700, 150)],
};
export const WITH_D3 = compileWorld(snapshot({ sites: [...snapshot().sites, D3] }));

export function tipAt(x: number, y: number): Fix[] {
  const tr = new Trk('V1', T, x, y - 160, FULL).drive(x, y, 20).stay(20_000);
  return tip(tr).fixes;
}
