import test from 'ava';
import { codes, runPlans, runWithRestarts, walk } from '../../support/plans-matrix.ts';
import { CAM, OK, patrol, ticks } from '../../support/rules/camera.ts';
import { redelivered, swapped } from '../../support/rules/matrix/perturb.ts';
import { type Item, local } from '../../support/rules/track-kit.ts';

test('the duty of the officer wearing the camera counts: C2 worn by off-2 is judged on DP1', (t) => {
  const fixes = walk('C2', local(9), [0, -2000], [0, -1000], 5, 15_000, { ...OK, officer: 'off-2' });
  t.deepEqual(codes(runPlans(fixes).log, 'OUT_OF_GRID').length, 1);
  const other = walk('C2', local(9), [0, -2000], [0, -1000], 5, 15_000, { ...OK, officer: 'off-9' });
  t.deepEqual(codes(runPlans(other).log, 'OUT_OF_GRID'), []);
});

// --------------------------------------------------------------------------------------------- robustness

test('cameras: duplicates, late copies, swapped pairs and restarts give the same violations', (t) => {
  const T = local(9);
  const items: Item[] = [
    ...patrol(T, 30, (i) => ({
      recording: !(i >= 8 && i < 40),
      battery: i >= 50 && i < 70 ? 12 : 70,
      sos: i >= 90 && i < 95,
    })),
    ...walk('C1', T + 30 * 60_000, [0, -3000], [0, -2000], 5, 15_000, OK),
    ...ticks(T + 25 * 3_600_000),
  ];
  const want = codes(runPlans(items).log, ...CAM);
  // NOT_RECORDING, LOW_BATTERY, SOS, OUT_OF_GRID; then silent: NOT_UPLOADED, and OFFLINE in the next shift
  t.is(want.filter((x) => x.includes(':opened:')).length, 6, want.join('\n'));
  t.deepEqual(codes(runPlans(redelivered(items, 9)).log, ...CAM), want);
  const { delivery, judged } = swapped(items, 11);
  t.deepEqual(codes(runPlans(delivery).log, ...CAM), codes(runPlans(judged).log, ...CAM));
  t.deepEqual(codes(runWithRestarts(items, 13), ...CAM), want);
});
