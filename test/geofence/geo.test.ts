/**
 * The rest of the tests (their world: test/support/geofence/geo.ts).
 */

import * as turf from '@turf/turf';
import test from 'ava';
import { gcj02LineToWgs84, gcj02ToWgs84, wgs84ToGcj02 } from '../../geofence/geo/gcj02.ts';
import { type LonLat, Ruler } from '../../geofence/geo/ruler.ts';
import { CITIES, prng, randomNear, vincenty, vincentyToSegment } from '../support/geofence/geo.ts';

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
