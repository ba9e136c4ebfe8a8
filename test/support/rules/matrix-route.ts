/** The world of the matrix-route rule tests. */

import type { Fix } from '../../../core/fix.ts';
import type { run } from './matrix/run.ts';
import { EMPTY, FULL, fixAt, type Sensors } from './matrix/tracks.ts';
import { local } from './track-kit.ts';

/*
 * Rule matrix, route and place rules: OFF_ROUTE, OVERSPEED, RESTRICTED_ZONE, TRACK_GAP, through the real
 * engine with ALL_RULES (test/support/rules/matrix/world.ts: R1 runs (0,0) -> (4000,0) -> (4000,3000),
 * corridor 50 m, P1 22:00-06:00). Complements test/geofence/rules/route-time.test.ts: cross streets and
 * corners with noise, gaps, exact thresholds, permit expiry, versions kept after an edit, night/zone
 * windows at their edges.
 */

export const T = local(23, 10);
/** a loaded V1 fix at (x, y) */
export const at = (ts: number, x: number, y: number, s: Sensors = {}): Fix =>
  fixAt('V1', ts, x, y, { ...FULL, ...s });
export const codesOf = (r: ReturnType<typeof run>) =>
  [...new Set(r.events.map((e) => e.violation.code))].sort();

// ---------------------------------------------------------------------------------------------- OVERSPEED

/** an empty V1 on the first leg at 10:00 (day limit 60), one fix per entry of `speeds`, `every` ms apart */
export function speeds(start: number, list: readonly (number | undefined)[], every = 5_000, x0 = 600): Fix[] {
  return list.map((kmh, i) => {
    const f = fixAt('V1', start + i * every, x0 + i * 20, 0, { ...EMPTY, speed: kmh ?? 0 });
    if (kmh === undefined) delete f.speed;
    return f;
  });
}

// ---------------------------------------------------------------------------------------------- RESTRICTED_ZONE

/** an empty V1 parked or moving at (x, y) */
export const ev = (ts: number, x: number, y: number, s: Sensors = {}): Fix =>
  fixAt('V1', ts, x, y, { ...EMPTY, speed: 0, ...s });
