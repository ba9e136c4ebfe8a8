import test from 'ava';
import { codes } from '../../support/plans-matrix.ts';
import { lifecycleProblems } from '../../support/rules/matrix/run.ts';
import { night, patrol, ticks } from '../../support/rules/plans-matrix.ts';
import { local } from '../../support/rules/track-kit.ts';

test('camera duty across midnight: NOT_RECORDING and OUT_OF_GRID after midnight in the 22:00-02:00 shift; none after 02:00', (t) => {
  const shift = [
    ...patrol(local(23, 50), 10),
    // 00:30-00:40 not recording, 01:00-01:05 700 m east of the grid's centre (200 m outside)
    ...patrol(local(24, 30), 10, () => ({ recording: false })),
    ...patrol(local(24, 40), 20),
    ...patrol(local(25), 5, () => ({ x: 700 })),
    ...patrol(local(25, 5), 10),
  ];
  const r = night(shift);
  t.deepEqual(codes(r.log, 'NOT_RECORDING', 'OUT_OF_GRID'), [
    `NOT_RECORDING:opened:${local(24, 30)}-`,
    `NOT_RECORDING:closed:${local(24, 30)}-${local(24, 40)}`,
    `OUT_OF_GRID:opened:${local(25)}-`,
    `OUT_OF_GRID:closed:${local(25)}-${local(25, 5)}`,
  ]);
  t.deepEqual(lifecycleProblems(r.events), []);
  const afterShift = night([
    ...patrol(local(26, 30), 10, () => ({ recording: false })),
    ...patrol(local(26, 40), 5, () => ({ x: 700 })),
  ]);
  t.deepEqual(codes(afterShift.log, 'NOT_RECORDING', 'OUT_OF_GRID'), []);
});

test('camera OFFLINE on a shift across midnight: silent from 01:00 is OFFLINE at 01:10; silent from 02:00 is not', (t) => {
  const r = night([...patrol(local(24, 50), 10), ...ticks(local(25, 10), local(25, 10, 1))]);
  const last = local(25) - 15_000;
  t.deepEqual(codes(r.log, 'OFFLINE'), [`OFFLINE:opened:${last + 600_000}-`]);
  const after = night([...patrol(local(25, 50), 10), ...ticks(local(26, 30), local(27))]);
  t.deepEqual(codes(after.log, 'OFFLINE'), []);
});
