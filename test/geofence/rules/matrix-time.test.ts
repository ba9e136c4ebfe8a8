import test from 'ava';
import { completedTrips, phases, run, summary } from '../../support/rules/matrix/run.ts';
import { cleanTrip } from '../../support/rules/matrix/scenarios.ts';
import { drive, parked } from '../../support/rules/matrix-time.ts';
import { local } from '../../support/rules/track-kit.ts';

// ---------------------------------------------------------------------------------------------- validity at night

// A daily window crossing midnight belongs to the date it STARTS (geofence/geo/windows.ts): P1 is valid
// 2026-11-01..30 with hours 22:00-06:00, so it covers 01:00 on 1 December and not 03:00 on 1 November.

test('permit validity at night: loading at 01:00 the day after the last valid date is covered by P1 (that window began on 11-30)', (t) => {
  const r = run(cleanTrip('V1', local(0, 55, 0, '2026-12-01')).fixes);
  t.deepEqual(summary(r.events), [], 'no NO_PERMIT, no OFF_HOURS');
  const trips = completedTrips(r);
  t.is(trips.length, 1);
  t.like(trips[0], { permit: 'P1', originSite: 'O1', disposalSite: 'D1', compliant: true });
  // the next evening's window starts on 12-01, after the validity: the same trip is NO_PERMIT
  const after = run(cleanTrip('V1', local(22, 30, 0, '2026-12-01')).fixes);
  t.deepEqual(phases(after.events), ['NO_PERMIT:opened', 'NO_PERMIT:closed']);
  t.is(completedTrips(after)[0]!.permit, '');
});

test('permit validity at night: loaded at 03:00 on the first valid date is outside the hours (that window began on 10-31)', (t) => {
  const D = local(3, 0, 0, '2026-11-01');
  const r = run(drive(D, D + 180_000, () => 30));
  t.deepEqual(summary(r.events), [`OFF_HOURS:opened:${D}-:L0`]);
  t.is(r.events[0]!.violation.permit, 'P1');
  // that evening's window began on 11-01: covered
  const E = local(22, 30, 0, '2026-11-01');
  t.deepEqual(run(drive(E, E + 180_000, () => 30)).events, []);
});

test('permit hours no longer make a sleeping terminal OFFLINE: ignition off and empty at 01:00 on 12-01, inside P1 hours, is asleep', (t) => {
  const a = run([parked(local(23, 50, 0, '2026-11-30'), false), { tick: local(1, 0, 0, '2026-12-01') }]);
  t.deepEqual(a.events, []);
});
