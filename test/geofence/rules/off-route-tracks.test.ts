/**
 * OFF_ROUTE (geofence/rules/off-route.ts) on the worlds of test/support/rules/matrix/ and
 * test/support/rules/matrix-route.ts: cross streets and corners, noise, silences, the end of a violation,
 * a permit expiring mid-violation, a route edited mid-trip. The rule's definition on the route-time
 * world: off-route.test.ts.
 */
import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { buildEvidence } from '../../../geofence/evidence.ts';
import type { Route } from '../../../geofence/model.ts';
import { withNoise } from '../../support/rules/matrix/perturb.ts';
import { phases, refsOf, run, summary } from '../../support/rules/matrix/run.ts';
import { P1, pt, R1, snapshot, WORLD } from '../../support/rules/matrix/world.ts';
import { at, T } from '../../support/rules/matrix-route.ts';
import { gaussian, type Item, local, ofCode, prng } from '../../support/rules/track-kit.ts';

test('OFF_ROUTE cross streets: fixes snapped up a cross street at an intersection open nothing; staying on it does', (t) => {
  // along R1 at 30 km/h through the intersection with a north-south street at x = 2000
  const xs = Array.from({ length: 20 }, (_, i) => 1200 + i * 83);
  const near = xs.map((x) => Math.abs(x - 2000)).indexOf(Math.min(...xs.map((x) => Math.abs(x - 2000))));
  // two fixes wander 70 m and 75 m up/down the cross street (beyond 50 + 15 m), then a 120 m map-matching jump
  const lateral = (i: number) => (i === near ? 70 : i === near + 1 ? -75 : i === near + 4 ? 120 : 0);
  const fixes = xs.map((x, i) => at(T + i * 10_000, x, lateral(i)));
  t.deepEqual(run(fixes).events, []);
  // a U-turn in the cross street: two clearly outside fixes, 20 s, then back on the route
  const uturn = xs.map((x, i) =>
    at(T + i * 10_000, i >= near && i < near + 2 ? 2000 : x, i === near ? 90 : i === near + 1 ? 150 : 0),
  );
  t.deepEqual(run(uturn).events, []);
  // three fixes up the street: opened at the third, started at the first, with the permit's route v1
  const street = xs.map((x, i) =>
    at(
      T + i * 10_000,
      i >= near && i < near + 3 ? 2000 : x,
      i >= near && i < near + 3 ? 90 * (i - near + 1) : 0,
    ),
  );
  const or = ofCode(run(street).log, 'OFF_ROUTE');
  t.deepEqual(phases(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
  t.is(or[0]!.at, T + (near + 2) * 10_000);
  t.is(or[0]!.event.violation.startTs, T + near * 10_000);
  t.is(or[0]!.event.violation.details.outsideFixes, 3);
  t.true(Math.abs(Number(or[0]!.event.violation.details.maxDeviationM) - 270) < 1);
  t.is(or[1]!.event.violation.endTs, T + (near + 3) * 10_000, 'ends at the first fix back in the corridor');
});

test('OFF_ROUTE cross streets and the corner, with 15 m noise: 40 passes through the intersection and the turn open nothing', (t) => {
  // a right-angle turn at B (4000, 0) with a 30 m radius, then north; and back, 20 times each way
  const pass: [number, number][] = [];
  for (let x = 1700; x <= 3970; x += 83) pass.push([x, 0]);
  for (let a = 1; a <= 3; a++) {
    const th = (a * Math.PI) / 8;
    pass.push([3970 + 30 * Math.sin(th), 30 - 30 * Math.cos(th)]);
  }
  for (let y = 30; y <= 1200; y += 83) pass.push([4000, y]);
  const g = gaussian(prng(77));
  const fixes: Fix[] = [];
  let ts = T;
  for (let k = 0; k < 40; k++) {
    const seq = k % 2 === 0 ? pass : pass.slice().reverse();
    for (const [x, y] of seq) {
      ts += 10_000;
      fixes.push(at(ts, x + g() * 15, y + g() * 15));
    }
  }
  t.true(fixes.length > 1_800, `${fixes.length} fixes`);
  const r = run(fixes);
  t.deepEqual(summary(r.events), []);
});

test('OFF_ROUTE noise: a truck in the outer lane (30 m off the centre line) for an hour with 15 m noise is never off-route', (t) => {
  for (const seed of [31, 32, 33]) {
    const fixes: Fix[] = [];
    for (let i = 0; i < 360; i++) {
      const d = (i * 83) % 6800;
      const x = 300 + (d <= 3400 ? d : 6800 - d);
      fixes.push(at(T + i * 10_000, x, 30));
    }
    t.deepEqual(summary(run(withNoise(fixes, seed)).events), [], `seed ${seed}`);
  }
});

test('OFF_ROUTE gaps: two outside fixes 4 min apart open on duration; escalation jumps a silence in one event per level', (t) => {
  const a = [at(T, 1500, 0), at(T + 10_000, 1500, 200), at(T + 250_000, 1800, 200), at(T + 260_000, 1880, 0)];
  const ra = run(a);
  t.deepEqual(phases(ra.events), ['OFF_ROUTE:opened'], 'a 240 s silence is not a TRACK_GAP');
  t.is(ra.events[0]!.violation.startTs, T + 10_000);
  t.is(ra.events[0]!.violation.details.outsideFixes, 2);
  t.is(ra.events[0]!.violation.level, 0);

  // open at +30 s, 11 min of silence (TRACK_GAP), out again: level 1 at once; 5 min later level 2
  const b = [
    at(T, 1500, 0),
    at(T + 10_000, 1580, 200),
    at(T + 20_000, 1660, 200),
    at(T + 30_000, 1740, 200),
    at(T + 690_000, 2500, 200),
    at(T + 990_000, 3000, 200),
    at(T + 1_000_000, 3080, 0),
    at(T + 1_010_000, 3160, 0),
    at(T + 1_020_000, 3240, 0),
    at(T + 1_030_000, 3320, 0),
  ];
  const rb = run(b);
  t.deepEqual(summary(rb.events), [
    `OFF_ROUTE:opened:${T + 10_000}-:L0`,
    `OFF_ROUTE:updated:${T + 10_000}-:L1`,
    `TRACK_GAP:opened:${T + 30_000}-:L0`,
    `TRACK_GAP:closed:${T + 30_000}-${T + 690_000}:L0`,
    `OFF_ROUTE:updated:${T + 10_000}-:L2`,
    `OFF_ROUTE:closed:${T + 10_000}-${T + 1_000_000}:L2`,
  ]);
  t.is(ofCode(rb.log, 'OFF_ROUTE')[1]!.at, T + 690_000);
  t.is(
    ofCode(rb.log, 'OFF_ROUTE')[2]!.at,
    T + 990_000,
    'exactly 5 min of silence is no gap, but 980 s out is level 2',
  );
  t.is(rb.events.at(-1)!.violation.durationMs, 990_000);
  t.is(rb.events.at(-1)!.violation.details.outsideFixes, 5);
});

test('OFF_ROUTE end: 29 s back inside does not close (and the next excursion continues the same violation); 30 s does', (t) => {
  const out = (ts: number, x: number) => at(ts, x, 200);
  const inn = (ts: number, x: number) => at(ts, x, 0);
  const fixes = [
    inn(T, 1500),
    out(T + 10_000, 1580),
    out(T + 20_000, 1660),
    out(T + 30_000, 1740),
    inn(T + 40_000, 1820),
    inn(T + 50_000, 1900),
    inn(T + 60_000, 1980),
    inn(T + 69_000, 2050), // 29 s back inside
    out(T + 79_000, 2130),
    inn(T + 89_000, 2210),
    inn(T + 99_000, 2290),
    inn(T + 109_000, 2370),
    inn(T + 119_000, 2450), // 30 s back inside
  ];
  const r = run(fixes);
  t.deepEqual(summary(r.events), [
    `OFF_ROUTE:opened:${T + 10_000}-:L0`,
    `OFF_ROUTE:closed:${T + 10_000}-${T + 89_000}:L0`,
  ]);
  t.is(r.log[1]!.at, T + 119_000);
  t.is(r.events[1]!.violation.details.outsideFixes, 4);
});

test('OFF_ROUTE exactly once: 17 min at a constant 200 m gives opened, L1, L2, closed and nothing else', (t) => {
  const fixes: Fix[] = [at(T, 1000, 0)];
  for (let i = 1; i <= 100; i++) fixes.push(at(T + i * 10_000, 1000 + i * 20, 200));
  for (let i = 101; i <= 104; i++) fixes.push(at(T + i * 10_000, 1000 + i * 20, 0));
  const r = run(fixes);
  const start = T + 10_000;
  t.deepEqual(summary(r.events), [
    `OFF_ROUTE:opened:${start}-:L0`,
    `OFF_ROUTE:updated:${start}-:L1`,
    `OFF_ROUTE:updated:${start}-:L2`,
    `OFF_ROUTE:closed:${start}-${T + 1_010_000}:L2`,
  ]);
  t.deepEqual(
    r.log.map((l) => l.at),
    [T + 30_000, start + 600_000, start + 900_000, T + 1_040_000],
  );
  const closed = r.events[3]!.violation;
  t.is(closed.details.outsideFixes, 100);
  t.true(Math.abs(Number(closed.details.maxDeviationM) - 200) < 0.5);
  t.is(closed.durationMs, 1_000_000);
  t.deepEqual(closed.refs, r.events[0]!.violation.refs);
});

test('OFF_ROUTE: a permit expiring at midnight closes the open violation (no_permit); the loaded truck driving on is NO_PERMIT', (t) => {
  const lastDay = compileWorld(
    snapshot({ permits: [{ ...P1, validTo: '2026-11-10', windows: ['00:00-24:00'] }] }),
  );
  const t0 = local(23, 58);
  const fixes: Fix[] = [at(t0, 1500, 0)];
  for (let i = 1; i <= 30; i++) fixes.push(at(t0 + i * 10_000, 1500 + i * 40, 200));
  const r = run(fixes, { world: lastDay });
  t.deepEqual(summary(r.events), [
    `OFF_ROUTE:opened:${t0 + 10_000}-:L0`,
    `OFF_ROUTE:closed:${t0 + 10_000}-${local(24)}:L0`,
    `NO_PERMIT:opened:${local(24)}-:L0`,
  ]);
  t.is(r.events[1]!.violation.details.endReason, 'no_permit');
  t.is(r.events[1]!.violation.permit, 'P1');
  t.like(r.events[2]!.violation.details, { trigger: 'moving' });
  t.is(r.log[2]!.at, local(24, 1), 'after a minute of loaded movement without a permit');
});

test('OFF_ROUTE route edited mid-trip: a pending run is judged on the new line; the evidence of an old violation holds v1', (t) => {
  // v2 moves the first leg 120 m north: the truck driving at y = 120 is now on its route
  const v2: Route = {
    ...R1,
    version: 2,
    line: [pt(0, 0), pt(0, 120), pt(4000, 120), pt(4000, 3000)],
    limits: [],
  };
  const world2 = compileWorld(snapshot({ routes: [v2] }));
  const items: Item[] = [
    at(T, 1500, 0),
    at(T + 10_000, 1580, 120),
    at(T + 20_000, 1660, 120),
    { world: world2 },
  ];
  for (let i = 3; i < 20; i++) items.push(at(T + i * 10_000, 1500 + i * 80, 120));
  t.deepEqual(run(items).events, [], 'two outside fixes under v1, then inside v2');

  // a violation opened and closed under v1, then the edit: its evidence built from the v1 world is v1
  const track: Fix[] = [at(T, 1500, 0)];
  for (let i = 1; i <= 6; i++) track.push(at(T + i * 10_000, 1500 + i * 80, 300));
  for (let i = 7; i <= 11; i++) track.push(at(T + i * 10_000, 1500 + i * 80, 0));
  const after: Fix[] = [];
  for (let i = 12; i <= 20; i++) after.push(at(T + i * 10_000, 1500 + i * 80, 300));
  const r = run([...track, { world: world2 }, ...after]);
  const closed = r.events.filter((e) => e.phase === 'closed');
  t.is(closed.length, 1);
  t.deepEqual(refsOf(closed[0]!.violation), ['permit:P1@2', 'route:R1@1', 'thresholds:city@1']);
  const pkg = buildEvidence(closed[0]!.violation, [...track, ...after], WORLD);
  const route = pkg.entities.find((e) => e.ref.kind === 'route')!;
  t.is((route.entity as Route).version, route.ref.version);
  const open2 = r.events.filter((e) => e.phase === 'opened');
  t.is(open2.length, 2);
  t.deepEqual(refsOf(open2[1]!.violation), ['permit:P1@2', 'route:R1@2', 'thresholds:city@1']);
  t.true(
    Math.abs(Number(open2[1]!.violation.details.maxDeviationM) - 180) < 1,
    'judged against the new line at y = 120',
  );
}); // outside the permit window
