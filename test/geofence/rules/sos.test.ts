/**
 * SOS (geofence/rules/sos.ts): the rule's tests, on the worlds of
 * test/support/rules/camera.ts.
 */
import test from 'ava';
import { codes, runPlans } from '../../support/plans-matrix.ts';
import { CAM, patrol } from '../../support/rules/camera.ts';
import { local } from '../../support/rules/track-kit.ts';

// ------------------------------------------------------------------------------------------------------ SOS

test('SOS: immediate at the first fix with the button pressed, top priority, on duty or not; ends when released', (t) => {
  const T = local(9);
  const fixes = patrol(T, 5, (i) => ({ sos: i >= 4 && i < 10 }));
  const r = runPlans(fixes);
  t.deepEqual(codes(r.log, ...CAM), [`SOS:opened:${T + 60_000}-`, `SOS:closed:${T + 60_000}-${T + 150_000}`]);
  const v = r.events[0]!.violation;
  t.is(v.level, 2);
  t.is(v.details.priority, 'critical');
  t.is(v.details.onDuty, true);
  t.true(v.refs.some((x) => x.kind === 'duty_plan' && x.id === 'DP1'));
  const off = runPlans(patrol(local(20), 2, (i) => ({ sos: i === 3 })));
  t.is(codes(off.log, 'SOS').length, 2);
  t.is(off.events[0]!.violation.details.onDuty, false);
});
