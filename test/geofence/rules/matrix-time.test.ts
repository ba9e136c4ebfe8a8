import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import {
  cleanTrip,
  completedTrips,
  EMPTY,
  FULL,
  fixAt,
  type Item,
  lifecycleProblems,
  local,
  ofCode,
  P1,
  phases,
  refsOf,
  run,
  type Sensors,
  snapshot,
  summary,
} from '../../support/tracks-matrix.ts';

/*
 * Rule matrix, time rules: OFF_HOURS and OFFLINE through the real engine with ALL_RULES
 * (test/support/tracks-matrix.ts: P1 22:00-06:00, valid 2026-11-01..30; V1 reports every 10 s).
 * Complements test/geofence/rules/route-time.test.ts: exact stop threshold, gaps, two windows around midnight,
 * a permit edited mid-violation, invalid fixes, backfill after silence, windows after midnight.
 */

/** a loaded V1 on the first leg of R1; `i` moves it 80 m east per fix (back and forth, never leaving R1) */
function loaded(ts: number, i: number, s: Sensors = {}): Fix {
  const d = (i * 80) % 6000;
  return fixAt('V1', ts, 300 + (d <= 3000 ? d : 6000 - d) * 0.8, 0, { ...FULL, ...s });
}

/** one loaded fix every `every` ms from `from` to `to` inclusive, speed by offset */
function drive(from: number, to: number, speed: (dtMs: number) => number, every = 10_000, k0 = 0): Fix[] {
  const out: Fix[] = [];
  for (let ts = from, k = k0; ts <= to; ts += every, k++)
    out.push(loaded(ts, k, { speed: speed(ts - from) }));
  return out;
}

// ---------------------------------------------------------------------------------------------- OFF_HOURS

test('OFF_HOURS end at its threshold: a 59 s stop keeps the violation, a 60 s stop ends it at the first stopped fix', (t) => {
  const D = local(10);
  const fixes = [
    ...drive(D, D + 90_000, () => 30),
    ...[100, 110, 120, 130, 140, 150, 159].map((s) => loaded(D + s * 1000, 9, { speed: 0 })),
    ...drive(D + 169_000, D + 239_000, () => 30, 10_000, 10),
    ...[250, 260, 270, 280, 290, 300, 310].map((s) => loaded(D + s * 1000, 17, { speed: 2 })),
  ];
  const r = run(fixes);
  t.deepEqual(summary(r.events), [`OFF_HOURS:opened:${D}-:L0`, `OFF_HOURS:closed:${D}-${D + 250_000}:L0`]);
  t.deepEqual(
    r.log.map((l) => l.at),
    [D + 60_000, D + 310_000],
  );
  t.is(r.events[1]!.violation.details.endReason, 'stopped');
});

test('OFF_HOURS gaps: two moving fixes 3 min apart open it; a 10 min silence neither closes nor reopens it', (t) => {
  const D = local(10);
  const a = run([loaded(D, 0), loaded(D + 180_000, 1)]);
  t.deepEqual(summary(a.events), [`OFF_HOURS:opened:${D}-:L0`]);
  t.is(a.log[0]!.at, D + 180_000);
  t.is(a.events[0]!.violation.details.maxSpeedKmh, 30);
  const b = run([
    ...drive(D, D + 60_000, () => 30),
    ...drive(D + 660_000, D + 700_000, () => 35, 10_000, 10),
    ...drive(D + 710_000, D + 780_000, () => 0, 10_000, 20),
  ]);
  t.deepEqual(summary(b.events), [
    `OFF_HOURS:opened:${D}-:L0`,
    `TRACK_GAP:opened:${D + 60_000}-:L0`,
    `TRACK_GAP:closed:${D + 60_000}-${D + 660_000}:L0`,
    `OFF_HOURS:closed:${D}-${D + 710_000}:L0`,
  ]);
  t.is(b.events[3]!.violation.details.maxSpeedKmh, 35, 'the maximum is kept silently and reported at close');
});

test('OFF_HOURS two windows around midnight (20:00-23:30, 01:00-05:00): one violation 23:30 -> 01:00, none at midnight', (t) => {
  const world = compileWorld(snapshot({ permits: [{ ...P1, windows: ['20:00-23:30', '01:00-05:00'] }] }));
  const fixes = drive(local(23, 29), local(25, 1), () => 30);
  const r = run(fixes, { world });
  t.deepEqual(summary(r.events), [
    `OFF_HOURS:opened:${local(23, 30)}-:L0`,
    `OFF_HOURS:closed:${local(23, 30)}-${local(25)}:L0`,
  ]);
  t.is(r.log[0]!.at, local(23, 31));
  t.like(r.events[1]!.violation.details, {
    endReason: 'covered',
    permitWindows: '20:00-23:30,01:00-05:00',
    localDate: '2026-11-10',
  });
  t.is(r.events[1]!.violation.durationMs, 90 * 60_000);
});

test('OFF_HOURS permit edited mid-violation: the new hours cover the truck, it closes, the refs keep P1 version 2', (t) => {
  const D = local(10);
  const allDay = compileWorld(snapshot({ permits: [{ ...P1, version: 3, windows: ['00:00-24:00'] }] }));
  const items: Item[] = [
    ...drive(D, D + 90_000, () => 30),
    { world: allDay },
    ...drive(D + 100_000, D + 150_000, () => 30, 10_000, 10),
  ];
  const r = run(items);
  t.deepEqual(summary(r.events), [`OFF_HOURS:opened:${D}-:L0`, `OFF_HOURS:closed:${D}-${D + 100_000}:L0`]);
  t.is(r.events[1]!.violation.details.endReason, 'covered');
  t.deepEqual(refsOf(r.events[1]!.violation), ['permit:P1@2', 'thresholds:city@1']);
});

test('OFF_HOURS exactly once: 20 min of varying speed and invalid stopped fixes give one opened and one closed', (t) => {
  const D = local(10);
  const fixes = drive(D, D + 1_200_000, (dt) => 30 + Math.round(15 * Math.abs(Math.sin(dt / 100_000))));
  // the GNSS loses the fix for 70 s in the middle: last known position, speed 0, not judged
  for (const f of fixes)
    if (f.ts >= D + 600_000 && f.ts < D + 670_000) Object.assign(f, { valid: false, speed: 0 });
  fixes.push(...drive(D + 1_210_000, D + 1_270_000, () => 0, 10_000, 200));
  const r = run(fixes);
  t.deepEqual(phases(r.events), ['OFF_HOURS:opened', 'OFF_HOURS:closed']);
  const speeds = fixes.filter((f) => f.valid && f.ts <= D + 1_200_000).map((f) => f.speed!);
  t.is(r.events[1]!.violation.details.maxSpeedKmh, Math.max(...speeds));
  t.is(r.events[1]!.violation.endTs, D + 1_210_000);
});

test('OFF_HOURS: a sweeper or an empty truck moving outside the hours is not judged', (t) => {
  const D = local(10);
  const sweeper = drive(D, D + 300_000, () => 12).map((f) => ({
    ...f,
    vehicle: 'S1',
    kind: 'sanitation' as const,
  }));
  t.deepEqual(ofCode(run(sweeper).log, 'OFF_HOURS'), []);
  const empty = drive(D, D + 300_000, () => 30).map((f) => ({ ...f, load: 'empty' as const, weight: 0.4 }));
  t.deepEqual(run(empty).events, []);
});

// ---------------------------------------------------------------------------------------------- OFFLINE

/** an empty V1 parked at O1 with the ignition as given */
const parked = (ts: number, ign: boolean, vehicle = 'V1', s: Sensors = {}): Fix =>
  fixAt(vehicle, ts, 0, 0, { ...EMPTY, speed: 0, ign, ...s });

const MIN = 60_000;

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
