/**
 * SWEEP_OVERSPEED (geofence/rules/sweep-overspeed.ts): the rule's tests, on the worlds of
 * test/support/rules/plans-matrix.ts, sanitation.ts.
 */
import test from 'ava';
import { codes, runPlans, uf, walk } from '../../support/plans-matrix.ts';
import { redelivered, swapped, withNoise } from '../../support/rules/matrix/perturb.ts';
import { night, nightWithRestarts, SWEEP, ticks } from '../../support/rules/plans-matrix.ts';
import { SWEEP as SWEEPSanitation } from '../../support/rules/sanitation.ts';
import { type Item, local } from '../../support/rules/track-kit.ts';

// -------------------------------------------------------------------- duplicates, swaps, restarts, noise

test('SWEEP_OVERSPEED and OUT_OF_AREA: duplicates, late copies, swapped pairs, restarts and 15 m noise give the same violations', (t) => {
  const T = local(6, 10);
  const fixes = [
    uf('S1', local(5, 55), 0, 0),
    ...walk('S1', T, [0, 1000], [200, 1000], 10, 10_000, SWEEP),
    // 40 s sweeping at 25 km/h: SWEEP_OVERSPEED
    ...walk('S1', T + 130_000, [200, 1000], [480, 1000], 25, 10_000, SWEEP),
    // 2 min sweeping 200 m off the plan: OUT_OF_AREA
    ...walk('S1', T + 200_000, [480, 1200], [680, 1200], 6, 10_000, SWEEP),
    ...walk('S1', T + 330_000, [680, 1000], [1000, 1000], 10, 10_000, SWEEP),
  ];
  const items: Item[] = [...fixes, ...ticks(local(7))];
  const SAN = ['SWEEP_OVERSPEED', 'OUT_OF_AREA'];
  const want = codes(night(items).log, ...SAN);
  t.deepEqual(
    want.filter((c) => c.includes(':opened:')).map((c) => c.split(':')[0]),
    ['SWEEP_OVERSPEED', 'OUT_OF_AREA'],
    want.join('\n'),
  );
  t.deepEqual(codes(night(redelivered(items, 4)).log, ...SAN), want);
  const { delivery, judged } = swapped(items, 6);
  t.deepEqual(codes(night(delivery).log, ...SAN), codes(night(judged).log, ...SAN));
  t.deepEqual(codes(nightWithRestarts(items, 5), ...SAN), want);
  for (let seed = 1; seed <= 10; seed++) {
    const noisy: Item[] = [...withNoise(fixes, seed), ...ticks(local(7))];
    t.deepEqual(
      codes(night(noisy).log, ...SAN).map((c) => c.split(':').slice(0, 2).join(':')),
      want.map((c) => c.split(':').slice(0, 2).join(':')),
      `seed ${seed}`,
    );
  }
});

test('SWEEP_OVERSPEED: sweeping over 15 km/h for 30 s opens at the first fast fix; slowing down closes it', (t) => {
  const T = local(6, 10);
  const fixes = [
    ...walk('S1', T, [0, 1000], [100, 1000], 10, 10_000, SWEEPSanitation),
    ...walk('S1', T + 60_000, [110, 1000], [400, 1000], 22, 5_000, SWEEPSanitation),
    ...walk('S1', T + 120_000, [420, 1000], [500, 1000], 10, 10_000, SWEEPSanitation),
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
  const b = walk('S1', T, [0, 1000], [1000, 1000], 15, 10_000, SWEEPSanitation);
  const c = [
    ...walk('S1', T, [0, 1000], [50, 1000], 10, 10_000, SWEEPSanitation),
    ...walk('S1', T + 30_000, [60, 1000], [200, 1000], 20, 5_000, SWEEPSanitation).slice(0, 6),
    ...walk('S1', T + 60_000, [200, 1000], [300, 1000], 10, 10_000, SWEEPSanitation),
  ];
  for (const fixes of [a, b, c]) t.deepEqual(codes(runPlans(fixes).log, 'SWEEP_OVERSPEED'), []);
});

test('SWEEP_OVERSPEED across a gap: a 10 min silence restarts the run', (t) => {
  const T = local(6, 10);
  const fixes = [
    uf('S1', T, 0, 1000, { ...SWEEPSanitation, speed: 20 }),
    uf('S1', T + 20_000, 50, 1000, { ...SWEEPSanitation, speed: 20 }),
    uf('S1', T + 620_000, 500, 1000, { ...SWEEPSanitation, speed: 20 }),
    uf('S1', T + 640_000, 550, 1000, { ...SWEEPSanitation, speed: 20 }),
    uf('S1', T + 655_000, 600, 1000, { ...SWEEPSanitation, speed: 20 }),
    uf('S1', T + 665_000, 620, 1000, { ...SWEEPSanitation, speed: 8 }),
  ];
  t.deepEqual(codes(runPlans(fixes).log, 'SWEEP_OVERSPEED'), [
    `SWEEP_OVERSPEED:opened:${T + 620_000}-`,
    `SWEEP_OVERSPEED:closed:${T + 620_000}-${T + 665_000}`,
  ]);
});
