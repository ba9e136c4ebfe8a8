/**
 * The polyline index (geofence/geo/polyline-index.ts) against brute force and turf (their world: test/support/geofence/geo.ts).
 */
import test from 'ava';
import { PolylineIndex } from '../../geofence/geo/polyline-index.ts';
import { type LonLat, Ruler } from '../../geofence/geo/ruler.ts';
import {
  bruteRoute,
  near,
  prng,
  randomNear,
  randomQueryPoints,
  randomRoutes,
} from '../support/geofence/geo.ts';

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
