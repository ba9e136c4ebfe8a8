/**
 * The EventStore contract (store/events-port.ts), listing violations: the filters (firm, vehicle, code,
 * phase, status, startTs range), stable cursor pagination, and Chinese text, quotes, commas, backslashes
 * and injection-like ids in what is stored and asked for.
 * Each case runs against every adapter (test/support/store/events-contract.ts): embedded, influxdb-v1,
 * influxdb-v2 (behind a token-checking 2.x front).
 */
import test from 'ava';
import type { ViolationCode } from '../../../geofence/model.ts';
import type { ViolationEvent } from '../../../geofence/types.ts';
import type { ViolationQuery, ViolationRecord } from '../../../store/events-port.ts';
import { T0 } from '../../support/evidence-world.ts';
import { eachEventStore } from '../../support/store/events-contract.ts';
import {
  allPages,
  byKey,
  ids,
  lifecycle,
  rec,
  tripDone,
  tripStart,
} from '../../support/store/events-fixtures.ts';

eachEventStore(({ h, title }) => {
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
});
