/**
 * Late fixes judged in the vehicle's time order (issue 17, geofence/backfill.ts): the same fixes in any
 * arrival order and batching give the same final violations and trips, and the differences a re-judging
 * publishes are withdrawals, openings with true times and updates.
 *
 * The property: the demo scenario fleet (20 muck trucks, one rule broken per truck, 90 minutes of real
 * simulated tracks with 15 m noise) judged once in time order, then again with each truck's fixes cut
 * into random batches delivered in a random order (seeded), must leave the consumers (a store keeping
 * the latest event per id) with the same standing violations and trips. `detectedTs` (the instant the
 * engine raised a violation) is left out of the comparison: a violation found at its third outside fix
 * in time order may be raised at a later fix when that third one arrives late, and a re-judging does not
 * republish a violation for that alone.
 */
import test from 'ava';
import { decodeHistoryFix, encodeHistoryFix } from '../../compliance/history-fix-codec.ts';
import type { Fix } from '../../core/fix.ts';
import { rejudge } from '../../geofence/backfill.ts';
import { createRng } from '../../simulators/shared/rng.ts';
import { VehicleHarness } from '../support/backfill-harness.ts';
import {
  blindAreas,
  detourTrack,
  inOrder,
  judge,
  matrixJudge,
  reference,
  shuffled,
  tracks,
  world,
} from '../support/geofence/backfill.ts';
import { FULL, Trk } from '../support/rules/matrix/tracks.ts';
import { WORLD as MATRIX } from '../support/rules/matrix/world.ts';
import { local } from '../support/rules/track-kit.ts';

test('the scenario tracks exercise the rules (or the permutations below prove nothing)', (t) => {
  const codes = new Set<string>();
  let trips = 0;
  for (const h of reference.values()) {
    for (const e of h.view.values()) codes.add(e.violation.code);
    trips += h.finalTrips().length;
  }
  t.true(codes.size >= 8, `violation codes: ${[...codes].join(', ')}`);
  t.log(`codes ${[...codes].join(' ')}, trips ${trips}`);
  t.true(trips >= 10, `trips: ${trips}`);
});

for (const seed of [1, 2, 3, 4]) {
  test(`random batches in random order (seed ${seed}): the same final violations and trips as in time order`, (t) => {
    const rng = createRng(seed);
    let rejudgings = 0;
    let withdrawn = 0;
    for (const [vehicle, fixes] of tracks) {
      const h = shuffled(vehicle, fixes, rng.fork(vehicle), seed % 2 === 0 ? 5 : 40);
      const ref = reference.get(vehicle)!;
      t.deepEqual(h.finalViolations(), ref.finalViolations(), `violations of ${vehicle}`);
      t.deepEqual(h.finalTrips(), ref.finalTrips(), `trips of ${vehicle}`);
      rejudgings += h.rejudgings;
      withdrawn += h.published.filter((e) => e.phase === 'withdrawn').length;
    }
    // the arrival order mattered along the way: partial views raised verdicts that were withdrawn
    t.log(`re-judgings ${rejudgings}, withdrawn ${withdrawn}`);
    t.true(rejudgings > 100, `re-judgings: ${rejudgings}`);
    t.true(withdrawn > 0, `withdrawn along the way: ${withdrawn}`);
  });
}

for (const seed of [11, 12]) {
  test(`blind areas delivered after the live fix (seed ${seed}): the same final violations and trips`, (t) => {
    const rng = createRng(seed);
    let withdrawnGaps = 0;
    for (const [vehicle, fixes] of tracks) {
      const h = blindAreas(vehicle, fixes, rng.fork(vehicle));
      const ref = reference.get(vehicle)!;
      t.deepEqual(h.finalViolations(), ref.finalViolations(), `violations of ${vehicle}`);
      t.deepEqual(h.finalTrips(), ref.finalTrips(), `trips of ${vehicle}`);
      withdrawnGaps += h.published.filter(
        (e) => e.phase === 'withdrawn' && e.violation.code === 'TRACK_GAP',
      ).length;
    }
    // a blind area over 5 minutes while moving was a TRACK_GAP until its batch filled it
    t.true(withdrawnGaps > 0, `TRACK_GAPs withdrawn by backfill: ${withdrawnGaps}`);
  });
}

test('duplicates in a late batch change nothing; a batch of nothing new publishes nothing', (t) => {
  const [vehicle, fixes] = [...tracks][0]!;
  const h = inOrder(vehicle, fixes);
  const before = h.published.length;
  h.deliver(fixes.slice(100, 160));
  t.is(h.duplicates, 60);
  t.is(h.published.length, before);
  t.deepEqual(h.finalViolations(), reference.get(vehicle)!.finalViolations());
});

test('a re-judging with no late fix at all changes nothing: no entries to write, nothing to publish', (t) => {
  const [vehicle, fixes] = [...tracks][3]!;
  const h = inOrder(vehicle, fixes);
  const r = rejudge(judge, {
    vehicle,
    base: undefined,
    judged: fixes,
    emitted: h.emitted,
    late: [fixes[10]!, fixes[10]!],
    world,
  });
  t.like(r, { judgedLate: 0, duplicates: 2, entries: [], emitted: [], events: [], trips: [] });
});

test('a detour inside a blind area, the batch arriving after the live fix: OFF_ROUTE with its true times, the TRACK_GAP withdrawn', (t) => {
  const fixes = detourTrack();
  const ref = new VehicleHarness(matrixJudge, 'V1', MATRIX);
  for (const f of fixes) ref.deliver([f]);
  const offRoute = [...ref.view.values()].filter((e) => e.violation.code === 'OFF_ROUTE');
  t.is(offRoute.length, 1, 'in time order the detour is an OFF_ROUTE');

  // coverage lost from fix 10 to fix 40 (5 minutes): the live fix after it first, then the batch
  const h = new VehicleHarness(matrixJudge, 'V1', MATRIX);
  for (const f of fixes.slice(0, 10)) h.deliver([f]);
  h.deliver([fixes[40]!]);
  t.deepEqual(
    [...h.view.values()].map((e) => e.violation.code).sort(),
    ['TRACK_GAP'],
    "before the batch: 5 minutes without a fix while moving (within OFFLINE's 10 minutes)",
  );
  t.false(
    [...h.view.values()].some((e) => e.violation.code === 'OFF_ROUTE'),
    'and no detour seen',
  );
  const published = h.published.length;
  h.deliver(fixes.slice(10, 40)); // JT/T 808 0x0704 type 1: the buffered minutes as one batch
  const diff = h.published.slice(published);
  t.deepEqual(
    diff.map((e) => [e.phase, e.violation.code, e.rejudged?.lateTs]),
    [
      ['withdrawn', 'TRACK_GAP', fixes[10]!.ts],
      ['opened', 'OFF_ROUTE', fixes[10]!.ts],
      ['closed', 'OFF_ROUTE', fixes[10]!.ts],
    ],
  );
  t.deepEqual(diff[0]!.violation.withdrawal, { reason: 'backfill', lateTs: fixes[10]!.ts });
  const closed = diff[2]!.violation;
  t.is(closed.startTs, offRoute[0]!.violation.startTs, 'the true onset');
  t.is(closed.endTs, offRoute[0]!.violation.endTs, 'the true end');
  for (const f of fixes.slice(41)) h.deliver([f]);
  t.deepEqual(h.finalViolations(), ref.finalViolations());
});

test('an OFFLINE a live tick raised is withdrawn when the batch fills the silence; one it leaves is re-dated', (t) => {
  const tr = new Trk('V1', local(23), 300, 0, FULL);
  tr.roll(150, 30); // 25 minutes on the route
  const fixes = tr.fixes;
  const h = new VehicleHarness(matrixJudge, 'V1', MATRIX);
  for (const f of fixes.slice(0, 6)) h.deliver([f]);
  // silent: the tick 11 minutes after the last fix finds it OFFLINE (ignition on, 10 minutes allowed)
  h.tick(fixes[5]!.ts + 11 * 60_000);
  const offline = [...h.view.values()].filter((e) => e.violation.code === 'OFFLINE');
  t.deepEqual(
    offline.map((e) => [e.phase, e.violation.startTs]),
    [['opened', fixes[5]!.ts + 600_000]],
  );
  // the live fix comes back first (closing it), then the buffered fixes of the silence, all but one
  // stretch of 640 s (a real silence of more than 10 minutes)
  h.deliver([fixes[100]!]);
  h.deliver([...fixes.slice(6, 12), ...fixes.slice(75, 100)]);
  const after = [...h.view.values()].filter((e) => e.violation.code === 'OFFLINE');
  t.deepEqual(
    after.map((e) => [e.phase, e.violation.startTs, e.violation.endTs, e.violation.withdrawal?.supersededBy]),
    [
      // withdrawn as it was last published: closed by the live fix
      ['withdrawn', fixes[5]!.ts + 600_000, fixes[100]!.ts, `V1:OFFLINE:${fixes[11]!.ts + 600_000}`],
      ['closed', fixes[11]!.ts + 600_000, fixes[75]!.ts, undefined],
    ].sort((a, b) => (a[1] as number) - (b[1] as number)),
  );
});

test('the history stores a fix without its names and gives it back exactly, a field it does not know included', (t) => {
  let n = 0;
  for (const fixes of tracks.values()) {
    for (const fix of fixes) {
      const text = encodeHistoryFix(fix);
      t.deepEqual(decodeHistoryFix(fix.vehicle, fix.ts, text), fix);
      n++;
    }
  }
  t.true(n > 5_000);
  const newer = { ...tracks.values().next().value![0]!, someNewSensor: 42 } as Fix;
  t.deepEqual(decodeHistoryFix(newer.vehicle, newer.ts, encodeHistoryFix(newer)), newer);
  const one = tracks.values().next().value![0]!;
  t.true(encodeHistoryFix(one).length < JSON.stringify(one).length / 2, 'less than half the JSON');
});
