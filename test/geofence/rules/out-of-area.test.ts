/**
 * OUT_OF_AREA (geofence/rules/out-of-area.ts): the rule's tests, on the worlds of
 * test/support/rules/plans-matrix.ts, sanitation.ts.
 */
import test from 'ava';
import { codes, runPlans, uf, walk } from '../../support/plans-matrix.ts';
import { withNoise } from '../../support/rules/matrix/perturb.ts';
import { night, SWEEP } from '../../support/rules/plans-matrix.ts';
import { SWEEP as SWEEPSanitation, sweepDay } from '../../support/rules/sanitation.ts';
import { local } from '../../support/rules/track-kit.ts';

test('OUT_OF_AREA on a shift across midnight: off the plan at 00:30 is a violation, at 02:30 nothing', (t) => {
  const off = (t0: number) => [
    ...walk('S2', t0, [0, 1000], [200, 1000], 10, 10_000, SWEEP),
    ...walk('S2', t0 + 90_000, [200, 1200], [400, 1200], 6, 10_000, SWEEP),
    ...walk('S2', t0 + 220_000, [400, 1000], [600, 1000], 10, 10_000, SWEEP),
  ];
  const start = [uf('S2', local(21, 50), 0, 0)];
  const inShift = night([...start, ...off(local(24, 30))]);
  t.deepEqual(codes(inShift.log, 'OUT_OF_AREA'), [
    `OUT_OF_AREA:opened:${local(24, 30) + 90_000}-`,
    `OUT_OF_AREA:closed:${local(24, 30) + 90_000}-${local(24, 30) + 220_000}`,
  ]);
  t.deepEqual(codes(night([...start, ...off(local(26, 30))]).log, 'OUT_OF_AREA'), []);
});

// ------------------------------------------------------------------------------------------------ OUT_OF_AREA

test('OUT_OF_AREA: sweeping 200 m off the plan in its shift for 2 min; ends 30 s after coming back', (t) => {
  const T = local(6, 10);
  const fixes = [
    ...walk('S1', T, [0, 1000], [200, 1000], 10, 10_000, SWEEPSanitation),
    ...walk('S1', T + 90_000, [200, 1200], [400, 1200], 6, 10_000, SWEEPSanitation),
    ...walk('S1', T + 220_000, [400, 1000], [600, 1000], 10, 10_000, SWEEPSanitation),
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
  const afterShift = walk('S1', local(7, 10), [200, 1200], [600, 1200], 6, 10_000, SWEEPSanitation);
  t.deepEqual(codes(runPlans(brushUp).log, 'OUT_OF_AREA'), []);
  t.deepEqual(codes(runPlans(afterShift).log, 'OUT_OF_AREA'), []);
  for (let seed = 1; seed <= 20; seed++) {
    t.deepEqual(codes(runPlans(withNoise(sweepDay(1000), seed)).log, 'OUT_OF_AREA'), [], `seed ${seed}`);
  }
});
