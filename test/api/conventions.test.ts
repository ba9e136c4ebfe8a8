/**
 * The rest of the tests (their world: test/support/api/conventions.ts).
 */

import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../../api/app.ts';
import { ETAG_MAX_BYTES } from '../../api/etag.ts';
import type { Violation } from '../../geofence/types.ts';
import { admin, type Json, setUp, tp } from '../support/api/conventions.ts';
import { ADMIN_TOKEN as FIXTURE_TOKEN, fleetRegistry, OK_HEALTH } from '../support/api-fixtures.ts';
import { call } from '../support/identity-world.ts';
import { ADMIN_TOKEN } from '../support/platform.ts';
import { as, KEYS } from '../support/role-keys.ts';
import { SseClient } from '../support/sse.ts';

setUp();

// ---------------------------------------------------------------------------------------------------
// ETag

test.serial(
  'etag: a single resource has a strong ETag; If-None-Match gives 304 until it changes',
  async (t) => {
    // the firm the idempotency tests create (test/api/conventions-idempotency.test.ts), made here too
    await admin('POST', '/api/v1/firms', { id: 'firm-i', name: '幂等运输公司' });
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
