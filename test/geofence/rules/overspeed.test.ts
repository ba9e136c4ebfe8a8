/**
 * OVERSPEED (geofence/rules/overspeed.ts): the rule's tests, on the worlds of
 * test/support/rules/matrix-route.ts, route-time.ts.
 */
import test from 'ava';
import { compileWorld } from '../../../geofence/compile.ts';
import type { Route } from '../../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import { lifecycleProblems, phases, refsOf, run, summary } from '../../support/rules/matrix/run.ts';
import { EMPTY, fixAt } from '../../support/rules/matrix/tracks.ts';
import { R1, snapshot } from '../../support/rules/matrix/world.ts';
import { speeds } from '../../support/rules/matrix-route.ts';
import {
  MORNING,
  NIGHT,
  phases as phasesRouteTime,
  run as runRouteTime,
  track,
} from '../../support/rules/route-time.ts';
import { gaussian, type Item, local, ofCode, prng } from '../../support/rules/track-kit.ts';

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

// ---------------------------------------------------------------------------------------------- OVERSPEED

test('OVERSPEED: over the segment limit for 10 s opens; the first fix at the limit closes; grade by the max', (t) => {
  // day limit 60 on the first leg; 5 s fixes (alarm rate)
  const speeds = [55, 70, 70, 70, 71, 71, 60, 50];
  const fixes = track(MORNING, speeds.length, {
    interval: 5_000,
    step: 100,
    extra: (i) => ({ speed: speeds[i]!, load: 'empty' }),
  });
  const os = ofCode(runRouteTime(fixes).log, 'OVERSPEED');
  t.deepEqual(phasesRouteTime(os), ['OVERSPEED:opened', 'OVERSPEED:closed']);
  t.is(os[0]!.at, MORNING + 15_000);
  t.is(os[0]!.event.violation.startTs, MORNING + 5_000);
  t.like(os[0]!.event.violation.details, { limitKmh: 60, maxSpeedKmh: 70, grade: 0 });
  t.deepEqual(
    os[0]!.event.violation.refs.find((r) => r.kind === 'route'),
    { kind: 'route', id: 'R1', version: 1 },
  );
  t.is(os[1]!.event.violation.endTs, MORNING + 30_000);
  t.is(os[1]!.event.violation.durationMs, 25_000);
  t.like(os[1]!.event.violation.details, { maxSpeedKmh: 71, grade: 0 });
});

test('OVERSPEED: no onset under 10 s; grades 1 and 2 at 20 % and 50 % over', (t) => {
  const short = track(MORNING, 5, {
    interval: 5_000,
    step: 100,
    extra: (i) => ({ speed: [50, 80, 80, 60, 80][i]! }),
  });
  t.deepEqual(ofCode(runRouteTime(short).log, 'OVERSPEED'), []);
  const speeds = [72, 72, 72, 90, 90, 91, 40];
  const graded = track(MORNING, speeds.length, {
    interval: 5_000,
    step: 100,
    extra: (i) => ({ speed: speeds[i]! }),
  });
  const os = ofCode(runRouteTime(graded).log, 'OVERSPEED');
  t.deepEqual(phasesRouteTime(os), ['OVERSPEED:opened', 'OVERSPEED:updated', 'OVERSPEED:closed']);
  t.is(os[0]!.event.violation.details.grade, 1, '72 km/h is 20 % over 60');
  t.is(os[1]!.event.violation.details.grade, 2, '90 km/h is 50 % over 60');
  t.is(os[1]!.at, MORNING + 15_000);
  t.like(os[2]!.event.violation.details, { grade: 2, maxSpeedKmh: 91, limitKmh: 60 });
});

test('OVERSPEED: escalation at 5 and 10 min; night limit; speed zone; body cameras exempt', (t) => {
  const long = track(MORNING, 140, { step: 0, extra: (i) => ({ speed: i < 130 ? 65 : 50 }) });
  const os = ofCode(runRouteTime(long).log, 'OVERSPEED');
  t.deepEqual(
    os.map((l) => `${l.event.phase}:${l.event.violation.level}`),
    ['opened:0', 'updated:1', 'updated:2', 'closed:2'],
  );
  t.is(os[1]!.at, MORNING + 300_000);
  t.is(os[2]!.at, MORNING + 600_000);
  // 23:00: the night limit of the first leg is 40
  const night = ofCode(runRouteTime(track(NIGHT, 5, { extra: () => ({ speed: 50 }) })).log, 'OVERSPEED');
  t.is(night[0]!.event.violation.details.limitKmh, 40);
  t.deepEqual(night[0]!.event.violation.thresholds.nightWindows, ['22:00-06:00']);
  // at 10:00 the same 50 km/h is under the day limit 60
  t.deepEqual(ofCode(runRouteTime(track(MORNING, 5, { extra: () => ({ speed: 50 }) })).log, 'OVERSPEED'), []);
  // the speed zone (30 km/h, all day) inside the corridor
  const zone = ofCode(
    runRouteTime(track(MORNING, 5, { along: 2800, extra: () => ({ speed: 35 }) })).log,
    'OVERSPEED',
  );
  t.is(zone[0]!.event.violation.details.limitKmh, 30);
  t.deepEqual(
    zone[0]!.event.violation.refs.find((r) => r.kind === 'zone'),
    { kind: 'zone', id: 'SZ1', version: 1 },
  );
  // a body camera is never judged for speed
  const cam = track(MORNING, 10, {
    along: 2800,
    extra: () => ({ speed: 90, kind: 'body_camera', vehicle: 'C1' }),
  });
  t.deepEqual(runRouteTime(cam, { vehicle: 'C1' }).events, []);
  // far off any route and zone: the city default (night 50 km/h) judges it
  const far = ofCode(
    runRouteTime(track(NIGHT, 10, { lateral: () => 3000, extra: () => ({ speed: 120, load: 'empty' }) })).log,
    'OVERSPEED',
  );
  t.deepEqual(phasesRouteTime(far), ['OVERSPEED:opened']);
  t.like(far[0]!.event.violation.details, { limitKmh: 50, limitSource: 'default', grade: 2 });
});
