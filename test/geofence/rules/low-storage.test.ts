/**
 * LOW_STORAGE (geofence/rules/low-storage.ts): the rule's tests, on the worlds of
 * test/support/rules/camera.ts.
 */
import test from 'ava';
import { codes, runPlans, uf } from '../../support/plans-matrix.ts';
import { CAM, OK, patrol } from '../../support/rules/camera.ts';
import { local } from '../../support/rules/track-kit.ts';

test('LOW_STORAGE: under 1 GB free on duty; ends when docked', (t) => {
  const T = local(9);
  const fixes = patrol(T, 6, (i) => ({ storageFree: i >= 4 ? 500 : 4000 }));
  fixes.push(uf('C1', T + 6 * 60_000, 0, -3000, { ...OK, storageFree: 500, docked: true }));
  const r = runPlans(fixes);
  t.deepEqual(codes(r.log, ...CAM), [
    `LOW_STORAGE:opened:${T + 60_000}-`,
    `LOW_STORAGE:closed:${T + 60_000}-${T + 6 * 60_000}`,
  ]);
});
