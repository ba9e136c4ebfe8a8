/**
 * InfluxDB adapter specifics beyond the shared contract: line-protocol and InfluxQL encoding, error
 * messages, timeouts against a hung server, retention policies, and the InfluxQL read path with v2
 * settings (db = bucket, Token header). Everything that talks to a server talks to a real influxd 1.x.
 */
import test from 'ava';
import type { Fix } from '../../core/fix.ts';
import { createStore, InfluxStore } from '../../store/index.ts';
import { InfluxError } from '../../store/influx/http.ts';
import { quoteIdent, quoteString, timeLiteral } from '../../store/influx/influxql.ts';
import {
  escapeKey,
  escapeMeasurement,
  fixToLine,
  LineProtocolError,
  quoteStringField,
} from '../../store/influx/lineprotocol.ts';
import { type InfluxdServer, startInfluxd } from '../../testkit/servers/influxd.ts';

const T0 = Date.UTC(2024, 4, 20, 1, 30, 0);

const fix = (over: Partial<Fix> = {}): Fix => ({
  vehicle: 'veh-1',
  device: 'dev-1',
  kind: 'muck_truck',
  firm: 'firm-a',
  ts: T0,
  received: T0 + 800,
  lat: 31.5,
  lon: 117.25,
  valid: true,
  crsIn: 'WGS84',
  late: false,
  ...over,
});

// ---------------------------------------------------------------------------------------------------
// Pure encoding

test('fixToLine: tags kind/firm/vehicle escaped, typed fields, presence mask, ms timestamp', (t) => {
  const line = fixToLine(
    fix({
      vehicle: '皖A 1,2=3',
      firm: 'f "x"',
      device: 'd "1"\\',
      sats: 12,
      speed: 5,
      officer: 'a"b\\c',
      ign: false,
    }),
  );
  t.is(
    line,
    'fix,firm=f\\ "x",kind=muck_truck,vehicle=皖A\\ 1\\,2\\=3 ' +
      'received=1716168600800i,lat=31.5,lon=117.25,speed=5,sats=12i,valid=true,late=false,ign=false,' +
      'device="d \\"1\\"\\\\",crsIn="WGS84",officer="a\\"b\\\\c",present=131113i 1716168600000',
  );
  // speed = bit 0, sats = bit 3, ign = bit 5, officer = bit 17
  t.is(1 + 8 + 32 + 131072, 131113);
});

test('escaping helpers follow the line-protocol special-character table', (t) => {
  t.is(escapeMeasurement('my measure,ment'), 'my\\ measure\\,ment');
  t.is(escapeMeasurement('a=b'), 'a=b', 'equals signs need no escape in a measurement');
  t.is(escapeKey('tag', 'a b,c=d'), 'a\\ b\\,c\\=d');
  t.is(escapeKey('tag', 'back\\slash'), 'back\\slash', 'a backslash before an ordinary character stays');
  t.is(quoteStringField('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
  t.is(quoteStringField('a,b=c d'), '"a,b=c d"', 'no escaping of commas/equals/spaces inside strings');
});

test('values line protocol cannot carry are rejected with the vehicle named', (t) => {
  const cases: Partial<Fix>[] = [
    { vehicle: 'ends-with\\' },
    { firm: 'back\\ space' },
    { firm: 'back\\,comma' },
    { vehicle: 'line\nbreak' },
    { officer: 'two\nlines' },
    { firm: '' },
    { sats: 7.5 },
    { binLifts: Number.NaN },
    { speed: Number.POSITIVE_INFINITY },
    { ts: T0 + 0.5 },
  ];
  for (const over of cases) {
    const err = t.throws(() => fixToLine(fix(over)), { instanceOf: LineProtocolError }, JSON.stringify(over));
    t.regex(err?.message ?? '', /cannot encode fix of vehicle/);
  }
  const { lat: _lat, ...noLat } = fix();
  t.throws(() => fixToLine(noLat as Fix), { message: /required field lat is missing/ });
});

test('InfluxQL quoting and time literals', (t) => {
  t.is(quoteString("it's \\ fine"), "'it\\'s \\\\ fine'");
  t.is(quoteIdent('we"ird\\'), '"we\\"ird\\\\"');
  t.throws(() => quoteString('a\nb'), { instanceOf: InfluxError });
  t.is(timeLiteral(1_716_168_600_123, true), '1716168600123000000');
  t.is(timeLiteral(10.2, true), '11000000');
  t.is(timeLiteral(10.8, false), '10000000');
  t.is(timeLiteral(Number.MAX_SAFE_INTEGER, false), '9223372036854775806');
  t.is(timeLiteral(Number.NEGATIVE_INFINITY, true), '-9223372036854775806');
});

// ---------------------------------------------------------------------------------------------------
// Against a real influxd

let server: InfluxdServer | undefined;
const srv = (): InfluxdServer => {
  if (!server) throw new Error('influxd not started');
  return server;
};
let dbCounter = 0;
const freshDb = (): string => `influx_${++dbCounter}`;

test.before(async () => {
  server = await startInfluxd();
});
test.after.always(async () => {
  await server?.destroy();
});

test('the test server answers /ping and runs from its temporary folder', async (t) => {
  const res = await fetch(`${srv().url}/ping`);
  t.is(res.status, 204);
  t.regex(srv().dataDir, /citywatch-influxd-/);
  t.true(srv().running);
});

test('write to a database that does not exist names the failure', async (t) => {
  const store = new InfluxStore({ version: 1, url: srv().url, database: 'never_created' });
  const err = await t.throwsAsync(store.writeFixes([fix()]), { instanceOf: InfluxError });
  t.regex(err?.message ?? '', /^InfluxDB write failed: HTTP 404 database not found/);
  t.is((err as InfluxError).status, 404);
  const q = await t.throwsAsync(store.latest());
  t.regex(q?.message ?? '', /^InfluxDB query failed: database not found/);
});

test('a batch with one bad fix is refused before anything is sent', async (t) => {
  const store = createStore({ kind: 'influxdb', version: 1, url: srv().url, database: freshDb() });
  await store.open();
  const good = fix({ vehicle: 'good' });
  await t.throwsAsync(store.writeFixes([good, fix({ vehicle: 'bad\\' })]), { instanceOf: LineProtocolError });
  t.is(await store.count('good', T0 - 1, T0 + 1), 0);
  await store.writeFixes([good]);
  t.is(await store.count('good', T0 - 1, T0 + 1), 1);
});

test('a batch split into several requests (maxLinesPerRequest) arrives complete and in order', async (t) => {
  const store = createStore({
    kind: 'influxdb',
    version: 1,
    url: srv().url,
    database: freshDb(),
    maxLinesPerRequest: 7,
  });
  await store.open();
  const fixes = Array.from({ length: 50 }, (_, i) => fix({ ts: T0 + i }));
  await store.writeFixes(fixes);
  t.deepEqual(await store.track({ vehicle: 'veh-1', from: T0, to: T0 + 100 }), fixes);
});

test('explicit retention policy: reads and writes go to it; a missing one is named', async (t) => {
  const database = freshDb();
  const store = createStore({
    kind: 'influxdb',
    version: 1,
    url: srv().url,
    database,
    retentionPolicy: 'autogen',
  });
  await store.open();
  const f = fix({ speed: 3 });
  await store.writeFixes([f]);
  t.deepEqual(await store.latestOf('veh-1'), f);

  const missing = createStore({
    kind: 'influxdb',
    version: 1,
    url: srv().url,
    database,
    retentionPolicy: 'nope',
  });
  await missing.open();
  const err = await t.throwsAsync(missing.writeFixes([f]));
  t.regex(err?.message ?? '', /^InfluxDB write failed: HTTP \d+ .*retention policy not found/);
});

test('v2 settings read through /query with db = bucket and a Token header', async (t) => {
  // influxd 1.6 has no /api/v2/write, but it serves the InfluxQL endpoint that 2.x keeps compatible;
  // with auth disabled it ignores the token. So: write with v1, read with the v2-configured adapter.
  const bucket = freshDb();
  const v1 = createStore({ kind: 'influxdb', version: 1, url: srv().url, database: bucket });
  await v1.open();
  const fixes = [
    fix({ speed: 1 }),
    fix({ ts: T0 + 1_000, speed: 2 }),
    fix({ vehicle: 'veh-2', kind: 'sanitation' }),
  ];
  await v1.writeFixes(fixes);

  const v2 = createStore({
    kind: 'influxdb',
    version: 2,
    url: `${srv().url}/`,
    token: 'tok',
    org: 'city',
    bucket,
  });
  t.is(v2.name, 'influxdb-v2');
  await v2.open();
  t.deepEqual(await v2.latest(), [fixes[1]!, fixes[2]!]);
  t.deepEqual(await v2.latest({ kind: 'sanitation' }), [fixes[2]!]);
  t.deepEqual(await v2.track({ vehicle: 'veh-1', from: T0, to: T0 + 1_000 }), fixes.slice(0, 2));
  t.is(await v2.count('veh-1', T0, T0 + 1_000), 2);
  t.deepEqual(await v2.health(), { ok: true }, '/health is 404 on 1.x, so /ping decides');

  // and its write path is the 2.x endpoint, which 1.6 does not have: a prompt, named failure
  const started = Date.now();
  const err = await t.throwsAsync(v2.writeFixes([fix({ ts: T0 + 9_000 })]));
  t.regex(err?.message ?? '', /^InfluxDB write failed: HTTP 404/);
  t.true(Date.now() - started < 2_000);
});

test('latest with a long vehicle list (several queries)', async (t) => {
  const store = createStore({ kind: 'influxdb', version: 1, url: srv().url, database: freshDb() });
  await store.open();
  const fixes = Array.from({ length: 1_200 }, (_, i) =>
    fix({ vehicle: `v-${String(i).padStart(4, '0')}`, ts: T0 + i }),
  );
  await store.writeFixes(fixes);
  const wanted = fixes.filter((_, i) => i % 2 === 0);
  const got = await store.latest({
    vehicles: [...wanted.map((f) => f.vehicle), 'ghost', wanted[0]!.vehicle],
  });
  t.deepEqual(got, wanted);
});

test.serial('a hung server makes calls reject after timeoutMs, not hang', async (t) => {
  const store = createStore({
    kind: 'influxdb',
    version: 1,
    url: srv().url,
    database: freshDb(),
    timeoutMs: 500,
  });
  await store.open();
  srv().pause();
  try {
    let started = Date.now();
    const w = await t.throwsAsync(store.writeFixes([fix()]));
    t.regex(
      w?.message ?? '',
      /^InfluxDB write failed: no answer from http:\/\/127\.0\.0\.1:\d+ within 500 ms$/,
    );
    t.true(Date.now() - started < 2_000);
    started = Date.now();
    const r = await t.throwsAsync(store.latest());
    t.regex(r?.message ?? '', /^InfluxDB query failed: no answer/);
    const h = await store.health();
    t.false(h.ok);
    t.regex(h.detail ?? '', /no answer/);
    t.true(Date.now() - started < 3_000);
    // the v2 writer (influxdb-client transport) honours the same deadline
    const v2 = createStore({
      kind: 'influxdb',
      version: 2,
      url: srv().url,
      token: 't',
      org: 'o',
      bucket: 'b',
      timeoutMs: 500,
    });
    started = Date.now();
    const w2 = await t.throwsAsync(v2.writeFixes([fix()]));
    t.regex(
      w2?.message ?? '',
      /^InfluxDB write failed: no answer from http:\/\/127\.0\.0\.1:\d+ within 500 ms$/,
    );
    t.true(Date.now() - started < 2_000);
  } finally {
    srv().resume();
  }
  await store.writeFixes([fix()]);
  t.is(await store.count('veh-1', T0, T0), 1);
});

test('a closed store refuses calls; open() reopens it', async (t) => {
  const store = createStore({ kind: 'influxdb', version: 1, url: srv().url, database: freshDb() });
  await store.open();
  await store.close();
  await t.throwsAsync(store.writeFixes([fix()]), { message: /closed/ });
  t.false((await store.health()).ok);
  await store.open();
  await store.writeFixes([fix()]);
  t.is(await store.count('veh-1', T0, T0), 1);
});

test('a point written before accuracy was renamed (field `acc`) reads back as accuracy, next to new points', async (t) => {
  const database = freshDb();
  const store = createStore({ kind: 'influxdb', version: 1, url: srv().url, database });
  await store.open();
  // the line the adapter wrote for a fix with acc 4.5 until 2026-12 (acc was presence bit 4 then)
  const oldLine =
    'fix,firm=firm-a,kind=muck_truck,vehicle=veh-1 received=1716168600800i,lat=31.5,lon=117.25,acc=4.5,' +
    `valid=true,late=false,device="dev-1",crsIn="WGS84",present=16i ${T0}`;
  const res = await fetch(`${srv().url}/write?db=${database}&precision=ms`, {
    method: 'POST',
    body: oldLine,
  });
  t.is(res.status, 204);
  const renamed = fix({ ts: T0 + 1_000, accuracy: 7.25 });
  await store.writeFixes([renamed]);
  t.regex(fixToLine(renamed), /,accuracy=7\.25,/);
  t.notRegex(fixToLine(renamed), /[ ,]acc=/);
  t.deepEqual(await store.track({ vehicle: 'veh-1', from: T0, to: T0 + 1_000 }), [
    fix({ accuracy: 4.5 }),
    renamed,
  ]);
  t.deepEqual(await store.latestOf('veh-1'), renamed);
});
