/**
 * OUT_OF_GRID (geofence/rules/out-of-grid.ts): the rule's tests, on the worlds of
 * test/support/rules/camera.ts, plans-matrix.ts.
 */
import test from 'ava';
import { codes, runPlans, stay, walk } from '../../support/plans-matrix.ts';
import { CAM, OK } from '../../support/rules/camera.ts';
import { withNoise } from '../../support/rules/matrix/perturb.ts';
import { lifecycleProblems } from '../../support/rules/matrix/run.ts';
import { night, patrol } from '../../support/rules/plans-matrix.ts';
import { local } from '../../support/rules/track-kit.ts';

// --------------------------------------------------------------------------------------------- OUT_OF_GRID

test('OUT_OF_GRID: 300 m outside the grid on duty for 4 min; ends 30 s after coming back', (t) => {
  const T = local(9);
  const fixes = [...walk('C1', T, [0, -3000], [0, -2300], 5, 15_000, OK)];
  const outAt = fixes.find((f) => f.lat > 0 && f.ts > 0 && (f.lat - fixes[0]!.lat) * 111_000 > 500 + 15)!.ts;
  const end = fixes[fixes.length - 1]!.ts;
  fixes.push(...stay('C1', end + 15_000, [0, -2300], 16, 15_000, OK));
  const t2 = end + 17 * 15_000;
  const back = walk('C1', t2, [0, -2300], [0, -3000], 5, 15_000, OK);
  fixes.push(...back);
  const r = runPlans(fixes);
  const log = r.log.filter((l) => l.event.violation.code === 'OUT_OF_GRID');
  t.is(log.length, 2);
  t.true(
    Math.abs(log[0]!.event.violation.startTs - outAt) <= 15_000,
    'starts at the first fix clearly outside',
  );
  const inside = back.find((f) => (f.lat - fixes[0]!.lat) * 111_000 <= 500)!.ts;
  t.true(Math.abs(log[1]!.event.violation.endTs! - inside) <= 15_000, 'ends at the first fix back');
  t.true(log[1]!.at >= log[1]!.event.violation.endTs! + 30_000);
  t.true((log[1]!.event.violation.details.maxOutsideM as number) > 150);
  t.deepEqual(lifecycleProblems(r.events), []);
});

test('OUT_OF_GRID negatives: patrolling 10 m inside the edge with 15 m noise; outside but off duty', (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const edge = withNoise(walk('C1', local(9), [-490, -3490], [-490, -2510], 4, 15_000, OK), seed);
    t.deepEqual(codes(runPlans(edge).log, ...CAM), [], `seed ${seed}`);
  }
  const evening = walk('C1', local(19), [0, -2300], [0, -1000], 5, 15_000, OK);
  t.deepEqual(codes(runPlans(evening).log, ...CAM), []);
});

test('OUT_OF_GRID and NOT_RECORDING across a gap: a run holds over a silence (outside / not recording before and after), a fix inside / recording after it ends it', (t) => {
  const T = local(9);
  const outside = [
    ...patrol(T, 2),
    ...patrol(T + 2 * 60_000, 1, () => ({ x: 800 })),
    // 5 min silent, then outside again: the run counts from its first fix (3 min and 3 fixes are met)
    ...patrol(T + 8 * 60_000, 1, () => ({ x: 800 })),
    ...patrol(T + 9 * 60_000, 2),
  ].map((f) => ({ ...f, vehicle: 'C1' }));
  t.deepEqual(codes(night(outside).log, 'OUT_OF_GRID'), [
    `OUT_OF_GRID:opened:${T + 2 * 60_000}-`,
    `OUT_OF_GRID:closed:${T + 2 * 60_000}-${T + 9 * 60_000}`,
  ]);
  // outside before the silence, inside after it: no run of 3 min outside was heard
  const back = [
    ...patrol(T, 2),
    ...patrol(T + 2 * 60_000, 1, () => ({ x: 800 })),
    ...patrol(T + 8 * 60_000, 3),
  ].map((f) => ({ ...f, vehicle: 'C1' }));
  t.deepEqual(codes(night(back).log, 'OUT_OF_GRID'), []);
  // not recording for 2 min, 5 min silent, recording again: no NOT_RECORDING (the next fix records)
  const rec = [...patrol(T, 2, () => ({ recording: false })), ...patrol(T + 7 * 60_000, 3)].map((f) => ({
    ...f,
    vehicle: 'C1',
  }));
  t.deepEqual(codes(night(rec).log, 'NOT_RECORDING'), []);
});
