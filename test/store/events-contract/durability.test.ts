/**
 * The EventStore contract (store/events-port.ts), durability: everything survives a restart and a crash of
 * the storage, and a closed store refuses writes, reports unhealthy and reopens.
 * Each case runs against every adapter (test/support/store/events-contract.ts): embedded, influxdb-v1,
 * influxdb-v2 (behind a token-checking 2.x front).
 * These cases restart the backend: they are serial, and ava runs serial cases before the concurrent ones
 * of the same file.
 */
import test from 'ava';
import { canonicalJson } from '../../../geofence/evidence.ts';
import { T0 } from '../../support/evidence-world.ts';
import { eachEventStore } from '../../support/store/events-contract.ts';
import { allPages, lifecycle, rec, smallEvidence, tripStart } from '../../support/store/events-fixtures.ts';

eachEventStore(({ h, title }) => {
  test.serial(title('everything survives a restart of the storage, and writing goes on'), async (t) => {
    let store = await h().fresh();
    const [o, u, c] = lifecycle({ vehicle: '皖A 00001', code: 'ILLEGAL_DUMP', startTs: T0 });
    const trip = tripStart('皖A 00001', T0);
    const pkg = smallEvidence();
    await store.recordViolations([o, u]);
    await store.setViolationStatus({ id: o.violation.id, to: 'acknowledged', actor: 'key-monitor', at: T0 });
    await store.recordTrip({ kind: 'started', trip });
    await store.putEvidence(pkg);
    store = await h().restart(store, 'graceful');
    t.true((await store.health()).ok);
    t.deepEqual(await store.violation(o.violation.id), rec(u.violation, 'updated', 'acknowledged'));
    t.is((await store.violationPhases(o.violation.id)).length, 2);
    t.deepEqual(
      (await store.violationStatusHistory(o.violation.id)).map((c) => [c.seq, c.to, c.actor]),
      [[1, 'acknowledged', 'key-monitor']],
    );
    t.deepEqual(await store.trip(trip.id), { status: 'started', ...trip });
    t.is(canonicalJson(await store.evidence(pkg.violation.id)), canonicalJson(pkg));
    // replays after the restart are still recognised; the lifecycle continues
    await store.recordViolations([o, u, c]);
    t.deepEqual(
      (await store.violationPhases(o.violation.id)).map((p) => [p.seq, p.phase]),
      [
        [1, 'opened'],
        [2, 'updated'],
        [3, 'closed'],
      ],
    );
    t.deepEqual(await store.violation(o.violation.id), rec(c.violation, 'closed', 'acknowledged'));
    t.is(
      (await store.setViolationStatus({ id: o.violation.id, to: 'confirmed', actor: 'k', at: T0 })).status,
      'confirmed',
    );
  });

  test.serial(title('an acknowledged write survives a crash of the storage'), async (t) => {
    let store = await h().fresh();
    const events = Array.from({ length: 50 }, (_, i) =>
      lifecycle({ vehicle: `crash-${i % 5}`, code: 'OVERSPEED', startTs: T0 + i * 1_000 }),
    ).flat();
    await store.recordViolations(events);
    store = await h().restart(store, 'crash');
    const listed = await allPages((cursor) => store.violations({ phase: 'closed', limit: 20, cursor }));
    t.is(listed.ids.length, 50);
    t.is((await store.violationPhases(events[0]!.violation.id)).length, 3);
  });

  test.serial(title('a closed store refuses writes, reports unhealthy, and reopens'), async (t) => {
    const store = await h().fresh();
    const [o] = lifecycle({ vehicle: 'closed-1', code: 'OFFLINE', startTs: T0 });
    await store.close();
    await t.throwsAsync(store.recordViolation(o));
    t.false((await store.health()).ok);
    await store.open();
    t.true((await store.health()).ok);
    await store.recordViolation(o);
    t.deepEqual(await store.violation(o.violation.id), rec(o.violation, 'opened'));
    await store.close();
    await t.throwsAsync(
      store.setViolationStatus({ id: o.violation.id, to: 'acknowledged', actor: 'k', at: T0 }),
    );
    await store.open();
  });
});
