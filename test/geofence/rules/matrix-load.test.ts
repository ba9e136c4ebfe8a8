import test from 'ava';
import { compileWorld } from '../../../geofence/compile.ts';
import { completedTrips, phases, refsOf, run, summary } from '../../support/rules/matrix/run.ts';
import { cleanTrip } from '../../support/rules/matrix/scenarios.ts';
import { EMPTY, FULL, loadAt, Trk, tip } from '../../support/rules/matrix/tracks.ts';
import { P1, snapshot } from '../../support/rules/matrix/world.ts';
import { codesOf, T } from '../../support/rules/matrix-load.ts';
import { local, ofCode } from '../../support/rules/track-kit.ts';

test('a weight falling while moving is SPILLAGE, never ILLEGAL_DUMP (even when the truck stops afterwards)', (t) => {
  const tr = new Trk('V1', T, 1200, 0, FULL);
  tr.roll(2, 20)
    .roll(6, 20, 10_000, (i) => ({ weight: 28 - i }))
    .stay(120_000);
  const r = run(tr.fixes);
  t.deepEqual(codesOf(r), ['SPILLAGE']);
  t.deepEqual(phases(r.events), ['SPILLAGE:opened', 'SPILLAGE:closed']);
  t.like(r.events[1]!.violation.details, { trigger: 'weight', weightDropT: 6 });
});

test('permit expiring mid-trip: a dump outside after midnight is ILLEGAL_DUMP with no permit left to cite', (t) => {
  const lastDay = compileWorld(
    snapshot({ permits: [{ ...P1, validTo: '2026-11-10', windows: ['00:00-24:00'] }] }),
  );
  const tr = new Trk('V1', local(23, 59), 1500, 0, FULL).drive(2000, 0, 30).stay(60_000);
  const liftTs = tr.t + 10_000;
  tip(tr);
  t.true(liftTs > local(24));
  const r = run(tr.fixes, { world: lastDay });
  t.deepEqual(summary(r.events), [
    `ILLEGAL_DUMP:opened:${liftTs}-:L0`,
    `ILLEGAL_DUMP:closed:${liftTs}-${liftTs}:L0`,
  ]);
  const v = r.events[0]!.violation;
  t.is(v.permit, undefined);
  t.is(v.details.nearestPermittedM, -1);
  t.deepEqual(refsOf(v), ['thresholds:city@1']);
  // the same dump the evening before (permit valid) cites P1 and the permitted D1
  const before = new Trk('V1', local(23, 50), 1500, 0, FULL).drive(2000, 0, 30).stay(60_000);
  tip(before);
  const b = run(before.fixes, { world: lastDay });
  t.deepEqual(refsOf(b.events[0]!.violation), ['permit:P1@2', 'site:D1@2', 'thresholds:city@1']);
});

// ---------------------------------------------------------------------------------------------- trips

test('trip record: loading in O1 -> R1 -> unloading in D1 gives distance, duration, permit and compliance (all 12 rules)', (t) => {
  const tr = cleanTrip();
  const r = run(tr.fixes);
  t.deepEqual(r.events, []);
  t.deepEqual(
    r.trips.map((e) => e.kind),
    ['started', 'completed'],
  );
  const loading = tr.fixes.find((f) => f.load === 'half')!;
  const lift = tr.fixes.find((f) => f.lift === 'up')!;
  const [trip] = completedTrips(r);
  t.like(trip, {
    id: `V1:trip:${loading.ts}`,
    vehicle: 'V1',
    firm: 'F1',
    permit: 'P1',
    originSite: 'O1',
    originVersion: 3,
    disposalSite: 'D1',
    startTs: loading.ts,
    endTs: lift.ts,
    durationMs: lift.ts - loading.ts,
    loadTrigger: 'load',
    unloadTrigger: 'lift',
    compliant: true,
    violationCount: 0,
  });
  t.true(Math.abs(trip!.distanceKm - 7) < 0.01, `${trip!.distanceKm} km`);
  t.deepEqual(trip!.violations, []);
});

test('trip across midnight and two trips in a row: two records, distinct ids, both under P1', (t) => {
  const tr = cleanTrip('V1', local(23, 50));
  tr.drive(4000, 0, 30).drive(0, 0, 30);
  loadAt(tr).drive(4000, 0, 30).drive(4000, 3000, 30).stay(60_000);
  tip(tr);
  const r = run(tr.fixes);
  t.deepEqual(r.events, []);
  const trips = completedTrips(r);
  t.is(trips.length, 2);
  t.not(trips[0]!.id, trips[1]!.id);
  t.true(trips[0]!.startTs < local(24) && trips[0]!.endTs > local(24), 'the first trip crosses midnight');
  t.true(trips[1]!.startTs > trips[0]!.endTs);
  t.deepEqual(
    trips.map((x) => [x.permit, x.compliant, x.disposalSite]),
    [
      ['P1', true, 'D1'],
      ['P1', true, 'D1'],
    ],
  );
});

test('trip with an off-route excursion and speeding: not compliant, both violations listed', (t) => {
  const tr = new Trk('V1', local(23), 0, 0, EMPTY);
  loadAt(tr).drive(1500, 0, 30).drive(1500, 300, 30).drive(2000, 300, 30).drive(2000, 0, 30);
  tr.roll(4, 55); // night limit 40 on the first leg
  tr.drive(4000, 0, 30).drive(4000, 3000, 30).stay(60_000);
  tip(tr);
  const r = run(tr.fixes);
  t.deepEqual(codesOf(r), ['OFF_ROUTE', 'OVERSPEED']);
  const [trip] = completedTrips(r);
  t.false(trip!.compliant);
  t.is(trip!.violationCount, 2);
  t.deepEqual(trip!.violations.map((id) => id.split(':')[1]).sort(), ['OFF_ROUTE', 'OVERSPEED']);
  const or = ofCode(r.log, 'OFF_ROUTE');
  t.deepEqual(phases(or), ['OFF_ROUTE:opened', 'OFF_ROUTE:updated', 'OFF_ROUTE:closed']);
  t.true(Math.abs(Number(or[2]!.event.violation.details.maxDeviationM) - 300) < 0.5);
});
