import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { buildEvidence } from '../../../geofence/evidence.ts';
import type { Route, Zone } from '../../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import {
  EMPTY,
  FULL,
  fixAt,
  gaussian,
  type Item,
  lifecycleProblems,
  local,
  ofCode,
  P1,
  phases,
  prng,
  pt,
  R1,
  RZ2,
  refsOf,
  run,
  type Sensors,
  snapshot,
  summary,
  WORLD,
  withNoise,
} from '../../support/tracks-matrix.ts';

/*
 * Rule matrix, route and place rules: OFF_ROUTE, OVERSPEED, RESTRICTED_ZONE, TRACK_GAP, through the real
 * engine with ALL_RULES (test/support/tracks-matrix.ts: R1 runs (0,0) -> (4000,0) -> (4000,3000), corridor
 * 50 m, P1 22:00-06:00). Complements test/geofence/rules/route-time.test.ts: cross streets and corners with noise,
 * gaps, exact thresholds, permit expiry, versions kept after an edit, night/zone windows at their edges.
 */

const T = local(23, 10);
/** a loaded V1 fix at (x, y) */
const at = (ts: number, x: number, y: number, s: Sensors = {}): Fix =>
  fixAt('V1', ts, x, y, { ...FULL, ...s });
const codesOf = (r: ReturnType<typeof run>) => [...new Set(r.events.map((e) => e.violation.code))].sort();

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
});

// ---------------------------------------------------------------------------------------------- OVERSPEED

/** an empty V1 on the first leg at 10:00 (day limit 60), one fix per entry of `speeds`, `every` ms apart */
function speeds(start: number, list: readonly (number | undefined)[], every = 5_000, x0 = 600): Fix[] {
  return list.map((kmh, i) => {
    const f = fixAt('V1', start + i * every, x0 + i * 20, 0, { ...EMPTY, speed: kmh ?? 0 });
    if (kmh === undefined) delete f.speed;
    return f;
  });
}

test('OVERSPEED threshold: 60 km/h for 5 min is nothing; 61 km/h for 9 s is nothing; for 10 s it opens', (t) => {
  const D = local(10);
  t.deepEqual(run(speeds(D, Array(60).fill(60))).events, []);
  t.deepEqual(run(speeds(D, [61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 59], 1_000)).events, []);
  const r = run(speeds(D, [61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 61, 59], 1_000));
  t.deepEqual(summary(r.events), [`OVERSPEED:opened:${D}-:L0`, `OVERSPEED:closed:${D}-${D + 11_000}:L0`]);
  t.is(r.log[0]!.at, D + 10_000);
  t.like(r.events[1]!.violation.details, { limitKmh: 60, maxSpeedKmh: 61, overPct: 1.7, grade: 0 });
});

test('OVERSPEED grades at their edges: 71.9 / 72 / 89.9 / 90 km/h over 60 give grades 0 / 1 / 1 / 2', (t) => {
  const D = local(10);
  const list: number[] = [];
  for (const v of [71.9, 72, 89.9, 90]) list.push(v, v, v, v, 50);
  const r = run(speeds(D, list));
  const closed = r.events.filter((e) => e.phase === 'closed').map((e) => e.violation.details);
  t.deepEqual(
    closed.map((d) => [d.grade, d.overPct]),
    [
      [0, 19.8],
      [1, 20],
      [1, 49.8],
      [2, 50],
    ],
  );
  t.deepEqual(lifecycleProblems(r.events), []);
  t.is(r.events.length, 8, 'opened and closed, no update: the grade is known at onset');
});

test('OVERSPEED night limit across midnight and at 06:00: 40 km/h at 01:30, back to 60 at 06:00 sharp', (t) => {
  const n = run(speeds(local(25, 30), [50, 50, 50, 50, 30]));
  t.deepEqual(phases(n.events), ['OVERSPEED:opened', 'OVERSPEED:closed']);
  t.like(n.events[0]!.violation.details, { limitKmh: 40, grade: 1, overPct: 25 });
  t.deepEqual(n.events[0]!.violation.thresholds.nightWindows, ['22:00-06:00']);
  // 05:59:30 .. 06:00:30 at 50 km/h: over the night limit until 06:00:00, under the day limit from then
  const dawn = local(29, 59, 30);
  const r = run(speeds(dawn, Array(13).fill(50)));
  t.deepEqual(summary(r.events), [
    `OVERSPEED:opened:${dawn}-:L0`,
    `OVERSPEED:closed:${dawn}-${local(30)}:L0`,
  ]);
  t.is(r.log[0]!.at, dawn + 10_000);
});

test('OVERSPEED speed zone window: SZ1 (30 km/h, 07:00-19:00) closes the violation at 19:00 sharp', (t) => {
  const t0 = local(18, 59, 30);
  const fixes = Array.from({ length: 13 }, (_, i) =>
    fixAt('V1', t0 + i * 5_000, 2950 + i * 5, 0, { ...EMPTY, speed: 40 }),
  );
  const r = run(fixes);
  t.deepEqual(summary(r.events), [`OVERSPEED:opened:${t0}-:L0`, `OVERSPEED:closed:${t0}-${local(19)}:L0`]);
  t.like(r.events[0]!.violation.details, { limitKmh: 30, grade: 1 });
  t.true(refsOf(r.events[0]!.violation).includes('zone:SZ1@1'));
});

test('OVERSPEED gaps: a 4 min silence keeps the run (level 0); 6 min opens at level 1 with a TRACK_GAP; level 2 at 10 min', (t) => {
  const D = local(10);
  const a = run([...speeds(D, [70]), ...speeds(D + 240_000, [70, 50])]);
  t.deepEqual(summary(a.events), [`OVERSPEED:opened:${D}-:L0`, `OVERSPEED:closed:${D}-${D + 245_000}:L0`]);
  const b = run([...speeds(D, [70]), ...speeds(D + 360_000, [70]), ...speeds(D + 600_000, [70, 50])]);
  t.deepEqual(summary(b.events), [
    `OVERSPEED:opened:${D}-:L1`,
    `TRACK_GAP:opened:${D}-:L0`,
    `TRACK_GAP:closed:${D}-${D + 360_000}:L0`,
    `OVERSPEED:updated:${D}-:L2`,
    `OVERSPEED:closed:${D}-${D + 605_000}:L2`,
  ]);
});

test('OVERSPEED: a fix without a speed reading is not judged (it neither ends nor splits the violation)', (t) => {
  const D = local(10);
  const r = run(speeds(D, [70, 70, 70, 70, undefined, 70, 70, 50]));
  t.deepEqual(summary(r.events), [`OVERSPEED:opened:${D}-:L0`, `OVERSPEED:closed:${D}-${D + 35_000}:L0`]);
  // nor does it start or break a pending run: over at 0 s, no speed at 5 s, over at 10 s opens
  const p = run(speeds(D, [70, undefined, 70, 50]));
  t.deepEqual(summary(p.events), [`OVERSPEED:opened:${D}-:L0`, `OVERSPEED:closed:${D}-${D + 15_000}:L0`]);
});

test('OVERSPEED exactly once under speed jitter: 63 +- 2 km/h for 12 min is one violation, one event per level', (t) => {
  const g = gaussian(prng(5));
  const D = local(10);
  const list = Array.from(
    { length: 73 },
    () => Math.round((63 + Math.max(-2.5, Math.min(2.5, g() * 1.5))) * 10) / 10,
  );
  const r = run(speeds(D, [...list, 55], 10_000, 300));
  t.deepEqual(summary(r.events), [
    `OVERSPEED:opened:${D}-:L0`,
    `OVERSPEED:updated:${D}-:L1`,
    `OVERSPEED:updated:${D}-:L2`,
    `OVERSPEED:closed:${D}-${D + 730_000}:L2`,
  ]);
  t.is(r.events[3]!.violation.details.maxSpeedKmh, Math.max(...list));
});

test('OVERSPEED route edited mid-violation: the new binding limit adds v2 to the refs (v1 kept); a raised limit closes it', (t) => {
  const D = local(10);
  const lower: Route = { ...R1, version: 2, limits: [{ from: 0, to: 1, speedLimitKmh: 50 }, R1.limits[1]!] };
  const higher: Route = { ...R1, version: 3, limits: [{ from: 0, to: 1, speedLimitKmh: 80 }, R1.limits[1]!] };
  // the city default (60) binds wherever it is stricter: raised with the route here, so that 80 binds
  const raised = { ...DEFAULT_THRESHOLDS, defaultSpeedLimitKmh: { muck_truck: 90 } };
  const items: Item[] = [
    ...speeds(D, [70, 70, 70]),
    { world: compileWorld(snapshot({ routes: [lower] })) },
    ...speeds(D + 15_000, [70, 70], 5_000, 660),
    {
      world: compileWorld(
        snapshot({ routes: [higher], thresholds: { id: 'city', version: 1, values: raised } }),
      ),
    },
    ...speeds(D + 25_000, [70, 70], 5_000, 700),
  ];
  const r = run(items);
  t.deepEqual(summary(r.events), [
    `OVERSPEED:opened:${D}-:L0`,
    `OVERSPEED:updated:${D}-:L0`,
    `OVERSPEED:closed:${D}-${D + 25_000}:L0`,
  ]);
  t.like(r.events[0]!.violation.details, { limitKmh: 60, grade: 0 });
  t.like(r.events[1]!.violation.details, { limitKmh: 50, grade: 1, overPct: 40 });
  t.deepEqual(refsOf(r.events[0]!.violation), ['route:R1@1', 'thresholds:city@1', 'permit:P1@2'].sort());
  t.deepEqual(refsOf(r.events[2]!.violation), [
    'permit:P1@2',
    'route:R1@1',
    'route:R1@2',
    'thresholds:city@1',
  ]);
});

test('OVERSPEED city default: an empty truck at 80 km/h for 90 s on a street off every route and zone is one violation against 60 (limitSource default)', (t) => {
  const D = local(10);
  // 2 km north of R1, clear of every site and zone
  const fixes = Array.from({ length: 11 }, (_, i) =>
    fixAt('V1', D + i * 10_000, 500 + i * 222, 2000, { ...EMPTY, speed: i < 10 ? 80 : 40 }),
  );
  const r = run(fixes);
  t.deepEqual(summary(r.events), [`OVERSPEED:opened:${D}-:L0`, `OVERSPEED:closed:${D}-${D + 100_000}:L0`]);
  t.like(r.events[0]!.violation.details, { limitKmh: 60, limitSource: 'default', maxSpeedKmh: 80, grade: 1 });
  t.deepEqual(r.events[0]!.violation.thresholds.defaultSpeedLimitKmh, { muck_truck: 60, sanitation: 60 });
  t.deepEqual(refsOf(r.events[0]!.violation), ['permit:P1@2', 'thresholds:city@1']);
  // 60 km/h exactly is not over it; neither is a body camera at any speed
  const at60 = fixes.map((f) => ({ ...f, speed: 60 }));
  t.deepEqual(run(at60).events, []);
  const cam = fixes.map((f) => ({ ...f, vehicle: 'C1', kind: 'body_camera' as const, speed: 120 }));
  t.deepEqual(run(cam, { vehicle: 'C1' }).events, []);
});

test('OVERSPEED city default at night: 55 km/h is over the night default 50 off the route; on R1 the stricter night stretch limit 40 binds', (t) => {
  const N = local(23, 30);
  const off = Array.from({ length: 5 }, (_, i) =>
    fixAt('V1', N + i * 5_000, 500 + i * 80, 2000, { ...EMPTY, speed: 55 }),
  );
  const r = run(off);
  t.deepEqual(phases(r.events), ['OVERSPEED:opened']);
  t.like(r.events[0]!.violation.details, { limitKmh: 50, limitSource: 'default' });
  t.deepEqual(r.events[0]!.violation.thresholds.defaultNightSpeedLimitKmh, {
    muck_truck: 50,
    sanitation: 50,
  });
  t.deepEqual(r.events[0]!.violation.thresholds.nightWindows, ['22:00-06:00']);
  // at 10:00 the same 55 km/h is under the day default
  t.deepEqual(run(off.map((f, i) => ({ ...f, ts: local(10) + i * 5_000 }))).events, []);
  const on = speeds(N, [45, 45, 45, 45]);
  const o = run(on);
  t.deepEqual(phases(o.events), ['OVERSPEED:opened']);
  t.like(o.events[0]!.violation.details, { limitKmh: 40, limitSource: 'route' });
});

test('OVERSPEED city default per kind: a sweeper off every round is judged by the sanitation default; a kind without a default is not judged', (t) => {
  const D = local(10);
  const sweep = Array.from({ length: 5 }, (_, i) =>
    fixAt('S1', D + i * 5_000, 500 + i * 100, 2000, { speed: 70, kind: 'sanitation' }),
  );
  const r = run(sweep, { vehicle: 'S1' });
  t.deepEqual(phases(r.events), ['OVERSPEED:opened']);
  t.like(r.events[0]!.violation.details, { limitKmh: 60, limitSource: 'default' });
  const none = {
    ...DEFAULT_THRESHOLDS,
    defaultSpeedLimitKmh: { muck_truck: 60 },
    defaultNightSpeedLimitKmh: {},
  };
  const world = compileWorld(snapshot({ thresholds: { id: 'city', version: 2, values: none } }));
  t.deepEqual(run(sweep, { vehicle: 'S1', world }).events, []);
});

test('OVERSPEED: a route stretch limit above the city default does not lift it (the stricter limit binds)', (t) => {
  const D = local(10);
  const fast: Route = { ...R1, version: 4, limits: [{ from: 0, to: 2, speedLimitKmh: 80 }] };
  const world = compileWorld(snapshot({ routes: [fast] }));
  const r = run(speeds(D, [70, 70, 70, 70]), { world });
  t.deepEqual(phases(r.events), ['OVERSPEED:opened']);
  t.like(r.events[0]!.violation.details, { limitKmh: 60, limitSource: 'default' });
});

// ---------------------------------------------------------------------------------------------- RESTRICTED_ZONE

/** an empty V1 parked or moving at (x, y) */
const ev = (ts: number, x: number, y: number, s: Sensors = {}): Fix =>
  fixAt('V1', ts, x, y, { ...EMPTY, speed: 0, ...s });

test('RESTRICTED_ZONE window across midnight: parked inside RZ1 from 22:59 to 05:01, one violation 23:00 -> 05:00', (t) => {
  const fixes: Fix[] = [];
  for (let ts = local(22, 59); ts <= local(29, 1); ts += 60_000)
    fixes.push(ev(ts, 2000, -1500, { ign: false }));
  const r = run(fixes);
  t.deepEqual(summary(r.events), [
    `RESTRICTED_ZONE:opened:${local(23)}-:L0`,
    `RESTRICTED_ZONE:closed:${local(23)}-${local(29)}:L0`,
  ]);
  t.is(r.events[1]!.violation.durationMs, 6 * 3_600_000);
  t.like(r.events[0]!.violation.details, {
    zoneId: 'RZ1',
    zoneWindows: '23:00-05:00',
    onset: 'consecutive',
  });
  t.true(refsOf(r.events[0]!.violation).includes('zone:RZ1@3'));
});

test('RESTRICTED_ZONE empty windows mean closed all day (RZ2 at noon)', (t) => {
  const r = run([
    ev(local(12), -1500, -1800),
    ev(local(12, 0, 10), -1500, -1500),
    ev(local(12, 0, 20), -1500, -1450),
    ev(local(12, 0, 30), -1500, -1200),
    ev(local(12, 0, 40), -1500, -1200),
    ev(local(12, 0, 50), -1500, -1200),
    ev(local(12, 0, 60), -1500, -1200),
  ]);
  t.deepEqual(summary(r.events), [
    `RESTRICTED_ZONE:opened:${local(12, 0, 10)}-:L0`,
    `RESTRICTED_ZONE:closed:${local(12, 0, 10)}-${local(12, 0, 30)}:L0`,
  ]);
  t.like(r.events[0]!.violation.details, { zoneId: 'RZ2', zoneWindows: '' });
});

test('RESTRICTED_ZONE noise: parked 40 m outside the edge for 20 min with 15 m noise never opens', (t) => {
  for (const seed of [51, 52, 53]) {
    const fixes: Fix[] = [];
    for (let i = 0; i < 120; i++) fixes.push(ev(local(12) + i * 10_000, -1500 + 240, -1500));
    t.deepEqual(summary(run(withNoise(fixes, seed)).events), [], `seed ${seed}`);
  }
});

test('RESTRICTED_ZONE exit hysteresis: parked 8 m inside the edge for 20 min with 15 m noise is one violation', (t) => {
  const D = local(12);
  for (const seed of [61, 62, 63, 64]) {
    const fixes: Fix[] = [];
    // RZ2's east edge is x = -1300: 8 m inside it, a fix every 10 s
    for (let i = 0; i < 120; i++) fixes.push(ev(D + i * 10_000, -1308, -1500));
    const noisy = withNoise(fixes, seed);
    const r = run(noisy);
    const rz = ofCode(r.log, 'RESTRICTED_ZONE');
    t.deepEqual(phases(rz), ['RESTRICTED_ZONE:opened'], `seed ${seed}: ${summary(r.events).join(' ')}`);
    t.is(rz[0]!.event.violation.ruleVersion, 3);
    t.is(rz[0]!.event.violation.thresholds.restrictedZoneExitMs, 30_000);
    // then it really leaves (from a fix 100 m inside): 100 m out and beyond, one fix every 10 s
    const out: Fix[] = [ev(D + 1_195_000, -1400, -1500, { speed: 20 })];
    for (let i = 0; i < 6; i++)
      out.push(ev(D + 1_200_000 + i * 10_000, -1200 + i * 50, -1500, { speed: 20 }));
    const left = run([...noisy, ...out]);
    const closed = ofCode(left.log, 'RESTRICTED_ZONE');
    t.deepEqual(phases(closed), ['RESTRICTED_ZONE:opened', 'RESTRICTED_ZONE:closed'], `seed ${seed}`);
    t.deepEqual(lifecycleProblems(left.events), []);
    const v = closed[1]!.event.violation;
    t.is(closed[1]!.at, D + 1_230_000, 'closed once outside for 30 s');
    t.is(v.endTs, D + 1_200_000, 'ends at the first fix of the outside run');
    t.is(v.durationMs, D + 1_200_000 - v.startTs);
  }
});

test('RESTRICTED_ZONE exit hysteresis: 20 s outside is not an exit; an edge fix (outside within the margin) breaks the run', (t) => {
  const D = local(12);
  const r = run([
    ev(D, -1500, -1500),
    ev(D + 5_000, -1350, -1500),
    // out 100 m for 20 s, back in: the same violation goes on
    ev(D + 10_000, -1200, -1500),
    ev(D + 20_000, -1200, -1500),
    ev(D + 30_000, -1200, -1500),
    ev(D + 40_000, -1500, -1500),
    // out, 10 m outside the edge (within the 15 m margin), out again: the run restarts at D + 70 s
    ev(D + 50_000, -1200, -1500),
    ev(D + 60_000, -1290, -1500),
    ev(D + 70_000, -1200, -1500),
    ev(D + 90_000, -1200, -1500),
    ev(D + 100_000, -1200, -1500),
  ]);
  t.deepEqual(summary(r.events), [
    `RESTRICTED_ZONE:opened:${D}-:L0`,
    `RESTRICTED_ZONE:closed:${D}-${D + 70_000}:L0`,
  ]);
  t.is(ofCode(r.log, 'RESTRICTED_ZONE')[1]!.at, D + 100_000);
});

test('RESTRICTED_ZONE gaps: two edge fixes 3 min apart are consecutive; a silence inside does not close it', (t) => {
  const D = local(12);
  // 8 m inside RZ2's east edge (x = -1300), twice, 3 minutes apart
  const a = run([
    ev(D, -1200, -1500),
    ev(D + 10_000, -1308, -1500),
    ev(D + 190_000, -1306, -1500),
    ev(D + 200_000, -1200, -1500),
    ev(D + 230_000, -1200, -1500),
  ]);
  t.deepEqual(summary(a.events), [
    `RESTRICTED_ZONE:opened:${D + 10_000}-:L0`,
    `RESTRICTED_ZONE:closed:${D + 10_000}-${D + 200_000}:L0`,
  ]);
  t.is(a.events[0]!.violation.details.onset, 'consecutive');
  // deep inside, 10 min of silence parked, still inside, then out: one violation (no TRACK_GAP: it stood)
  const b = run([
    ev(D, -1500, -1500),
    ev(D + 600_000, -1500, -1510),
    ev(D + 610_000, -1500, -1200),
    ev(D + 640_000, -1500, -1200),
  ]);
  t.deepEqual(summary(b.events), [
    `RESTRICTED_ZONE:opened:${D}-:L0`,
    `RESTRICTED_ZONE:closed:${D}-${D + 610_000}:L0`,
  ]);
});

test('RESTRICTED_ZONE zone edited mid-violation: same geometry keeps the open violation and its v1 ref; a moved zone closes it', (t) => {
  const D = local(12);
  const renamed: Zone = { ...RZ2, version: 2, name: 'Water source, renamed' };
  const moved: Zone = {
    ...RZ2,
    version: 3,
    polygons: [[[pt(-3000, -3000), pt(-2800, -3000), pt(-2800, -2800), pt(-3000, -2800), pt(-3000, -3000)]]],
  };
  const items: Item[] = [
    ev(D, -1500, -1500),
    ev(D + 10_000, -1500, -1500),
    { world: compileWorld(snapshot({ zones: [renamed] })) },
    ev(D + 20_000, -1500, -1500),
    ev(D + 30_000, -1500, -1500),
    { world: compileWorld(snapshot({ zones: [moved] })) },
    ev(D + 40_000, -1500, -1500),
    ev(D + 50_000, -1500, -1500),
    ev(D + 60_000, -1500, -1500),
    ev(D + 70_000, -1500, -1500),
  ];
  const r = run(items);
  t.deepEqual(summary(r.events), [
    `RESTRICTED_ZONE:opened:${D}-:L0`,
    `RESTRICTED_ZONE:closed:${D}-${D + 40_000}:L0`,
  ]);
  t.true(refsOf(r.events[1]!.violation).includes('zone:RZ2@1'));
  t.false(refsOf(r.events[1]!.violation).some((x) => x.startsWith('zone:RZ2@2')));
});

test('RESTRICTED_ZONE: a zone closed to sweepers too judges the sweeper; the camera never', (t) => {
  const both: Zone = { ...RZ2, appliesTo: ['muck_truck', 'sanitation'] };
  const world = compileWorld(snapshot({ zones: [both] }));
  const sweep = [0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000].map((d, i) =>
    fixAt('S1', local(12) + d, -1500, [-1800, -1500, -1400, -1200, -1100, -1000, -900][i]!, {
      kind: 'sanitation',
      speed: 10,
    }),
  );
  const r = run(sweep, { world });
  t.deepEqual(phases(r.events), ['RESTRICTED_ZONE:opened', 'RESTRICTED_ZONE:closed']);
  t.is(r.events[0]!.violation.vehicle, 'S1');
  const cam = sweep.map((f) => ({ ...f, vehicle: 'C1', kind: 'body_camera' as const }));
  t.deepEqual(run(cam, { world }).events, []);
});

// ---------------------------------------------------------------------------------------------- TRACK_GAP

test('TRACK_GAP implied speed at its edge: the noise allowance is 2 x max(15 m, accuracy) per fix', (t) => {
  // 10 s apart: 150 km/h is 416.7 m, plus 60 m of allowance with the 15 m floor; the fix after the jump
  // agrees with it (else the jumping fix would be an outlier, outliers.ts)
  const pair = (d: number, accuracy = 8) => [
    at(T, 1000, 0),
    at(T + 10_000, 1000 + d, 0, { accuracy }),
    at(T + 20_000, 1080 + d, 0),
  ];
  t.deepEqual(ofCode(run(pair(470)).log, 'TRACK_GAP'), []);
  const r = run(pair(485));
  t.deepEqual(phases(ofCode(r.log, 'TRACK_GAP')), ['TRACK_GAP:opened', 'TRACK_GAP:closed']);
  t.like(r.events.find((e) => e.phase === 'closed')!.violation.details, {
    reason: 'speed',
    gapMs: 10_000,
    impliedSpeedKmh: 174.6,
    positionsValid: true,
  });
  // the second fix says 25 m accuracy: 80 m allowance, 485 m is no longer a jump
  t.deepEqual(ofCode(run(pair(485, 25)).log, 'TRACK_GAP'), []);
});

test('TRACK_GAP: an invalid position is never a speed jump, but its silence still counts; a gap across midnight', (t) => {
  const jump = [at(T, 1000, 0), at(T + 10_000, 4000, 0, { valid: false })];
  t.deepEqual(ofCode(run(jump).log, 'TRACK_GAP'), []);
  const silent = [at(T, 1000, 0), at(T + 400_000, 4000, 0, { valid: false })];
  const r = run(silent);
  t.deepEqual(phases(r.events), ['TRACK_GAP:opened', 'TRACK_GAP:closed']);
  t.like(r.events[1]!.violation.details, { reason: 'gap', positionsValid: false, distanceM: 0 });
  const m = run([at(local(23, 58), 1000, 0), at(local(24, 4), 1500, 0)]);
  t.deepEqual(summary(m.events), [
    `TRACK_GAP:opened:${local(23, 58)}-:L0`,
    `TRACK_GAP:closed:${local(23, 58)}-${local(24, 4)}:L0`,
  ]);
  t.is(m.events[0]!.violation.id, `V1:TRACK_GAP:${local(23, 58)}`);
});

test('route and zone rules leave a body camera alone: 110 km/h through the school zone and RZ2 at noon', (t) => {
  const D = local(12);
  const cam = [
    ...Array.from({ length: 40 }, (_, i) =>
      fixAt('C1', D + i * 10_000, 2600 + i * 20, 0, { kind: 'body_camera', speed: 110 }),
    ),
    ...Array.from({ length: 10 }, (_, i) =>
      fixAt('C1', D + (40 + i) * 10_000, -1500, -1500, { kind: 'body_camera', speed: 110 }),
    ),
  ];
  // the jump from the school zone to RZ2 (about 5 km in 10 s) is the only thing found
  const r = run(cam);
  t.deepEqual(phases(r.events), ['TRACK_GAP:opened', 'TRACK_GAP:closed']);
  t.is(r.events[0]!.violation.details.reason, 'speed');
  t.is(codesOf(r).length, 1);
});
