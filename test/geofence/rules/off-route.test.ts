/**
 * OFF_ROUTE (geofence/rules/off-route.ts): the rule's definition on the world of
 * test/support/rules/route-time.ts (onset, thresholds, escalation, the corridor's edge, noise, where it
 * does not apply, a route edited mid-trip). On the tracks-matrix worlds: off-route-tracks.test.ts.
 */
import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import type { Route } from '../../../geofence/model.ts';
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
  gaussian as gaussianRouteTime,
  type Item as ItemRouteTime,
  ofCode as ofCodeRouteTime,
  prng as prngRouteTime,
} from '../../support/rules/track-kit.ts';

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
