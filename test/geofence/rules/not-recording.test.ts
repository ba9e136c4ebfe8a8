/**
 * NOT_RECORDING (geofence/rules/not-recording.ts): the rule's tests, on the worlds of
 * test/support/rules/camera.ts.
 */
import test from 'ava';
import type { Fix } from '../../../core/fix.ts';
import { codes, runPlans } from '../../support/plans-matrix.ts';
import { CAM, patrol } from '../../support/rules/camera.ts';
import { lifecycleProblems } from '../../support/rules/matrix/run.ts';
import { local } from '../../support/rules/track-kit.ts';

// ------------------------------------------------------------------------------------------- NOT_RECORDING

test('NOT_RECORDING: on duty and not recording for more than 5 min; ends at the first recording fix', (t) => {
  const T = local(9);
  const r = runPlans(patrol(T, 12, (i) => ({ recording: !(i >= 8 && i < 40) })));
  const from = T + 8 * 15_000;
  t.deepEqual(codes(r.log, ...CAM), [
    `NOT_RECORDING:opened:${from}-`,
    `NOT_RECORDING:closed:${from}-${T + 40 * 15_000}`,
  ]);
  t.is(r.log[0]!.at, from + 5 * 60_000);
  t.deepEqual(lifecycleProblems(r.events), []);
});

test('NOT_RECORDING negatives: 4 min without recording, off duty all evening, no recording field', (t) => {
  t.deepEqual(
    codes(runPlans(patrol(local(9), 12, (i) => ({ recording: !(i >= 8 && i < 24) }))).log, ...CAM),
    [],
  );
  t.deepEqual(codes(runPlans(patrol(local(18), 30, () => ({ recording: false }))).log, ...CAM), []);
  const blank = patrol(local(9), 12).map(({ recording: _r, ...f }) => f as Fix);
  t.deepEqual(codes(runPlans(blank).log, ...CAM), []);
});

test('NOT_RECORDING ends at once when the shift ends (12:00)', (t) => {
  const r = runPlans(patrol(local(11, 50), 20, () => ({ recording: false })));
  t.deepEqual(codes(r.log, 'NOT_RECORDING'), [
    `NOT_RECORDING:opened:${local(11, 50)}-`,
    `NOT_RECORDING:closed:${local(11, 50)}-${local(12)}`,
  ]);
});
