import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import {
  codes,
  PLAN_WORLD,
  runPlans,
  runWithRestarts,
  SP1,
  stay,
  uf,
  walk,
} from '../../support/plans-matrix.ts';
import {
  type Item,
  lifecycleProblems,
  local,
  redelivered,
  swapped,
  withNoise,
} from '../../support/tracks-matrix.ts';

/*
 * Rule matrix, sanitation (issue 15): MISSED_COLLECTION, LATE_COLLECTION, SWEEP_OVERSPEED, SWEEP_COVERAGE
 * and OUT_OF_AREA through the real engine (ALL_RULES) and the real compiled world with the plans of
 * test/support/plans-matrix.ts: CP1 (500,500) 08:00-08:30, CP2 (1500,500) 23:50-00:20, SP1 (0,1000) ->
 * (1000,1000) 06:00-07:00, all of S1. Positive and negative cases, windows across midnight, 15 m noise,
 * gaps, duplicates and out-of-order delivery, restarts.
 */

const COLLECT: Partial<Fix> = { task: 'collecting' };
const SAN = ['MISSED_COLLECTION', 'LATE_COLLECTION', 'SWEEP_OVERSPEED', 'SWEEP_COVERAGE', 'OUT_OF_AREA'];

/** S1 drives from the depot (0,0) at `t0` to CP1, stops there `stopMin` minutes collecting from `stopAt` */
function collectionDay(stopAt: number, extra: Partial<Fix> = COLLECT, stopMin = 2): Fix[] {
  const t0 = local(7, 50);
  const approach = walk('S1', t0, [0, 0], [480, 480], 20, 10_000);
  // idle at the roadside until the stop
  const last = approach[approach.length - 1]!.ts;
  const idle: Fix[] = [];
  for (let t = last + 60_000; t < stopAt; t += 60_000) idle.push(uf('S1', t, 480, 480, { speed: 0 }));
  const atPoint = stay('S1', stopAt, [500, 500], stopMin * 6, 10_000, extra);
  const leave = walk('S1', stopAt + stopMin * 60_000, [500, 500], [900, 0], 20, 10_000);
  return [...approach, ...idle, ...atPoint, ...leave];
}

const ticks = (...ts: number[]): Item[] => ts.map((tick) => ({ tick }));

// -------------------------------------------------------------------------------- MISSED / LATE_COLLECTION

test('collection on time: a stop collecting at the point inside its window raises nothing', (t) => {
  const r = runPlans([...collectionDay(local(8, 10)), ...ticks(local(10), local(12))]);
  t.deepEqual(codes(r.log, ...SAN), []);
});

test('LATE_COLLECTION: the first visit after the window (within the grace) is late by its distance to the end', (t) => {
  const visit = local(8, 45);
  const r = runPlans([...collectionDay(visit), ...ticks(local(10), local(12))]);
  t.deepEqual(codes(r.log, ...SAN), [
    `LATE_COLLECTION:opened:${local(8, 30)}-`,
    `LATE_COLLECTION:closed:${local(8, 30)}-${visit}`,
  ]);
  const v = r.events[1]!.violation;
  t.is(v.id, `S1:LATE_COLLECTION:${local(8, 30)}:CP1`);
  t.is(v.details.lateByMs, 15 * 60_000);
  t.is(v.details.point, 'CP1');
  t.is(v.details.binsExpected, 4);
  t.true(v.refs.some((x) => x.kind === 'collection_point' && x.id === 'CP1' && x.version === 2));
  t.deepEqual(lifecycleProblems(r.events), []);
});

test('MISSED_COLLECTION: no visit by the end of the window plus the grace, decided by the silence tick', (t) => {
  const fixes = walk('S1', local(7, 50), [0, 0], [300, 0], 20, 10_000);
  const exact = local(9, 30);
  const r = runPlans([...fixes, ...ticks(local(8, 31), exact, exact + 1000, local(11))]);
  t.deepEqual(codes(r.log, ...SAN), [
    `MISSED_COLLECTION:opened:${local(8)}-`,
    `MISSED_COLLECTION:closed:${local(8)}-${local(8, 30)}`,
  ]);
  const missed = r.log.filter((l) => l.event.violation.code === 'MISSED_COLLECTION');
  t.is(missed[0]!.at, exact + 1000, 'decided after end + grace (60 min), not at it');
  const v = missed[0]!.event.violation;
  t.is(v.id, `S1:MISSED_COLLECTION:${local(8)}:CP1`);
  t.deepEqual(v.startPos, PLAN_WORLD.collectionPointsOf('S1')[0]!.position);
  t.is(v.detectedTs, exact + 1000);
});

test('MISSED_COLLECTION: a visit after the grace is no visit of that window; a fix also decides it', (t) => {
  const r = runPlans(collectionDay(local(9, 40)));
  t.deepEqual(codes(r.log, ...SAN), [
    `MISSED_COLLECTION:opened:${local(8)}-`,
    `MISSED_COLLECTION:closed:${local(8)}-${local(8, 30)}`,
  ]);
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

// -------------------------------------------------------------------------------------------- SWEEP_OVERSPEED

const SWEEP: Partial<Fix> = { task: 'sweeping', brush: true };

test('SWEEP_OVERSPEED: sweeping over 15 km/h for 30 s opens at the first fast fix; slowing down closes it', (t) => {
  const T = local(6, 10);
  const fixes = [
    ...walk('S1', T, [0, 1000], [100, 1000], 10, 10_000, SWEEP),
    ...walk('S1', T + 60_000, [110, 1000], [400, 1000], 22, 5_000, SWEEP),
    ...walk('S1', T + 120_000, [420, 1000], [500, 1000], 10, 10_000, SWEEP),
  ];
  const r = runPlans(fixes);
  const first = T + 60_000;
  const slow = fixes.find((f) => f.ts >= T + 120_000)!.ts;
  t.deepEqual(codes(r.log, 'SWEEP_OVERSPEED'), [
    `SWEEP_OVERSPEED:opened:${first}-`,
    `SWEEP_OVERSPEED:closed:${first}-${slow}`,
  ]);
  t.is(r.log[0]!.at, first + 30_000);
  t.is(
    r.events.find((e) => e.phase === 'closed' && e.violation.code === 'SWEEP_OVERSPEED')!.violation.details
      .maxSpeedKmh,
    22,
  );
});

test('SWEEP_OVERSPEED negatives: brush up at 40 km/h, sweeping at 15 km/h, fast for only 25 s', (t) => {
  const T = local(6, 10);
  const a = walk('S1', T, [0, 1000], [1000, 1000], 40, 5_000, { task: 'idle', brush: false });
  const b = walk('S1', T, [0, 1000], [1000, 1000], 15, 10_000, SWEEP);
  const c = [
    ...walk('S1', T, [0, 1000], [50, 1000], 10, 10_000, SWEEP),
    ...walk('S1', T + 30_000, [60, 1000], [200, 1000], 20, 5_000, SWEEP).slice(0, 6),
    ...walk('S1', T + 60_000, [200, 1000], [300, 1000], 10, 10_000, SWEEP),
  ];
  for (const fixes of [a, b, c]) t.deepEqual(codes(runPlans(fixes).log, 'SWEEP_OVERSPEED'), []);
});

test('SWEEP_OVERSPEED across a gap: a 10 min silence restarts the run', (t) => {
  const T = local(6, 10);
  const fixes = [
    uf('S1', T, 0, 1000, { ...SWEEP, speed: 20 }),
    uf('S1', T + 20_000, 50, 1000, { ...SWEEP, speed: 20 }),
    uf('S1', T + 620_000, 500, 1000, { ...SWEEP, speed: 20 }),
    uf('S1', T + 640_000, 550, 1000, { ...SWEEP, speed: 20 }),
    uf('S1', T + 655_000, 600, 1000, { ...SWEEP, speed: 20 }),
    uf('S1', T + 665_000, 620, 1000, { ...SWEEP, speed: 8 }),
  ];
  t.deepEqual(codes(runPlans(fixes).log, 'SWEEP_OVERSPEED'), [
    `SWEEP_OVERSPEED:opened:${T + 620_000}-`,
    `SWEEP_OVERSPEED:closed:${T + 620_000}-${T + 665_000}`,
  ]);
});

// --------------------------------------------------------------------------------------------- SWEEP_COVERAGE

/** S1 out of the depot at 05:55, sweeps SP1 from (0,1000) to (toX,1000) at 10 km/h from 06:05, back */
function sweepDay(toX: number): Fix[] {
  const out = walk('S1', local(5, 55), [0, 0], [0, 990], 20, 10_000);
  out.push(...walk('S1', local(6, 5), [0, 1000], [toX, 1000], 10, 10_000, SWEEP));
  const end = out[out.length - 1]!.ts;
  out.push(...walk('S1', end + 10_000, [toX, 990], [toX, 0], 20, 10_000));
  return out;
}

test('SWEEP_COVERAGE: the whole plan swept in the shift raises nothing', (t) => {
  const r = runPlans([...sweepDay(1000), ...ticks(local(7), local(8))]);
  t.deepEqual(codes(r.log, ...SAN), []);
});

test('SWEEP_COVERAGE: 40 % swept is a violation at the shift end, with the unswept stretch as geometry', (t) => {
  const r = runPlans([...sweepDay(400), ...ticks(local(6, 59), local(7))]);
  t.deepEqual(codes(r.log, ...SAN), [
    `SWEEP_COVERAGE:opened:${local(6)}-`,
    `SWEEP_COVERAGE:closed:${local(6)}-${local(7)}`,
  ]);
  const cov = r.log.filter((l) => l.event.violation.code === 'SWEEP_COVERAGE');
  t.is(cov[0]!.at, local(7));
  const v = cov[1]!.event.violation;
  t.is(v.id, `S1:SWEEP_COVERAGE:${local(6)}:SP1`);
  t.true(Math.abs((v.details.coveragePct as number) - 40) <= 2, String(v.details.coveragePct));
  t.true(Math.abs((v.details.plannedM as number) - 1000) < 1);
  const geom = JSON.parse(v.details.unswept as string) as { type: string; coordinates: number[][][] };
  t.is(geom.type, 'MultiLineString');
  t.is(geom.coordinates.length, 1);
  const [x0] = geom.coordinates[0]![0]!;
  const [x1] = geom.coordinates[0]!.at(-1)!;
  t.true(Math.abs(x1! - SP1.lines[0]![1]![0]) < 1e-6, 'runs to the end of the stretch');
  t.true(x0! > SP1.lines[0]![0]![0] + 0.003, 'starts past the swept 400 m');
  t.deepEqual(lifecycleProblems(r.events), []);
});

test('SWEEP_COVERAGE: a sweeper that never came out swept nothing (decided by the tick); brush up sweeps nothing', (t) => {
  const r = runPlans([uf('S1', local(5, 50), 0, 0), ...ticks(local(6, 30), local(7, 0, 5))]);
  t.deepEqual(codes(r.log, 'SWEEP_COVERAGE'), [
    `SWEEP_COVERAGE:opened:${local(6)}-`,
    `SWEEP_COVERAGE:closed:${local(6)}-${local(7)}`,
  ]);
  t.is(r.events.find((e) => e.violation.code === 'SWEEP_COVERAGE')!.violation.details.coveragePct, 0);
  const brushUp = sweepDay(1000).map((f) => ({ ...f, task: 'idle' as const, brush: false }));
  t.is(codes(runPlans([...brushUp, ...ticks(local(7))]).log, 'SWEEP_COVERAGE').length, 2);
});

test('SWEEP_COVERAGE with 15 m noise, duplicates, swaps and restarts: the full sweep passes, 40 % fails alike', (t) => {
  for (let seed = 1; seed <= 10; seed++) {
    const full = withNoise(sweepDay(1000), seed);
    t.deepEqual(codes(runPlans([...full, ...ticks(local(7))]).log, ...SAN), [], `seed ${seed}`);
    const part: Item[] = [...withNoise(sweepDay(400), seed), ...ticks(local(7))];
    const want = codes(runPlans(part).log, ...SAN);
    t.is(want.length, 2, `seed ${seed}`);
    t.deepEqual(codes(runPlans(redelivered(part, seed)).log, ...SAN), want);
    t.deepEqual(codes(runWithRestarts(part, 5), ...SAN), want);
  }
});

// ------------------------------------------------------------------------------------------------ OUT_OF_AREA

test('OUT_OF_AREA: sweeping 200 m off the plan in its shift for 2 min; ends 30 s after coming back', (t) => {
  const T = local(6, 10);
  const fixes = [
    ...walk('S1', T, [0, 1000], [200, 1000], 10, 10_000, SWEEP),
    ...walk('S1', T + 90_000, [200, 1200], [400, 1200], 6, 10_000, SWEEP),
    ...walk('S1', T + 220_000, [400, 1000], [600, 1000], 10, 10_000, SWEEP),
  ];
  const r = runPlans(fixes);
  const out = T + 90_000;
  const back = T + 220_000;
  t.deepEqual(codes(r.log, 'OUT_OF_AREA'), [
    `OUT_OF_AREA:opened:${out}-`,
    `OUT_OF_AREA:closed:${out}-${back}`,
  ]);
  const log = r.log.filter((l) => l.event.violation.code === 'OUT_OF_AREA');
  t.is(log[0]!.at, out + 60_000);
  t.is(log[1]!.at, back + 30_000);
  t.true((log[1]!.event.violation.details.maxOutsideM as number) > 170);
});

test('OUT_OF_AREA negatives: brush up off the plan, outside the shift, and 15 m noise on the road', (t) => {
  const T = local(6, 10);
  const brushUp = walk('S1', T, [200, 1200], [600, 1200], 6, 10_000, { task: 'idle', brush: false });
  const afterShift = walk('S1', local(7, 10), [200, 1200], [600, 1200], 6, 10_000, SWEEP);
  t.deepEqual(codes(runPlans(brushUp).log, 'OUT_OF_AREA'), []);
  t.deepEqual(codes(runPlans(afterShift).log, 'OUT_OF_AREA'), []);
  for (let seed = 1; seed <= 20; seed++) {
    t.deepEqual(codes(runPlans(withNoise(sweepDay(1000), seed)).log, 'OUT_OF_AREA'), [], `seed ${seed}`);
  }
});
