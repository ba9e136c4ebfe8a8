/**
 * ILLEGAL_DUMP (geofence/rules/illegal-dump.ts): the rule's tests, on the worlds of
 * test/support/rules/load.ts, matrix-load.ts.
 */
import test from 'ava';
import {
  BASE,
  completed,
  dumpAt,
  EMPTY,
  loadAtOrigin,
  of,
  phases,
  run,
  Track,
  tip,
  weightOnlyDump,
} from '../../support/rules/load.ts';
import {
  phases as phasesMatrixLoad,
  refsOf,
  run as runMatrixLoad,
  summary,
} from '../../support/rules/matrix/run.ts';
import { FULL, Trk, tip as tipMatrixLoad } from '../../support/rules/matrix/tracks.ts';
import { at, T, weightDrop } from '../../support/rules/matrix-load.ts';

// ---------------------------------------------------------------------------------------------------
// ILLEGAL_DUMP
// ---------------------------------------------------------------------------------------------------

test('ILLEGAL_DUMP: lift up outside every disposal site, instantaneous, once per dump', (t) => {
  const tr = new Track('V1', BASE, 0, 0, EMPTY, 5);
  loadAtOrigin(tr);
  tr.drive(3000, 0, 40);
  tr.drive(3000, -800, 30);
  tr.stay(60_000);
  const liftTs = tr.t + 10_000;
  tip(tr);
  tr.drive(3000, 0, 30);
  const r = run(tr.fixes);
  const evs = of(r, 'ILLEGAL_DUMP');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  const v = evs[1]!.violation;
  t.is(v.startTs, liftTs);
  t.is(v.endTs, liftTs);
  t.is(v.durationMs, 0);
  t.is(v.details.trigger, 'lift');
  t.is(v.permit, 'P1');
  t.deepEqual(v.thresholds, {
    dumpWeightDropT: 2,
    suspectedDumpSpeedKmh: 3,
    sensorConfirmMs: 60_000,
    accuracyFloorM: 15,
  });
  t.true(v.refs.some((x) => x.kind === 'site' && x.id === 'D1' && x.version === 2));
  t.true(v.refs.some((x) => x.kind === 'permit' && x.id === 'P1' && x.version === 4));
  t.true(Number(v.details.nearestPermittedM) > 2500);
  t.deepEqual(of(r, 'SUSPECTED_DUMP'), [], 'stopped only 2 minutes');
  const trip = completed(r)[0]!;
  t.is(trip.disposalSite, '');
  t.false(trip.compliant);
  t.true(trip.violations.includes(v.id));
});

test('ILLEGAL_DUMP by weight: a drop of 2.1 t while stopped is a dump, 1.9 t is not', (t) => {
  const r = run(weightOnlyDump(2.1, 6).fixes);
  const evs = of(r, 'ILLEGAL_DUMP');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  t.is(evs[0]!.violation.details.trigger, 'weight');
  t.is(evs[0]!.violation.details.weightDropT, 2.1);
  t.deepEqual(of(run(weightOnlyDump(1.9, 6).fixes), 'ILLEGAL_DUMP'), []);
});

test('ILLEGAL_DUMP: within the accuracy floor of the permitted site is given the benefit of the doubt', (t) => {
  // D1 spans x 5850..6150: 10 m outside its east edge, then 50 m outside
  const near = run(dumpAt(6160, 0, 7).fixes);
  t.deepEqual(of(near, 'ILLEGAL_DUMP'), []);
  const far = run(dumpAt(6200, 0, 7).fixes);
  const evs = of(far, 'ILLEGAL_DUMP');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  t.true(Math.abs(Number(evs[0]!.violation.details.nearestPermittedM) - 50) <= 1);
});

// ---------------------------------------------------------------------------------------------- ILLEGAL_DUMP

test('ILLEGAL_DUMP by load state alone (no lift sensor, no weight): trigger load, weightDropT 0', (t) => {
  const fixes = [
    at(T, 1900, 0, { lift: undefined, weight: undefined }),
    at(T + 10_000, 2000, 0, { lift: undefined, weight: undefined, speed: 0 }),
    at(T + 20_000, 2000, 0, { lift: undefined, weight: undefined, speed: 0, load: 'empty' }),
  ];
  // it drives off still reading empty: confirmed at the first fix 60 s after the onset
  for (let s = 30; s <= 90; s += 10)
    fixes.push(
      at(T + s * 1000, 2000 + (s - 20) * 8, 0, { lift: undefined, weight: undefined, load: 'empty' }),
    );
  const r = runMatrixLoad(fixes);
  t.deepEqual(summary(r.events), [
    `ILLEGAL_DUMP:opened:${T + 20_000}-:L0`,
    `ILLEGAL_DUMP:closed:${T + 20_000}-${T + 20_000}:L0`,
  ]);
  t.is(r.log[0]!.at, T + 80_000);
  t.deepEqual(
    r.events[1]!.violation.startPos,
    r.events[1]!.violation.lastPos,
    'at the onset, where it stood',
  );
  // the same sensor back to full within the minute is a glitch: nothing, counted
  const flicker = fixes.slice(0, 3);
  for (let s = 30; s <= 90; s += 10)
    flicker.push(
      at(T + s * 1000, 2000, 0, {
        lift: undefined,
        weight: undefined,
        speed: 0,
        load: s < 50 ? 'empty' : 'full',
      }),
    );
  const g = runMatrixLoad(flicker);
  t.deepEqual(g.events, []);
  t.is(g.state.load.gl, 1);
  t.like(r.events[1]!.violation.details, { trigger: 'load', weightDropT: 0, insideSite: '' });
  t.deepEqual(refsOf(r.events[1]!.violation), ['permit:P1@2', 'site:D1@2', 'thresholds:city@1']);
});

test('ILLEGAL_DUMP by weight at its threshold: a 2.0 t drop while stopped is nothing, 2.1 t is a dump', (t) => {
  t.deepEqual(runMatrixLoad(weightDrop(2)).events, []);
  const r = runMatrixLoad(weightDrop(2.1));
  t.deepEqual(phasesMatrixLoad(r.events), ['ILLEGAL_DUMP:opened', 'ILLEGAL_DUMP:closed']);
  t.like(r.events[0]!.violation.details, { trigger: 'weight', weightDropT: 2.1 });
  t.is(r.events[0]!.violation.startTs, T + 40_000);
  t.is(r.log[0]!.at, T + 100_000, 'confirmed by persistence: the weight stayed down 60 s');
});

test("ILLEGAL_DUMP inside the permit's own origin: recorded as insideSite O1, refs name O1 and D1", (t) => {
  const tr = new Trk('V1', T, 60, 60, FULL).stay(30_000);
  const liftTs = tr.t + 10_000;
  tipMatrixLoad(tr);
  const r = runMatrixLoad(tr.fixes);
  t.deepEqual(summary(r.events), [
    `ILLEGAL_DUMP:opened:${liftTs}-:L0`,
    `ILLEGAL_DUMP:closed:${liftTs}-${liftTs}:L0`,
  ]);
  t.like(r.events[0]!.violation.details, { trigger: 'lift', insideSite: 'O1', weightDropT: 0 });
  t.deepEqual(refsOf(r.events[0]!.violation), ['permit:P1@2', 'site:D1@2', 'site:O1@3', 'thresholds:city@1']);
});

test('ILLEGAL_DUMP: an unloading on an invalid fix is not judged and not judged later; a sweeper emptying is not a dump', (t) => {
  const tr = new Trk('V1', T, 2000, 0, FULL).stay(20_000);
  tr.fix(10_000, 0, { lift: 'up', valid: false });
  tr.fix(10_000, 0, { valid: true, weight: 10 })
    .fix(10_000, 0, { load: 'empty', weight: 0.5 })
    .fix(10_000, 0, { lift: 'down' });
  tr.roll(3, 20);
  t.deepEqual(runMatrixLoad(tr.fixes).events, []);
  const sw = new Trk('S1', T, 2000, 0, { kind: 'sanitation', weight: 6, lift: 'down', load: 'full' }).stay(
    20_000,
  );
  sw.fix(10_000, 0, { lift: 'up' })
    .fix(10_000, 0, { weight: 0.2, load: 'empty' })
    .fix(10_000, 0, { lift: 'down' });
  t.deepEqual(runMatrixLoad(sw.fixes).events, []);
});
