/**
 * What the rule-test worlds build their tracks and runs from (the rule matrix, test/support/rules/matrix/;
 * the route-time world, route-time.ts; the load world, load.ts), in one place: seeded randomness, a local
 * plane in metres around a reference point, the local time of the test day, and what a run is fed and
 * logs.
 */
import type { Fix } from '../../../core/fix.ts';
import { localMidnightUtcMs } from '../../../geofence/geo/windows.ts';
import type { PolygonCoords, Position } from '../../../geofence/model.ts';
import type { ViolationEvent, World } from '../../../geofence/types.ts';

// ------------------------------------------------------------------------------------------- randomness

/** mulberry32: a small seeded PRNG, so every "random" track is the same on every run */
export { mulberry32 as prng } from '../../../simulators/shared/rng.ts';

/** standard normal samples (Box-Muller) from a seeded PRNG */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

// ------------------------------------------------------------------------------------------- place and time

/**
 * Positions in local metres east (x) / north (y) of (lon0, lat0), with `kx` / `ky` metres per degree of
 * longitude / latitude there: `pt` makes a WGS-84 position, `xyOf` its inverse, `square` a square polygon.
 */
export function localPlane(lon0: number, lat0: number, { kx, ky }: { kx: number; ky: number }) {
  const pt = (x: number, y: number): Position => [lon0 + x / kx, lat0 + y / ky];
  return {
    pt,
    /** local metres of a fix (inverse of `pt`) */
    xyOf: (f: Pick<Fix, 'lon' | 'lat'>): [number, number] => [(f.lon - lon0) * kx, (f.lat - lat0) * ky],
    square: (cx: number, cy: number, half: number): PolygonCoords => [
      [
        pt(cx - half, cy - half),
        pt(cx + half, cy - half),
        pt(cx + half, cy + half),
        pt(cx - half, cy + half),
        pt(cx - half, cy - half),
      ],
    ],
  };
}

export const DAY = '2026-11-10';
/** UTC instant of a local (UTC+8) time on `date` (hours may exceed 24 for the next day) */
export function local(h: number, m = 0, s = 0, date = DAY): number {
  return localMidnightUtcMs(date) + ((h * 60 + m) * 60 + s) * 1000;
}

// ------------------------------------------------------------------------------------------- runs

/** what a run is fed: fixes, clock ticks (silence is judged on them) and registry changes */
export type Item = Fix | { tick: number } | { world: World };

export function isFix(i: Item): i is Fix {
  return 'ts' in i;
}

export interface Logged {
  /** the fix ts or tick instant that produced the event */
  at: number;
  event: ViolationEvent;
}

export function ofCode(log: readonly Logged[], code: string): Logged[] {
  return log.filter((l) => l.event.violation.code === code);
}
