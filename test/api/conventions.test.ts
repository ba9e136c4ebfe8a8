import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../../api/app.ts';
import { ETAG_MAX_BYTES } from '../../api/etag.ts';
import { fingerprintOf } from '../../api/idempotency/plugin.ts';
import { IdempotencyStore } from '../../api/idempotency/store.ts';
import type { Violation } from '../../geofence/types.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { ADMIN_TOKEN as FIXTURE_TOKEN, fleetRegistry, OK_HEALTH } from '../support/api-fixtures.ts';
import { call } from '../support/identity-world.ts';
import { ADMIN_TOKEN, LOOPBACK_WEBHOOKS, startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { as, KEYS } from '../support/role-keys.ts';
import { SseClient } from '../support/sse.ts';

/**
 * The API's conventions (issue 4, "Conventions"), each implemented once for every route: idempotency
 * keys on POST and PATCH, ETags on cheap reads, cursor pages on every list, ISO-8601 instants on output,
 * request ids in answers, problem bodies and logs. Over real sockets against the real platform (SQLite
 * in a temporary DATA_DIR, restarted to show what is durable), and in-process where a log is read.
 */

// biome-ignore lint/suspicious/noExplicitAny: response bodies are navigated field by field
type Json = any;

const dataDir = mkdtempSync(join(tmpdir(), 'citywatch-conventions-'));
let tp: TestPlatform;
const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  call(tp.httpUrl, method, path, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }), headers });
const idem = (key: string) => ({ 'idempotency-key': key });

test.before(async () => {
  tp = await startTestPlatform({ DATA_DIR: dataDir, API_RATE_LIMIT: '0', ...LOOPBACK_WEBHOOKS });
});
test.after.always(async () => {
  await tp?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------
// Idempotency-Key

test.serial(
  'idempotency: a repeat replays the first answer; another body is a 422 naming the header',
  async (t) => {
    const body = { id: 'firm-i', name: '幂等运输公司' };
    const first = await admin('POST', '/api/v1/firms', body, idem('create-firm-i'));
    t.is(first.status, 201, first.text);
    t.is(first.headers.get('idempotent-replayed'), null);
    const again = await admin('POST', '/api/v1/firms', body, idem('create-firm-i'));
    t.is(again.status, 201, 'the first answer, not the 409 a second creation would get');
    t.is(again.text, first.text);
    t.is(again.headers.get('location'), first.headers.get('location'));
    t.is(again.headers.get('idempotent-replayed'), 'true');
    t.not(again.headers.get('x-request-id'), first.headers.get('x-request-id'), 'a request of its own');
    // the draft's quoted form is the same key as the bare one
    const quoted = await admin('POST', '/api/v1/firms', body, idem('"create-firm-i"'));
    t.is(quoted.headers.get('idempotent-replayed'), 'true');
    t.is((await admin('GET', '/api/v1/firms')).json.items.filter((f: Json) => f.id === 'firm-i').length, 1);

    const other = await admin('POST', '/api/v1/firms', { ...body, name: '别的公司' }, idem('create-firm-i'));
    t.is(other.status, 422);
    t.regex(String(other.headers.get('content-type')), /^application\/problem\+json/);
    t.is(other.json.type, 'urn:citywatch:problem:idempotency-key-reused');
    t.deepEqual(
      other.json.errors.map((e: Json) => [e.in, e.pointer]),
      [['headers', '/idempotency-key']],
    );

    // keys are per API key: another key may use the same value for its own request
    const key = (await admin('POST', '/api/v1/keys', { name: 'second admin', role: 'admin' })).json;
    const theirs = await call(tp.httpUrl, 'POST', '/api/v1/firms', {
      token: key.secret,
      body: { id: 'firm-j', name: '另一家' },
      headers: idem('create-firm-i'),
    });
    t.is(theirs.status, 201, theirs.text);
    t.is(theirs.json.id, 'firm-j');
  },
);

test.serial('idempotency: a refused creation (4xx) is replayed too; malformed keys are a 400', async (t) => {
  const dup = { id: 'firm-i', name: 'dup' };
  const first = await admin('POST', '/api/v1/firms', dup, idem('dup-1'));
  t.is(first.status, 409);
  await admin('PUT', '/api/v1/firms/firm-i', { name: '改名' });
  const again = await admin('POST', '/api/v1/firms', dup, idem('dup-1'));
  t.is(again.status, 409);
  t.is(again.headers.get('idempotent-replayed'), 'true');
  t.is(again.json.title, first.json.title);

  for (const bad of ['x'.repeat(256), '"unterminated', 'tab\there', 'caf\u00e9']) {
    const res = await admin('POST', '/api/v1/firms', { id: 'firm-z', name: 'z' }, idem(bad));
    t.is(res.status, 400, `${bad}: ${res.text}`);
    t.deepEqual(res.json.errors[0], {
      in: 'headers',
      pointer: '/idempotency-key',
      message: res.json.errors[0].message,
    });
  }
  t.is((await admin('GET', '/api/v1/firms/firm-z')).status, 404, 'nothing was created');
});

test.serial(
  'idempotency: device credentials are replayed to the same key only, and never stored in clear',
  async (t) => {
    await admin('POST', '/api/v1/vehicles', {
      id: 'veh-i1',
      plate: '皖A·I0001',
      kind: 'muck_truck',
      firm: 'firm-i',
    });
    const body = { kind: 'muck_truck', vehicle: 'veh-i1' };
    const first = await admin('POST', '/api/v1/devices', body, idem('provision-veh-i1'));
    t.is(first.status, 201, first.text);
    const replay = await admin('POST', '/api/v1/devices', body, idem('provision-veh-i1'));
    t.is(replay.headers.get('idempotent-replayed'), 'true');
    t.is(replay.json.credentials.password, first.json.credentials.password);
    t.is((await admin('GET', '/api/v1/devices?vehicle=veh-i1')).json.items.length, 1, 'one device');

    const password = first.json.credentials.password as string;
    // The database file must be there (a missing file fails the test instead of skipping the check);
    // the WAL is read when present (a checkpoint may have folded it into the database).
    const files = ['idempotency.sqlite', 'idempotency.sqlite-wal'].filter(
      (file, i) => i === 0 || existsSync(join(dataDir, file)),
    );
    const bytes = files.map((file) => readFileSync(join(dataDir, file)).toString('latin1')).join('');
    // positive control: the record of this request is in the bytes read (its key is stored in clear)
    t.true(bytes.includes('provision-veh-i1'), `the idempotency record is in ${files.join(' + ')}`);
    t.false(bytes.includes(password), `the secret is in ${files.join(' + ')} in clear`);
  },
);

test.serial(
  'idempotency: while the first request runs, a repeat is a 409; concurrent repeats run once',
  async (t) => {
    // Another process sharing DATA_DIR is in the middle of this request (the store's claim is what it holds).
    const body = { kind: 'muck_truck', vehicle: 'veh-i1' };
    const elsewhere = new IdempotencyStore({ file: join(dataDir, 'idempotency.sqlite') });
    t.teardown(() => elsewhere.close());
    const scope = { principal: 'admin-token', method: 'POST', path: '/api/v1/devices', key: 'busy-1' };
    const claim = elsewhere.begin(scope, fingerprintOf(body), Date.now(), 60_000);
    t.is(claim.kind, 'new');
    const busy = await admin('POST', '/api/v1/devices', body, idem('busy-1'));
    t.is(busy.status, 409, busy.text);
    t.is(busy.json.type, 'urn:citywatch:problem:idempotency-key-in-flight');
    t.is(busy.headers.get('retry-after'), '1');
    if (claim.kind === 'new') elsewhere.abandon(scope, claim.claim);
    t.is(
      (await admin('POST', '/api/v1/devices', body, idem('busy-1'))).status,
      201,
      'free again once abandoned',
    );

    // Five at once with one key: one device is provisioned, whatever each of them was answered.
    await admin('POST', '/api/v1/vehicles', {
      id: 'veh-i2',
      plate: '皖A·I0002',
      kind: 'muck_truck',
      firm: 'firm-i',
    });
    const race = { kind: 'muck_truck', vehicle: 'veh-i2' };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => admin('POST', '/api/v1/devices', race, idem('race-1'))),
    );
    t.true(
      answers.every((a) => a.status === 201 || a.status === 409),
      answers.map((a) => a.status).join(),
    );
    const created = answers.filter((a) => a.status === 201);
    t.true(created.length >= 1);
    t.is(new Set(created.map((a) => a.json.device.id)).size, 1, 'never two devices');
    t.is((await admin('GET', '/api/v1/devices?vehicle=veh-i2')).json.items.length, 1);
  },
);

test.serial('idempotency: recorded answers survive a restart (SQLite in DATA_DIR)', async (t) => {
  const before = await admin(
    'POST',
    '/api/v1/firms',
    { id: 'firm-i', name: '幂等运输公司' },
    idem('create-firm-i'),
  );
  await tp.stop();
  tp = await startTestPlatform({ DATA_DIR: dataDir, API_RATE_LIMIT: '0', ...LOOPBACK_WEBHOOKS });
  const after = await admin(
    'POST',
    '/api/v1/firms',
    { id: 'firm-i', name: '幂等运输公司' },
    idem('create-firm-i'),
  );
  t.is(after.status, 201);
  t.is(after.headers.get('idempotent-replayed'), 'true');
  t.is(after.text, before.text);
});

test('idempotency: a record expires after its time; the key may then be used afresh', async (t) => {
  let clock = Date.UTC(2026, 0, 1);
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-idem-ttl-'));
  const registry = new SqliteRegistry({ dir });
  const app = await buildApi(
    {
      adminToken: FIXTURE_TOKEN,
      keys: KEYS,
      positions: { latest: async () => [], latestOf: async () => undefined },
      registry: fleetRegistry(),
      resources: { registry },
      health: async () => OK_HEALTH,
      metrics: new MetricsRegistry(),
    },
    // a clock of the test's own: the record's expiry is reached by moving it, not by waiting
    { idempotencyTtlMs: 60_000, idempotencyNow: () => clock },
  );
  t.teardown(async () => {
    await app.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const post = (body: object) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/firms',
      headers: { ...as('admin'), ...idem('ttl') },
      payload: body,
    });
  t.is((await post({ id: 'f1', name: 'one' })).statusCode, 201);
  t.is((await post({ id: 'f2', name: 'two' })).statusCode, 422);
  clock += 59_999;
  t.is((await post({ id: 'f2', name: 'two' })).statusCode, 422, 'still kept 1 ms before its expiry');
  clock += 1;
  const fresh = await post({ id: 'f2', name: 'two' });
  t.is(fresh.statusCode, 201, fresh.body);
  t.is(fresh.headers['idempotent-replayed'], undefined);
});

test.serial(
  'idempotency: every POST and PATCH operation documents the header and the 409/422 answers',
  async (t) => {
    const doc: Json = (await call(tp.httpUrl, 'GET', '/docs/json')).json;
    const missing: string[] = [];
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const method of ['post', 'patch']) {
        const op = item[method];
        if (!op) continue;
        const header = (op.parameters ?? []).find(
          (p: Json) => p.in === 'header' && p.name === 'idempotency-key',
        );
        if (!header || !op.responses['409'] || !op.responses['422']) missing.push(`${method} ${path}`);
      }
    }
    t.deepEqual(missing, []);
  },
);

// ---------------------------------------------------------------------------------------------------
// ETag

test.serial(
  'etag: a single resource has a strong ETag; If-None-Match gives 304 until it changes',
  async (t) => {
    const first = await admin('GET', '/api/v1/firms/firm-i');
    const etag = first.headers.get('etag');
    t.regex(String(etag), /^"[A-Za-z0-9_-]{22}"$/);
    const same = await admin('GET', '/api/v1/firms/firm-i', undefined, { 'if-none-match': String(etag) });
    t.is(same.status, 304);
    t.is(same.text, '');
    t.is(same.headers.get('etag'), etag);
    t.is(same.headers.get('x-request-id') !== null, true);
    for (const header of [`W/${etag}`, `"nope", ${etag}`, '*']) {
      t.is(
        (await admin('GET', '/api/v1/firms/firm-i', undefined, { 'if-none-match': header })).status,
        304,
        header,
      );
    }
    t.is((await admin('GET', '/api/v1/firms/firm-i', undefined, { 'if-none-match': '"other"' })).status, 200);
    await admin('PUT', '/api/v1/firms/firm-i', { name: '又改名' });
    const changed = await admin('GET', '/api/v1/firms/firm-i', undefined, { 'if-none-match': String(etag) });
    t.is(changed.status, 200);
    t.not(changed.headers.get('etag'), etag);
    t.is(
      (await admin('POST', '/api/v1/officers', { id: 'off-e', name: 'e', firm: 'firm-i' })).headers.get(
        'etag',
      ),
      null,
    );
  },
);

test.serial('etag: large answers and streams are not hashed', async (t) => {
  for (let i = 0; i < 4000; i++) {
    tp.platform.registry.upsertVehicle({
      id: `veh-bulk-${String(i).padStart(4, '0')}`,
      plate: `皖B·${i}`,
      kind: 'muck_truck',
      firm: 'firm-j',
    });
  }
  const all = await admin('GET', '/api/v1/vehicles?firm=firm-j');
  t.true(Buffer.byteLength(all.text) > ETAG_MAX_BYTES, String(all.text.length));
  t.is(all.headers.get('etag'), null);
  t.truthy((await admin('GET', '/api/v1/vehicles?firm=firm-j&limit=10')).headers.get('etag'));
  const sse = await SseClient.connect(`${tp.httpUrl}/api/v1/live/positions`, {
    authorization: `Bearer ${ADMIN_TOKEN}`,
  });
  t.teardown(() => sse.close());
  t.is(sse.response.headers.etag, undefined);
  t.truthy(sse.response.headers['x-request-id']);
});

// ---------------------------------------------------------------------------------------------------
// Cursor pagination

test.serial('paging: every list walks in pages of `limit` to the same items as the whole list', async (t) => {
  const w = tp.httpUrl;
  for (let i = 0; i < 5; i++) {
    await admin('POST', '/api/v1/officers', { id: `off-p${i}`, name: `p${i}`, firm: 'firm-i' });
    await admin('POST', '/api/v1/keys', { name: `k${i}`, role: 'monitor' });
    await admin('POST', '/api/v1/sites', {
      type: 'Feature',
      id: `site-p${i}`,
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [117.2 + i * 0.01, 31.8],
            [117.205 + i * 0.01, 31.8],
            [117.205 + i * 0.01, 31.805],
            [117.2 + i * 0.01, 31.8],
          ],
        ],
      },
      properties: { kind: i === 0 ? 'disposal' : 'origin', name: `p${i}` },
    });
    await admin('POST', '/api/v1/webhooks', { url: `http://127.0.0.1:9/${i}`, events: ['trip.started'] });
  }
  await admin('POST', '/api/v1/routes', {
    type: 'Feature',
    id: 'route-p',
    geometry: {
      type: 'LineString',
      coordinates: [
        [117.2, 31.8],
        [117.3, 31.8],
      ],
    },
    properties: { name: 'p' },
  });
  for (let i = 0; i < 3; i++) {
    const permit = {
      id: `permit-p${i}`,
      firm: 'firm-i',
      vehicles: ['veh-i1'],
      origins: ['site-p1'],
      disposals: ['site-p0'],
      routes: ['route-p'],
      validFrom: '2026-11-01',
      validTo: '2026-11-30',
      windows: ['22:00-06:00'],
      cargo: '建筑垃圾',
    };
    const res = await admin('POST', '/api/v1/permits', permit);
    t.is(res.status, 201, res.text);
  }
  const lists: Array<[string, string]> = [
    ['/api/v1/firms', 'items'],
    ['/api/v1/vehicles?firm=firm-j', 'items'],
    ['/api/v1/officers', 'items'],
    ['/api/v1/devices', 'items'],
    ['/api/v1/keys', 'items'],
    ['/api/v1/permits', 'items'],
    ['/api/v1/sites', 'features'],
    ['/api/v1/webhooks', 'items'],
    ['/api/v1/positions', 'items'],
  ];
  for (const [path, member] of lists) {
    const whole = await call(w, 'GET', path, { token: ADMIN_TOKEN });
    t.is(whole.status, 200, `${path}: ${whole.text.slice(0, 200)}`);
    t.is(whole.json.nextCursor, undefined, `${path}: the whole list without limit`);
    const ids = whole.json[member].map((x: Json) => x.id ?? x.vehicle);
    const paged: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const url = `${path}${sep}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await call(w, 'GET', url, { token: ADMIN_TOKEN });
      t.is(page.status, 200, `${url}: ${page.text.slice(0, 200)}`);
      t.true(page.json[member].length <= 2);
      paged.push(...page.json[member].map((x: Json) => x.id ?? x.vehicle));
      cursor = page.json.nextCursor;
      pages++;
    } while (cursor !== undefined && pages < 10_000);
    t.deepEqual(paged, ids, `${path}: pages walk the list`);
    if (ids.length > 2) t.true(pages > 1, `${path}: more than one page`);
    const bad = await call(w, 'GET', `${path}${path.includes('?') ? '&' : '?'}cursor=bm90LWEtY3Vyc29y`, {
      token: ADMIN_TOKEN,
    });
    t.is(bad.status, 400, `${path}: ${bad.text}`);
    t.is(bad.json.errors[0].pointer, '/cursor');
  }
});

test.serial(
  'paging: every list operation in the document takes limit and cursor (history lists excepted)',
  async (t) => {
    const doc: Json = (await call(tp.httpUrl, 'GET', '/docs/json')).json;
    const resolve = (schema: Json): Json =>
      schema?.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;
    const unpaged: string[] = [];
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      const op = item.get;
      if (!path.startsWith('/api/v1/') || !op) continue;
      // an entity's versions or audit trail, the month's scorecards (one per firm, ranked together), a
      // unit's track (a time range, bounded by from/to, maxPoints and 100,000 fixes) and the nearest units
      // to a point (a top-k search: `limit` is k, at most 100)
      if (/\/(versions|audit|track)$/.test(path) || path.startsWith('/api/v1/scorecards')) continue;
      if (path === '/api/v1/dispatch/nearest') continue;
      const content = op.responses['200']?.content ?? {};
      const schema = resolve(content['application/json']?.schema);
      const props = schema?.properties ?? {};
      const isList = props.items?.type === 'array' || props.features?.type === 'array';
      if (!isList) continue;
      const names = (op.parameters ?? []).filter((p: Json) => p.in === 'query').map((p: Json) => p.name);
      if (!names.includes('limit') || !names.includes('cursor') || !props.nextCursor) unpaged.push(path);
    }
    t.deepEqual(unpaged, []);
  },
);

// ---------------------------------------------------------------------------------------------------
// ISO-8601 instants

test.serial(
  'instants: violations and trips carry ISO-8601 UTC startAt/endAt beside startTs/endTs',
  async (t) => {
    const T = Date.parse('2026-11-20T15:00:00Z');
    const v: Violation = {
      id: `veh-i1:OFF_ROUTE:${T}`,
      code: 'OFF_ROUTE',
      vehicle: 'veh-i1',
      firm: 'firm-i',
      startTs: T,
      endTs: T + 90_000,
      durationMs: 90_000,
      level: 0,
      startPos: [117.2, 31.8],
      lastPos: [117.21, 31.8],
      refs: [],
      thresholds: {},
      ruleVersion: 1,
      details: {},
    };
    const { endTs: _e, durationMs: _d, ...opened } = v;
    // the live stream's violation events carry them too (published as the engine's bus does)
    const live = await SseClient.connect(`${tp.httpUrl}/api/v1/live/violations?vehicle=veh-i1`, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    t.teardown(() => live.close());
    tp.platform.live.publishViolation({ phase: 'closed', violation: v });
    const event = JSON.parse((await live.next()).data);
    t.is(event.violation.startTs, T);
    t.is(event.violation.startAt, '2026-11-20T15:00:00.000Z');
    t.is(event.violation.endAt, '2026-11-20T15:01:30.000Z');
    await tp.platform.events.recordViolations([
      { phase: 'opened', violation: opened },
      { phase: 'closed', violation: v },
    ]);
    await tp.platform.events.recordTrip({
      kind: 'started',
      trip: {
        id: `veh-i1:trip:${T}`,
        vehicle: 'veh-i1',
        firm: 'firm-i',
        permit: 'permit-p0',
        originSite: 'site-p1',
        originVersion: 1,
        startTs: T,
        startPos: [117.2, 31.8],
        loadTrigger: 'load',
      },
    });
    const list = (await admin('GET', '/api/v1/violations?vehicle=veh-i1')).json.items[0];
    t.is(list.startTs, T);
    t.is(list.startAt, '2026-11-20T15:00:00.000Z');
    t.is(list.endAt, '2026-11-20T15:01:30.000Z');
    const one = (await admin('GET', `/api/v1/violations/${encodeURIComponent(v.id)}`)).json;
    t.is(one.violation.startAt, '2026-11-20T15:00:00.000Z');
    t.deepEqual(
      one.phases.map((p: Json) => [p.phase, p.violation.endAt]),
      [
        ['opened', undefined],
        ['closed', '2026-11-20T15:01:30.000Z'],
      ],
    );
    const trip = (await admin('GET', '/api/v1/trips?vehicle=veh-i1')).json.items[0];
    t.is(trip.startAt, '2026-11-20T15:00:00.000Z');
    t.is(trip.endAt, undefined);
  },
);

// ---------------------------------------------------------------------------------------------------
// Request ids

test.serial(
  'request ids: every answer has X-Request-Id; problems carry it; a plain client id is kept',
  async (t) => {
    const ok = await admin('GET', '/api/v1/firms');
    t.regex(
      String(ok.headers.get('x-request-id')),
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    const problem = await call(tp.httpUrl, 'GET', '/api/v1/firms/none', { token: ADMIN_TOKEN });
    t.is(problem.status, 404);
    t.is(problem.json.requestId, problem.headers.get('x-request-id'));
    const unauthenticated = await call(tp.httpUrl, 'GET', '/api/v1/firms');
    t.is(unauthenticated.json.requestId, unauthenticated.headers.get('x-request-id'));
    const traced = await admin('GET', '/api/v1/firms', undefined, { 'x-request-id': 'gateway-trace-0042' });
    t.is(traced.headers.get('x-request-id'), 'gateway-trace-0042');
    const odd = await admin('GET', '/api/v1/firms', undefined, { 'x-request-id': 'has spaces and {json}' });
    t.not(odd.headers.get('x-request-id'), 'has spaces and {json}');
    t.regex(String(odd.headers.get('x-request-id')), /^[0-9a-f-]{36}$/);
  },
);

test('request ids: every log line of a request carries its id, and the key’s id once authenticated', async (t) => {
  const lines: Json[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApi(
    {
      adminToken: FIXTURE_TOKEN,
      keys: KEYS,
      positions: {
        latest: async () => {
          throw new Error('store down');
        },
        latestOf: async () => undefined,
      },
      registry: fleetRegistry(),
      health: async () => OK_HEALTH,
      metrics: new MetricsRegistry(),
    },
    { loggerInstance: pino({ level: 'info' }, sink) },
  );
  t.teardown(() => app.close());
  const res = await app.inject({ url: '/api/v1/positions', headers: as('monitor') });
  t.is(res.statusCode, 503);
  const id = res.headers['x-request-id'];
  t.is(JSON.parse(res.body).requestId, id);
  const mine = lines.filter((l) => l.reqId === id);
  t.true(mine.some((l) => l.msg === 'incoming request'));
  t.true(mine.some((l) => l.msg === 'request completed' && l.res?.statusCode === 503));
  const failure = mine.find((l) => l.level >= 50);
  t.truthy(failure, 'the store failure is logged with the request id');
  t.is(failure.keyId, 'key-monitor');
  t.true(
    lines.every((l) => l.reqId !== undefined || (l.req === undefined && l.res === undefined)),
    'no line about a request without its id',
  );
  t.false(JSON.stringify(lines).includes('secret-monitor'), 'no bearer secret in the logs');
});
