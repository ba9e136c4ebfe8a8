/**
 * The EventStore contract (store/events-port.ts), the enforcement status of a violation: each change
 * audited, illegal ones refused, independent of the engine's phase; the status filter pages like the
 * others, and of concurrent decisions exactly one wins.
 * Each case runs against every adapter (test/support/store/events-contract.ts): embedded, influxdb-v1,
 * influxdb-v2 (behind a token-checking 2.x front).
 */
import test from 'ava';
import { UnknownViolationError, ViolationTransitionError } from '../../../store/violation-status.ts';
import { T0 } from '../../support/evidence-world.ts';
import { eachEventStore } from '../../support/store/events-contract.ts';
import { allPages, byKey, ids, lifecycle, rec } from '../../support/store/events-fixtures.ts';

eachEventStore(({ h, title }) => {
  test(
    title('enforcement status: each change audited, illegal ones refused, independent of the phase'),
    async (t) => {
      const store = await h().fresh();
      const [o, u, c] = lifecycle({ vehicle: 'truck-1', code: 'OFF_ROUTE', startTs: T0 });
      const [o2] = lifecycle({ vehicle: 'truck-2', code: 'OVERSPEED', startTs: T0 + 1_000, firm: 'firm-b' });
      const id = o.violation.id;
      await store.recordViolations([o, o2]);
      t.is((await store.violation(id))?.status, 'open', 'a new violation is open');
      t.deepEqual(await store.violationStatusHistory(id), []);
      t.deepEqual(await store.violationStatusHistory('truck-9:OFF_ROUTE:1'), []);

      await t.throwsAsync(
        store.setViolationStatus({ id: 'truck-9:OFF_ROUTE:1', to: 'acknowledged', actor: 'k', at: T0 }),
        { instanceOf: UnknownViolationError },
      );
      const skip = await t.throwsAsync<ViolationTransitionError>(
        store.setViolationStatus({ id, to: 'confirmed', actor: 'key-monitor', at: T0 }),
        { instanceOf: ViolationTransitionError },
      );
      t.is(skip?.current, 'open');
      t.is(skip?.requested, 'confirmed');
      t.regex(
        skip?.message ?? '',
        /is open and cannot become confirmed; from open it can become acknowledged/,
      );

      const acked = await store.setViolationStatus({
        id,
        to: 'acknowledged',
        actor: 'key-monitor',
        at: T0 + 60_000,
      });
      t.deepEqual(acked, rec(o.violation, 'opened', 'acknowledged'));
      // Engine events after the decision change the phase, never the status (replays included).
      await store.recordViolations([u, c]);
      t.deepEqual(await store.violation(id), rec(c.violation, 'closed', 'acknowledged'));
      await store.recordViolations([o, u, c]);
      t.is((await store.violation(id))?.status, 'acknowledged');

      const reason = '当时按交警 "临时绕行" 通知行驶\n附通知第 3 号 \\ 见附件';
      await store.setViolationStatus({
        id,
        to: 'disputed',
        actor: 'key-firm-a',
        at: T0 + 120_000,
        note: reason,
      });
      await t.throwsAsync(
        store.setViolationStatus({
          id,
          to: 'disputed',
          actor: 'key-firm-a',
          at: T0 + 121_000,
          note: 'again',
        }),
        { instanceOf: ViolationTransitionError },
        'a repeated request is refused, not recorded twice',
      );
      await store.setViolationStatus({
        id,
        to: 'confirmed',
        actor: 'key-monitor',
        at: T0 + 180_000,
        note: '绕行通知不含该路段',
      });
      const done = await store.setViolationStatus({ id, to: 'closed', actor: 'key-admin', at: T0 + 240_000 });
      t.deepEqual(done, rec(c.violation, 'closed', 'closed'));
      for (const to of ['open', 'acknowledged', 'closed'] as const) {
        await t.throwsAsync(store.setViolationStatus({ id, to, actor: 'key-admin', at: T0 + 300_000 }), {
          instanceOf: ViolationTransitionError,
          message: /is closed and cannot become .*nothing \(final\)/,
        });
      }
      t.deepEqual(await store.violationStatusHistory(id), [
        { seq: 1, from: 'open', to: 'acknowledged', actor: 'key-monitor', at: T0 + 60_000 },
        { seq: 2, from: 'acknowledged', to: 'disputed', actor: 'key-firm-a', at: T0 + 120_000, note: reason },
        {
          seq: 3,
          from: 'disputed',
          to: 'confirmed',
          actor: 'key-monitor',
          at: T0 + 180_000,
          note: '绕行通知不含该路段',
        },
        { seq: 4, from: 'confirmed', to: 'closed', actor: 'key-admin', at: T0 + 240_000 },
      ]);
      t.deepEqual(
        (await store.violationPhases(id)).map((p) => p.phase),
        ['opened', 'updated', 'closed'],
        'the phase history is untouched',
      );

      // status and phase filter independently
      t.deepEqual(ids((await store.violations({ status: 'closed' })).items), [id]);
      t.deepEqual(ids((await store.violations({ status: 'open' })).items), [o2.violation.id]);
      t.deepEqual(ids((await store.violations({ phase: 'ongoing' })).items), [o2.violation.id]);
      t.deepEqual(ids((await store.violations({ phase: 'closed', status: 'open' })).items), []);
      t.deepEqual(ids((await store.violations({ phase: 'closed', status: 'closed' })).items), [id]);
      t.deepEqual(ids((await store.violations({ status: 'acknowledged' })).items), []);
      t.deepEqual((await store.violations({ firm: 'firm-b', status: 'open' })).items, [
        rec(o2.violation, 'opened'),
      ]);
    },
  );

  test(title('status filter pages like the others; concurrent decisions: exactly one wins'), async (t) => {
    const store = await h().fresh();
    const events = Array.from(
      { length: 9 },
      (_, i) =>
        lifecycle({ vehicle: `s-${i % 3}`, code: 'SPILLAGE', startTs: T0 + Math.floor(i / 2) * 1_000 })[0],
    );
    await store.recordViolations(events);
    const all = ids(events.map((e) => e.violation).sort(byKey));
    // acknowledge every other one (in list order), then page through each status with limit 2
    const acked = all.filter((_, i) => i % 2 === 0);
    for (const id of acked) await store.setViolationStatus({ id, to: 'acknowledged', actor: 'm', at: T0 });
    const ackPages = await allPages((cursor) =>
      store.violations({ status: 'acknowledged', limit: 2, cursor }),
    );
    t.deepEqual(ackPages.ids, acked);
    const openPages = await allPages((cursor) => store.violations({ status: 'open', limit: 2, cursor }));
    t.deepEqual(
      openPages.ids,
      all.filter((_, i) => i % 2 === 1),
    );

    const id = all[1]!;
    const outcomes = await Promise.allSettled(
      ['key-1', 'key-2', 'key-3'].map((actor) =>
        store.setViolationStatus({ id, to: 'acknowledged', actor, at: T0 }),
      ),
    );
    t.is(outcomes.filter((r) => r.status === 'fulfilled').length, 1, 'one acknowledgement');
    for (const r of outcomes)
      if (r.status === 'rejected') t.true(r.reason instanceof ViolationTransitionError);
    t.is((await store.violationStatusHistory(id)).length, 1);
  });
});
