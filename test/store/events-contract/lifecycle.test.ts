/**
 * The EventStore contract (store/events-port.ts), a violation's lifecycle: opened, updated and closed keep
 * the latest state and the phase history; batches and replays store each event once and never reopen;
 * re-judged events withdraw, reopen and correct violations and trips.
 * Each case runs against every adapter (test/support/store/events-contract.ts): embedded, influxdb-v1,
 * influxdb-v2 (behind a token-checking 2.x front).
 */
import test from 'ava';
import type { ViolationEvent } from '../../../geofence/types.ts';
import { T0 } from '../../support/evidence-world.ts';
import { eachEventStore } from '../../support/store/events-contract.ts';
import { ids, lifecycle, rec, tripDone, tripStart } from '../../support/store/events-fixtures.ts';

eachEventStore(({ name, h, title }) => {
  test(title('opened → updated → closed keeps the latest state and the phase history'), async (t) => {
    const store = await h().fresh();
    t.is(store.name, name);
    const [opened, updated, closed] = lifecycle({ vehicle: 'truck-1', code: 'OFF_ROUTE', startTs: T0 });
    const id = opened.violation.id;
    t.is(await store.violation(id), undefined);
    t.deepEqual(await store.violationPhases(id), []);

    await store.recordViolation(opened);
    t.deepEqual(await store.violation(id), rec(opened.violation, 'opened'));
    t.deepEqual(ids((await store.violations({ phase: 'ongoing' })).items), [id]);

    await store.recordViolation(updated);
    t.deepEqual(await store.violation(id), rec(updated.violation, 'updated'));

    await store.recordViolation(closed);
    t.deepEqual(await store.violation(id), rec(closed.violation, 'closed'));
    t.deepEqual(await store.violationPhases(id), [
      { seq: 1, phase: 'opened', violation: opened.violation },
      { seq: 2, phase: 'updated', violation: updated.violation },
      { seq: 3, phase: 'closed', violation: closed.violation },
    ]);
    t.deepEqual((await store.violations({ phase: 'ongoing' })).items, []);
    t.deepEqual((await store.violations({ phase: 'closed' })).items, [rec(closed.violation, 'closed')]);
    t.deepEqual(await store.violations(), { items: [rec(closed.violation, 'closed')] });

    // several updates (escalations) are all kept, in order
    const [o2, u2, c2] = lifecycle({ vehicle: 'truck-1', code: 'OVERSPEED', startTs: T0 + 5 });
    const u3: ViolationEvent = { phase: 'updated', violation: { ...u2.violation, level: 2 } };
    const u4: ViolationEvent = {
      phase: 'updated',
      violation: { ...u3.violation, details: { maxSpeedKmh: 72.5 } },
    };
    await store.recordViolations([o2, u2, u3, u4, c2]);
    t.deepEqual(
      (await store.violationPhases(o2.violation.id)).map((p) => [p.seq, p.phase, p.violation.level]),
      [
        [1, 'opened', 0],
        [2, 'updated', 1],
        [3, 'updated', 2],
        [4, 'updated', 2],
        [5, 'closed', 1],
      ],
    );
    t.deepEqual(await store.violation(o2.violation.id), rec(c2.violation, 'closed'));
  });

  test(
    title('a batch spread over 150 vehicles and two codes, replayed in parts, stores each event once'),
    async (t) => {
      const store = await h().fresh();
      // more (vehicle, code) groups than one idempotency read covers (InfluxDB: 50 per request)
      const lives = Array.from({ length: 150 }, (_, i) =>
        lifecycle({ vehicle: `fleet-${i}`, code: i % 2 ? 'OVERSPEED' : 'TRACK_GAP', startTs: T0 + i * 1000 }),
      );
      const batch = lives.flatMap((l) => [l[0], l[2]]);
      await store.recordViolations(batch);
      await store.recordViolations([...batch.slice(100), ...batch.slice(0, 100)]); // a retry, reordered
      await store.recordViolations(lives.map((l) => l[1])); // the updates come late
      for (const l of [lives[0]!, lives[77]!, lives[149]!]) {
        t.deepEqual(
          (await store.violationPhases(l[0].violation.id)).map((p) => [p.seq, p.phase]),
          [
            [1, 'opened'],
            [2, 'closed'],
            [3, 'updated'],
          ],
        );
        t.deepEqual(await store.violation(l[0].violation.id), rec(l[2].violation, 'closed'));
      }
      t.is((await store.violations({ limit: 1000 })).items.length, 150);
    },
  );

  test(title('replaying the same events stores nothing twice and never reopens'), async (t) => {
    const store = await h().fresh();
    const a = lifecycle({ vehicle: 'truck-1', code: 'OFF_ROUTE', startTs: T0 });
    const b = lifecycle({ vehicle: 'truck-2', code: 'OVERLOAD', startTs: T0 + 1_000 });
    const batch = [a[0], b[0], a[1], b[1], a[2], b[2]];
    await store.recordViolations(batch);
    const phasesA = await store.violationPhases(a[0].violation.id);
    const phasesB = await store.violationPhases(b[0].violation.id);
    t.is(phasesA.length, 3);

    await store.recordViolations(batch); // a retry of the whole batch
    for (const e of batch) await store.recordViolation(e); // and one by one
    await store.recordViolations([a[0], a[0], a[1]]); // duplicates inside a batch
    await store.recordViolation(a[0]); // an old phase alone
    t.deepEqual(await store.violationPhases(a[0].violation.id), phasesA);
    t.deepEqual(await store.violationPhases(b[0].violation.id), phasesB);
    t.deepEqual(await store.violation(a[0].violation.id), rec(a[2].violation, 'closed'));
    t.deepEqual(await store.violation(b[0].violation.id), rec(b[2].violation, 'closed'));
    t.deepEqual(ids((await store.violations()).items), [a[0].violation.id, b[0].violation.id]);
    t.deepEqual(ids((await store.violations({ phase: 'ongoing' })).items), []);

    // A new (never seen) lower phase after `closed` joins the history but does not reopen the violation.
    const late: ViolationEvent = {
      phase: 'updated',
      violation: { ...a[1].violation, level: 3, details: { late: true } },
    };
    await store.recordViolation(late);
    const after = await store.violationPhases(a[0].violation.id);
    t.deepEqual(
      after.map((p) => [p.seq, p.phase]),
      [
        [1, 'opened'],
        [2, 'updated'],
        [3, 'closed'],
        [4, 'updated'],
      ],
    );
    t.deepEqual(after[3]!.violation, late.violation);
    t.deepEqual(await store.violation(a[0].violation.id), rec(a[2].violation, 'closed'));
    await store.recordViolation(late);
    t.is((await store.violationPhases(a[0].violation.id)).length, 4);

    // A batch that opens, replays and closes in one go equals recording one by one.
    const c = lifecycle({ vehicle: 'truck-3', code: 'SPILLAGE', startTs: T0 + 2_000 });
    await store.recordViolations([c[0], c[0], c[1], c[0], c[2], c[1]]);
    t.deepEqual(
      (await store.violationPhases(c[0].violation.id)).map((p) => p.phase),
      ['opened', 'updated', 'closed'],
    );
    t.deepEqual(await store.violation(c[0].violation.id), rec(c[2].violation, 'closed'));
    await store.recordViolations([]);
  });

  test(
    title('re-judged events: withdrawn, reopened, corrected; withdrawn left out of lists unless asked for'),
    async (t) => {
      const store = await h().fresh();
      const [opened, , closed] = lifecycle({ vehicle: 'truck-1', code: 'TRACK_GAP', startTs: T0 });
      const id = opened.violation.id;
      await store.recordViolations([opened, closed]);
      const rejudged = { reason: 'backfill' as const, lateTs: T0 + 10 };
      const withdrawn: ViolationEvent = {
        phase: 'withdrawn',
        violation: { ...closed.violation, withdrawal: { reason: 'backfill', lateTs: T0 + 10 } },
        rejudged,
      };
      // a violation kept by another vehicle, to see what the lists leave out
      const [other] = lifecycle({ vehicle: 'truck-2', code: 'OFF_ROUTE', startTs: T0 + 1 });
      await store.recordViolations([withdrawn, other]);
      t.deepEqual(await store.violation(id), rec(withdrawn.violation, 'withdrawn'));
      t.deepEqual(ids((await store.violations()).items), [other.violation.id], 'not listed by default');
      t.deepEqual(ids((await store.violations({ phase: 'closed' })).items), []);
      t.deepEqual(ids((await store.violations({ phase: 'withdrawn' })).items), [id]);
      t.deepEqual(ids((await store.violations({ phase: 'any' })).items), [id, other.violation.id]);
      t.deepEqual(ids((await store.violations({ vehicle: 'truck-1', phase: 'any' })).items), [id]);
      t.deepEqual((await store.violationPhases(id)).at(-1), {
        seq: 3,
        phase: 'withdrawn',
        violation: withdrawn.violation,
        rejudged,
      });
      await store.recordViolation(withdrawn); // a replay
      t.is((await store.violationPhases(id)).length, 3);

      // opened again by a later re-judging with the very content of the first opening: a new event
      const again = { lateTs: T0 + 20, reason: 'backfill' as const };
      await store.recordViolation({ ...opened, rejudged: again });
      t.deepEqual(await store.violation(id), rec(opened.violation, 'opened'));
      t.deepEqual(ids((await store.violations({ phase: 'ongoing' })).items), [id, other.violation.id]);
      // closed by the live fixes (a plain event), then corrected by a re-judging: an ongoing verdict again
      const closedLater: ViolationEvent = {
        phase: 'closed',
        violation: { ...closed.violation, endTs: T0 + 200_000, durationMs: 200_000 },
      };
      await store.recordViolation(closedLater);
      t.deepEqual(await store.violation(id), rec(closedLater.violation, 'closed'));
      const reopened: ViolationEvent = {
        phase: 'updated',
        violation: { ...opened.violation, level: 2 },
        rejudged: { reason: 'backfill', lateTs: T0 + 30 },
      };
      await store.recordViolation(reopened);
      t.deepEqual(await store.violation(id), rec(reopened.violation, 'updated'));
      t.deepEqual(
        (await store.violationPhases(id)).map((p) => [p.phase, p.rejudged?.lateTs]),
        [
          ['opened', undefined],
          ['closed', undefined],
          ['withdrawn', T0 + 10],
          ['opened', T0 + 20],
          ['closed', undefined],
          ['updated', T0 + 30],
        ],
      );
      // a plain event after a withdrawal opens it again (the same onset found by later fixes)
      const [o3] = lifecycle({ vehicle: 'truck-3', code: 'OFFLINE', startTs: T0 + 2 });
      await store.recordViolations([
        o3,
        { phase: 'withdrawn', violation: o3.violation, rejudged },
        { ...o3, violation: { ...o3.violation, detectedTs: T0 + 99 } },
      ]);
      t.deepEqual(
        await store.violation(o3.violation.id),
        rec({ ...o3.violation, detectedTs: T0 + 99 }, 'opened'),
      );

      // trips: a completed trip withdrawn by a re-judging, then started again (another re-judging)
      const s1 = tripStart('truck-1', T0);
      const d1 = tripDone(s1);
      await store.recordTrips([
        { kind: 'started', trip: s1 },
        { kind: 'completed', trip: d1 },
      ]);
      await store.recordTrip({ kind: 'withdrawn', trip: d1, rejudged });
      t.deepEqual(await store.trip(s1.id), { status: 'withdrawn', ...d1 });
      // a later plain event (the live fixes found the trip again) replaces a withdrawn trip
      await store.recordTrip({ kind: 'completed', trip: d1 });
      t.deepEqual(
        await store.trip(s1.id),
        { status: 'completed', ...d1 },
        'any event replaces a withdrawn trip (like a violation)',
      );
      await store.recordTrip({ kind: 'started', trip: s1, rejudged: again });
      t.deepEqual(
        await store.trip(s1.id),
        { status: 'started', ...s1 },
        'a re-judging may undo a completion',
      );
    },
  );
});
