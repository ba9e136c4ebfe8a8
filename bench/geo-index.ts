/**
 * Micro-benchmark of the geometry primitives behind the compliance engine (issue 3), standalone (not in
 * bench/run.ts): `node --import tsx bench/geo-index.ts`.
 *
 * World: 1,000 routes of 10-30 km with 400-600 vertices around Hefei, 500 zones (some with holes).
 * Queries: fixes mostly near routes (where trucks are), some anywhere in the city; for distanceToRoute,
 * 10,000 vehicles each driving its permit's route, interleaved, each threading its own hint.
 * Baseline: turf over everything (pointToLineDistance per route, booleanPointInPolygon per zone), fewer
 * iterations; ratios printed.
 */
import * as turf from '@turf/turf';
import { PolygonIndex, type PolygonRings } from '../geofence/geo/polygon-index.ts';
import { PolylineIndex, type RouteInput } from '../geofence/geo/polyline-index.ts';
import { type LonLat, Ruler } from '../geofence/geo/ruler.ts';
import { mulberry32 } from '../simulators/shared/rng.ts';

const HEFEI: LonLat = [117.23, 31.82];
const ruler = new Ruler(HEFEI[1], HEFEI[0]);
const rnd = mulberry32(2026);
const near = (c: LonLat, r: number) => ruler.offset(c, (rnd() * 2 - 1) * r, (rnd() * 2 - 1) * r);

// --- world -------------------------------------------------------------------------------------------
const routes: RouteInput[] = [];
let vertexCount = 0;
for (let i = 0; i < 1000; i++) {
  const lengthM = 10_000 + rnd() * 20_000;
  const n = 400 + Math.floor(rnd() * 200);
  const line: [number, number][] = [near(HEFEI, 20_000)];
  let heading = rnd() * 360;
  for (let k = 1; k < n; k++) {
    const prev = line[k - 1]!;
    // stay in the city: steer back toward the centre when more than 25 km out
    if (ruler.distanceM(prev, HEFEI) > 25_000) heading = ruler.bearingDeg(prev, HEFEI);
    heading += (rnd() * 2 - 1) * 12;
    line.push(ruler.destination(prev, (lengthM / n) * (0.7 + rnd() * 0.6), heading));
  }
  vertexCount += n;
  routes.push({ id: `route-${i}`, line, halfWidthM: 50 });
}

function star(c: LonLat, r: number, n: number): [number, number][] {
  const ring: [number, number][] = [];
  for (let i = 0; i < n; i++)
    ring.push(ruler.destination(c, r * (0.5 + rnd() * 0.5), ((i + rnd() * 0.8) / n) * 360));
  ring.push(ring[0]!);
  return ring;
}
const zones: Array<{ id: string; polygons: PolygonRings[] }> = [];
for (let i = 0; i < 500; i++) {
  const c = near(HEFEI, 22_000);
  const r = 200 + rnd() * 1300;
  const outer = star(c, r, 8 + Math.floor(rnd() * 52));
  const rings = rnd() < 0.3 ? [outer, star(c, r * 0.4, 6).reverse()] : [outer];
  zones.push({ id: `zone-${i}`, polygons: [rings] });
}

// --- queries -----------------------------------------------------------------------------------------
const N = 200_000;
const points: [number, number][] = [];
for (let i = 0; i < N; i++) {
  if (rnd() < 0.8) {
    const line = routes[Math.floor(rnd() * routes.length)]!.line;
    points.push(near(line[Math.floor(rnd() * line.length)]!, 60));
  } else points.push(near(HEFEI, 25_000));
}
// 10,000 vehicles x 20 fixes, interleaved by time: fix j of every vehicle, then fix j + 1
const VEHICLES = 10_000;
const FIXES = 20;
const vRoute: string[] = [];
const vStart: number[] = [];
for (let v = 0; v < VEHICLES; v++) {
  const r = routes[v % routes.length]!;
  vRoute.push(r.id);
  vStart.push(Math.floor(rnd() * (r.line.length - FIXES * 2)));
}
const tracked: Array<{ route: string; vehicle: number; p: [number, number] }> = [];
for (let j = 0; j < FIXES; j++) {
  for (let v = 0; v < VEHICLES; v++) {
    const line = routes[v % routes.length]!.line;
    tracked.push({ route: vRoute[v]!, vehicle: v, p: near(line[vStart[v]! + j * 2]!, 20) });
  }
}

// --- measurement -------------------------------------------------------------------------------------
let sink = 0;
function rate(
  label: string,
  count: number,
  fn: (i: number) => number,
  warm = Math.min(count, 20_000),
): number {
  for (let i = 0; i < warm; i++) sink += fn(i);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) sink += fn(i);
  const s = (performance.now() - t0) / 1000;
  const qps = count / s;
  console.log(`${label.padEnd(58)} ${fmt(qps).padStart(12)} /s   (${count} in ${(s * 1000).toFixed(0)} ms)`);
  return qps;
}
const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

console.log(
  `world: ${routes.length} routes, ${vertexCount.toLocaleString('en-US')} vertices; ${zones.length} zones`,
);
let t0 = performance.now();
const lines = new PolylineIndex(routes);
const tRoutes = performance.now() - t0;
t0 = performance.now();
const polys = new PolygonIndex(zones);
const tZones = performance.now() - t0;
console.log(
  `build: PolylineIndex ${tRoutes.toFixed(0)} ms, PolygonIndex ${tZones.toFixed(0)} ms (once per registry change)`,
);
console.log(`node ${process.version}, one core\n`);

const nearest = rate(
  'PolylineIndex.nearestWithin(p, 100 m)',
  N,
  (i) => lines.nearestWithin(points[i]!, 100).length,
);
rate('PolylineIndex.withinCorridors(p)', N, (i) => lines.withinCorridors(points[i]!).length);
const hints = new Int32Array(VEHICLES).fill(-1);
const withHint = rate('PolylineIndex.distanceToRoute(route, p, hint) [10k vehicles]', tracked.length, (i) => {
  const f = tracked[i]!;
  const h = lines.distanceToRoute(f.route, f.p, hints[f.vehicle]!)!;
  hints[f.vehicle] = h.segmentIndex;
  return h.distanceM;
});
rate('PolylineIndex.distanceToRoute(route, p) [no hint]', tracked.length, (i) => {
  const f = tracked[i]!;
  return lines.distanceToRoute(f.route, f.p)!.distanceM;
});
const contain = rate('PolygonIndex.containing(p)', N, (i) => polys.containing(points[i]!).length);
rate('PolygonIndex.distanceToBoundaryM(zone, p)', N, (i) =>
  polys.distanceToBoundaryM(`zone-${i % 500}`, points[i]!),
);
rate('Ruler.distanceM(a, b)', N, (i) => ruler.distanceM(points[i]!, points[(i + 1) % N]!));

console.log('\nbaseline: turf over everything');
const turfLines = routes.map((r) => turf.lineString(r.line.map((p) => [p[0], p[1]])));
const turfPolys = zones.map((z) => turf.polygon(z.polygons[0]!.map((ring) => ring.map((p) => [p[0], p[1]]))));
const turfNearest = rate(
  'turf.pointToLineDistance over 1,000 routes',
  3,
  (i) => {
    let n = 0;
    for (const l of turfLines) if (turf.pointToLineDistance(points[i]!, l, { units: 'meters' }) <= 100) n++;
    return n;
  },
  1,
);
const turfOne = rate(
  'turf.pointToLineDistance, the one permitted route',
  300,
  (i) => {
    const f = tracked[i]!;
    return turf.pointToLineDistance(f.p, turfLines[f.vehicle % routes.length]!, { units: 'meters' });
  },
  30,
);
const turfContain = rate(
  'turf.booleanPointInPolygon over 500 zones',
  1000,
  (i) => {
    let n = 0;
    for (const z of turfPolys) if (turf.booleanPointInPolygon(points[i]!, z)) n++;
    return n;
  },
  100,
);

console.log('\nratios (index / turf)');
console.log(`nearestWithin vs pointToLineDistance over all routes:   x${fmt(nearest / turfNearest)}`);
console.log(`distanceToRoute+hint vs pointToLineDistance one route:  x${fmt(withHint / turfOne)}`);
console.log(`containing vs booleanPointInPolygon over all zones:     x${fmt(contain / turfContain)}`);
console.log(`\n(checksum ${sink.toFixed(0)})`);
