/**
 * LOW_BATTERY (geofence/rules/low-battery.ts): the rule's tests, on the worlds of
 * test/support/rules/camera.ts.
 */
import test from 'ava';
import { codes, runPlans } from '../../support/plans-matrix.ts';
import { CAM, patrol } from '../../support/rules/camera.ts';
import { local } from '../../support/rules/track-kit.ts';

// ------------------------------------------------------------------------------------- LOW_BATTERY / STORAGE

test('LOW_BATTERY: under 20 % on duty for a minute over two fixes; a single low reading is a glitch', (t) => {
  const T = local(9);
  const r = runPlans(patrol(T, 10, (i) => ({ battery: i >= 10 && i < 30 ? 15 - (i % 3) : 60 })));
  t.deepEqual(codes(r.log, ...CAM), [
    `LOW_BATTERY:opened:${T + 10 * 15_000}-`,
    `LOW_BATTERY:closed:${T + 10 * 15_000}-${T + 30 * 15_000}`,
  ]);
  t.is(r.events[1]!.violation.details.min_battery, 13);
  const glitch = runPlans(patrol(T, 10, (i) => ({ battery: i === 10 ? 5 : 60 })));
  t.deepEqual(codes(glitch.log, ...CAM), []);
});
