import test from 'ava';
import { codes, runPlans, runWithRestarts, stay, uf, walk } from '../../support/plans-matrix.ts';
import { redelivered, swapped, withNoise } from '../../support/rules/matrix/perturb.ts';
import { COLLECT, collectionDay, SAN, ticks } from '../../support/rules/sanitation.ts';
import { type Item, local } from '../../support/rules/track-kit.ts';

// -------------------------------------------------------------------------------- MISSED / LATE_COLLECTION

test('collection on time: a stop collecting at the point inside its window raises nothing', (t) => {
  const r = runPlans([...collectionDay(local(8, 10)), ...ticks(local(10), local(12))]);
  t.deepEqual(codes(r.log, ...SAN), []);
});

test('not a visit: driving through the point, or stopping there without collecting or a bin lift', (t) => {
  const through = [
    ...walk('S1', local(7, 55), [0, 500], [1000, 500], 30, 5_000, COLLECT),
    ...ticks(local(9, 31)),
  ];
  t.deepEqual(codes(runPlans(through).log, 'MISSED_COLLECTION'), [
    `MISSED_COLLECTION:opened:${local(8)}-`,
    `MISSED_COLLECTION:closed:${local(8)}-${local(8, 30)}`,
  ]);
  const idle = [...collectionDay(local(8, 10), { task: 'idle' }), ...ticks(local(9, 31))];
  t.is(codes(runPlans(idle).log, 'MISSED_COLLECTION').length, 2);
});

test('a bin lift counted up at the point is a visit without the collecting task', (t) => {
  const day = collectionDay(local(8, 10), { task: 'idle', binLifts: 7 });
  const i = day.findIndex((f) => f.binLifts === 7);
  day[i] = { ...day[i]!, binLifts: 6 };
  const r = runPlans([...day, ...ticks(local(9, 31))]);
  t.deepEqual(codes(r.log, ...SAN), []);
});

test('a window crossing midnight: served at 00:10, or missed as 23:50-00:20', (t) => {
  const night = (visit: boolean): Item[] => [
    uf('S1', local(23, 40), 1400, 400, { speed: 0 }),
    ...(visit ? stay('S1', local(24, 10), [1500, 500], 6, 10_000, COLLECT) : []),
    uf('S1', local(24, 30), 1400, 400, { speed: 0 }),
    ...ticks(local(25, 21), local(26)),
  ];
  t.deepEqual(codes(runPlans(night(true)).log, ...SAN), []);
  t.deepEqual(codes(runPlans(night(false)).log, ...SAN), [
    `MISSED_COLLECTION:opened:${local(23, 50)}-`,
    `MISSED_COLLECTION:closed:${local(23, 50)}-${local(24, 20)}`,
  ]);
});

test('a window already running at the first fix is not judged (its earlier visits are unknown); the next one is', (t) => {
  const r = runPlans([uf('S1', local(8, 10), 0, 0), ...ticks(local(12), local(33, 31))]);
  // both decided by the last tick, in point order
  t.deepEqual(codes(r.log, 'MISSED_COLLECTION'), [
    `MISSED_COLLECTION:opened:${local(32)}-`,
    `MISSED_COLLECTION:closed:${local(32)}-${local(32, 30)}`,
    `MISSED_COLLECTION:opened:${local(23, 50)}-`,
    `MISSED_COLLECTION:closed:${local(23, 50)}-${local(24, 20)}`,
  ]);
});

test('collection with 15 m noise: the visit is found and nothing else raised, for every seed', (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const noisy = withNoise(collectionDay(local(8, 10)), seed);
    const late = withNoise(collectionDay(local(8, 45)), seed + 100);
    t.deepEqual(codes(runPlans([...noisy, ...ticks(local(12))]).log, ...SAN), [], `seed ${seed}`);
    t.deepEqual(
      codes(runPlans([...late, ...ticks(local(12))]).log, ...SAN),
      [`LATE_COLLECTION:opened:${local(8, 30)}-`, `LATE_COLLECTION:closed:${local(8, 30)}-${local(8, 45)}`],
      `seed ${seed + 100}`,
    );
  }
});

test('collection: duplicates, late copies, swapped pairs and restarts give the same violations', (t) => {
  const items: Item[] = [
    ...collectionDay(local(8, 45)),
    ...ticks(local(12)),
    ...collectionDay(local(9, 40)).map((f) => ({ ...f, ts: f.ts + 86_400_000 })),
    ...ticks(local(40)),
  ];
  const want = codes(runPlans(items).log, ...SAN);
  t.deepEqual(want, [
    `LATE_COLLECTION:opened:${local(8, 30)}-`,
    `LATE_COLLECTION:closed:${local(8, 30)}-${local(8, 45)}`,
    `MISSED_COLLECTION:opened:${local(23, 50)}-`,
    `MISSED_COLLECTION:closed:${local(23, 50)}-${local(24, 20)}`,
    // S1 known since day 1 and not out on day 2's sweeping shift
    `SWEEP_COVERAGE:opened:${local(30)}-`,
    `SWEEP_COVERAGE:closed:${local(30)}-${local(31)}`,
    `MISSED_COLLECTION:opened:${local(32)}-`,
    `MISSED_COLLECTION:closed:${local(32)}-${local(32, 30)}`,
  ]);
  t.deepEqual(codes(runPlans(redelivered(items, 3)).log, ...SAN), want);
  const { delivery, judged } = swapped(items, 5);
  t.deepEqual(codes(runPlans(delivery).log, ...SAN), codes(runPlans(judged).log, ...SAN));
  t.deepEqual(codes(runWithRestarts(items, 7), ...SAN), want);
});
