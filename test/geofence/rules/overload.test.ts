/**
 * OVERLOAD (geofence/rules/overload.ts): the rule's tests, on the worlds of
 * test/support/rules/load.ts, matrix-load.ts.
 */
import test from 'ava';
import { compileWorld } from '../../../geofence/compile.ts';
import { BASE, of, overloaded, phases, run, Track } from '../../support/rules/load.ts';
import {
  phases as phasesMatrixLoad,
  refsOf,
  run as runMatrixLoad,
  summary,
} from '../../support/rules/matrix/run.ts';
import { FULL, Trk } from '../../support/rules/matrix/tracks.ts';
import { snapshot } from '../../support/rules/matrix/world.ts';
import { at, T } from '../../support/rules/matrix-load.ts';
import type { Item } from '../../support/rules/track-kit.ts';

test('OVERLOAD: over the rated load for 59 s is nothing; for 60 s opens; closes at or under', (t) => {
  t.deepEqual(of(run(overloaded(59_000, 16).tr.fixes), 'OVERLOAD'), []);
  const { tr, firstOver } = overloaded(120_000, 16);
  const r = run(tr.fixes);
  const evs = of(r, 'OVERLOAD');
  t.deepEqual(phases(evs), ['opened', 'closed']);
  const [o, c] = evs;
  t.is(o!.violation.startTs, firstOver);
  t.is(o!.violation.lastPos[0], tr.fixes.find((f) => f.ts === firstOver + 60_000)!.lon);
  t.is(c!.violation.endTs, firstOver + 130_000);
  t.is(c!.violation.durationMs, 130_000);
  t.deepEqual(c!.violation.details, { ratedLoadT: 30, maxWeightT: 34, overPct: 13.3 });
  t.true(c!.violation.refs.some((x) => x.kind === 'vehicle' && x.id === 'V1' && x.version === 2));
  t.deepEqual(c!.violation.thresholds, { overloadMinMs: 60_000, sensorConfirmMs: 60_000 });
});

test('OVERLOAD: skipped when the rated load is unknown', (t) => {
  const tr = new Track('V3', BASE, 1000, 0, { weight: 40 }, 17);
  for (let i = 0; i < 20; i++) tr.roll(10_000, 40);
  t.deepEqual(of(run(tr.fixes), 'OVERLOAD'), []);
});

// ---------------------------------------------------------------------------------------------- OVERLOAD

test('OVERLOAD at its threshold: exactly the rated 31 t for 5 min is nothing; 31.1 t for 60 s opens', (t) => {
  const at31 = new Trk('V1', T, 300, 0, FULL).roll(30, 30, 10_000, () => ({ weight: 31 }));
  t.deepEqual(runMatrixLoad(at31.fixes).events, []);
  const over = new Trk('V1', T, 300, 0, FULL).roll(1, 30).roll(7, 30, 10_000, () => ({ weight: 31.1 }));
  over.roll(7, 30, 10_000, () => ({ weight: 31 }));
  const r = runMatrixLoad(over.fixes);
  t.deepEqual(summary(r.events), [
    `OVERLOAD:opened:${T + 20_000}-:L0`,
    `OVERLOAD:closed:${T + 20_000}-${T + 90_000}:L0`,
  ]);
  t.like(r.events[1]!.violation.details, { ratedLoadT: 31, maxWeightT: 31.1, overPct: 0.3 });
});

test('OVERLOAD: fixes without weight neither start, end nor split it; a 2 min silence counts', (t) => {
  const fixes = [
    at(T, 300, 0, { weight: 33 }),
    ...[1, 2, 3, 4, 5].map((i) => at(T + i * 10_000, 300 + i * 80, 0, { weight: undefined })),
    at(T + 60_000, 800, 0, { weight: 33 }),
    ...[7, 8, 9].map((i) => at(T + i * 10_000, 300 + i * 80, 0, { weight: undefined })),
    at(T + 100_000, 1100, 0, { weight: 31, speed: 0 }), // at the rating (stopped: no spillage, < 2 t no dump)
    at(T + 160_000, 1100, 0, { weight: 31, speed: 0 }), // still there a minute later: the end is confirmed
  ];
  const r = runMatrixLoad(fixes);
  t.deepEqual(summary(r.events), [`OVERLOAD:opened:${T}-:L0`, `OVERLOAD:closed:${T}-${T + 100_000}:L0`]);
  t.is(r.log[0]!.at, T + 60_000);
  const g = runMatrixLoad([
    at(T, 300, 0, { weight: 33 }),
    at(T + 120_000, 1300, 0, { weight: 33 }),
    at(T + 130_000, 1380, 0, { weight: 31, speed: 0 }),
    at(T + 190_000, 1380, 0, { weight: 31, speed: 0 }),
  ]);
  t.deepEqual(summary(g.events), [`OVERLOAD:opened:${T}-:L0`, `OVERLOAD:closed:${T}-${T + 130_000}:L0`]);
});

test('OVERLOAD vehicle re-rated mid-violation: judged on the new rating, the refs keep vehicle V1 version 1', (t) => {
  const rerated = compileWorld(
    snapshot({
      vehicles: snapshot().vehicles.map((v) => (v.id === 'V1' ? { ...v, version: 2, ratedLoadT: 35 } : v)),
    }),
  );
  const tr = new Trk('V1', T, 300, 0, FULL).roll(8, 30, 10_000, () => ({ weight: 33 }));
  const items: Item[] = [...tr.fixes, { world: rerated }];
  tr.roll(8, 30, 10_000, () => ({ weight: 33 }));
  items.push(...tr.fixes.slice(8));
  const r = runMatrixLoad(items);
  t.deepEqual(summary(r.events), [
    `OVERLOAD:opened:${T + 10_000}-:L0`,
    `OVERLOAD:closed:${T + 10_000}-${T + 90_000}:L0`,
  ]);
  t.true(refsOf(r.events[1]!.violation).includes('vehicle:V1@1'));
  t.like(r.events[1]!.violation.details, { ratedLoadT: 31 });
});

test('OVERLOAD exactly once: a weight rising 32 -> 36 t over 3 min is one violation without updates; the close has the maximum', (t) => {
  const tr = new Trk('V1', T, 300, 0, FULL)
    .roll(1, 30)
    .roll(19, 30, 10_000, (i) => ({ weight: Math.round((31.8 + i * 0.22) * 100) / 100 }));
  tr.roll(7, 30, 10_000, () => ({ weight: 28 }));
  const r = runMatrixLoad(tr.fixes);
  t.deepEqual(phasesMatrixLoad(r.events), ['OVERLOAD:opened', 'OVERLOAD:closed']);
  t.like(r.events[1]!.violation.details, { maxWeightT: 35.98, overPct: 16.1 });
});

test('OVERLOAD: a weight glitch under the rating (33 t -> 3.3 t -> 33 t) does not split it; the truck unloading ends it at once', (t) => {
  const tr = new Trk('V1', T, 300, 0, FULL).roll(9, 30, 10_000, () => ({ weight: 33 }));
  tr.roll(1, 30, 10_000, () => ({ weight: 3.3 })).roll(9, 30, 10_000, () => ({ weight: 33 }));
  const stopAt = tr.t + 10_000;
  tr.stay(30_000, 10_000, () => ({ weight: 33 }));
  const liftAt = tr.t + 10_000;
  tr.fix(10_000, 0, { lift: 'up', weight: 20 }).stay(20_000, 10_000, () => ({ weight: 8 }));
  const r = runMatrixLoad(tr.fixes);
  const ol = r.events.filter((e) => e.violation.code === 'OVERLOAD');
  t.deepEqual(phasesMatrixLoad(ol), ['OVERLOAD:opened', 'OVERLOAD:closed']);
  t.is(ol[1]!.violation.endTs, liftAt, 'ended by the unloading, corroborated at once');
  t.true(stopAt < liftAt);
  t.true(r.state.load.gl >= 1, 'the glitch is counted');
});
