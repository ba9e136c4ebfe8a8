/**
 * OFFLINE (geofence/rules/offline.ts): the rule's tests, on the worlds of
 * test/support/rules/camera.ts, matrix-time.ts, route-time.ts.
 */
import test from 'ava';
import { compileWorld } from '../../../geofence/compile.ts';
import { codes, runPlans, uf } from '../../support/plans-matrix.ts';
import { OK, patrol, ticks } from '../../support/rules/camera.ts';
import { lifecycleProblems, phases, refsOf, run, summary } from '../../support/rules/matrix/run.ts';
import { cleanTrip } from '../../support/rules/matrix/scenarios.ts';
import { EMPTY, FULL, fixAt } from '../../support/rules/matrix/tracks.ts';
import { snapshot } from '../../support/rules/matrix/world.ts';
import { drive, loaded, MIN, parked } from '../../support/rules/matrix-time.ts';
import {
  fixAt as fixAtRouteTime,
  MORNING,
  onRoute,
  phases as phasesRouteTime,
  run as runRouteTime,
} from '../../support/rules/route-time.ts';
import {
  type Item,
  type Item as ItemRouteTime,
  local,
  local as localRouteTime,
  ofCode,
  ofCode as ofCodeRouteTime,
} from '../../support/rules/track-kit.ts';

// ---------------------------------------------------------------------------------------- OFFLINE during duty

test('OFFLINE during duty: silent past max(3 x 15 s, 10 min) in the shift; the next fix closes it; silence off duty is not', (t) => {
  const T = local(9);
  const day = patrol(T, 5);
  const last = day[day.length - 1]!.ts;
  const r = runPlans([
    ...day,
    ...ticks(last + 600_000, last + 600_001),
    uf('C1', last + 900_000, 0, -3000, OK),
  ]);
  t.deepEqual(codes(r.log, 'OFFLINE'), [
    `OFFLINE:opened:${last + 600_000}-`,
    `OFFLINE:closed:${last + 600_000}-${last + 900_000}`,
  ]);
  t.is(r.events[0]!.violation.details.reason, 'on_duty');
  const evening = patrol(local(18), 5);
  const e = evening[evening.length - 1]!.ts;
  t.deepEqual(codes(runPlans([...evening, ...ticks(e + 3_600_000)]).log, 'OFFLINE'), []);
  // switched off overnight, the shift starts at 08:00: the allowance counts from the start of the shift
  const night = runPlans([uf('C1', local(-2), 0, -3000, OK), ...ticks(local(8, 5), local(8, 10, 1))]);
  t.deepEqual(codes(night.log, 'OFFLINE'), [`OFFLINE:opened:${local(8, 10)}-`]);
});

test('OFFLINE allowance is max(3 x interval, 10 min): ignition on, silent 10 min is nothing, 10 min and a tick later it opens at last + 10 min', (t) => {
  const T = local(10);
  const quiet = run([parked(T, true), { tick: T + 10 * MIN }]);
  t.deepEqual(quiet.events, []);
  const r = run([parked(T, true), { tick: T + 10 * MIN + 1_000 }, parked(T + 12 * MIN, true)]);
  t.deepEqual(summary(r.events), [
    `OFFLINE:opened:${T + 10 * MIN}-:L0`,
    `OFFLINE:closed:${T + 10 * MIN}-${T + 12 * MIN}:L0`,
  ]);
  t.like(r.events[0]!.violation.details, {
    reason: 'ignition_on',
    lastFixTs: T,
    reportIntervalS: 10,
    allowedSilenceMs: 10 * MIN,
  });
  t.deepEqual(r.events[0]!.violation.thresholds, { offlineFactor: 3, offlineMinMs: 10 * MIN });
  t.is(r.events[0]!.violation.ruleVersion, 2);
  // parked where it was: the silence is no TRACK_GAP
  t.deepEqual(ofCode(r.log, 'TRACK_GAP'), []);
});

test('OFFLINE: a 60 s underpass at 10 s reports (ignition on, loaded, moving) is nothing, whatever the ticks', (t) => {
  const T = local(23, 10);
  const items: Item[] = [...drive(T, T + 60_000, () => 30)];
  for (let s = 65; s <= 125; s += 5) items.push({ tick: T + s * 1000 });
  items.push(...drive(T + 130_000, T + 200_000, () => 30, 10_000, 13));
  t.deepEqual(run(items).events, []);
});

test('OFFLINE: ignition off is the terminal asleep, not OFFLINE: parked overnight in its site (empty or loaded), or empty on the street', (t) => {
  const night: Item[] = [];
  for (let h = 19; h <= 31; h++) night.push({ tick: local(h) });
  // in O1 at 18:50, loaded, ignition off: through P1's hours (22:00-06:00) and beyond
  const inSite = run([
    parked(local(18, 50), false, 'V1', FULL),
    ...night,
    parked(local(31, 30), false, 'V1', FULL),
  ]);
  t.deepEqual(inSite.events, []);
  t.deepEqual(run([parked(local(18, 50), false), ...night]).events, []);
  // empty on a street, ignition off
  const street = fixAt('V1', local(18, 50), 2500, 600, { ...EMPTY, speed: 0, ign: false });
  t.deepEqual(run([street, ...night]).events, []);
  // after the last fix of a shift (ignition off), a truck that never reports again is never OFFLINE
  const shift = cleanTrip('V1', local(23)).fixes;
  shift.push({ ...shift.at(-1)!, ts: shift.at(-1)!.ts + 10_000, speed: 0, ign: false });
  const end = shift.at(-1)!.ts;
  const after = run([...shift, { tick: end + 11 * MIN }, { tick: end + 8 * 60 * MIN }]);
  t.deepEqual(ofCode(after.log, 'OFFLINE'), []);
});

test('OFFLINE: loaded outside every site with the ignition off counts (reason loaded_outside_sites); loaded inside a site does not', (t) => {
  const T = local(23, 10);
  const r = run([loaded(T, 0, { ign: false, speed: 0 }), { tick: T + 11 * MIN }]);
  t.deepEqual(summary(r.events), [`OFFLINE:opened:${T + 10 * MIN}-:L0`]);
  t.like(r.events[0]!.violation.details, { reason: 'loaded_outside_sites' });
  t.deepEqual(refsOf(r.events[0]!.violation), ['permit:P1@2', 'thresholds:city@1', 'vehicle:V1@1']);
  // the same truck, loaded with the ignition off in O1 (the origin): asleep
  t.deepEqual(run([parked(T, false, 'V1', FULL), { tick: T + 60 * MIN }]).events, []);
  // a sweeper's weight is not a muck truck's load: ignition off is asleep
  const s1 = fixAt('S1', T, 2500, 600, { kind: 'sanitation', speed: 0, ign: false, weight: 3 });
  t.deepEqual(run([s1, { tick: T + 60 * MIN }], { vehicle: 'S1' }).events, []);
});

test('OFFLINE exactly once: repeated ticks change nothing; a late fix does not close it; the next in-order fix does', (t) => {
  const T = local(10);
  const items: Item[] = [parked(T - 10_000, true), parked(T, true)];
  for (let s = 601; s <= 900; s += 15) items.push({ tick: T + s * 1000 });
  items.push({ ...parked(T - 5_000, true), late: true }); // a backfilled fix older than the last judged one
  items.push({ tick: T + 920_000 });
  items.push(parked(T + 930_000, true));
  const r = run(items);
  t.deepEqual(summary(r.events), [
    `OFFLINE:opened:${T + 600_000}-:L0`,
    `OFFLINE:closed:${T + 600_000}-${T + 930_000}:L0`,
  ]);
  t.is(r.state.skippedLate, 1);
  t.is(ofCode(r.log, 'OFFLINE')[0]!.at, T + 601_000);
  t.is(ofCode(r.log, 'OFFLINE')[1]!.at, T + 930_000);
});

test('OFFLINE backfill in order after the tick: a fix recorded before the onset withdraws it (no silence that long)', (t) => {
  // the device kept recording while out of coverage and uploads the buffer (JT/T 808 0x0704) after the
  // tick judged it silent; the buffered fixes are still newer than the last judged one
  const T = local(23, 10);
  const items: Item[] = [loaded(T, 0), { tick: T + 11 * MIN }];
  for (let s = 10; s <= 700; s += 10) items.push(loaded(T + s * 1000, s / 10));
  const r = run(items);
  t.deepEqual(phases(r.events), ['OFFLINE:opened', 'OFFLINE:withdrawn']);
  t.deepEqual(lifecycleProblems(r.events), []);
  const withdrawn = r.events[1]!.violation;
  t.is(withdrawn.startTs, T + 10 * MIN);
  t.is(withdrawn.endTs, undefined, 'never closed: it never lasted');
  t.deepEqual(
    withdrawn.withdrawal,
    { reason: 'backfill', lateTs: T + 10_000 },
    'the first backfilled fix (T + 10 s) is older than the onset',
  );
  // a later silence is a new violation with its own id, closed normally
  const later = run([...items, { tick: T + 700_000 + 11 * MIN }, loaded(T + 700_000 + 12 * MIN, 80)]);
  t.deepEqual(summary(later.events).slice(2, 4), [
    `OFFLINE:opened:${T + 700_000 + 10 * MIN}-:L0`,
    `OFFLINE:closed:${T + 700_000 + 10 * MIN}-${T + 700_000 + 12 * MIN}:L0`,
  ]);
  t.is(later.events[3]!.phase, 'closed');
});

test('OFFLINE per unit: max(3 x its report interval, 10 min): a 5 min interval allows 15 min; 10 min without a profile', (t) => {
  const T = local(10);
  const slow = compileWorld(
    snapshot({
      vehicles: [
        { id: 'V1', version: 1, firm: 'F1', kind: 'muck_truck', ratedLoadT: 31, reportIntervalS: 300 },
      ],
    }),
  );
  const a = run([parked(T, true), { tick: T + 14 * MIN }, { tick: T + 15 * MIN + 1 }], { world: slow });
  t.deepEqual(summary(a.events), [`OFFLINE:opened:${T + 15 * MIN}-:L0`]);
  t.like(a.events[0]!.violation.details, { reportIntervalS: 300, allowedSilenceMs: 15 * MIN });
  const unknown = run([parked(T, true, 'V9'), { tick: T + 10 * MIN + 1 }]);
  t.deepEqual(summary(unknown.events), [`OFFLINE:opened:${T + 10 * MIN}-:L0`]);
  t.like(unknown.events[0]!.violation.details, { reportIntervalS: 30, allowedSilenceMs: 10 * MIN });
  t.deepEqual(refsOf(unknown.events[0]!.violation), ['thresholds:city@1'], 'no profile, no permit to cite');
});

// ---------------------------------------------------------------------------------------------- OFFLINE

test('OFFLINE: silent for more than max(3 x the report interval, 10 min) with the ignition on; closed by the next fix', (t) => {
  const last = fixAtRouteTime(MORNING, onRoute(1500), { load: 'empty', speed: 0 });
  const items: ItemRouteTime[] = [
    last,
    { tick: MORNING + 30_000 }, // 3 x 10 s: a 30 s silence is nothing now
    { tick: MORNING + 600_000 }, // exactly 10 min: not yet
    { tick: MORNING + 601_000 },
    { tick: MORNING + 660_000 }, // already open: nothing new
    fixAtRouteTime(MORNING + 720_000, onRoute(1500), { load: 'empty', speed: 0 }),
    { tick: MORNING + 730_000 },
  ];
  const off = ofCodeRouteTime(runRouteTime(items).log, 'OFFLINE');
  t.deepEqual(phasesRouteTime(off), ['OFFLINE:opened', 'OFFLINE:closed']);
  t.is(off[0]!.at, MORNING + 601_000);
  t.is(off[0]!.event.violation.startTs, MORNING + 600_000);
  t.is(off[0]!.event.violation.id, `V1:OFFLINE:${MORNING + 600_000}`);
  t.like(off[0]!.event.violation.details, { reason: 'ignition_on', reportIntervalS: 10 });
  t.deepEqual(
    off[0]!.event.violation.refs.find((r) => r.kind === 'vehicle'),
    { kind: 'vehicle', id: 'V1', version: 1 },
  );
  t.is(off[1]!.event.violation.endTs, MORNING + 720_000);
  t.is(off[1]!.event.violation.durationMs, 120_000);
});

test('OFFLINE: ignition off is asleep at any hour, permit hours included (version 1 charged them from the window start)', (t) => {
  const parked = fixAtRouteTime(MORNING, onRoute(0), { ign: false, speed: 0, load: 'empty' });
  t.deepEqual(runRouteTime([parked, { tick: MORNING + 3_600_000 }]).events, []);
  const evening = fixAtRouteTime(localRouteTime(21, 50), onRoute(0), { ign: false, speed: 0, load: 'empty' });
  t.deepEqual(
    runRouteTime([
      evening,
      { tick: localRouteTime(21, 59) },
      { tick: localRouteTime(22, 5) },
      { tick: localRouteTime(29) },
    ]).events,
    [],
  );
});
