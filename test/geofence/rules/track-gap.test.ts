/**
 * TRACK_GAP (geofence/rules/track-gap.ts): the rule's tests, on the worlds of
 * test/support/rules/matrix-route.ts, route-time.ts.
 */
import test from 'ava';
import { phases, run, summary } from '../../support/rules/matrix/run.ts';
import { at, T } from '../../support/rules/matrix-route.ts';
import {
  fixAt,
  NIGHT,
  offset,
  onRoute,
  phases as phasesRouteTime,
  run as runRouteTime,
} from '../../support/rules/route-time.ts';
import { local, ofCode, ofCode as ofCodeRouteTime } from '../../support/rules/track-kit.ts';

// ---------------------------------------------------------------------------------------------- TRACK_GAP

test('TRACK_GAP implied speed at its edge: the noise allowance is 2 x max(15 m, accuracy) per fix', (t) => {
  // 10 s apart: 150 km/h is 416.7 m, plus 60 m of allowance with the 15 m floor; the fix after the jump
  // agrees with it (else the jumping fix would be an outlier, outliers.ts)
  const pair = (d: number, accuracy = 8) => [
    at(T, 1000, 0),
    at(T + 10_000, 1000 + d, 0, { accuracy }),
    at(T + 20_000, 1080 + d, 0),
  ];
  t.deepEqual(ofCode(run(pair(470)).log, 'TRACK_GAP'), []);
  const r = run(pair(485));
  t.deepEqual(phases(ofCode(r.log, 'TRACK_GAP')), ['TRACK_GAP:opened', 'TRACK_GAP:closed']);
  t.like(r.events.find((e) => e.phase === 'closed')!.violation.details, {
    reason: 'speed',
    gapMs: 10_000,
    impliedSpeedKmh: 174.6,
    positionsValid: true,
  });
  // the second fix says 25 m accuracy: 80 m allowance, 485 m is no longer a jump
  t.deepEqual(ofCode(run(pair(485, 25)).log, 'TRACK_GAP'), []);
});

test('TRACK_GAP: an invalid position is never a speed jump, but its silence still counts; a gap across midnight', (t) => {
  const jump = [at(T, 1000, 0), at(T + 10_000, 4000, 0, { valid: false })];
  t.deepEqual(ofCode(run(jump).log, 'TRACK_GAP'), []);
  const silent = [at(T, 1000, 0), at(T + 400_000, 4000, 0, { valid: false })];
  const r = run(silent);
  t.deepEqual(phases(r.events), ['TRACK_GAP:opened', 'TRACK_GAP:closed']);
  t.like(r.events[1]!.violation.details, { reason: 'gap', positionsValid: false, distanceM: 0 });
  const m = run([at(local(23, 58), 1000, 0), at(local(24, 4), 1500, 0)]);
  t.deepEqual(summary(m.events), [
    `TRACK_GAP:opened:${local(23, 58)}-:L0`,
    `TRACK_GAP:closed:${local(23, 58)}-${local(24, 4)}:L0`,
  ]);
  t.is(m.events[0]!.violation.id, `V1:TRACK_GAP:${local(23, 58)}`);
});

// ---------------------------------------------------------------------------------------------- TRACK_GAP

test('TRACK_GAP: a gap over 5 min is opened and closed in one step', (t) => {
  const a = fixAt(NIGHT, onRoute(1500));
  const ok = fixAt(NIGHT + 300_000, onRoute(1600));
  const gap = fixAt(NIGHT + 601_000, onRoute(1700));
  const tg = ofCodeRouteTime(runRouteTime([a, ok, gap]).log, 'TRACK_GAP');
  t.deepEqual(phasesRouteTime(tg), ['TRACK_GAP:opened', 'TRACK_GAP:closed']);
  t.is(tg[0]!.event.violation.startTs, NIGHT + 300_000, 'exactly 5 min is not a gap');
  t.is(tg[1]!.event.violation.endTs, NIGHT + 601_000);
  t.is(tg[1]!.event.violation.durationMs, 301_000);
  t.like(tg[1]!.event.violation.details, { gapMs: 301_000, reason: 'gap' });
  t.true(Math.abs(Number(tg[1]!.event.violation.details.distanceM) - 100) < 0.5);
});

test('TRACK_GAP: an implied speed over 150 km/h; 120 km/h is fine; a parked vehicle asleep is not a gap', (t) => {
  // 2 km in 30 s, and the track goes on from there: a jump (raised at the fix that confirms it)
  const jump = [
    fixAt(NIGHT, onRoute(500)),
    fixAt(NIGHT + 30_000, onRoute(2500)),
    fixAt(NIGHT + 40_000, onRoute(2580)),
  ];
  const tg = ofCodeRouteTime(runRouteTime(jump).log, 'TRACK_GAP');
  t.is(tg.length, 2);
  t.is(tg[0]!.at, NIGHT + 40_000);
  t.like(tg[1]!.event.violation.details, { reason: 'speed', gapMs: 30_000 });
  t.true(Math.abs(Number(tg[1]!.event.violation.details.impliedSpeedKmh) - 240) < 0.5);
  const fast = [fixAt(NIGHT, onRoute(500)), fixAt(NIGHT + 30_000, onRoute(1500))]; // 120 km/h
  t.deepEqual(ofCodeRouteTime(runRouteTime(fast).log, 'TRACK_GAP'), []);
  const parked = [
    fixAt(NIGHT, onRoute(0), { ign: false, speed: 0 }),
    fixAt(NIGHT + 8 * 3_600_000, offset(onRoute(0), 8, -5), { ign: false, speed: 0 }),
  ];
  t.deepEqual(ofCodeRouteTime(runRouteTime(parked).log, 'TRACK_GAP'), []);
  const silentDriving = [fixAt(NIGHT, onRoute(0)), fixAt(NIGHT + 8 * 3_600_000, onRoute(0))];
  t.is(ofCodeRouteTime(runRouteTime(silentDriving).log, 'TRACK_GAP').length, 2);
});

test('TRACK_GAP: a truck standing still at both ends of a 12 min silence, ignition on, its two noisy fixes 73 m apart, is no gap; 150 m apart it moved', (t) => {
  // hefei-faults seed 3: parked at the disposal site, the terminal silent 12.7 min, accuracy 18.2 and
  // 16.4 m, the two positions 73 m apart (more than the 69 m allowance of 2 x (18.2 + 16.4))
  const at = (dx: number, dy: number, ts: number, accuracy: number) =>
    fixAt(ts, offset(onRoute(0), dx, dy), { speed: 0, ign: true, accuracy });
  const noisy = [at(0, 0, NIGHT, 18.2), at(29, 67, NIGHT + 760_000, 16.4)];
  t.deepEqual(ofCodeRouteTime(runRouteTime(noisy).log, 'TRACK_GAP'), []);
  const moved = [at(0, 0, NIGHT, 18.2), at(60, 138, NIGHT + 760_000, 16.4)];
  t.is(ofCodeRouteTime(runRouteTime(moved).log, 'TRACK_GAP').length, 2);
  // speed reported above 5 km/h at either end: moving, whatever the displacement
  const rolling = [at(0, 0, NIGHT, 18.2), { ...at(29, 67, NIGHT + 760_000, 16.4), speed: 20 }];
  t.is(ofCodeRouteTime(runRouteTime(rolling).log, 'TRACK_GAP').length, 2);
});
