/**
 * RESTRICTED_ZONE (geofence/rules/restricted-zone.ts): the rule's tests, on the worlds of
 * test/support/rules/matrix-route.ts, route-time.ts.
 */
import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import type { Zone } from '../../../geofence/model.ts';
import { withNoise } from '../../support/rules/matrix/perturb.ts';
import { lifecycleProblems, phases, refsOf, run, summary } from '../../support/rules/matrix/run.ts';
import { fixAt } from '../../support/rules/matrix/tracks.ts';
import { pt, RZ2, snapshot } from '../../support/rules/matrix/world.ts';
import { ev } from '../../support/rules/matrix-route.ts';
import { inZone, phases as phasesRouteTime, run as runRouteTime } from '../../support/rules/route-time.ts';
import {
  type Item,
  local,
  local as localRouteTime,
  ofCode,
  ofCode as ofCodeRouteTime,
} from '../../support/rules/track-kit.ts';

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

test('RESTRICTED_ZONE: two fixes inside open it from the first; leaving closes; refs carry the zone version', (t) => {
  const T = localRouteTime(8);
  const fixes = [
    inZone(T, -400, 0),
    inZone(T + 10_000, -100, 0),
    inZone(T + 20_000, 0, 0),
    inZone(T + 30_000, 400, 0),
    // clearly outside for 30 s (restrictedZoneExitMs): it ends at the first fix of that run
    inZone(T + 40_000, 500, 0),
    inZone(T + 50_000, 600, 0),
    inZone(T + 60_000, 700, 0),
  ];
  const rz = ofCodeRouteTime(runRouteTime(fixes).log, 'RESTRICTED_ZONE');
  t.deepEqual(phasesRouteTime(rz), ['RESTRICTED_ZONE:opened', 'RESTRICTED_ZONE:closed']);
  t.is(rz[0]!.at, T + 20_000, 'raised at the second fix inside');
  t.is(rz[0]!.event.violation.startTs, T + 10_000);
  t.like(rz[0]!.event.violation.details, {
    onset: 'consecutive',
    insideFixes: 2,
    depthM: 200,
    zoneId: 'RZ1',
  });
  t.is(rz[0]!.event.violation.ruleVersion, 3);
  // one fix 100 m inside, the next outside again: a single fix proves nothing (version 2 opened here)
  const stray = [inZone(T, -400, 0), inZone(T + 10_000, -100, 0), inZone(T + 20_000, -400, 0)];
  t.deepEqual(ofCodeRouteTime(runRouteTime(stray).log, 'RESTRICTED_ZONE'), []);
  t.deepEqual(
    rz[0]!.event.violation.refs.find((r) => r.kind === 'zone'),
    { kind: 'zone', id: 'RZ1', version: 3 },
  );
  t.is(rz[1]!.event.violation.endTs, T + 30_000);
  t.is(rz[1]!.event.violation.durationMs, 20_000);
});

test('RESTRICTED_ZONE: at the edge, one fix inside opens nothing; two consecutive fixes do', (t) => {
  const T = localRouteTime(8);
  // 190 m east of the centre: 10 m inside the 200 m half-size box, within the 15 m floor
  const once = [inZone(T, 250, 0), inZone(T + 10_000, 190, 0), inZone(T + 20_000, 250, 0)];
  t.deepEqual(runRouteTime(once).events, []);
  const twice = [
    inZone(T, 250, 0),
    inZone(T + 10_000, 190, 0),
    inZone(T + 20_000, 192, 5),
    inZone(T + 30_000, 250, 0),
    inZone(T + 40_000, 250, 0),
    inZone(T + 50_000, 250, 0),
    inZone(T + 60_000, 250, 0),
  ];
  const rz = ofCodeRouteTime(runRouteTime(twice).log, 'RESTRICTED_ZONE');
  t.deepEqual(phasesRouteTime(rz), ['RESTRICTED_ZONE:opened', 'RESTRICTED_ZONE:closed']);
  t.is(rz[0]!.at, T + 20_000);
  t.is(rz[0]!.event.violation.startTs, T + 10_000);
  t.is(rz[0]!.event.violation.details.onset, 'consecutive');
});

test('RESTRICTED_ZONE: closes when its window ends; open hours, other unit kinds are not judged', (t) => {
  const fixes = [
    inZone(localRouteTime(8, 59, 40), 0, 0),
    inZone(localRouteTime(8, 59, 50), 0, 0),
    inZone(localRouteTime(9), 0, 0),
  ];
  const rz = ofCodeRouteTime(runRouteTime(fixes).log, 'RESTRICTED_ZONE');
  t.deepEqual(phasesRouteTime(rz), ['RESTRICTED_ZONE:opened', 'RESTRICTED_ZONE:closed']);
  t.is(rz[1]!.event.violation.endTs, localRouteTime(9));
  t.deepEqual(
    runRouteTime([inZone(localRouteTime(10), 0, 0), inZone(localRouteTime(10, 0, 10), 0, 0)]).events,
    [],
  );
  const sweeper = [
    inZone(localRouteTime(8), 0, 0, { vehicle: 'S1', kind: 'sanitation' }),
    inZone(localRouteTime(8, 0, 10), 0, 0, { vehicle: 'S1', kind: 'sanitation' }),
  ];
  t.deepEqual(runRouteTime(sweeper, { vehicle: 'S1' }).events, []);
});
