/**
 * OFF_ROUTE (geofence/rules/off-route.ts): the rule's tests, on the worlds of
 * test/support/rules/matrix-route.ts, route-time.ts.
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
import {
  A,
  B,
  C,
  fixAt,
  NIGHT,
  noisy,
  onRoute,
  phases as phasesRouteTime,
  ROUTE_LEN,
  ROUTE_V1,
  run as runRouteTime,
  snapshot as snapshotRouteTime,
  track,
} from '../../support/rules/route-time.ts';
import {
  gaussian,
  gaussian as gaussianRouteTime,
  type Item,
  type Item as ItemRouteTime,
  local,
  ofCode,
  ofCode as ofCodeRouteTime,
  prng,
  prng as prngRouteTime,
} from '../../support/rules/track-kit.ts';

// ---------------------------------------------------------------------------------------------- OFF_ROUTE

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

// ---------------------------------------------------------------------------------------------- OFF_ROUTE

test('OFF_ROUTE: opens at the 3rd consecutive outside fix, startTs = first outside fix; closes after 30 s back inside', (t) => {
  // 10 s fixes at 1,500 m along: 3 inside, then 150 m north up a side road for 12 fixes, then back
  const lateral = (i: number) => (i >= 3 && i < 15 ? 150 : 0);
  const fixes = track(NIGHT, 25, { along: 1500, lateral });
  const { log } = runRouteTime(fixes);
  const or = ofCodeRouteTime(log, 'OFF_ROUTE');
  t.deepEqual(phasesRouteTime(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
  const opened = or[0]!;
  t.is(opened.at, NIGHT + 50_000, 'opened at the third outside fix (20 s after the first)');
  t.is(opened.event.violation.startTs, NIGHT + 30_000);
  t.is(opened.event.violation.id, `V1:OFF_ROUTE:${NIGHT + 30_000}`);
  t.is(opened.event.violation.level, 0);
  t.true(Math.abs(Number(opened.event.violation.details.maxDeviationM) - 150) < 1);
  t.deepEqual(opened.event.violation.thresholds, {
    accuracyFloorM: 15,
    offRouteMinMs: 60_000,
    offRouteMinFixes: 3,
    offRouteEndInsideMs: 30_000,
    offRouteEscalationMs: [600_000, 900_000],
  });
  t.deepEqual(opened.event.violation.refs.map((r) => `${r.kind}:${r.id}@${r.version}`).sort(), [
    'permit:P1@2',
    'route:R1@1',
    'thresholds:city@1',
  ]);
  const closed = or[1]!;
  // first inside fix at i = 15 (150 s), closes 30 s later
  t.is(closed.at, NIGHT + 180_000);
  t.is(closed.event.violation.endTs, NIGHT + 150_000);
  t.is(closed.event.violation.durationMs, 120_000);
  t.is(closed.event.violation.permit, 'P1');
});

test('OFF_ROUTE: opens on duration alone (60 s with 2 fixes at a 60 s interval)', (t) => {
  const fixes = [
    fixAt(NIGHT, onRoute(1500)),
    fixAt(NIGHT + 60_000, onRoute(1500, 200)),
    fixAt(NIGHT + 120_000, onRoute(1500, 200)),
  ];
  const or = ofCodeRouteTime(runRouteTime(fixes).log, 'OFF_ROUTE');
  t.is(or.length, 1);
  t.is(or[0]!.at, NIGHT + 120_000);
  t.is(or[0]!.event.violation.startTs, NIGHT + 60_000);
  t.is(or[0]!.event.violation.details.outsideFixes, 2);
});

test('OFF_ROUTE: no onset just under the thresholds (59 s outside; 2 outside fixes)', (t) => {
  const a = [
    fixAt(NIGHT, onRoute(1500)),
    fixAt(NIGHT + 10_000, onRoute(1500, 200)),
    fixAt(NIGHT + 69_000, onRoute(1500, 200)), // 59 s, 2 fixes
    fixAt(NIGHT + 79_000, onRoute(1500, 0)),
    fixAt(NIGHT + 200_000, onRoute(1500, 0)),
  ];
  t.deepEqual(runRouteTime(a).events, []);
  const b = track(NIGHT, 10, { along: 1500, lateral: (i) => (i === 4 || i === 5 ? 120 : 0) });
  t.deepEqual(runRouteTime(b).events, []);
  // exactly 60 s opens (>=)
  const c = [...a.slice(0, 2), fixAt(NIGHT + 70_000, onRoute(1500, 200))];
  t.is(ofCodeRouteTime(runRouteTime(c).log, 'OFF_ROUTE').length, 1);
});

test('OFF_ROUTE: a fix beyond the corridor by less than the accuracy floor (or its own accuracy) is not outside', (t) => {
  // 60 m: 10 m beyond the 50 m corridor, within the 15 m floor
  t.deepEqual(runRouteTime(track(NIGHT, 30, { along: 1500, lateral: () => 60 })).events, []);
  // 90 m, but the fix reports 50 m accuracy: 40 m beyond < 50 m
  t.deepEqual(
    runRouteTime(track(NIGHT, 30, { along: 1500, lateral: () => 90, extra: () => ({ accuracy: 50 }) }))
      .events,
    [],
  );
  // 90 m with a good fix: opens
  t.is(
    ofCodeRouteTime(runRouteTime(track(NIGHT, 30, { along: 1500, lateral: () => 90 })).log, 'OFF_ROUTE')
      .length,
    1,
  );
});

test('OFF_ROUTE: escalation to level 1 at 10 min and level 2 at 15 min; max deviation reported', (t) => {
  const fixes = track(NIGHT, 110, {
    along: 1500,
    lateral: (i) => (i === 0 ? 0 : i < 10 ? 100 : i < 100 ? 300 : 0),
  });
  const or = ofCodeRouteTime(runRouteTime(fixes).log, 'OFF_ROUTE');
  const start = NIGHT + 10_000;
  t.is(or[0]!.event.phase, 'opened');
  t.is(or[0]!.event.violation.startTs, start);
  const levels = or.filter((l) => l.event.phase === 'updated' && l.event.violation.level > 0);
  const firstL1 = levels.find((l) => l.event.violation.level === 1)!;
  const firstL2 = levels.find((l) => l.event.violation.level === 2)!;
  t.is(firstL1.at, start + 600_000);
  t.is(firstL2.at, start + 900_000);
  t.is(levels.filter((l) => l.event.violation.level === 1).length, 1, 'one event per level change');
  const dev = or.find(
    (l) => l.event.phase === 'updated' && Number(l.event.violation.details.maxDeviationM) > 290,
  );
  t.truthy(dev, 'the deeper excursion is reported');
  const closed = or.at(-1)!;
  t.is(closed.event.phase, 'closed');
  t.is(closed.event.violation.level, 2);
  t.is(closed.event.violation.endTs, NIGHT + 1_000_000);
  t.is(closed.event.violation.durationMs, 1_000_000 - 10_000);
  t.true(Math.abs(Number(closed.event.violation.details.maxDeviationM) - 300) < 1);
});

test('OFF_ROUTE: a 40 s cross-street excursion opens nothing', (t) => {
  // up a perpendicular street at 2,000 m along and back: 55 m (edge band), 110 m, 110 m, 55 m
  const depth = [0, 0, 20, 55, 110, 110, 55, 20, 0, 0, 0, 0];
  const fixes = track(NIGHT, depth.length, { along: 2000, lateral: (i) => depth[i]! });
  t.deepEqual(runRouteTime(fixes).events, []);
  // the same street, but the truck stays 3 fixes deep: that is a violation
  const deeper = [0, 0, 20, 55, 110, 110, 110, 55, 20, 0, 0, 0, 0, 0];
  const or = ofCodeRouteTime(
    runRouteTime(track(NIGHT, deeper.length, { along: 2000, lateral: (i) => deeper[i]! })).log,
    'OFF_ROUTE',
  );
  t.deepEqual(phasesRouteTime(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
});

test('OFF_ROUTE: jitter around the corridor edge neither opens nor flaps', (t) => {
  // in / out / in for 20 minutes: every outside fix is followed by a clearly inside one
  const jitter = track(NIGHT, 120, { along: 1500, step: 5, lateral: (i) => (i % 2 === 0 ? 35 : 72) });
  t.deepEqual(runRouteTime(jitter).events, []);
  // open once (2 min at 200 m), then back in the edge band: 30/60 m alternate, a single close, never reopened
  const back = track(NIGHT, 60, {
    along: 1500,
    lateral: (i) => (i < 12 ? 200 : i % 2 === 0 ? 30 : 60),
  });
  const or = ofCodeRouteTime(runRouteTime(back).log, 'OFF_ROUTE');
  t.deepEqual(phasesRouteTime(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
  t.is(or[1]!.event.violation.endTs, NIGHT + 120_000);
  // while open, edge-band fixes between clearly-outside ones do not close it
  const wobble = track(NIGHT, 40, { along: 1500, lateral: (i) => (i < 5 ? 200 : i % 2 === 0 ? 55 : 80) });
  t.deepEqual(phasesRouteTime(ofCodeRouteTime(runRouteTime(wobble).log, 'OFF_ROUTE')), ['OFF_ROUTE:opened']);
});

test('OFF_ROUTE: 15 m GPS noise along the route for an hour opens nothing (any rule)', (t) => {
  for (const seed of [42, 43, 44]) {
    const g = gaussianRouteTime(prngRouteTime(seed));
    const fixes: Fix[] = [];
    const speedMs = 25 / 3.6;
    for (let i = 0; i < 360; i++) {
      const dist = (i * 10 * speedMs) % (2 * ROUTE_LEN);
      const along = dist <= ROUTE_LEN ? dist : 2 * ROUTE_LEN - dist; // back and forth between the sites
      fixes.push(fixAt(NIGHT + i * 10_000, noisy(onRoute(along), g), { speed: 25 + g(), accuracy: 12 }));
    }
    const { events, state } = runRouteTime(fixes);
    t.deepEqual(events, [], `seed ${seed}`);
    t.is(state.skippedLate, 0);
  }
});

test('OFF_ROUTE: inside the permit sites is never off-route; unloaded or without a route permit it does not apply', (t) => {
  // 120 m north of A: inside the origin site's 150 m box, beyond the corridor
  const inSite = track(NIGHT, 20, { along: 0, lateral: () => 120 });
  t.deepEqual(runRouteTime(inSite).events, []);
  const empty = track(NIGHT, 20, { along: 1500, lateral: () => 300, extra: () => ({ load: 'empty' }) });
  t.deepEqual(runRouteTime(empty).events, []);
  // an open violation closes when the truck is found unloaded: once the empty reading has persisted a
  // minute (a flicker is no unloading), at the first fix that read empty
  const unload = track(NIGHT, 20, {
    along: 1500,
    lateral: () => 300,
    extra: (i) => ({ load: i < 6 ? 'full' : 'empty' }),
  });
  const or = ofCodeRouteTime(runRouteTime(unload).log, 'OFF_ROUTE');
  t.deepEqual(phasesRouteTime(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:closed']);
  t.is(or[1]!.at, NIGHT + 120_000);
  t.is(or[1]!.event.violation.endTs, NIGHT + 60_000);
  t.is(or[1]!.event.violation.details.endReason, 'unloaded');
  // the same reading back to full after 30 s: the violation goes on
  const flicker = track(NIGHT, 20, {
    along: 1500,
    lateral: () => 300,
    extra: (i) => ({ load: i >= 6 && i < 9 ? 'empty' : 'full' }),
  });
  t.deepEqual(phasesRouteTime(ofCodeRouteTime(runRouteTime(flicker).log, 'OFF_ROUTE')), ['OFF_ROUTE:opened']);
});

test('OFF_ROUTE: a route edited mid-trip keeps version 1 in the refs of the open violation', (t) => {
  const v2: Route = { ...ROUTE_V1, version: 2, line: [A, onRoute(1000), B, C], corridorM: 60 };
  const world2 = compileWorld(snapshotRouteTime({ routes: [v2] }));
  const items: ItemRouteTime[] = [
    ...track(NIGHT, 6, { along: 1500, lateral: (i) => (i === 0 ? 0 : 250) }),
    { world: world2 },
    ...track(NIGHT + 60_000, 60, { along: 1500, lateral: (i) => (i < 56 ? 400 : 0) }),
  ];
  const or = ofCodeRouteTime(runRouteTime(items).log, 'OFF_ROUTE');
  t.is(or[0]!.event.phase, 'opened');
  t.true(or.some((l) => l.event.phase === 'updated'));
  t.is(or.at(-1)!.event.phase, 'closed');
  for (const l of or) {
    t.deepEqual(
      l.event.violation.refs.find((r) => r.kind === 'route'),
      { kind: 'route', id: 'R1', version: 1 },
    );
  }
  // a violation opened under the new world carries version 2
  const fresh = ofCodeRouteTime(
    runRouteTime(track(NIGHT, 8, { along: 1500, lateral: () => 300 }), { world: world2 }).log,
    'OFF_ROUTE',
  );
  t.deepEqual(
    fresh[0]!.event.violation.refs.find((r) => r.kind === 'route'),
    { kind: 'route', id: 'R1', version: 2 },
  );
});
