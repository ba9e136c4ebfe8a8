import * as turf from '@turf/turf';
import test from 'ava';
import { gcj02LineToWgs84, gcj02ToWgs84, wgs84ToGcj02 } from '../../geofence/geo/gcj02.ts';
import { PolygonIndex, type PolygonRings, polygonsOf } from '../../geofence/geo/polygon-index.ts';
import { PolylineIndex, type RouteInput } from '../../geofence/geo/polyline-index.ts';
import { type LonLat, Ruler } from '../../geofence/geo/ruler.ts';
import {
  dateOfDayNumber,
  dayNumberOf,
  inDateRange,
  inWindows,
  inWindowsOnDates,
  localDate,
  localMidnightUtcMs,
  parseDateRange,
  parseWindow,
  parseWindows,
  windowStartDay,
} from '../../geofence/geo/windows.ts';

// ---------------------------------------------------------------------------------------------------
// references and fixtures

/** seeded PRNG (mulberry32): the same cases on every run */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Vincenty's inverse on the WGS-84 ellipsoid: distance (m) and forward azimuths at both ends (deg). */
function vincenty(p1: LonLat, p2: LonLat): { s: number; az1: number; az2: number } {
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
function vincentyToSegment(p: LonLat, a: LonLat, b: LonLat): number {
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

const CITIES: Array<{ name: string; ref: LonLat }> = [
  { name: 'Hefei', ref: [117.23, 31.82] },
  { name: 'Harbin', ref: [126.63, 45.8] },
  { name: 'Sanya', ref: [109.51, 18.25] },
];

/** a random position within `radiusM` of a centre (uniform over the square, good enough) */
function randomNear(rnd: () => number, ruler: Ruler, c: LonLat, radiusM: number): [number, number] {
  return ruler.offset(c, (rnd() * 2 - 1) * radiusM, (rnd() * 2 - 1) * radiusM);
}

/** a road-like random walk: steps of 20-60 m, heading drifting by up to +-15 degrees per step */
function randomRoute(rnd: () => number, ruler: Ruler, start: LonLat, vertices: number): [number, number][] {
  const line: [number, number][] = [[start[0], start[1]]];
  let heading = rnd() * 360;
  for (let i = 1; i < vertices; i++) {
    heading += (rnd() * 2 - 1) * 15;
    line.push(ruler.destination(line[i - 1]!, 20 + rnd() * 40, heading));
  }
  return line;
}

/** a star-shaped (so simple) ring around c, radius in [0.5, 1] x r */
function starRing(rnd: () => number, ruler: Ruler, c: LonLat, r: number, n: number): [number, number][] {
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
const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 + 1e-8 * Math.abs(b);

/** brute force: nearest segment of one route by Ruler.pointToSegment */
function bruteRoute(
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
// ruler

for (const { name, ref } of CITIES) {
  test(`ruler: distance within 0.1 % of Vincenty up to 100 km from the reference at ${name}`, (t) => {
    const ruler = new Ruler(ref[1], ref[0]);
    const rnd = prng(1);
    let worstV = 0;
    let worstT = 0;
    for (let i = 0; i < 2000; i++) {
      const a = randomNear(rnd, ruler, ref, 100_000);
      // mix short (city) and long pairs
      const b = i % 2 === 0 ? randomNear(rnd, ruler, a, 2_000) : randomNear(rnd, ruler, ref, 100_000);
      const d = ruler.distanceM(a, b);
      const v = vincenty(a, b).s;
      if (v < 1) continue;
      worstV = Math.max(worstV, Math.abs(d - v) / v);
      worstT = Math.max(worstT, Math.abs(d - turf.distance(a, b, { units: 'meters' })) / v);
    }
    t.log(
      `${name}: worst relative error vs Vincenty ${(worstV * 100).toFixed(5)} %, vs turf (sphere) ${(worstT * 100).toFixed(3)} %`,
    );
    t.true(worstV < 0.001);
    // turf measures on a sphere, itself up to ~0.5 % off the ellipsoid: only a sanity bound
    t.true(worstT < 0.006);
  });

  test(`ruler: bearing and pointToSegment vs Vincenty at ${name}`, (t) => {
    const ruler = new Ruler(ref[1], ref[0]);
    const rnd = prng(2);
    let worstBearing = 0;
    for (let i = 0; i < 500; i++) {
      const a = randomNear(rnd, ruler, ref, 50_000);
      const b = randomNear(rnd, ruler, a, 20_000);
      const v = vincenty(a, b);
      if (v.s < 10) continue;
      // our bearing is the direction of the chord in the local plane: the mean of the geodesic's azimuths
      let mean = (v.az1 + v.az2) / 2;
      if (Math.abs(v.az1 - v.az2) > 180) mean = (mean + 180) % 360;
      let diff = Math.abs(ruler.bearingDeg(a, b) - mean);
      if (diff > 180) diff = 360 - diff;
      worstBearing = Math.max(worstBearing, diff);
    }
    t.true(worstBearing < 0.01, `bearing off by ${worstBearing} deg`);
    t.is(Math.round(ruler.bearingDeg(ref, ruler.offset(ref, 0, 100))), 0);
    t.is(Math.round(ruler.bearingDeg(ref, ruler.offset(ref, 100, 0))), 90);
    t.is(Math.round(ruler.bearingDeg(ref, ruler.offset(ref, -100, 0))), 270);

    let worstSeg = 0;
    for (let i = 0; i < 150; i++) {
      const a = randomNear(rnd, ruler, ref, 80_000);
      const b = randomNear(rnd, ruler, a, 2_000);
      const p = randomNear(rnd, ruler, a, 1_500);
      const { distanceM, t: frac } = ruler.pointToSegment(p, a, b);
      const ref2 = vincentyToSegment(p, a, b);
      worstSeg = Math.max(worstSeg, Math.abs(distanceM - ref2) - 0.001 * ref2);
      t.true(frac >= 0 && frac <= 1);
    }
    t.true(worstSeg <= 0.05, `pointToSegment exceeds 0.1 % + 5 cm by ${worstSeg} m`);
  });
}

test('ruler: pointToSegment fraction, clamping and degenerate segments', (t) => {
  const ruler = new Ruler(31.82, 117.23);
  const a: LonLat = [117.23, 31.82];
  const b = ruler.offset(a, 100, 0);
  const mid = ruler.offset(a, 25, 40);
  const r = ruler.pointToSegment(mid, a, b);
  t.true(Math.abs(r.t - 0.25) < 1e-6);
  t.true(Math.abs(r.distanceM - 40) < 1e-3);
  const before = ruler.pointToSegment(ruler.offset(a, -30, 40), a, b);
  t.is(before.t, 0);
  t.true(Math.abs(before.distanceM - 50) < 1e-3);
  const same = ruler.pointToSegment(mid, a, a);
  t.is(same.t, 0);
  t.true(Math.abs(same.distanceM - ruler.distanceM(mid, a)) < 1e-3);
  const [x, y] = ruler.project(mid);
  const back = ruler.unproject(x, y);
  t.true(Math.abs(back[0] - mid[0]) < 1e-12 && Math.abs(back[1] - mid[1]) < 1e-12);
  t.true(Math.abs(ruler.distanceM(a, ruler.destination(a, 1234, 37)) - 1234) < 0.01);
  t.throws(() => new Ruler(Number.NaN));
});

// ---------------------------------------------------------------------------------------------------
// polyline index

function randomRoutes(seed: number, ruler: Ruler, centre: LonLat, n: number, spreadM: number): RouteInput[] {
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
function randomQueryPoints(
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

test('polyline index: nearestWithin and withinCorridors equal a brute-force scan', (t) => {
  const centre: LonLat = [117.23, 31.82];
  const ruler = new Ruler(centre[1], centre[0]);
  const routes = randomRoutes(7, ruler, centre, 150, 15_000);
  // a deliberately coarse-and-fine pair of grids: results must not depend on the cell size
  const indexes = [new PolylineIndex(routes), new PolylineIndex(routes, { cellM: 37 })];
  const pts = randomQueryPoints(8, ruler, routes, centre, 3000, 20_000);
  const maxM = 120;
  let hits = 0;
  for (const p of pts) {
    const brute = routes
      .map((r) => ({ r, ...bruteRoute(ruler, r.line, p) }))
      .filter((x) => Math.abs(x.d - maxM) > 1e-6);
    const expected = brute.filter((x) => x.d <= maxM);
    const expectedCorr = brute.filter((x) => Math.abs(x.d - x.r.halfWidthM) > 1e-6 && x.d <= x.r.halfWidthM);
    for (const index of indexes) {
      const got = index.nearestWithin(p, maxM).filter((h) => Math.abs(h.distanceM - maxM) > 1e-6);
      t.deepEqual(got.map((h) => h.routeId).sort(), expected.map((x) => x.r.id).sort());
      for (const h of got) {
        const e = expected.find((x) => x.r.id === h.routeId)!;
        t.true(near(h.distanceM, e.d));
        if (e.unique) t.true(near(h.alongM, e.along), `${h.alongM} vs ${e.along}`);
      }
      for (let i = 1; i < got.length; i++) t.true(got[i - 1]!.distanceM <= got[i]!.distanceM);
      const corr = index
        .withinCorridors(p)
        .filter((h) => Math.abs(h.distanceM - h.halfWidthM) > 1e-6)
        .map((h) => h.routeId)
        .sort();
      t.deepEqual(corr, expectedCorr.map((x) => x.r.id).sort());
    }
    hits += expected.length;
  }
  t.log(`${pts.length} points, ${hits} route hits checked`);
  t.true(hits > 1000);
});

test('polyline index: distanceToRoute with and without hints equals brute force', (t) => {
  const centre: LonLat = [126.63, 45.8];
  const ruler = new Ruler(centre[1], centre[0]);
  const routes = randomRoutes(11, ruler, centre, 40, 10_000);
  const index = new PolylineIndex(routes);
  const rnd = prng(12);
  let checked = 0;
  for (const r of routes) {
    // a vehicle driving the route with GPS noise, threading the hint from fix to fix
    let hint = -1;
    for (let i = 0; i < r.line.length; i += 2) {
      const p = randomNear(rnd, ruler, r.line[i]!, 40);
      const got = index.distanceToRoute(r.id, p, hint)!;
      const e = bruteRoute(ruler, r.line, p);
      t.true(near(got.distanceM, e.d), `${r.id} fix ${i}: ${got.distanceM} vs ${e.d}`);
      if (e.unique) t.true(near(got.alongM, e.along), `${got.alongM} vs ${e.along}`);
      hint = got.segmentIndex;
      checked++;
    }
    // anywhere, with a wrong hint: still exact
    for (let i = 0; i < 20; i++) {
      const p = randomNear(rnd, ruler, centre, 15_000);
      const got = index.distanceToRoute(r.id, p, Math.floor(rnd() * r.line.length))!;
      t.true(near(got.distanceM, bruteRoute(ruler, r.line, p).d));
      checked++;
    }
  }
  t.is(index.distanceToRoute('nope', centre), undefined);
  t.log(`${checked} distanceToRoute checks`);
});

test('polyline index: route lengths and along-distances use the accurate ruler', (t) => {
  const ruler = new Ruler(31.82, 117.23);
  const a: LonLat = [117.23, 31.82];
  const b = ruler.offset(a, 1000, 0);
  const c = ruler.offset(b, 0, 1000);
  const index = new PolylineIndex([{ id: 'L', line: [a, b, c], halfWidthM: 50 }]);
  t.true(Math.abs(index.lengthM('L')! - 2000) < 0.01);
  const hit = index.distanceToRoute('L', ruler.offset(b, 10, 500))!;
  t.is(hit.segmentIndex, 1);
  t.true(Math.abs(hit.alongM - 1500) < 0.01);
  t.true(Math.abs(hit.distanceM - 10) < 0.01);
  t.throws(() => new PolylineIndex([{ id: 'x', line: [a], halfWidthM: 50 }]));
  t.throws(() => new PolylineIndex([{ id: 'x', line: [a, b], halfWidthM: 0 }]));
  t.deepEqual(new PolylineIndex([]).nearestWithin(a, 100), []);
});

test('polyline index: a cross street next to the corridor is outside at 60 m, inside at 30 m', (t) => {
  // an east-west road with the permitted route on it; a north-south street crosses at x = 500 m
  const ruler = new Ruler(31.82, 117.23);
  const o: LonLat = [117.23, 31.82];
  const line = [
    o,
    ruler.offset(o, 250, 0),
    ruler.offset(o, 500, 0),
    ruler.offset(o, 750, 0),
    ruler.offset(o, 1000, 0),
  ];
  // and a route that turns at the crossing: east 500 m, then north up the cross street
  const turn = [o, ruler.offset(o, 500, 0), ruler.offset(o, 500, 600)];
  const index = new PolylineIndex([
    { id: 'straight', line, halfWidthM: 50 },
    { id: 'turning', line: turn, halfWidthM: 50 },
  ]);
  const up60 = ruler.offset(o, 500, -60); // 60 m south, up the cross street
  const up30 = ruler.offset(o, 500, -30);
  t.deepEqual(
    index.withinCorridors(up60).map((h) => h.routeId),
    [],
  );
  t.true(Math.abs(index.distanceToRoute('straight', up60)!.distanceM - 60) < 0.01);
  t.deepEqual(
    index
      .withinCorridors(up30)
      .map((h) => h.routeId)
      .sort(),
    ['straight', 'turning'],
  );
  // past the turn, straight on along the east-west road: measured to the corner, not to an extension
  const ahead60 = ruler.offset(o, 560, 0);
  const hit = index.distanceToRoute('turning', ahead60)!;
  t.true(Math.abs(hit.distanceM - 60) < 0.01);
  t.false(index.withinCorridors(ahead60).some((h) => h.routeId === 'turning'));
  t.true(index.withinCorridors(ruler.offset(o, 530, 0)).some((h) => h.routeId === 'turning'));
  // the 15 m accuracy floor is the rules' business; the margin is what withinCorridors(extraM) offers
  t.true(index.withinCorridors(up60, 15).length === 2);
});

// ---------------------------------------------------------------------------------------------------
// polygon index

function randomZones(seed: number, ruler: Ruler, centre: LonLat, n: number) {
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

test('polygon index: containing and distanceToBoundaryM equal turf and a brute-force scan', (t) => {
  const centre: LonLat = [109.51, 18.25];
  const ruler = new Ruler(centre[1], centre[0]);
  const zones = randomZones(21, ruler, centre, 300);
  const indexes = [new PolygonIndex(zones), new PolygonIndex(zones, { cellM: 60 })];
  const features = zones.map((z) =>
    turf.multiPolygon(
      z.polygons.map((rings) =>
        rings.map((ring) => {
          const r = ring.map((p) => [p[0], p[1]]);
          const f = r[0]!;
          const l = r[r.length - 1]!;
          return f[0] === l[0] && f[1] === l[1] ? r : [...r, f];
        }),
      ),
    ),
  );
  const rnd = prng(22);
  let inside = 0;
  for (let i = 0; i < 10_000; i++) {
    const p = randomNear(rnd, ruler, centre, 16_000);
    const expected = zones.filter((_, k) => turf.booleanPointInPolygon(p, features[k]!)).map((z) => z.id);
    for (const index of indexes) t.deepEqual(index.containing(p), expected);
    inside += expected.length;
    if (i % 10 === 0) {
      const z = zones[Math.floor(rnd() * zones.length)]!;
      let best = Infinity;
      for (const rings of z.polygons) {
        for (const ring of rings) {
          const closed = [...ring, ring[0]!];
          for (let k = 1; k < closed.length; k++) {
            best = Math.min(best, ruler.pointToSegment(p, closed[k - 1]!, closed[k]!).distanceM);
          }
        }
      }
      const d = indexes[0]!.distanceToBoundaryM(z.id, p);
      t.true(near(d, best), `${z.id}: ${d} vs ${best}`);
      const s = indexes[0]!.signedDistanceM(z.id, p);
      t.is(s < 0, expected.includes(z.id) && d > 0);
    }
  }
  t.log(`10,000 points, ${inside} containments`);
  t.true(inside > 500);
});

test('polygon index: a polygon with a hole, edges inside, MultiPolygon, GeoJSON input', (t) => {
  const ruler = new Ruler(31.82, 117.23);
  const o: LonLat = [117.23, 31.82];
  const at = (x: number, y: number) => ruler.offset(o, x, y);
  // a 1 km square site with a 400 m square hole in the middle
  const outer = [at(0, 0), at(1000, 0), at(1000, 1000), at(0, 1000), at(0, 0)];
  const hole = [at(300, 300), at(300, 700), at(700, 700), at(700, 300), at(300, 300)];
  const far = [at(5000, 0), at(5100, 0), at(5100, 100), at(5000, 0)];
  const index = new PolygonIndex([
    { id: 'site', polygons: polygonsOf({ type: 'Polygon', coordinates: [outer, hole] }) },
    { id: 'multi', polygons: polygonsOf({ type: 'MultiPolygon', coordinates: [[far], [hole]] }) },
  ]);
  t.deepEqual(index.containing(at(100, 100)), ['site']);
  t.deepEqual(index.containing(at(500, 500)), ['multi']); // in the hole: not the site
  t.deepEqual(index.containing(at(5080, 50)), ['multi']);
  t.deepEqual(index.containing(at(-1, 500)), []);
  // exactly on edges and vertices (points taken from the geometry itself): inside
  t.deepEqual(index.containing(outer[0]!), ['site']);
  t.deepEqual(index.containing(outer[2]!), ['site']);
  t.deepEqual(index.containing(hole[1]!), ['site', 'multi']);
  const mid = (p: LonLat, q: LonLat): LonLat => [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];
  const onTop = mid(outer[2]!, outer[3]!);
  t.deepEqual(index.containing(onTop), ['site']);
  const onHoleEdge = mid(hole[0]!, hole[1]!);
  t.deepEqual(index.containing(onHoleEdge), ['site', 'multi']);
  // hysteresis distances
  t.true(Math.abs(index.distanceToBoundaryM('site', at(100, 500)) - 100) < 0.01);
  t.true(Math.abs(index.distanceToBoundaryM('site', at(500, 500)) - 200) < 0.01); // to the hole's edge
  t.true(Math.abs(index.signedDistanceM('site', at(1030, 500)) - 30) < 0.01);
  t.true(Math.abs(index.signedDistanceM('site', at(970, 500)) + 30) < 0.01);
  t.true(index.contains('site', at(999, 999)));
  t.false(index.contains('nope', at(999, 999)));
  t.true(Number.isNaN(index.distanceToBoundaryM('nope', o)));
  t.throws(() => new PolygonIndex([{ id: 'bad', polygons: [[[at(0, 0), at(1, 0)]]] }]));
});

// ---------------------------------------------------------------------------------------------------
// windows and dates

const at = (date: string, hhmm: string, sec = 0): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return localMidnightUtcMs(date) + (h! * 60 + m!) * 60_000 + sec * 1000;
};

test('windows: parsing', (t) => {
  t.deepEqual(parseWindow('22:00-06:00'), { startMin: 1320, endMin: 360 });
  t.deepEqual(parseWindow('07:30-09:00'), { startMin: 450, endMin: 540 });
  t.deepEqual(parseWindow('00:00-24:00'), { startMin: 0, endMin: 1440 });
  t.deepEqual(parseWindow('22:00-00:00'), { startMin: 1320, endMin: 1440 });
  t.deepEqual(parseWindow(' 7:05 - 8:00 '), { startMin: 425, endMin: 480 });
  for (const bad of ['', '7-8', '24:00-06:00', '06:60-07:00', '06:00-24:30', '06:00-06:00', '00:00-00:00']) {
    t.throws(() => parseWindow(bad), undefined, bad);
  }
});

test('windows: boundaries, crossing midnight, whole day, empty list', (t) => {
  const night = parseWindows(['22:00-06:00']);
  const rush = parseWindows(['07:30-09:00']);
  const day = '2026-11-10';
  t.true(inWindows(night, at(day, '22:00'))); // exactly at start: inside
  t.true(inWindows(night, at(day, '23:59', 59)));
  t.true(inWindows(night, at(day, '00:00')));
  t.true(inWindows(night, at(day, '05:59', 59)));
  t.false(inWindows(night, at(day, '06:00'))); // exactly at end: outside
  t.false(inWindows(night, at(day, '21:59', 59)));
  t.false(inWindows(night, at(day, '12:00')));
  t.true(inWindows(rush, at(day, '07:30')));
  t.false(inWindows(rush, at(day, '09:00')));
  t.false(inWindows(rush, at(day, '07:29', 59)));
  const all = parseWindows(['00:00-24:00']);
  for (const hm of ['00:00', '12:00', '23:59']) t.true(inWindows(all, at(day, hm)));
  t.true(inWindows(all, at(day, '23:59', 59) + 999));
  for (const hm of ['00:00', '12:00', '23:59']) t.false(inWindows([], at(day, hm)));
  t.true(inWindows([...night, ...rush], at(day, '08:00')));
  // UTC+8 arithmetic: 22:00 local is 14:00 UTC
  t.true(inWindows(night, Date.UTC(2026, 10, 10, 14, 0)));
  t.false(inWindows(night, Date.UTC(2026, 10, 10, 13, 59)));
});

test('windows: a window belongs to the local date it starts on (validity dates)', (t) => {
  const night = parseWindows(['22:00-06:00']);
  const nov = parseDateRange('2026-11-01', '2026-11-30');
  // the night of 31 October runs into 1 November: not covered, the window started before the validity
  t.false(inWindowsOnDates(night, nov, at('2026-11-01', '03:00')));
  t.true(inDateRange(nov, at('2026-11-01', '03:00'))); // though the instant's own date is in range
  t.true(inWindowsOnDates(night, nov, at('2026-11-01', '22:00')));
  // the night of 30 November runs into 1 December: covered until 06:00
  t.true(inWindowsOnDates(night, nov, at('2026-12-01', '03:00')));
  t.false(inWindowsOnDates(night, nov, at('2026-12-01', '06:00')));
  t.false(inDateRange(nov, at('2026-12-01', '03:00')));
  t.true(inDateRange(nov, at('2026-11-30', '23:59', 59)));
  t.false(inDateRange(nov, at('2026-10-31', '23:59', 59)));
  t.is(windowStartDay(night, at('2026-12-01', '03:00')), dayNumberOf('2026-11-30'));
  t.is(windowStartDay(night, at('2026-11-30', '23:00')), dayNumberOf('2026-11-30'));
  t.is(windowStartDay(night, at('2026-11-30', '12:00')), undefined);
  const rush = parseWindows(['07:30-09:00']);
  t.true(inWindowsOnDates(rush, nov, at('2026-11-30', '08:00')));
  t.false(inWindowsOnDates(rush, nov, at('2026-12-01', '08:00')));
  t.false(inWindowsOnDates([], nov, at('2026-11-15', '08:00')));
  t.throws(() => parseDateRange('2026-11-30', '2026-11-01'));
  t.throws(() => parseDateRange('2026-02-29', '2026-03-01'));
});

test('windows: localDate matches Date in UTC+8 across years, leap days and negative days', (t) => {
  t.is(localDate(Date.UTC(2026, 10, 30, 15, 59, 59)), '2026-11-30');
  t.is(localDate(Date.UTC(2026, 10, 30, 16, 0, 0)), '2026-12-01'); // local midnight
  t.is(localDate(Date.UTC(2024, 1, 28, 16, 0, 0)), '2024-02-29');
  const rnd = prng(31);
  for (let i = 0; i < 5000; i++) {
    const ms = Math.floor((rnd() * 2 - 0.5) * 4e12);
    t.is(localDate(ms), new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10));
  }
  for (let n = -700_000; n < 2_900_000; n += 997) t.is(dayNumberOf(dateOfDayNumber(n)), n);
});

// ---------------------------------------------------------------------------------------------------
// GCJ-02

test('gcj02: converts geometry to WGS-84 (offset of hundreds of metres in Hefei, round trip < 1 m)', (t) => {
  const ruler = new Ruler(31.82, 117.23);
  const wgs: LonLat[] = [
    [117.23, 31.82],
    [117.3, 31.86],
    [117.15, 31.75],
  ];
  const gcj = wgs.map(wgs84ToGcj02);
  for (let i = 0; i < wgs.length; i++) {
    const off = ruler.distanceM(wgs[i]!, gcj[i]!);
    t.true(off > 200 && off < 800, `offset ${off} m`);
    t.true(ruler.distanceM(gcj02ToWgs84(gcj[i]!), wgs[i]!) < 1);
  }
  const back = gcj02LineToWgs84(gcj);
  t.is(back.length, 3);
  // outside China GCJ-02 is WGS-84
  t.deepEqual(gcj02ToWgs84([2.35, 48.85]), [2.35, 48.85]);
});
