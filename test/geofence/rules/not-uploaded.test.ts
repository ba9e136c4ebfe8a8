/**
 * NOT_UPLOADED (geofence/rules/not-uploaded.ts): the rule's tests, on the worlds of
 * test/support/rules/camera.ts.
 */
import test from 'ava';
import { codes, runPlans, uf } from '../../support/plans-matrix.ts';
import { OK, patrol, ticks } from '../../support/rules/camera.ts';
import { type Item, local } from '../../support/rules/track-kit.ts';

// ------------------------------------------------------------------------------------------------ NOT_UPLOADED

test('NOT_UPLOADED: footage not docked within 24 h of the first recording (the tick decides it); docking ends it', (t) => {
  const T = local(9);
  const day = patrol(T, 10);
  const dockAt = T + 26 * 3_600_000;
  const items: Item[] = [
    ...day,
    ...ticks(T + 24 * 3_600_000, T + 24 * 3_600_000 + 5_000),
    uf('C1', dockAt, 10, -3010, { ...OK, recording: false, docked: true }),
  ];
  const r = runPlans(items);
  const due = T + 24 * 3_600_000;
  t.deepEqual(codes(r.log, 'NOT_UPLOADED'), [
    `NOT_UPLOADED:opened:${due}-`,
    `NOT_UPLOADED:closed:${due}-${dockAt}`,
  ]);
  const closed = r.events.find((e) => e.phase === 'closed' && e.violation.code === 'NOT_UPLOADED')!.violation;
  t.is(closed.details.station, 'US1');
  t.true(closed.refs.some((x) => x.kind === 'upload_station' && x.id === 'US1'));
  // docked the same evening: nothing
  const docked: Item[] = [
    ...day,
    uf('C1', T + 8 * 3_600_000, 0, -3000, { ...OK, docked: true }),
    ...ticks(T + 30 * 3_600_000),
  ];
  t.deepEqual(codes(runPlans(docked).log, 'NOT_UPLOADED'), []);
});
