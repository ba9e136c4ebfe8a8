import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { localMidnightUtcMs } from '../../../geofence/geo/windows.ts';
import { LOAD_TRACK_INITIAL, stepLoad } from '../../../geofence/rules/load-events.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import {
  BASE,
  completed,
  compliantTrip,
  EMPTY,
  FULL,
  loadAtOrigin,
  messyDay,
  of,
  phases,
  run,
  Track,
  tip,
} from '../../support/rules/load.ts';

// ---------------------------------------------------------------------------------------------------
// A compliant trip
// ---------------------------------------------------------------------------------------------------

test('a compliant trip: started and completed, compliant, no violation from the load rules', (t) => {
  const tr = compliantTrip();
  const r = run(tr.fixes);
  t.deepEqual(r.violations, []);
  t.is(r.trips.length, 2);
  t.is(r.trips[0]!.kind, 'started');
  const [trip] = completed(r);
  t.truthy(trip);
  t.is(trip!.id, `V1:trip:${trip!.startTs}`);
  t.is(trip!.originSite, 'O1');
  t.is(trip!.originVersion, 3);
  t.is(trip!.disposalSite, 'D1');
  t.is(trip!.permit, 'P1');
  t.true(trip!.compliant);
  t.is(trip!.violationCount, 0);
  t.is(trip!.unloadTrigger, 'lift');
  t.is(trip!.durationMs, trip!.endTs - trip!.startTs);
  t.true(Math.abs(trip!.distanceKm - 6) < 0.3, `distance ${trip!.distanceKm} km`);
});

test('per-vehicle state of the load rules and the trip tracker stays small', (t) => {
  const tr = compliantTrip();
  const r = run(tr.fixes);
  const bytes = JSON.stringify(r.state.slices).length + JSON.stringify(r.tripState).length;
  t.true(bytes < 700, `${bytes} bytes`);
});

test('a permit expiring mid-trip: the trip keeps its permit, a later loading is NO_PERMIT', (t) => {
  // loading from 23:40 local on 10 March (last valid day); the unloading falls on 11 March
  const start = localMidnightUtcMs('2026-03-11') - 20 * 60_000;
  const tr = new Track('V1', start, 0, 0, EMPTY, 4);
  loadAtOrigin(tr);
  tr.drive(6000, 0, 40);
  tr.stay(600_000); // queueing at the tipping face past midnight
  tip(tr);
  const unloadTs = tr.t;
  tr.drive(0, 0, 40);
  loadAtOrigin(tr);
  const r = run(tr.fixes);
  const trips = completed(r);
  t.is(trips.length, 1);
  t.is(trips[0]!.permit, 'P1');
  t.true(trips[0]!.endTs > localMidnightUtcMs('2026-03-11'));
  t.true(trips[0]!.endTs <= unloadTs);
  t.true(trips[0]!.compliant);
  const np = of(r, 'NO_PERMIT');
  t.deepEqual(phases(np), ['opened']);
  t.true(np[0]!.violation.startTs > unloadTs, 'only the loading after expiry');
  t.is(r.trips.filter((e) => e.kind === 'started').length, 2);
});

test('duplicates and out-of-order fixes never duplicate events', (t) => {
  const clean = messyDay();
  const delivered: Fix[] = [];
  clean.forEach((f, i) => {
    delivered.push(f);
    if (i % 7 === 0) delivered.push({ ...f });
    if (i % 11 === 0 && i >= 3) delivered.push({ ...clean[i - 3]!, late: true });
  });
  const a = run(clean);
  const b = run(delivered);
  t.true(b.state.skippedLate > 0);
  t.deepEqual(b.violations, a.violations);
  t.deepEqual(b.trips, a.trips);
  const ids = a.violations.filter((e) => e.phase === 'opened').map((e) => e.violation.id);
  t.is(new Set(ids).size, ids.length);
  t.deepEqual([...new Set(a.violations.map((e) => e.violation.code))].sort(), [
    'ILLEGAL_DUMP',
    'SUSPECTED_DUMP',
  ]);
  t.is(completed(a).length, 2);
  t.deepEqual(
    completed(a).map((x) => x.compliant),
    [true, false],
  );
});

test('replay determinism: the same fixes twice give deep-equal events, state survives JSON', (t) => {
  const fixes = messyDay();
  const a = run(fixes);
  const b = run(fixes, { roundTrip: true });
  t.deepEqual(b.violations, a.violations);
  t.deepEqual(b.trips, a.trips);
  t.is(JSON.stringify(b.violations), JSON.stringify(a.violations));
});

// ---------------------------------------------------------------------------------------------------
// The shared transition detector
// ---------------------------------------------------------------------------------------------------

test('load events: lift, load and weight of one dump are one unloading; a partial dump re-arms', (t) => {
  const tr = new Track('V1', BASE, 3000, -800, FULL, 21);
  tr.emit(10_000, 0);
  tr.emit(10_000, 0, { lift: 'up' }); // partial dump: lift up, weight 28 -> 12, then full -> half
  tr.emit(10_000, 0, { weight: 20 });
  tr.emit(10_000, 0, { weight: 12, load: 'half' });
  tr.emit(10_000, 0, { lift: 'down' });
  for (let i = 0; i < 6; i++) tr.roll(10_000, 30); // drives off, still carrying 12 t: re-armed
  tr.emit(10_000, 0);
  tr.emit(10_000, 0, { lift: 'up' }); // second dump elsewhere
  tr.emit(10_000, 0, { weight: 0.5, load: 'empty' }); // same dump: no third unloading
  const kinds: string[] = [];
  let track = { ...LOAD_TRACK_INITIAL };
  let prev: Fix | undefined;
  for (const f of tr.fixes) {
    const r = stepLoad(track, f, prev, DEFAULT_THRESHOLDS);
    track = r.track;
    prev = f;
    if (r.event) kinds.push(`${r.event.kind}:${r.event.trigger}`);
  }
  t.deepEqual(kinds, ['unloading:lift', 'unloading:lift']);
  t.is(of(run(tr.fixes), 'ILLEGAL_DUMP').length, 4, 'two instantaneous dumps, opened+closed each');
});
