/**
 * SWEEP_COVERAGE (geofence/rules/sweep-coverage.ts): the rule's tests, on the worlds of
 * test/support/rules/plans-matrix.ts, sanitation.ts.
 */
import test from 'ava';
import { codes, runPlans, runWithRestarts, SP1, uf, walk } from '../../support/plans-matrix.ts';
import { redelivered, withNoise } from '../../support/rules/matrix/perturb.ts';
import { lifecycleProblems } from '../../support/rules/matrix/run.ts';
import { night, nightSweep, SWEEP, ticks } from '../../support/rules/plans-matrix.ts';
import { SAN, sweepDay, ticks as ticksSanitation } from '../../support/rules/sanitation.ts';
import { type Item, local } from '../../support/rules/track-kit.ts';

test('SWEEP_COVERAGE on a shift across midnight: the sweeping after midnight counts for the shift of the evening', (t) => {
  const both = night([...nightSweep(490, true), ...ticks(local(26, 31))]);
  t.deepEqual(codes(both.log, 'SWEEP_COVERAGE'), []);
  const half = night([...nightSweep(490, false), ...ticks(local(26, 31))]);
  t.deepEqual(codes(half.log, 'SWEEP_COVERAGE'), [
    `SWEEP_COVERAGE:opened:${local(22)}-`,
    `SWEEP_COVERAGE:closed:${local(22)}-${local(26)}`,
  ]);
  const v = half.events.find((e) => e.violation.code === 'SWEEP_COVERAGE')!.violation;
  t.is(v.id, `S2:SWEEP_COVERAGE:${local(22)}:SPN`);
  t.is(v.details.shiftEnd, local(26));
  t.true(Math.abs((v.details.coveragePct as number) - 50) <= 2, String(v.details.coveragePct));
  const at = half.log.find((l) => l.event.violation.code === 'SWEEP_COVERAGE')!.at;
  t.is(at, local(26), 'decided at the first fix at or after 02:00, not at midnight');
});

// -------------------------------------------------------------------------------------------------- gaps

test('SWEEP_COVERAGE across a gap: two sweeping fixes 5 min apart do not sweep the road between them', (t) => {
  const shift = (gap: boolean) => [
    uf('S1', local(5, 55), 0, 0),
    ...walk('S1', local(6, 5), [0, 1000], [300, 1000], 10, 10_000, SWEEP),
    // without the gap, reports every 10 s in between; with it, the next report is 5 min later at 600 m
    ...(gap ? [] : walk('S1', local(6, 7) - 10_000, [290, 1000], [600, 1000], 10, 10_000, SWEEP)),
    ...walk('S1', gap ? local(6, 12) : local(6, 9) + 10_000, [600, 1000], [1000, 1000], 10, 10_000, SWEEP),
    ...ticks(local(7)),
  ];
  const withGap = night(shift(true));
  const v = withGap.events.find((e) => e.violation.code === 'SWEEP_COVERAGE')?.violation;
  t.truthy(v, 'the 300 m between the two reports are unswept: coverage about 70 %');
  t.true(Math.abs((v!.details.coveragePct as number) - 70) <= 3, String(v!.details.coveragePct));
  t.deepEqual(codes(night(shift(false)).log, 'SWEEP_COVERAGE'), [], 'reported all along: the whole road');
});

test('SWEEP_COVERAGE: the whole plan swept in the shift raises nothing', (t) => {
  const r = runPlans([...sweepDay(1000), ...ticksSanitation(local(7), local(8))]);
  t.deepEqual(codes(r.log, ...SAN), []);
});

test('SWEEP_COVERAGE: 40 % swept is a violation at the shift end, with the unswept stretch as geometry', (t) => {
  const r = runPlans([...sweepDay(400), ...ticksSanitation(local(6, 59), local(7))]);
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
  const r = runPlans([uf('S1', local(5, 50), 0, 0), ...ticksSanitation(local(6, 30), local(7, 0, 5))]);
  t.deepEqual(codes(r.log, 'SWEEP_COVERAGE'), [
    `SWEEP_COVERAGE:opened:${local(6)}-`,
    `SWEEP_COVERAGE:closed:${local(6)}-${local(7)}`,
  ]);
  t.is(r.events.find((e) => e.violation.code === 'SWEEP_COVERAGE')!.violation.details.coveragePct, 0);
  const brushUp = sweepDay(1000).map((f) => ({ ...f, task: 'idle' as const, brush: false }));
  t.is(codes(runPlans([...brushUp, ...ticksSanitation(local(7))]).log, 'SWEEP_COVERAGE').length, 2);
});

test('SWEEP_COVERAGE with 15 m noise, duplicates, swaps and restarts: the full sweep passes, 40 % fails alike', (t) => {
  for (let seed = 1; seed <= 10; seed++) {
    const full = withNoise(sweepDay(1000), seed);
    t.deepEqual(codes(runPlans([...full, ...ticksSanitation(local(7))]).log, ...SAN), [], `seed ${seed}`);
    const part: Item[] = [...withNoise(sweepDay(400), seed), ...ticksSanitation(local(7))];
    const want = codes(runPlans(part).log, ...SAN);
    t.is(want.length, 2, `seed ${seed}`);
    t.deepEqual(codes(runPlans(redelivered(part, seed)).log, ...SAN), want);
    t.deepEqual(codes(runWithRestarts(part, 5), ...SAN), want);
  }
});
