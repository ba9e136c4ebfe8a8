/**
 * LATE_COLLECTION (geofence/rules/late-collection.ts): the rule's tests, on the worlds of
 * test/support/rules/sanitation.ts.
 */
import test from 'ava';
import { codes, runPlans } from '../../support/plans-matrix.ts';
import { lifecycleProblems } from '../../support/rules/matrix/run.ts';
import { collectionDay, SAN, ticks } from '../../support/rules/sanitation.ts';
import { local } from '../../support/rules/track-kit.ts';

test('LATE_COLLECTION: the first visit after the window (within the grace) is late by its distance to the end', (t) => {
  const visit = local(8, 45);
  const r = runPlans([...collectionDay(visit), ...ticks(local(10), local(12))]);
  t.deepEqual(codes(r.log, ...SAN), [
    `LATE_COLLECTION:opened:${local(8, 30)}-`,
    `LATE_COLLECTION:closed:${local(8, 30)}-${visit}`,
  ]);
  const v = r.events[1]!.violation;
  t.is(v.id, `S1:LATE_COLLECTION:${local(8, 30)}:CP1`);
  t.is(v.details.lateByMs, 15 * 60_000);
  t.is(v.details.point, 'CP1');
  t.is(v.details.binsExpected, 4);
  t.true(v.refs.some((x) => x.kind === 'collection_point' && x.id === 'CP1' && x.version === 2));
  t.deepEqual(lifecycleProblems(r.events), []);
});
