/**
 * The EventStore contract (store/events-port.ts), trips and evidence: trips round-trip (completed replaces
 * started, never the reverse); evidence packages round-trip byte-exact with their sha256, small and
 * large (~1 MB), a bad seal is refused and a later package replaces an earlier one.
 * Each case runs against every adapter (test/support/store/events-contract.ts): embedded, influxdb-v1,
 * influxdb-v2 (behind a token-checking 2.x front).
 */
import test from 'ava';
import { compileWorld } from '../../../geofence/compile.ts';
import { buildEvidence, canonicalJson, verifyEvidence } from '../../../geofence/evidence.ts';
import type { TripEvent } from '../../../geofence/trips.ts';
import type { TripRecord } from '../../../store/events-port.ts';
import { T0, trackFix } from '../../support/evidence-world.ts';
import { eachEventStore } from '../../support/store/events-contract.ts';
import {
  allPages,
  largeEvidence,
  smallEvidence,
  snapshot,
  tripDone,
  tripStart,
} from '../../support/store/events-fixtures.ts';

eachEventStore(({ h, title }) => {
  test(title('trips round-trip; completed replaces started, never the reverse'), async (t) => {
    const store = await h().fresh();
    const s1 = tripStart('truck-1', T0);
    const s2 = tripStart('truck-2', T0 + 5_000, { firm: 'firm-b', permit: '' });
    const s3 = tripStart('truck-1', T0 + 3_600_000);
    const d1 = tripDone(s1, { compliant: false, violationCount: 2, violations: ['truck-1:OFF_ROUTE:1'] });
    const d2 = tripDone(s2, { disposalSite: '' });
    const events: TripEvent[] = [
      { kind: 'started', trip: s1 },
      { kind: 'started', trip: s2 },
      { kind: 'completed', trip: d1 },
      { kind: 'started', trip: s3 },
    ];
    await store.recordTrips(events);
    const r1: TripRecord = { status: 'completed', ...d1 };
    const r2s: TripRecord = { status: 'started', ...s2 };
    const r3: TripRecord = { status: 'started', ...s3 };
    t.deepEqual(await store.trip(s1.id), r1);
    t.deepEqual(await store.trip(s2.id), r2s);
    t.is(await store.trip('truck-9:trip:1'), undefined);
    t.deepEqual((await store.trips()).items, [r1, r2s, r3]);

    await store.recordTrip({ kind: 'completed', trip: d2 });
    await store.recordTrips(events); // replay: started after completed changes nothing
    await store.recordTrip({ kind: 'started', trip: s2 });
    const r2: TripRecord = { status: 'completed', ...d2 };
    t.deepEqual(await store.trip(s2.id), r2);
    t.deepEqual(await store.trips(), { items: [r1, r2, r3] });
    t.deepEqual((await store.trips({ firm: 'firm-b' })).items, [r2]);
    t.deepEqual((await store.trips({ vehicle: 'truck-1' })).items, [r1, r3]);
    t.deepEqual((await store.trips({ vehicle: 'truck' })).items, []);
    t.deepEqual((await store.trips({ from: T0 + 1, to: T0 + 3_600_000 })).items, [r2, r3]);
    const paged = await allPages((cursor) => store.trips({ limit: 1, cursor }));
    t.deepEqual(paged.ids, [s1.id, s2.id, s3.id]);
    t.deepEqual(paged.sizes, [1, 1, 1]);
  });

  test(title('evidence round-trips byte-exact with its sha256; a bad seal is refused'), async (t) => {
    const store = await h().fresh();
    const pkg = smallEvidence();
    t.true(verifyEvidence(pkg));
    t.is(await store.evidence(pkg.violation.id), undefined);
    await store.putEvidence(pkg);
    await store.putEvidence(pkg); // idempotent
    const got = await store.evidence(pkg.violation.id);
    t.deepEqual(got, pkg);
    t.is(canonicalJson(got), canonicalJson(pkg));
    t.is(got?.sha256, pkg.sha256);
    t.true(verifyEvidence(got!));

    const tampered = structuredClone(pkg);
    tampered.fixes[3]!.lat += 0.0001;
    await t.throwsAsync(store.putEvidence(tampered), { message: /sha256|verify/ });
    t.deepEqual(await store.evidence(pkg.violation.id), pkg);

    // a later package for the same violation (e.g. rebuilt after a registry correction) replaces it
    const track = Array.from({ length: 25 }, (_, i) => trackFix(i));
    const rebuilt = buildEvidence(pkg.violation, track, compileWorld(snapshot));
    t.not(rebuilt.sha256, pkg.sha256);
    await store.putEvidence(rebuilt);
    t.is(canonicalJson(await store.evidence(pkg.violation.id)), canonicalJson(rebuilt));
  });

  test(
    title('large evidence (~1 MB, Chinese, quotes, backslashes) round-trips; a smaller one replaces it'),
    async (t) => {
      const store = await h().fresh();
      const big = largeEvidence();
      const text = canonicalJson(big);
      t.true(Buffer.byteLength(text) > 900_000, `${Buffer.byteLength(text)} bytes`);
      await store.putEvidence(big);
      const got = await store.evidence(big.violation.id);
      t.is(canonicalJson(got), text);
      t.true(verifyEvidence(got!));
      // a smaller package afterwards: none of the bigger one's extra parts leak into it
      const small = buildEvidence(
        big.violation,
        Array.from({ length: 30 }, (_, i) => trackFix(i + 20, 1_000)),
        compileWorld(snapshot),
      );
      await store.putEvidence(small);
      t.is(canonicalJson(await store.evidence(big.violation.id)), canonicalJson(small));
    },
  );
});
