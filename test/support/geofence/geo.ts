/**
 * The world and helpers of the geo tests (test/geofence/geo*.test.ts).
 */

import type { PolygonRings } from '../../../geofence/geo/polygon-index.ts';
import type { RouteInput } from '../../../geofence/geo/polyline-index.ts';
import type { LonLat, Ruler } from '../../../geofence/geo/ruler.ts';
import { localMidnightUtcMs } from '../../../geofence/geo/windows.ts';
import { mulberry32 as prng } from '../../../simulators/shared/rng.ts';

// ---------------------------------------------------------------------------------------------------
// references and fixtures

/** seeded PRNG (mulberry32): the same cases on every run */
export { prng };

/** Vincenty's inverse on the WGS-84 ellipsoid: distance (m) and forward azimuths at both ends (deg). */
export function vincenty(p1: LonLat, p2: LonLat): { s: number; az1: number; az2: number } {
  const a = 6378137;
  const f = 1 / 298.257223563;
  const b = a * (1 - f);
  const rad = Math.PI / 180;
  const L = (p2[0] - p1[0]) * rad;
  const U1 = Math.atan((1 - f) * Math.tan(p1[1] * rad));
  const U2 = Math.atan((1 - f) * Math.tan(p2[1] * rad));
  const sinU1 = Math.sin(U1);
  const cosU1 = Math.cos(U1);
  const sinU2 = Math.sin(U2);
  const cosU2 = Math.cos(U2);
  let lambda = L;
  let sinSigma = 0;
  let cosSigma = 1;
  let sigma = 0;
  let cos2Alpha = 1;
  let cos2SigmaM = 0;
  for (let i = 0; i < 200; i++) {
    const sinL = Math.sin(lambda);
    const cosL = Math.cos(lambda);
    sinSigma = Math.sqrt((cosU2 * sinL) ** 2 + (cosU1 * sinU2 - sinU1 * cosU2 * cosL) ** 2);
    if (sinSigma === 0) return { s: 0, az1: 0, az2: 0 };
    cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosL;
    sigma = Math.atan2(sinSigma, cosSigma);
    const sinAlpha = (cosU1 * cosU2 * sinL) / sinSigma;
    cos2Alpha = 1 - sinAlpha * sinAlpha;
    cos2SigmaM = cos2Alpha === 0 ? 0 : cosSigma - (2 * sinU1 * sinU2) / cos2Alpha;
    const C = (f / 16) * cos2Alpha * (4 + f * (4 - 3 * cos2Alpha));
    const prev = lambda;
    lambda =
      L +
      (1 - C) *
        f *
        sinAlpha *
        (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1 + 2 * cos2SigmaM ** 2)));
    if (Math.abs(lambda - prev) < 1e-13) break;
  }
  const u2 = (cos2Alpha * (a * a - b * b)) / (b * b);
  const A = 1 + (u2 / 16384) * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
  const B = (u2 / 1024) * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
  const dSigma =
    B *
    sinSigma *
    (cos2SigmaM +
      (B / 4) *
        (cosSigma * (-1 + 2 * cos2SigmaM ** 2) -
          (B / 6) * cos2SigmaM * (-3 + 4 * sinSigma ** 2) * (-3 + 4 * cos2SigmaM ** 2)));
  const sinL = Math.sin(lambda);
  const cosL = Math.cos(lambda);
  const az1 = Math.atan2(cosU2 * sinL, cosU1 * sinU2 - sinU1 * cosU2 * cosL) / rad;
  const az2 = Math.atan2(cosU1 * sinL, -sinU1 * cosU2 + cosU1 * sinU2 * cosL) / rad;
  return { s: b * A * (sigma - dSigma), az1: (az1 + 360) % 360, az2: (az2 + 360) % 360 };
}

/** geodesic distance from p to the segment a-b (straight in lon/lat), by ternary search on Vincenty */
export function vincentyToSegment(p: LonLat, a: LonLat, b: LonLat): number {
  const at = (t: number): number => vincenty(p, [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]).s;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 80; i++) {
    const m1 = lo + (hi - lo) / 3;
    const m2 = hi - (hi - lo) / 3;
    if (at(m1) < at(m2)) hi = m2;
    else lo = m1;
  }
  return Math.min(at((lo + hi) / 2), at(0), at(1));
}

export const CITIES: Array<{ name: string; ref: LonLat }> = [
  { name: 'Hefei', ref: [117.23, 31.82] },
  { name: 'Harbin', ref: [126.63, 45.8] },
  { name: 'Sanya', ref: [109.51, 18.25] },
];

/** a random position within `radiusM` of a centre (uniform over the square, good enough) */
export function randomNear(rnd: () => number, ruler: Ruler, c: LonLat, radiusM: number): [number, number] {
  return ruler.offset(c, (rnd() * 2 - 1) * radiusM, (rnd() * 2 - 1) * radiusM);
}

/** a road-like random walk: steps of 20-60 m, heading drifting by up to +-15 degrees per step */
export function randomRoute(
  rnd: () => number,
  ruler: Ruler,
  start: LonLat,
  vertices: number,
): [number, number][] {
  const line: [number, number][] = [[start[0], start[1]]];
  let heading = rnd() * 360;
  for (let i = 1; i < vertices; i++) {
    heading += (rnd() * 2 - 1) * 15;
    line.push(ruler.destination(line[i - 1]!, 20 + rnd() * 40, heading));
  }
  return line;
}

/** a star-shaped (so simple) ring around c, radius in [0.5, 1] x r */
export function starRing(
  rnd: () => number,
  ruler: Ruler,
  c: LonLat,
  r: number,
  n: number,
): [number, number][] {
  const ring: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const ang = ((i + rnd() * 0.8) / n) * 360;
    ring.push(ruler.destination(c, r * (0.5 + rnd() * 0.5), ang));
  }
  ring.push(ring[0]!);
  return ring;
}

/**
 * Equal up to rounding: the indexes measure in their own frame (a ruler centred on their data) and the
 * brute force in the test's, whose scale fits differ by ~1e-9 relative.
 */
export const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 + 1e-8 * Math.abs(b);

/** brute force: nearest segment of one route by Ruler.pointToSegment */
export function bruteRoute(
  ruler: Ruler,
  line: readonly LonLat[],
  p: LonLat,
): { d: number; along: number; unique: boolean } {
  let best = Infinity;
  let second = Infinity;
  let along = 0;
  let acc = 0;
  for (let i = 1; i < line.length; i++) {
    const { distanceM, t } = ruler.pointToSegment(p, line[i - 1]!, line[i]!);
    const len = ruler.distanceM(line[i - 1]!, line[i]!);
    if (distanceM < best) {
      second = best;
      best = distanceM;
      along = acc + t * len;
    } else if (distanceM < second) second = distanceM;
    acc += len;
  }
  return { d: best, along, unique: second - best > 1e-6 };
}

// ---------------------------------------------------------------------------------------------------
// polyline index

export function randomRoutes(
  seed: number,
  ruler: Ruler,
  centre: LonLat,
  n: number,
  spreadM: number,
): RouteInput[] {
  const rnd = prng(seed);
  const routes: RouteInput[] = [];
  for (let i = 0; i < n; i++) {
    routes.push({
      id: `r${i}`,
      line: randomRoute(rnd, ruler, randomNear(rnd, ruler, centre, spreadM), 50 + Math.floor(rnd() * 250)),
      halfWidthM: 20 + Math.floor(rnd() * 80),
    });
  }
  return routes;
}

/** points mostly near some route (where fixes are), some anywhere */
export function randomQueryPoints(
  seed: number,
  ruler: Ruler,
  routes: RouteInput[],
  centre: LonLat,
  n: number,
  spreadM: number,
) {
  const rnd = prng(seed);
  const pts: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.7) {
      const line = routes[Math.floor(rnd() * routes.length)]!.line;
      pts.push(randomNear(rnd, ruler, line[Math.floor(rnd() * line.length)]!, 150));
    } else pts.push(randomNear(rnd, ruler, centre, spreadM));
  }
  return pts;
}

// ---------------------------------------------------------------------------------------------------
// polygon index

export function randomZones(seed: number, ruler: Ruler, centre: LonLat, n: number) {
  const rnd = prng(seed);
  const zones: Array<{ id: string; polygons: PolygonRings[] }> = [];
  for (let i = 0; i < n; i++) {
    const c = randomNear(rnd, ruler, centre, 12_000);
    const r = 150 + rnd() * 2500;
    const outer = starRing(rnd, ruler, c, r, 5 + Math.floor(rnd() * 60));
    const rings =
      rnd() < 0.3 ? [outer, starRing(rnd, ruler, c, r * 0.4, 4 + Math.floor(rnd() * 10)).reverse()] : [outer];
    const polygons: PolygonRings[] = [rings];
    if (rnd() < 0.2) polygons.push([starRing(rnd, ruler, ruler.offset(c, 3 * r, 0), r * 0.5, 8)]);
    // some rings given open (GeoJSON requires closed; the index accepts both)
    if (rnd() < 0.2) polygons[0] = rings.map((ring) => ring.slice(0, -1));
    zones.push({ id: `z${i}`, polygons });
  }
  return zones;
}

// ---------------------------------------------------------------------------------------------------
// windows and dates

export const at = (date: string, hhmm: string, sec = 0): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return localMidnightUtcMs(date) + (h! * 60 + m!) * 60_000 + sec * 1000;
};
