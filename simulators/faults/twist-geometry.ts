import type { Site, Zone } from '../../geofence/model.ts';
import { truncateLine } from '../demo/geometry.ts';
import { type Dwell, LOAD_DWELL, type TruckCycle, UNLOAD_DWELL } from '../motion/truck-cycle.ts';
import type { Haul, SimWorld } from '../scenario/world.ts';
import {
  centroidOf,
  depthM,
  edgeDistanceM,
  inAnyPolygon,
  nearestOnLine,
  toLatLon,
  towards,
} from '../shared/geo.ts';
import { haversineM as haversine, type LatLon, Polyline } from '../shared/tracks.ts';

/**
 * Where a twist happens on a truck's haul (twist.ts): the normal cycle, the longest straight stretch,
 * a roadside point clear of every site, a spur to a target, the route's limit, the nearest zone of a kind,
 * a point well inside a site.
 */

export function normalCycle(h: Haul): TruckCycle {
  const load: Dwell = { type: 'dwell', action: 'load', at: h.line.points[0]!, ...LOAD_DWELL };
  const unload: Dwell = { type: 'dwell', action: 'unload', at: h.line.points.at(-1)!, ...UNLOAD_DWELL };
  return {
    legs: [load, { type: 'drive', line: h.line }, unload, { type: 'drive', line: h.line.reversed() }],
    start: 0,
    fullRange: [0.8, 0.95],
  };
}

/** The longest segment of a line, as distances along it. */
export function longestStretch(line: Polyline): [number, number] {
  let best: [number, number] = [0, 0];
  for (let i = 0; i + 1 < line.points.length; i++) {
    const a = line.cumulative[i] as number;
    const b = line.cumulative[i + 1] as number;
    if (b - a > best[1] - best[0]) best = [a, b];
  }
  return best;
}

/** Clearance of a point from every site and zone (0 inside one), metres. */
export function clearanceM(world: SimWorld, p: LatLon): number {
  let best = Number.POSITIVE_INFINITY;
  for (const x of [...world.sites, ...world.zones]) {
    if (inAnyPolygon(x.polygons, p)) return 0;
    best = Math.min(best, edgeDistanceM(x.polygons, p));
  }
  return best;
}

/** A roadside point on the line, well clear of every site and zone (distance along the line), if any. */
export function roadsidePoint(world: SimWorld, line: Polyline, minClearM = 150): number | undefined {
  for (const f of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
    const d = line.lengthM * f;
    if (clearanceM(world, line.at(d).pos) >= minClearM) return d;
  }
  return undefined;
}

/** `line` with an out-and-back spur at distance atM to `target` (the truck turns round there). */
export function withSpur(line: Polyline, atM: number, target: LatLon): Polyline {
  const first = truncateLine(line, atM);
  const p = line.at(atM).pos;
  const rest = line.points.filter((_, i) => (line.cumulative[i] as number) > atM);
  return new Polyline([...first.points, target, p, ...rest]);
}

/** The lowest day/night limit on a route stretch around distance `atM` of the truck's line. */
export function routeLimitAt(h: Haul, pos: LatLon): number | undefined {
  const routeLine = new Polyline(h.route.line.map(toLatLon));
  const seg = nearestOnLine(routeLine, pos).segment;
  const limits = h.route.limits
    .filter((l) => l.from <= seg && seg + 1 <= l.to)
    .flatMap((l) => [l.speedLimitKmh, l.nightLimitKmh].filter((x): x is number => x !== undefined));
  return limits.length > 0 ? Math.min(...limits) : undefined;
}

/** The nearest zone of a kind that applies to muck trucks, with the spur that reaches its middle. */
export function nearestZone(world: SimWorld, line: Polyline, kind: Zone['kind']) {
  let best: { zone: Zone; atM: number; target: LatLon; lengthM: number } | undefined;
  for (const z of world.zones) {
    if (z.kind !== kind || !(z.appliesTo ?? ['muck_truck']).includes('muck_truck')) continue;
    const c = centroidOf(z.polygons);
    if (depthM(z.polygons, c) < 30) continue;
    const near = nearestOnLine(line, c);
    if (near.alongM < 100 || near.alongM > line.lengthM - 100) continue;
    if (!best || near.distanceM < best.lengthM)
      best = { zone: z, atM: near.alongM, target: c, lengthM: near.distanceM };
  }
  return best && best.lengthM <= 3000 ? best : undefined;
}

/**
 * Where a truck tips inside a site reached from the road at `p`: on the way to the site's middle, the
 * deepest point that stays 20 m inside the route's corridor (not off route while it unloads), when that
 * is at least 30 m inside the site (two GNSS sigmas at 15 m); otherwise the first point 50 m inside, or
 * the middle, off the corridor if it must be (the truth then holds an OFF_ROUTE as well).
 */
export function tippingPoint(p: LatLon, c: LatLon, polygons: Site['polygons'], corridorM: number): LatLon {
  const total = haversine(p, c);
  let best: { q: LatLon; depth: number } | undefined;
  for (let m = 0; m <= Math.min(total, corridorM - 20); m += 5) {
    const q = towards(p, c, m);
    const depth = depthM(polygons, q);
    if (!best || depth > best.depth) best = { q, depth };
  }
  if (best && best.depth >= 30) return best.q;
  for (let m = 0; m < total; m += 5) {
    const q = towards(p, c, m);
    if (depthM(polygons, q) >= 50) return q;
  }
  return c;
}
