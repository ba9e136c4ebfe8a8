/**
 * The EventStore contract (store/events-port.ts): ONE set of cases (`contract()`), run against
 *   - embedded (SQLite in a temporary folder)
 *   - influxdb-v1 against a real influxd 1.x started for it (testkit/servers/influxd.ts)
 *   - influxdb-v2: the same adapter with v2 settings (`/api/v2/write`, `Authorization: Token`, db =
 *     bucket) against a real influxd 1.6 behind a small proxy that checks the token and maps
 *     `/api/v2/write?bucket=` onto `/write?db=` (influxd 1.6 has no v2 endpoint; the proxy changes nothing
 *     else, so the bytes written and the InfluxQL read are the real ones)
 * Every case gets a fresh, empty store. Cases that restart the backend are serial (ava runs serial cases
 * before the concurrent ones, so they never overlap with other cases of the same server).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { compileWorld } from '../../geofence/compile.ts';
import {
  buildEvidence,
  canonicalJson,
  type EvidencePackage,
  verifyEvidence,
} from '../../geofence/evidence.ts';
import type { ViolationCode } from '../../geofence/model.ts';
import type { Trip, TripEvent, TripStart } from '../../geofence/trips.ts';
import type { Violation, ViolationEvent, ViolationPhase } from '../../geofence/types.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import type {
  EventStore,
  TripRecord,
  ViolationQuery,
  ViolationRecord,
  ViolationStatus,
} from '../../store/events-port.ts';
import { InfluxEventStore, splitText } from '../../store/influx/events.ts';
import { pointToLine } from '../../store/influx/lineprotocol.ts';
import { UnknownViolationError, ViolationTransitionError } from '../../store/violation-status.ts';
import { type InfluxdServer, startInfluxd } from '../../testkit/servers/influxd.ts';
import { evidenceSnapshot, offRoute, T0, trackFix } from '../support/evidence-world.ts';
import { startV2Front } from '../support/influx-v2-front.ts';
import {
  contractRun,
  embeddedAdapter,
  influxdAdapter,
  perDatabaseHarness,
  type StoreAdapter,
} from '../support/store-harness.ts';

// ---------------------------------------------------------------------------------------------------
// Fixtures

type VBase = { vehicle: string; code: ViolationCode; startTs: number } & Partial<Violation>;

function violation(b: VBase): Violation {
  return {
    id: `${b.vehicle}:${b.code}:${b.startTs}`,
    firm: 'firm-a',
    permit: 'permit-1',
    level: 0,
    startPos: [117.22, 31.807],
    lastPos: [117.22, 31.807],
    refs: [
      { kind: 'thresholds', id: 'city', version: 5 },
      { kind: 'permit', id: 'permit-1', version: 1 },
    ],
    thresholds: { offRouteMinMs: 60_000 },
    ruleVersion: 1,
    details: {},
    ...b,
  };
}

/** opened, updated (escalated), closed: what a rule emits for one violation */
function lifecycle(b: VBase, durationMs = 100_000): [ViolationEvent, ViolationEvent, ViolationEvent] {
  const opened = violation(b);
  const updated: Violation = {
    ...opened,
    level: 1,
    lastPos: [117.23, 31.808],
    details: { maxDeviationM: 180.5, note: '偏离 "路线" \\ 1' },
  };
  const closed: Violation = {
    ...updated,
    endTs: b.startTs + durationMs,
    durationMs,
    lastPos: [117.24, 31.809],
  };
  return [
    { phase: 'opened', violation: opened },
    { phase: 'updated', violation: updated },
    { phase: 'closed', violation: closed },
  ];
}

const ids = (items: readonly { id: string }[]): string[] => items.map((i) => i.id);

/** What the store returns: the violation with its latest phase and its enforcement status. */
const rec = (v: Violation, phase: ViolationPhase, status: ViolationStatus = 'open'): ViolationRecord => ({
  ...v,
  phase,
  status,
});
const byKey = (a: { startTs: number; id: string }, b: { startTs: number; id: string }): number =>
  a.startTs - b.startTs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function tripStart(vehicle: string, startTs: number, over: Partial<TripStart> = {}): TripStart {
  return {
    id: `${vehicle}:trip:${startTs}`,
    vehicle,
    firm: 'firm-a',
    permit: 'permit-1',
    originSite: 'site-o',
    originVersion: 2,
    startTs,
    startPos: [117.205, 31.805],
    loadTrigger: 'lift',
    ...over,
  };
}

function tripDone(start: TripStart, over: Partial<Trip> = {}): Trip {
  return {
    ...start,
    disposalSite: 'site-d',
    endTs: start.startTs + 1_800_000,
    durationMs: 1_800_000,
    distanceKm: 12.375,
    endPos: [117.3, 31.9],
    unloadTrigger: 'lift',
    compliant: true,
    violationCount: 0,
    violations: [],
    ...over,
  };
}

// The evidence world of test/geofence/evidence.test.ts, with quotes and backslashes in the names.
const snapshot = evidenceSnapshot('工地 "一号"', '渣土运输路线 \\ A');

const offRouteNoted = (startTs: number, endTs: number): Violation =>
  offRoute(startTs, endTs, {
    details: { maxDeviationM: 180.5, 说明: '偏离路线 "超过" 100 米 \\ O\'Brien' },
  });

function smallEvidence(): EvidencePackage {
  const track = Array.from({ length: 60 }, (_, i) => trackFix(i)).reverse();
  return buildEvidence(offRouteNoted(T0 + 100_000, T0 + 200_000), track, compileWorld(snapshot));
}

/** ~1 MB of canonical JSON: one fix per second for an hour, with Chinese, quotes and backslashes. */
function largeEvidence(): EvidencePackage {
  const track = Array.from({ length: 4_000 }, (_, i) =>
    trackFix(i, 1_000, { device: `设备 "d1" \\ ${i}`, officer: '张三 (队长) \\ "执法"' }),
  );
  return buildEvidence(offRouteNoted(T0 + 150_000, T0 + 3_750_000), track, compileWorld(snapshot));
}

/** all pages of a query, with the page sizes */
async function allPages(
  list: (cursor?: string) => Promise<{ items: { id: string }[]; nextCursor?: string }>,
): Promise<{ ids: string[]; sizes: number[] }> {
  const out: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1_000; guard++) {
    const page = await list(cursor);
    out.push(...ids(page.items));
    sizes.push(page.items.length);
    if (!page.nextCursor) return { ids: out, sizes };
    cursor = page.nextCursor;
  }
  throw new Error('pagination does not end');
}

// ---------------------------------------------------------------------------------------------------
// The contract

function contract(name: string, adapter: StoreAdapter<EventStore>): void {
  const { h, title } = contractRun(name, adapter);

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

  test(title('violations filter by firm, vehicle, code, status and startTs range'), async (t) => {
    const store = await h().fresh();
    const events: ViolationEvent[] = [];
    const all: ViolationRecord[] = [];
    const specs: [string, string, ViolationCode, number, boolean][] = [
      // vehicle, firm, code, start offset (s), closed?
      ['a-1', 'firm-a', 'OFF_ROUTE', 0, true],
      ['a-1', 'firm-a', 'OVERSPEED', 60, false],
      ['a-2', 'firm-a', 'OFF_ROUTE', 120, false],
      ['b-1', 'firm-b', 'NO_PERMIT', 180, true],
      ['b-1', 'firm-b', 'OFF_ROUTE', 240, false],
      ['b-10', 'firm-b', 'OFF_ROUTE', 300, true],
      ['a-1', 'firm-a', 'OFF_ROUTE', 360, false],
    ];
    for (const [vehicle, firm, code, s, closed] of specs) {
      const life = lifecycle({ vehicle, firm, code, startTs: T0 + s * 1_000 }, 30_000);
      events.push(life[0], life[1]);
      if (closed) events.push(life[2]);
      all.push(closed ? rec(life[2].violation, 'closed') : rec(life[1].violation, 'updated'));
    }
    await store.recordViolations(events);
    const expect = (pred: (v: ViolationRecord) => boolean): string[] => ids(all.filter(pred).sort(byKey));
    const check = async (q: ViolationQuery, pred: (v: ViolationRecord) => boolean, what: string) => {
      const page = await store.violations(q);
      t.deepEqual(ids(page.items), expect(pred), what);
      t.is(page.nextCursor, undefined, what);
    };
    await check({}, () => true, 'all');
    await check({ firm: 'firm-a' }, (v) => v.firm === 'firm-a', 'firm');
    await check({ firm: 'firm' }, () => false, 'firm is exact, not a prefix');
    await check({ vehicle: 'b-1' }, (v) => v.vehicle === 'b-1', 'vehicle (b-10 excluded)');
    await check({ code: 'OFF_ROUTE' }, (v) => v.code === 'OFF_ROUTE', 'code');
    await check({ phase: 'ongoing' }, (v) => v.endTs === undefined, 'ongoing');
    await check({ phase: 'closed' }, (v) => v.endTs !== undefined, 'closed');
    await check({ status: 'open' }, () => true, 'every new violation is open');
    await check({ status: 'closed' }, () => false, 'no status closed yet');
    await check(
      { firm: 'firm-b', code: 'OFF_ROUTE', phase: 'closed' },
      (v) => v.firm === 'firm-b' && v.code === 'OFF_ROUTE' && v.endTs !== undefined,
      'combined',
    );
    await check(
      { from: T0 + 120_000, to: T0 + 300_000 },
      (v) => v.startTs >= T0 + 120_000 && v.startTs <= T0 + 300_000,
      'inclusive range',
    );
    await check(
      { from: T0 + 120_001, to: T0 + 299_999 },
      (v) => v.startTs > T0 + 120_000 && v.startTs < T0 + 300_000,
      'range bounds',
    );
    await check({ from: T0 + 500_000 }, () => false, 'after everything');
    await check({ to: T0 - 1 }, () => false, 'before everything');
    await check(
      { vehicle: 'a-1', from: T0 + 60_000 },
      (v) => v.vehicle === 'a-1' && v.startTs >= T0 + 60_000,
      'vehicle+from',
    );
    const full = await store.violations({ vehicle: 'b-1', code: 'NO_PERMIT' });
    t.deepEqual(full.items, [all[3]!], 'items are the whole latest state');
  });

  test(title('cursor pagination is stable: startTs then id, ties included'), async (t) => {
    const store = await h().fresh();
    const events: ViolationEvent[] = [];
    // 5 groups of instants, several vehicles on the same startTs (ties broken by id)
    for (let g = 0; g < 5; g++) {
      for (const vehicle of ['v-c', 'v-a', 'v-d', 'v-b', 'v-e'].slice(0, 1 + g)) {
        const startTs = T0 + g * 10_000;
        const [o, u] = lifecycle({ vehicle, startTs, code: 'OFF_HOURS', firm: g % 2 ? 'odd' : 'even' });
        events.push(o, g === 3 ? u : o);
      }
    }
    await store.recordViolations(events.reverse());
    const expected = ids([...new Map(events.map((e) => [e.violation.id, e.violation])).values()].sort(byKey));
    t.is(expected.length, 15);
    for (const limit of [1, 2, 3, 4, 7, 15, 16, 100]) {
      const { ids: got, sizes } = await allPages((cursor) => store.violations({ limit, cursor }));
      t.deepEqual(got, expected, `limit ${limit}`);
      t.true(
        sizes.every((n, i) => n === limit || i === sizes.length - 1),
        `limit ${limit}: ${sizes}`,
      );
    }
    // with filters: the cursor continues the same query
    const odd = await allPages((cursor) => store.violations({ firm: 'odd', limit: 2, cursor }));
    t.deepEqual(
      odd.ids,
      expected.filter((id) => [1, 3].includes((Number(id.split(':')[2]) - T0) / 10_000)),
    );
    const ranged = await allPages((cursor) =>
      store.violations({ from: T0 + 10_000, to: T0 + 30_000, phase: 'ongoing', limit: 4, cursor }),
    );
    t.is(ranged.ids.length, 2 + 3 + 4);
    // a cursor taken mid-way stays valid after more data arrives earlier in the order
    const first = await store.violations({ limit: 5 });
    await store.recordViolation(lifecycle({ vehicle: 'v-0', code: 'OFF_HOURS', startTs: T0 - 1 })[0]);
    const next = await store.violations({ limit: 5, cursor: first.nextCursor });
    t.deepEqual(ids(next.items), expected.slice(5, 10));
    await t.throwsAsync(store.violations({ cursor: 'not-a-cursor' }), { message: /cursor/ });
    await t.throwsAsync(store.violations({ limit: 0 }), { message: /limit/ });
  });

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

  test(
    title('Chinese text, quotes, commas, spaces, backslashes and injection-like ids survive'),
    async (t) => {
      const store = await h().fresh();
      const firm = '合肥市 "渣土" 运输,有限=公司 a\\b';
      const vehicles = ['皖A 12345', 'cam,=1 "x" \\y', "x' OR '1'='1", 'y" OR "vehicle" =~ /.*/'];
      const all: ViolationRecord[] = [];
      for (const [i, vehicle] of vehicles.entries()) {
        const [o, u, c] = lifecycle({
          vehicle,
          firm,
          code: 'RESTRICTED_ZONE',
          startTs: T0 + i,
          permit: '许可证 "A-1"',
          details: { zone: '禁区 "一号", 学校 \\ 附近', 备注: "O'Brien\t说" },
        });
        await store.recordViolations([o, u, c]);
        all.push(rec(c.violation, 'closed'));
        t.deepEqual(await store.violation(o.violation.id), rec(c.violation, 'closed'));
        t.is((await store.violationPhases(o.violation.id)).length, 3);
        t.deepEqual((await store.violations({ vehicle })).items, [rec(c.violation, 'closed')]);
        const trip = tripStart(vehicle, T0 + i, { firm, originSite: '工地 "一号"' });
        await store.recordTrip({
          kind: 'completed',
          trip: tripDone(trip, { disposalSite: '消纳场,2 = "乙"' }),
        });
        t.deepEqual((await store.trips({ vehicle, firm })).items, [
          { status: 'completed', ...tripDone(trip, { disposalSite: '消纳场,2 = "乙"' }) },
        ]);
      }
      t.deepEqual((await store.violations({ firm })).items, all);
      t.deepEqual((await store.violations({ firm: "x' OR 'a'='a" })).items, []);
      t.deepEqual((await store.violations({ vehicle: "nobody' OR ''='" })).items, []);
      t.is(await store.violation("nobody' OR ''=':OFF_ROUTE:1"), undefined);
      t.is(await store.violation('not an id at all'), undefined);
      t.deepEqual(await store.violationPhases('not an id at all'), []);
      t.is(await store.evidence("x' OR '1'='1:OFF_ROUTE:1"), undefined);
      t.is((await store.trips()).items.length, vehicles.length);
    },
  );

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
}

// ---------------------------------------------------------------------------------------------------
// Pure helpers of the InfluxDB adapter

test('evidence parts never split a surrogate pair and join back to the text', (t) => {
  const text = `${'a'.repeat(4)}😀${'中'.repeat(3)}😀`;
  for (const units of [1, 2, 3, 4, 5, 6, 7, 100]) {
    const parts = splitText(text, units);
    t.is(parts.join(''), text);
    for (const p of parts) {
      t.true(p.length <= Math.max(units, 2));
      t.false(/[\ud800-\udbff]$/.test(p) && p.length > 1, `part ends in a high surrogate: ${units}`);
    }
  }
  t.deepEqual(splitText(''), ['']);
});

test('pointToLine escapes tags and strings and types fields', (t) => {
  t.is(
    pointToLine(
      'violation',
      [
        ['code', 'OFF_ROUTE'],
        ['firm', '合肥 "a",b=c'],
      ],
      [
        ['id', { type: 'string', value: 'x "y" \\z' }],
        ['level', { type: 'integer', value: 2 }],
        ['lat', { type: 'float', value: 31.5 }],
        ['ok', { type: 'boolean', value: false }],
      ],
      12_345_000_001n,
    ),
    'violation,code=OFF_ROUTE,firm=合肥\\ "a"\\,b\\=c id="x \\"y\\" \\\\z",level=2i,lat=31.5,ok=false 12345000001',
  );
  t.throws(() => pointToLine('m', [['firm', '']], [['a', { type: 'integer', value: 1 }]], 1n));
  t.throws(() => pointToLine('m', [], [['a', { type: 'integer', value: 1.5 }]], 1n));
  t.throws(() => pointToLine('m', [], [], 1n));
});

test('embedded: a file from before the enforcement status opens; its violations are open, phases kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'citywatch-events-old-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // The layout of the first release: the engine's open/closed in a column called `status`.
  const old = new Database(join(dir, 'events.db'));
  old.exec(`CREATE TABLE violations (
    id TEXT NOT NULL PRIMARY KEY, firm TEXT NOT NULL, vehicle TEXT NOT NULL, code TEXT NOT NULL,
    start_ts INTEGER NOT NULL, end_ts INTEGER, status TEXT NOT NULL, phase TEXT NOT NULL,
    rank INTEGER NOT NULL, level INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
    CREATE INDEX violations_status ON violations (status, start_ts, id);`);
  const [, , closed] = lifecycle({ vehicle: 'old-1', code: 'OVERLOAD', startTs: T0 });
  const v = closed.violation;
  old
    .prepare('INSERT INTO violations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    .run(
      v.id,
      v.firm,
      v.vehicle,
      v.code,
      v.startTs,
      v.endTs,
      'closed',
      'closed',
      2,
      v.level,
      canonicalJson(v),
    );
  old.close();

  const store = new EmbeddedEventStore({ dir });
  await store.open();
  t.teardown(() => store.close());
  t.deepEqual(await store.violation(v.id), rec(v, 'closed', 'open'));
  t.deepEqual(ids((await store.violations({ phase: 'closed', status: 'open' })).items), [v.id]);
  t.deepEqual((await store.violations({ phase: 'ongoing' })).items, []);
  await store.setViolationStatus({ id: v.id, to: 'acknowledged', actor: 'm', at: T0 });
  t.deepEqual(ids((await store.violations({ status: 'acknowledged' })).items), [v.id]);
});

// ---------------------------------------------------------------------------------------------------
// Adapters

contract(
  'embedded',
  embeddedAdapter(
    'citywatch-events-embedded-',
    (dir) => new EmbeddedEventStore({ dir }),
    (store) => (store as EmbeddedEventStore).file.replace(/\/events\.db$/, ''),
  ),
);

contract(
  'influxdb-v1',
  influxdAdapter(
    'events_',
    (url, database) => new InfluxEventStore({ version: 1, url, database, timeoutMs: 10_000 }),
  ),
);

{
  let server: InfluxdServer | undefined;
  let front: Server | undefined;
  contract('influxdb-v2', {
    async setup() {
      const srv = await startInfluxd();
      server = srv;
      const token = 'token-for-tests';
      const f = await startV2Front(() => srv.url, token);
      front = f.server;
      const make = async (bucket: string): Promise<EventStore> => {
        const store = new InfluxEventStore({
          version: 2,
          url: f.url,
          token,
          org: 'city',
          bucket,
          timeoutMs: 10_000,
        });
        await store.open();
        return store;
      };
      // the bucket is provisioned outside the adapter (as with a real 2.x)
      const provision = async (bucket: string): Promise<void> => {
        const res = await fetch(`${srv.url}/query`, {
          method: 'POST',
          body: new URLSearchParams({ q: `CREATE DATABASE "${bucket}"` }),
        });
        if (res.status !== 200) throw new Error(`CREATE DATABASE: HTTP ${res.status}`);
      };
      return perDatabaseHarness(srv, 'bucket_', make, provision);
    },
    async teardown() {
      await new Promise((resolve) => (front ? front.close(resolve) : resolve(undefined)));
      await server?.destroy();
    },
  });
}

test('the v2 adapter refuses a wrong token with the server message', async (t) => {
  const srv = await startInfluxd();
  const f = await startV2Front(() => srv.url, 'right');
  try {
    const store = new InfluxEventStore({ version: 2, url: f.url, token: 'wrong', org: 'o', bucket: 'b' });
    await store.open();
    const err = await t.throwsAsync(
      store.recordViolation(lifecycle({ vehicle: 'x', code: 'OFFLINE', startTs: T0 })[0]),
    );
    t.regex(err?.message ?? '', /HTTP 401 unauthorized/);
  } finally {
    await new Promise((resolve) => f.server.close(resolve));
    await srv.destroy();
  }
});

test('influxdb: a violation point names the first route its judgement rests on (dashboards group by it)', async (t) => {
  const srv = await startInfluxd();
  t.teardown(() => srv.destroy());
  const store = new InfluxEventStore({ version: 1, url: srv.url, database: 'routes' });
  await store.open();
  const onRoute = violation({
    vehicle: 'truck-r',
    code: 'OFF_ROUTE',
    startTs: T0,
    refs: [
      { kind: 'thresholds', id: 'city', version: 5 },
      { kind: 'permit', id: 'permit-1', version: 1 },
      { kind: 'route', id: 'route-east', version: 3 },
      { kind: 'route', id: 'route-west', version: 1 },
    ],
  });
  await store.recordViolations([
    { phase: 'opened', violation: onRoute },
    { phase: 'opened', violation: violation({ vehicle: 'truck-r', code: 'OFF_HOURS', startTs: T0 + 1 }) },
  ]);
  const res = await fetch(
    `${srv.url}/query?db=routes&q=${encodeURIComponent('SELECT "route" FROM "violation" GROUP BY "code"')}`,
  );
  const body = (await res.json()) as {
    results: [{ series: { tags: { code: string }; values: [number, string][] }[] }];
  };
  const byCode = Object.fromEntries(body.results[0].series.map((s) => [s.tags.code, s.values[0]![1]]));
  t.deepEqual(byCode, { OFF_HOURS: '', OFF_ROUTE: 'route-east' });
  await store.close();
});
