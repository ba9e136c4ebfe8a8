import test from 'ava';
import { coverageDayRow } from '../../geofence/coverage-report.ts';
import { day, LATER, SWEEP } from '../support/geofence/coverage-day.ts';
import { CP2, PLAN_WORLD, runPlans, SP1, uf } from '../support/plans-matrix.ts';
import { withNoise } from '../support/rules/matrix/perturb.ts';
import { DAY, type Item, local } from '../support/rules/track-kit.ts';

/*
 * The sanitation coverage report (issue 15, item 4; geofence/coverage-report.ts): per vehicle per day,
 * swept length against planned and the collection windows, on the day of
 * test/support/geofence/coverage-day.ts. The figures must be the rules' own: the same track run through
 * the engine gives the SWEEP_COVERAGE and LATE/MISSED_COLLECTION the report implies. Through the API
 * (JSON, CSV, xlsx) and in the monthly scorecard: test/api/coverage-report.test.ts.
 */

const SAN = ['MISSED_COLLECTION', 'LATE_COLLECTION', 'SWEEP_COVERAGE'];

const ticks = (...ts: number[]): Item[] => ts.map((tick) => ({ tick }));

test('a day: 40 % of the plan swept, CP1 on time, CP2 (across midnight) 20 min late; the rules agree', (t) => {
  const fixes = day(390, local(8, 10), local(24, 40));
  const row = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, LATER);
  t.like(row, { date: DAY, firm: 'F1', vehicle: 'S1', onTime: 1, late: 1, missed: 0, pending: 0 });
  t.is(row.fixes, fixes.length);
  t.is(row.sweeps.length, 1);
  const s = row.sweeps[0]!;
  t.like(s, { plan: 'SP1', planVersion: 3, shiftStart: local(6), shiftEnd: local(7), ended: true });
  t.true(Math.abs(s.plannedM - 1000) < 1, String(s.plannedM));
  t.is(s.sweptM, 400, 'pieces 0-19 of 20 m');
  t.is(s.coverage, 0.4);
  t.is(row.coverage, 0.4);
  t.deepEqual(
    row.collections.map((c) => [c.point, c.status, c.visitTs, c.lateByMs]),
    [
      ['CP1', 'on_time', local(8, 10), undefined],
      ['CP2', 'late', local(24, 40), 20 * 60_000],
    ],
  );
  t.like(row.collections[1], {
    windowStart: local(23, 50),
    windowEnd: local(24, 20),
    pointVersion: CP2.version,
  });
  // the engine on the same track: SWEEP_COVERAGE with the same swept length and unswept stretches, CP2 late
  const r = runPlans([...fixes, ...ticks(local(27))]);
  const cov = r.events.find((e) => e.violation.code === 'SWEEP_COVERAGE' && e.phase === 'closed')!.violation;
  t.is(cov.details.sweptM, s.sweptM);
  t.deepEqual(JSON.parse(cov.details.unswept as string), s.unswept);
  t.true(
    Math.abs(s.unswept.coordinates[0]!.at(-1)![0] - SP1.lines[0]![1]![0]) < 1e-6,
    'the unswept stretch runs to the end',
  );
  const late = r.events.filter((e) => e.violation.code === 'LATE_COLLECTION' && e.phase === 'closed');
  t.deepEqual(
    late.map((e) => [e.violation.details.point, e.violation.details.lateByMs]),
    [['CP2', 20 * 60_000]],
  );
});

test('the whole plan swept: coverage 1 and nothing unswept; no SWEEP_COVERAGE either', (t) => {
  const fixes = day(1000, local(8, 10), local(24, 10));
  const row = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, LATER);
  t.is(row.sweeps[0]!.coverage, 1);
  t.deepEqual(row.sweeps[0]!.unswept.coordinates, []);
  t.is(row.onTime, 2);
  const r = runPlans([...fixes, ...ticks(local(27))]);
  t.deepEqual(
    r.events.map((e) => e.violation.code).filter((c) => SAN.includes(c)),
    [],
  );
});

test('a window without a visit is pending until its grace has passed, then missed (as MISSED_COLLECTION decides)', (t) => {
  const fixes = day(1000, undefined, local(24, 10));
  const deadline = local(9, 30);
  const before = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, deadline);
  t.like(before, { onTime: 1, missed: 0, pending: 1 });
  t.like(before.collections[0], { point: 'CP1', status: 'pending' });
  const after = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, deadline + 1);
  t.like(after, { onTime: 1, missed: 1, pending: 0 });
  t.like(after.collections[0], {
    point: 'CP1',
    status: 'missed',
    windowStart: local(8),
    windowEnd: local(8, 30),
  });
  t.is(after.collections[0]!.visitTs, undefined);
  // a shift still on is reported so far
  const during = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, fixes, local(6, 30));
  t.false(during.sweeps[0]!.ended);
  const before9 = fixes.filter((f) => f.ts < deadline);
  const r = runPlans([...before9, ...ticks(deadline), ...fixes.slice(before9.length), ...ticks(local(27))]);
  const opened = r.log.filter((l) => l.event.phase === 'opened' && SAN.includes(l.event.violation.code));
  t.deepEqual(
    opened.map((l) => [l.event.violation.code, l.event.violation.details.point, l.at]),
    [['MISSED_COLLECTION', 'CP1', local(10)]],
    'not at the deadline itself: at the first fix after it',
  );
});

test('15 m noise, duplicates, out-of-order and invalid fixes: the same figures as the ordered track, for every seed', (t) => {
  for (let seed = 1; seed <= 10; seed++) {
    const noisy = withNoise(day(390, local(8, 10), local(24, 40)), seed);
    const want = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, noisy, LATER);
    // every fix twice, shuffled, and an invalid fix on the unswept road (never sweeps)
    const shuffled = [...noisy, ...noisy.slice(0, 40)]
      .map((f, i) => ({ f, k: (i * 7919) % 101 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.f);
    shuffled.push({ ...uf('S1', local(6, 40, 1), 800, 1000, SWEEP), valid: false });
    const got = coverageDayRow(PLAN_WORLD, 'F1', 'S1', DAY, shuffled, LATER);
    t.deepEqual(got, want, `seed ${seed}`);
    t.like(want, { onTime: 1, late: 1 }, `seed ${seed}`);
    t.true(Math.abs(want.sweeps[0]!.sweptM - 400) <= 40, `seed ${seed}: ${want.sweeps[0]!.sweptM}`);
    // and the rule on the noisy track swept the same length
    const r = runPlans([...noisy, ...ticks(local(27))]);
    const cov = r.events.find((e) => e.violation.code === 'SWEEP_COVERAGE')!.violation;
    t.is(cov.details.sweptM, want.sweeps[0]!.sweptM, `seed ${seed}`);
  }
});

test('another firm’s plans are not in a firm’s row; a vehicle without plans has none', (t) => {
  const row = coverageDayRow(PLAN_WORLD, 'F2', 'S1', DAY, day(390), LATER);
  t.deepEqual([row.sweeps, row.collections, row.coverage], [[], [], null]);
});
