/**
 * SPILLAGE (geofence/rules/spillage.ts): the rule's tests, on the worlds of
 * test/support/rules/load.ts, matrix-load.ts.
 */
import test from 'ava';
import { coverOpen, leaking, of, phases, run } from '../../support/rules/load.ts';
import { phases as phasesMatrixLoad, run as runMatrixLoad, summary } from '../../support/rules/matrix/run.ts';
import { EMPTY, FULL, Trk } from '../../support/rules/matrix/tracks.ts';
import { at, T } from '../../support/rules/matrix-load.ts';

test('SPILLAGE: cover open while loaded and moving for 29 s is nothing', (t) => {
  const { tr } = coverOpen([10_000, 10_000, 9_000], 13);
  t.deepEqual(run(tr.fixes).violations, []);
});

test('SPILLAGE: cover open for >= 30 s opens from the first open fix, closes when closed', (t) => {
  const { tr, firstOpen } = coverOpen([10_000, 10_000, 10_000, 10_000, 10_000, 10_000], 14);
  const r = run(tr.fixes);
  const evs = of(r, 'SPILLAGE');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  const [o, c] = evs;
  t.is(o!.violation.startTs, firstOpen);
  t.is(o!.violation.details.trigger, 'cover');
  t.is(c!.violation.endTs, firstOpen + 70_000);
  t.is(c!.violation.durationMs, 70_000);
  t.is(c!.violation.details.coverOpenMs, 70_000);
  t.is(r.violations.length, 2);
});

test('SPILLAGE by weight: 0.8 t lost while moving opens, closes when the truck stops; 0.4 t is nothing', (t) => {
  const { tr, crossTs } = leaking(0.8, 15);
  const r = run(tr.fixes);
  const evs = of(r, 'SPILLAGE');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  const [o, c] = evs;
  t.is(o!.violation.startTs, crossTs!);
  t.is(o!.violation.details.trigger, 'weight');
  t.is(c!.violation.endTs, tr.fixes.at(-1)!.ts);
  t.is(c!.violation.details.weightDropT, 0.8);
  t.is(c!.violation.durationMs, c!.violation.endTs! - crossTs!);
  t.deepEqual(run(leaking(0.4, 15).tr.fixes).violations, []);
});

// ---------------------------------------------------------------------------------------------- SPILLAGE

test('SPILLAGE at its thresholds: cover open at exactly 5 km/h, or while empty, is nothing; a 0.5 t loss is nothing', (t) => {
  const slow = new Trk('V1', T, 1200, 0, FULL).roll(12, 5, 10_000, () => ({ cover: 'open' }));
  t.deepEqual(runMatrixLoad(slow.fixes).events, []);
  const empty = new Trk('V1', T, 1200, 0, EMPTY).roll(12, 30, 10_000, () => ({ cover: 'open' }));
  t.deepEqual(runMatrixLoad(empty.fixes).events, []);
  const half = new Trk('V1', T, 1200, 0, FULL)
    .roll(2, 30)
    .roll(5, 30, 10_000, (i) => ({ weight: 28 - i * 0.1 }));
  t.deepEqual(runMatrixLoad(half.fixes).events, []);
  const more = new Trk('V1', T, 1200, 0, FULL)
    .roll(2, 30)
    .roll(6, 30, 10_000, (i) => ({ weight: 28 - i * 0.1 }))
    .roll(6, 30, 10_000, () => ({ weight: 27.4 }));
  const m = runMatrixLoad(more.fixes);
  t.deepEqual(phasesMatrixLoad(m.events), ['SPILLAGE:opened']);
  t.is(m.events[0]!.violation.startTs, more.fixes[7]!.ts, 'from the first fix 0.6 t down');
  t.is(m.log[0]!.at, more.fixes[13]!.ts, 'raised once it stayed down 60 s');
});

test("SPILLAGE cover then weight: one violation, updated to cover+weight, closed with the run's drop and cover time", (t) => {
  const tr = new Trk('V1', T, 1200, 0, FULL).roll(2, 30);
  const coverFrom = tr.t + 10_000;
  tr.roll(4, 30, 10_000, () => ({ cover: 'open' })); // opens at the 4th (30 s)
  tr.roll(8, 30, 10_000, (i) => ({ weight: 28 - i * 0.1 })); // drop > 0.5 t at the 6th, cover still open
  tr.roll(5, 30, 10_000, () => ({ weight: 27.2 })); // down for 60 s: confirmed, cover still open
  const coverClosed = tr.t + 10_000;
  tr.roll(3, 30, 10_000, () => ({ cover: 'closed' })); // weight run continues
  const stop = tr.t + 10_000;
  tr.stay(20_000);
  const r = runMatrixLoad(tr.fixes);
  t.deepEqual(summary(r.events), [
    `SPILLAGE:opened:${coverFrom}-:L0`,
    `SPILLAGE:updated:${coverFrom}-:L0`,
    `SPILLAGE:closed:${coverFrom}-${stop}:L0`,
  ]);
  t.is(r.events[0]!.violation.details.trigger, 'cover');
  t.is(r.log[0]!.at, coverFrom + 30_000);
  t.is(r.events[1]!.violation.details.trigger, 'cover+weight');
  t.like(r.events[2]!.violation.details, {
    trigger: 'cover+weight',
    weightDropT: 0.8,
    coverOpenMs: coverClosed - coverFrom,
  });
});

test('SPILLAGE: a weight falling with the lift up is an unloading (ILLEGAL_DUMP), not spillage', (t) => {
  const tr = new Trk('V1', T, 1200, 0, FULL).roll(2, 10);
  const liftTs = tr.t + 10_000;
  tr.roll(6, 10, 10_000, (i) => ({ lift: 'up', weight: 28 - i * 4 }));
  tr.roll(2, 10, 10_000, () => ({ lift: 'down', load: 'empty' }));
  const r = runMatrixLoad(tr.fixes);
  t.deepEqual(summary(r.events), [
    `ILLEGAL_DUMP:opened:${liftTs}-:L0`,
    `ILLEGAL_DUMP:closed:${liftTs}-${liftTs}:L0`,
  ]);
});

test('SPILLAGE gaps and exactly once: cover open across a 2 min silence starts at the first fix; a long leak is one violation', (t) => {
  const g = runMatrixLoad([
    at(T, 1200, 0, { cover: 'open' }),
    at(T + 120_000, 2200, 0, { cover: 'open' }),
    at(T + 130_000, 2280, 0),
  ]);
  t.deepEqual(summary(g.events), [`SPILLAGE:opened:${T}-:L0`, `SPILLAGE:closed:${T}-${T + 130_000}:L0`]);
  t.is(g.events[1]!.violation.details.coverOpenMs, 130_000);
  const tr = new Trk('V1', T, 300, 0, FULL)
    .roll(1, 30)
    .roll(18, 30, 10_000, (i) => ({ weight: Math.round((28 - i * 0.15) * 100) / 100 }));
  tr.stay(20_000);
  const r = runMatrixLoad(tr.fixes);
  t.deepEqual(phasesMatrixLoad(r.events), ['SPILLAGE:opened', 'SPILLAGE:closed']);
  t.is(r.events[1]!.violation.details.weightDropT, 2.7);
});
