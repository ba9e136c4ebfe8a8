/**
 * The polygon index (geofence/geo/polygon-index.ts) against turf and brute force (their world: test/support/geofence/geo.ts).
 */

import * as turf from '@turf/turf';
import test from 'ava';
import { PolygonIndex, polygonsOf } from '../../geofence/geo/polygon-index.ts';
import { type LonLat, Ruler } from '../../geofence/geo/ruler.ts';
import { near, prng, randomNear, randomZones } from '../support/geofence/geo.ts';

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
