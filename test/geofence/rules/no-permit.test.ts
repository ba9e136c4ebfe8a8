/**
 * NO_PERMIT (geofence/rules/no-permit.ts): the rule's tests, on the worlds of
 * test/support/rules/load.ts, matrix-load.ts.
 */
import test from 'ava';
import { compileWorld } from '../../../geofence/compile.ts';
import { localMidnightUtcMs } from '../../../geofence/geo/windows.ts';
import type { Permit } from '../../../geofence/model.ts';
import {
  completed,
  compliantTrip,
  EMPTY,
  loadAtOrigin,
  of,
  phases,
  run,
  Track,
} from '../../support/rules/load.ts';
import {
  phases as phasesMatrixLoad,
  refsOf,
  run as runMatrixLoad,
  summary,
} from '../../support/rules/matrix/run.ts';
import { EMPTY as EMPTYMatrixLoad, loadAt, Trk } from '../../support/rules/matrix/tracks.ts';
import { P1, snapshot } from '../../support/rules/matrix/world.ts';
import { at, T, weightLoading } from '../../support/rules/matrix-load.ts';
import type { Item } from '../../support/rules/track-kit.ts';

// ---------------------------------------------------------------------------------------------------
// NO_PERMIT
// ---------------------------------------------------------------------------------------------------

test('NO_PERMIT: loading without a valid permit opens at the loading fix, closes at the unloading', (t) => {
  const tr = compliantTrip(2, 'V2');
  const r = run(tr.fixes);
  const evs = of(r, 'NO_PERMIT');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  const [o, c] = evs;
  const startTrip = r.trips[0]!;
  t.is(startTrip.kind, 'started');
  t.is(o!.violation.startTs, startTrip.trip.startTs, 'opens on the loading fix, as the trip starts');
  t.is(o!.violation.details.site, 'O1');
  t.true(o!.violation.refs.some((x) => x.kind === 'site' && x.id === 'O1' && x.version === 3));
  t.is(o!.violation.id, `V2:NO_PERMIT:${o!.violation.startTs}`);
  const trip = completed(r)[0]!;
  t.is(c!.violation.endTs, trip.endTs, 'closes on the unloading fix');
  t.is(c!.violation.durationMs, trip.endTs - trip.startTs);
  t.is(c!.violation.details.endReason, 'unloading');
  t.false(trip.compliant);
  t.deepEqual(trip.violations, [o!.violation.id]);
  t.is(trip.permit, '');
  // no permit at all: WRONG_SITE is not judged, and D1 is a disposal site so no ILLEGAL_DUMP
  t.deepEqual(of(r, 'WRONG_SITE'), []);
  t.deepEqual(of(r, 'ILLEGAL_DUMP'), []);
});

test('NO_PERMIT closes when a permit becomes valid (midnight of its first day)', (t) => {
  // 23:50 local on 28 Feb: P1 is valid from 1 March
  const start = localMidnightUtcMs('2026-03-01') - 14 * 60_000;
  const tr = new Track('V1', start, 0, 0, EMPTY, 3);
  loadAtOrigin(tr);
  tr.drive(6000, 0, 40);
  const r = run(tr.fixes);
  const evs = of(r, 'NO_PERMIT');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  const c = evs[1]!.violation;
  t.is(c.details.endReason, 'permit');
  const midnight = localMidnightUtcMs('2026-03-01');
  const firstValid = tr.fixes.find((f) => f.ts >= midnight)!;
  t.is(c.endTs, firstValid.ts);
});

test('NO_PERMIT by weight alone: a rise of 2.0 t while stopped is not a loading, 2.1 t is (trigger weight, site O1)', (t) => {
  t.deepEqual(runMatrixLoad(weightLoading(2.4)).events, []);
  const r = runMatrixLoad(weightLoading(2.5));
  t.deepEqual(summary(r.events), [`NO_PERMIT:opened:${T + 40_000}-:L0`]);
  t.is(r.log[0]!.at, T + 100_000, 'raised once the rise persisted 60 s, from its onset');
  t.like(r.events[0]!.violation.details, { trigger: 'weight', site: 'O1', siteKind: 'origin' });
  t.deepEqual(refsOf(r.events[0]!.violation), ['site:O1@3', 'thresholds:city@1']);
  t.is(r.events[0]!.violation.permit, undefined);
  t.deepEqual(
    r.trips.map((e) => e.kind),
    ['started'],
  );
});

test('NO_PERMIT outside every site: site empty, no trip; across a 10 min gap it opens at the first loaded fix', (t) => {
  const outside = [
    at(T, 2000, 0, { ...EMPTYMatrixLoad, speed: 0 }, 'V2'),
    at(T + 10_000, 2000, 0, { speed: 0 }, 'V2'),
  ];
  const r = runMatrixLoad(outside);
  t.deepEqual(summary(r.events), [`NO_PERMIT:opened:${T + 10_000}-:L0`]);
  t.like(r.events[0]!.violation.details, { trigger: 'load', site: '', siteKind: '' });
  t.deepEqual(r.trips, []);
  const gap = runMatrixLoad([
    at(T, 0, 0, { ...EMPTYMatrixLoad, speed: 0 }, 'V2'),
    at(T + 600_000, 0, 0, { speed: 0 }, 'V2'),
  ]);
  // parked where it was: the 10 min silence is no TRACK_GAP
  t.deepEqual(summary(gap.events), [`NO_PERMIT:opened:${T + 600_000}-:L0`]);
});

test('NO_PERMIT: a permit issued while the truck is loaded closes it (endReason permit) at the first fix judged under it', (t) => {
  const tr = new Trk('V2', T, 0, 0, EMPTYMatrixLoad);
  loadAt(tr).drive(2000, 0, 30);
  const n = tr.fixes.length;
  tr.drive(3000, 0, 30);
  const issued: Permit = { ...P1, id: 'P2', version: 1, vehicles: ['V2'] };
  const items: Item[] = [
    ...tr.fixes.slice(0, n),
    { world: compileWorld(snapshot({ permits: [P1, issued] })) },
    ...tr.fixes.slice(n),
  ];
  const r = runMatrixLoad(items);
  t.deepEqual(phasesMatrixLoad(r.events), ['NO_PERMIT:opened', 'NO_PERMIT:closed']);
  t.is(r.events[1]!.violation.details.endReason, 'permit');
  t.is(r.events[1]!.violation.endTs, tr.fixes[n]!.ts);
  t.is(r.events[1]!.violation.permit, undefined, 'judged without a permit at onset');
});
