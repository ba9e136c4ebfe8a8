/**
 * OFF_HOURS (geofence/rules/off-hours.ts): the rule's tests, on the worlds of
 * test/support/rules/matrix-time.ts, route-time.ts.
 */
import test from 'ava';
import { compileWorld } from '../../../geofence/compile.ts';
import { phases, refsOf, run, summary } from '../../support/rules/matrix/run.ts';
import { P1, snapshot } from '../../support/rules/matrix/world.ts';
import { drive, loaded } from '../../support/rules/matrix-time.ts';
import {
  fixAt,
  MORNING,
  onRoute,
  PERMIT,
  phases as phasesRouteTime,
  run as runRouteTime,
  snapshot as snapshotRouteTime,
  track,
} from '../../support/rules/route-time.ts';
import {
  DAY,
  type Item,
  local,
  local as localRouteTime,
  ofCode,
  ofCode as ofCodeRouteTime,
} from '../../support/rules/track-kit.ts';

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

// ---------------------------------------------------------------------------------------------- OFF_HOURS

test('OFF_HOURS: loaded and moving outside the permit windows for 60 s opens; a stop of 60 s ends it', (t) => {
  // 10:00 local, permit hours 22:00-06:00: moving 30 km/h for 3 min, then stopped
  const fixes = track(MORNING, 30, { step: 80, extra: (i) => ({ speed: i < 18 ? 30 : 0 }) });
  const oh = ofCodeRouteTime(runRouteTime(fixes).log, 'OFF_HOURS');
  t.deepEqual(phasesRouteTime(oh), ['OFF_HOURS:opened', 'OFF_HOURS:closed']);
  t.is(oh[0]!.at, MORNING + 60_000);
  t.is(oh[0]!.event.violation.startTs, MORNING);
  t.deepEqual(oh[0]!.event.violation.thresholds, { offHoursSpeedKmh: 5, offHoursMinMs: 60_000 });
  t.is(oh[0]!.event.violation.details.permitWindows, '22:00-06:00');
  t.is(oh[1]!.at, MORNING + 240_000, 'closes 60 s into the stop');
  t.is(oh[1]!.event.violation.endTs, MORNING + 180_000, 'endTs = the first stopped fix');
  t.is(oh[1]!.event.violation.durationMs, 180_000);
  t.is(oh[1]!.event.violation.details.endReason, 'stopped');
});

test('OFF_HOURS: no onset at 59 s, at walking pace, when empty, or for a short stop', (t) => {
  const a = [
    ...track(MORNING, 6, { step: 80 }),
    fixAt(MORNING + 59_000, onRoute(1500)),
    fixAt(MORNING + 65_000, onRoute(1500), { load: 'empty', lift: 'up', speed: 0 }),
  ];
  t.deepEqual(ofCodeRouteTime(runRouteTime(a).log, 'OFF_HOURS'), []);
  t.deepEqual(
    ofCodeRouteTime(
      runRouteTime(track(MORNING, 30, { step: 10, extra: () => ({ speed: 5 }) })).log,
      'OFF_HOURS',
    ),
    [],
  );
  t.deepEqual(
    ofCodeRouteTime(
      runRouteTime(track(MORNING, 30, { step: 80, extra: () => ({ load: 'empty' }) })).log,
      'OFF_HOURS',
    ),
    [],
  );
  // a 50 s red light does not end an open violation
  const light = track(MORNING, 30, { step: 40, extra: (i) => ({ speed: i >= 10 && i < 15 ? 0 : 30 }) });
  t.deepEqual(phasesRouteTime(ofCodeRouteTime(runRouteTime(light).log, 'OFF_HOURS')), ['OFF_HOURS:opened']);
});

test('OFF_HOURS: a window crossing midnight (22:00-06:00)', (t) => {
  // 21:58 to 22:03: open at 21:59, closed at 22:00 by the window (endTs = first covered fix)
  const evening = track(localRouteTime(21, 58), 31, { interval: 10_000, step: 80 });
  const oh = ofCodeRouteTime(runRouteTime(evening).log, 'OFF_HOURS');
  t.deepEqual(phasesRouteTime(oh), ['OFF_HOURS:opened', 'OFF_HOURS:closed']);
  t.is(oh[0]!.at, localRouteTime(21, 59));
  t.is(oh[1]!.event.violation.endTs, localRouteTime(22, 0));
  t.is(oh[1]!.event.violation.details.endReason, 'covered');
  // 23:30 to 01:30 (crossing midnight): always covered
  const night = track(localRouteTime(23, 30), 720, { step: 5 });
  t.deepEqual(ofCodeRouteTime(runRouteTime(night).log, 'OFF_HOURS'), []);
  // 05:58 to 06:05 on the next day: covered until 06:00, opened at 06:01 with startTs 06:00
  const dawn = track(localRouteTime(29, 58), 43, { step: 80 });
  const od = ofCodeRouteTime(runRouteTime(dawn).log, 'OFF_HOURS');
  t.deepEqual(phasesRouteTime(od), ['OFF_HOURS:opened']);
  t.is(od[0]!.event.violation.startTs, localRouteTime(30, 0));
  t.is(od[0]!.at, localRouteTime(30, 1));
});

test('OFF_HOURS: a permit expiring mid-trip hands over (NO_PERMIT), no OFF_HOURS', (t) => {
  // the permit ends the day before the fixes' local date: no valid permit, not this rule's business
  const expired = compileWorld(snapshotRouteTime({ permits: [{ ...PERMIT, validTo: '2026-11-09' }] }));
  t.deepEqual(
    ofCodeRouteTime(runRouteTime(track(MORNING, 30, { step: 80 }), { world: expired }).log, 'OFF_HOURS'),
    [],
  );
  // expiring at local midnight during an open OFF_HOURS violation closes it there
  const lastDay = compileWorld(
    snapshotRouteTime({ permits: [{ ...PERMIT, validTo: DAY, windows: ['08:00-20:00'] }] }),
  );
  const trip = track(localRouteTime(23, 58), 30, { step: 80 });
  const oh = ofCodeRouteTime(runRouteTime(trip, { world: lastDay }).log, 'OFF_HOURS');
  t.deepEqual(phasesRouteTime(oh), ['OFF_HOURS:opened', 'OFF_HOURS:closed']);
  t.is(oh[1]!.event.violation.endTs, localRouteTime(24, 0));
  t.is(oh[1]!.event.violation.details.endReason, 'no_valid_permit');
});
