/**
 * MISSED_COLLECTION (geofence/rules/missed-collection.ts): the rule's tests, on the worlds of
 * test/support/rules/sanitation.ts.
 */
import test from 'ava';
import { codes, PLAN_WORLD, runPlans, walk } from '../../support/plans-matrix.ts';
import { collectionDay, SAN, ticks } from '../../support/rules/sanitation.ts';
import { local } from '../../support/rules/track-kit.ts';

test('MISSED_COLLECTION: no visit by the end of the window plus the grace, decided by the silence tick', (t) => {
  const fixes = walk('S1', local(7, 50), [0, 0], [300, 0], 20, 10_000);
  const exact = local(9, 30);
  const r = runPlans([...fixes, ...ticks(local(8, 31), exact, exact + 1000, local(11))]);
  t.deepEqual(codes(r.log, ...SAN), [
    `MISSED_COLLECTION:opened:${local(8)}-`,
    `MISSED_COLLECTION:closed:${local(8)}-${local(8, 30)}`,
  ]);
  const missed = r.log.filter((l) => l.event.violation.code === 'MISSED_COLLECTION');
  t.is(missed[0]!.at, exact + 1000, 'decided after end + grace (60 min), not at it');
  const v = missed[0]!.event.violation;
  t.is(v.id, `S1:MISSED_COLLECTION:${local(8)}:CP1`);
  t.deepEqual(v.startPos, PLAN_WORLD.collectionPointsOf('S1')[0]!.position);
  t.is(v.detectedTs, exact + 1000);
});

test('MISSED_COLLECTION: a visit after the grace is no visit of that window; a fix also decides it', (t) => {
  const r = runPlans(collectionDay(local(9, 40)));
  t.deepEqual(codes(r.log, ...SAN), [
    `MISSED_COLLECTION:opened:${local(8)}-`,
    `MISSED_COLLECTION:closed:${local(8)}-${local(8, 30)}`,
  ]);
});
