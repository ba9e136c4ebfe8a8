import test from 'ava';
import type { Fix } from '../../core/fix.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { createEngine } from '../../geofence/engine.ts';
import { createJudge } from '../../geofence/judge.ts';
import type { Outage } from '../../geofence/platform-gaps.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { VehicleHarness } from '../support/backfill-harness.ts';
import { PLAN_WORLD, stay, uf, walk } from '../support/plans-matrix.ts';
import { local } from '../support/rules/track-kit.ts';

/*
 * The platform never charges a firm for its own downtime, for the plans' rules too (issue 15): an outage
 * of the platform (stopped, or behind its queues) in the time where an unheard fix would have changed a
 * verdict voids it: MISSED_COLLECTION (the window and its grace), LATE_COLLECTION (the window up to the
 * visit), SWEEP_COVERAGE (the shift), NOT_UPLOADED (recording to the deadline), NOT_RECORDING (the run),
 * OFFLINE on duty (the allowance). Each case is run twice: with the outage (no violation, a platform gap
 * of that code) and without it (the violation: the negative shows the positive can happen). The judge
 * and the late-fix machinery are the shell's own (geofence/judge.ts, backfill-memory.ts); the fixes the
 * devices sent while the platform was down are never heard. Plans: plans-matrix.ts (CP1 at (500,500)
 * 08:00-08:30, grace 1 h; SP1 (0,1000)-(1000,1000) 06:00-07:00; DP1 grid around (0,-3000) 08:00-12:00
 * for C1).
 */

const judge = createJudge(createEngine(ALL_RULES, chinaCalendar));
const MIN = 60_000;

/** Delivers the fixes the platform heard (none inside an outage) and ticks every minute of [from, to]. */
function runHeard(unit: string, fixes: readonly Fix[], outages: Outage[], from: number, to: number) {
  const h = new VehicleHarness(judge, unit, PLAN_WORLD, outages);
  const heard = fixes
    .filter((f) => !outages.some((o) => f.ts >= o.start && f.ts < o.end))
    .sort((a, b) => a.ts - b.ts);
  let i = 0;
  for (let t = from; t <= to; t += MIN) {
    while (i < heard.length && heard[i]!.ts <= t) h.deliver([heard[i++]!]);
    if (!outages.some((o) => t >= o.start && t < o.end)) h.tick(t);
  }
  while (i < heard.length) h.deliver([heard[i++]!]);
  const standing = [...h.view.values()].filter((e) => e.phase !== 'withdrawn');
  return {
    codes: (code: string) => standing.filter((e) => e.violation.code === code),
    gaps: (code: string) => h.gaps.filter((g) => g.code === code),
  };
}

/** S1 at the depot, heard every minute from 07:50 to 10:30 (parked: no TRACK_GAP, no OFFLINE) */
const parked = (from = local(7, 50), to = local(10, 30)): Fix[] =>
  Array.from({ length: (to - from) / MIN + 1 }, (_, i) => uf('S1', from + i * MIN, 0, 0, { speed: 0 }));

test('MISSED_COLLECTION: an outage in the window gives none (a platform gap); without it the window is missed', (t) => {
  const outage = { start: local(8, 5), end: local(8, 15) };
  const withOutage = runHeard('S1', parked(), [outage], local(7, 50), local(10, 30));
  t.deepEqual(withOutage.codes('MISSED_COLLECTION'), []);
  t.like(withOutage.gaps('MISSED_COLLECTION')[0], {
    id: `S1:MISSED_COLLECTION:${local(8)}:CP1`,
    vehicle: 'S1',
    fromTs: local(8),
    toTs: local(9, 31), // the tick that decided it, past the grace (09:30)
    outageStart: outage.start,
  });
  t.is(withOutage.gaps('MISSED_COLLECTION').length, 1, 'recorded once');
  const without = runHeard('S1', parked(), [], local(7, 50), local(10, 30));
  t.deepEqual(
    without.codes('MISSED_COLLECTION').map((e) => [e.phase, e.violation.startTs, e.violation.endTs]),
    [['closed', local(8), local(8, 30)]],
  );
  // an outage in the late grace counts too (a late visit then was unheard); one after the grace does not
  const inGrace = runHeard(
    'S1',
    parked(),
    [{ start: local(9), end: local(9, 10) }],
    local(7, 50),
    local(10, 30),
  );
  t.deepEqual(inGrace.codes('MISSED_COLLECTION'), []);
  const after = runHeard(
    'S1',
    parked(),
    [{ start: local(9, 40), end: local(9, 50) }],
    local(7, 50),
    local(10, 30),
  );
  t.is(after.codes('MISSED_COLLECTION').length, 1);
});

test('MISSED_COLLECTION decided by the silence tick of a silent vehicle: voided by the outage, charged without', (t) => {
  // S1 last heard at 07:55, ignition off (parked and asleep: not OFFLINE), then silent; ticks decide
  const asleep = [
    uf('S1', local(7, 50), 0, 0, { speed: 0, ign: false }),
    uf('S1', local(7, 55), 0, 0, { ign: false }),
  ];
  const withOutage = runHeard(
    'S1',
    asleep,
    [{ start: local(8, 20), end: local(8, 22) }],
    local(7, 50),
    local(11),
  );
  t.deepEqual(withOutage.codes('MISSED_COLLECTION'), []);
  t.is(withOutage.gaps('MISSED_COLLECTION').length, 1);
  const without = runHeard('S1', asleep, [], local(7, 50), local(11));
  t.is(without.codes('MISSED_COLLECTION').length, 1);
  // the next windows are judged again (the rule moved past the voided one): CP2's at 23:50, CP1's next day
  const days = runHeard(
    'S1',
    asleep,
    [{ start: local(8, 20), end: local(8, 22) }],
    local(7, 50),
    local(33, 40),
  );
  t.deepEqual(
    days.codes('MISSED_COLLECTION').map((e) => [e.violation.details.point, e.violation.startTs]),
    [
      ['CP2', local(23, 50)],
      ['CP1', local(32)],
    ],
  );
});

test('LATE_COLLECTION: an outage before the late visit voids it (a timely visit may have gone unheard)', (t) => {
  const day = [
    ...parked(local(7, 50), local(8, 44)),
    ...stay('S1', local(8, 45), [500, 500], 6, 10_000, { task: 'collecting' }),
    ...parked(local(8, 47), local(10, 30)),
  ];
  const withOutage = runHeard(
    'S1',
    day,
    [{ start: local(8, 10), end: local(8, 12) }],
    local(7, 50),
    local(10, 30),
  );
  t.deepEqual(withOutage.codes('LATE_COLLECTION'), []);
  t.deepEqual(withOutage.codes('MISSED_COLLECTION'), []);
  t.like(withOutage.gaps('LATE_COLLECTION')[0], { fromTs: local(8), toTs: local(8, 45) });
  const without = runHeard('S1', day, [], local(7, 50), local(10, 30));
  t.deepEqual(
    without.codes('LATE_COLLECTION').map((e) => e.violation.details.lateByMs),
    [15 * MIN],
  );
  // an outage after the visit changes nothing
  const after = runHeard(
    'S1',
    day,
    [{ start: local(8, 50), end: local(8, 55) }],
    local(7, 50),
    local(10, 30),
  );
  t.is(after.codes('LATE_COLLECTION').length, 1);
});

test('SWEEP_COVERAGE: an outage in the shift voids a low coverage; without it, 40 % is a violation', (t) => {
  const sweep = [
    ...walk('S1', local(5, 55), [0, 0], [0, 990], 20, 10_000),
    ...walk('S1', local(6, 5), [0, 1000], [400, 1000], 10, 10_000, { brush: true, task: 'sweeping' }),
    ...parked(local(6, 30), local(7, 30)).map((f) => ({ ...f, lon: f.lon, lat: f.lat })),
  ];
  const withOutage = runHeard(
    'S1',
    sweep,
    [{ start: local(6, 40), end: local(6, 45) }],
    local(5, 55),
    local(7, 30),
  );
  t.deepEqual(withOutage.codes('SWEEP_COVERAGE'), []);
  t.like(withOutage.gaps('SWEEP_COVERAGE')[0], { fromTs: local(6), toTs: local(7) });
  const without = runHeard('S1', sweep, [], local(5, 55), local(7, 30));
  t.deepEqual(
    without.codes('SWEEP_COVERAGE').map((e) => e.violation.details.shiftEnd),
    [local(7)],
  );
  // an outage after the shift (before the verdict's tick) does not void it
  const after = runHeard('S1', sweep, [{ start: local(7), end: local(7, 5) }], local(5, 55), local(7, 30));
  t.is(after.codes('SWEEP_COVERAGE').length, 1);
});

/** C1 in its grid (DP1, shift 08:00-12:00) every 15 s from `from` to `to`, recording as `rec(ts)` says */
function patrol(from: number, to: number, rec: (ts: number) => boolean, extra: Partial<Fix> = {}): Fix[] {
  const out: Fix[] = [];
  for (let ts = from; ts < to; ts += 15_000)
    out.push(uf('C1', ts, 0, -3000, { recording: rec(ts), ...extra }));
  return out;
}

test('NOT_RECORDING: a run across an outage is voided and restarted; the camera that goes on not recording is charged from after it', (t) => {
  const fixes = patrol(local(8), local(9), (ts) => ts < local(8, 30));
  const outage = { start: local(8, 32), end: local(8, 34) };
  const withOutage = runHeard('C1', fixes, [outage], local(8), local(9));
  const gaps = withOutage.gaps('NOT_RECORDING');
  t.is(gaps.length, 1);
  t.like(gaps[0], { fromTs: local(8, 30), outageStart: outage.start });
  // the verdict at the fix 5 min into the run is voided; the run restarts at the next fix and, still not
  // recording, is charged 5 min later
  const charged = withOutage.codes('NOT_RECORDING');
  t.is(charged.length, 1);
  t.is(charged[0]!.violation.startTs, gaps[0]!.toTs + 15_000);
  t.true(charged[0]!.violation.startTs > outage.end);
  const without = runHeard('C1', fixes, [], local(8), local(9));
  t.deepEqual(
    without.codes('NOT_RECORDING').map((e) => e.violation.startTs),
    [local(8, 30)],
  );
  // a run wholly after an outage stands as it is
  const before = runHeard('C1', fixes, [{ start: local(8, 10), end: local(8, 12) }], local(8), local(9));
  t.deepEqual(
    before.codes('NOT_RECORDING').map((e) => e.violation.startTs),
    [local(8, 30)],
  );
});

test('NOT_UPLOADED: an outage between the recording and the deadline voids it (a docking may have gone unheard)', (t) => {
  // C1 records on its shift, then is heard every 10 min, never docked, until the next evening
  const fixes = [
    ...patrol(local(8), local(8, 30), () => true),
    ...Array.from({ length: 200 }, (_, i) =>
      uf('C1', local(8, 40) + i * 10 * MIN, 0, -3000, { recording: false }),
    ),
  ];
  const end = local(8, 40) + 199 * 10 * MIN;
  const outage = { start: local(20), end: local(20, 3) };
  const withOutage = runHeard('C1', fixes, [outage], local(8), end);
  t.deepEqual(withOutage.codes('NOT_UPLOADED'), []);
  t.like(withOutage.gaps('NOT_UPLOADED')[0], {
    fromTs: local(8),
    toTs: local(32, 1), // the tick that found the deadline (08:00 + 24 h) passed
    outageStart: outage.start,
  });
  const without = runHeard('C1', fixes, [], local(8), end);
  t.deepEqual(
    without.codes('NOT_UPLOADED').map((e) => e.violation.startTs),
    [local(32)],
  );
});

test('OFFLINE during duty: a camera silent over an outage is not charged; silent without one it is', (t) => {
  const fixes = [
    ...patrol(local(8), local(8, 30), () => true),
    ...patrol(local(8, 50), local(9), () => true),
  ];
  const withOutage = runHeard('C1', fixes, [{ start: local(8, 31), end: local(8, 45) }], local(8), local(9));
  t.deepEqual(withOutage.codes('OFFLINE'), []);
  t.true(withOutage.gaps('OFFLINE').length >= 1);
  const without = runHeard('C1', fixes, [], local(8), local(9));
  t.deepEqual(
    without.codes('OFFLINE').map((e) => e.violation.details.reason),
    ['on_duty'],
  );
});
