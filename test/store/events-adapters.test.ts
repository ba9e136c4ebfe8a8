/**
 * What the EventStore contract (test/store/events-contract/) does not cover, adapter by adapter: the pure
 * helpers of the InfluxDB adapter (evidence split into parts, line protocol), an embedded file from before
 * the enforcement status, the v2 adapter's refusal of a wrong token, and the route a violation point
 * names for the dashboards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { canonicalJson } from '../../geofence/evidence.ts';
import { EmbeddedEventStore } from '../../store/events-embedded.ts';
import { InfluxEventStore, splitText } from '../../store/influx/events.ts';
import { pointToLine } from '../../store/influx/lineprotocol.ts';
import { startInfluxd } from '../../testkit/servers/influxd.ts';
import { T0 } from '../support/evidence-world.ts';
import { startV2Front } from '../support/influx-v2-front.ts';
import { ids, lifecycle, rec, violation } from '../support/store/events-fixtures.ts';

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

// ---------------------------------------------------------------------------------------------------
// The embedded adapter

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
// The InfluxDB adapters

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
