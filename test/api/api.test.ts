import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../../api/app.ts';
import { HTTP_DURATION_METRIC } from '../../api/metrics.ts';
import { PROBLEM_TYPES } from '../../api/problem.ts';
import {
  type HealthReport,
  HealthReportSchema,
  PositionDtoSchema,
  PositionListSchema,
  ProblemSchema,
} from '../../api/schemas.ts';
import {
  ADMIN_TOKEN,
  AUTH,
  fleetRegistry,
  OK_HEALTH,
  seededStore,
  T0,
  type TestStore,
  testApi,
} from '../support/api-fixtures.ts';
import { openApiProblems } from '../support/openapi.ts';

let seeded: TestStore;
test.before(async () => {
  seeded = await seededStore();
});
test.after.always(async () => {
  await seeded?.cleanup();
});

/** Parse a problem response and check the RFC 9457 envelope. */
function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  const body = ProblemSchema.parse(JSON.parse(res.body));
  if (body.status !== res.statusCode) throw new Error(`problem status ${body.status} != ${res.statusCode}`);
  return body;
}

// ---------------------------------------------------------------------------------------------------
// /healthz

test('healthz: 200 with component states when ok, without a token', async (t) => {
  const { app } = await testApi(seeded.store);
  const res = await app.inject({ url: '/healthz' });
  t.is(res.statusCode, 200);
  t.is(res.headers['cache-control'], 'no-store');
  t.deepEqual(HealthReportSchema.parse(res.json()), OK_HEALTH);
});

test('healthz: 200 when degraded, 503 when down', async (t) => {
  let report: HealthReport = {
    status: 'degraded',
    components: { store: { state: 'degraded', name: 'influxdb-v2', ok: false, detail: 'slow writes' } },
  };
  const { app } = await testApi(seeded.store, { health: async () => report });
  const degraded = await app.inject({ url: '/healthz' });
  t.is(degraded.statusCode, 200);
  t.is(degraded.json().status, 'degraded');
  t.is(degraded.json().components.store.detail, 'slow writes');

  report = {
    status: 'down',
    components: { broker: { state: 'down', connections: 0, detail: 'not listening' } },
  };
  const down = await app.inject({ url: '/healthz' });
  t.is(down.statusCode, 503);
  t.deepEqual(down.json(), report);
});

test('healthz: a failing or malformed health check is reported as down', async (t) => {
  const failing = await testApi(seeded.store, {
    health: async () => {
      throw new Error('spool unreadable');
    },
  });
  const res = await failing.app.inject({ url: '/healthz' });
  t.is(res.statusCode, 503);
  t.is(res.json().status, 'down');
  t.is(res.json().components.health.state, 'down');
  t.regex(res.json().components.health.detail, /spool unreadable/);

  const malformed = await testApi(seeded.store, {
    health: async () => ({ status: 'fine' }) as unknown as HealthReport,
  });
  const bad = await malformed.app.inject({ url: '/healthz' });
  t.is(bad.statusCode, 503);
  t.is(bad.json().status, 'down');
});

// ---------------------------------------------------------------------------------------------------
// /metrics

test('metrics: Prometheus text with the HTTP latency histogram labelled by route template', async (t) => {
  const { app, metrics } = await testApi(seeded.store);
  await app.inject({ url: '/api/v1/positions', headers: AUTH });
  await app.inject({ url: '/api/v1/vehicles/veh-1/position', headers: AUTH });
  await app.inject({ url: '/api/v1/vehicles/veh-2/position', headers: AUTH });
  await app.inject({ url: '/no/such/route/42' });
  const res = await app.inject({ url: '/metrics' });
  t.is(res.statusCode, 200);
  t.is(res.headers['content-type'], metrics.contentType);
  const text = res.body;
  t.true(text.includes(`# TYPE ${HTTP_DURATION_METRIC} histogram`));
  t.true(
    text.includes(`${HTTP_DURATION_METRIC}_count{route="/api/v1/positions",method="GET",status="200"} 1`),
    text,
  );
  // One series for the template, whatever the unit id.
  t.true(
    text.includes(
      `${HTTP_DURATION_METRIC}_count{route="/api/v1/vehicles/:id/position",method="GET",status="200"} 2`,
    ),
  );
  t.true(text.includes(`${HTTP_DURATION_METRIC}_count{route="unmatched",method="GET",status="404"} 1`));
  t.false(text.includes('/no/such/route'));
});

test('metrics: metrics registered by others on the same registry are served too', async (t) => {
  const metrics = new MetricsRegistry();
  const { Counter } = await import('prom-client');
  new Counter({ name: 'citywatch_test_total', help: 'a test counter', registers: [metrics] }).inc(3);
  const { app } = await testApi(seeded.store, { metrics });
  // Building a second API on the same registry reuses the histogram instead of failing.
  await t.notThrowsAsync(testApi(seeded.store, { metrics }));
  const text = (await app.inject({ url: '/metrics' })).body;
  t.true(text.includes('citywatch_test_total 3'));
});

// ---------------------------------------------------------------------------------------------------
// auth

test('auth: no token is 401 with WWW-Authenticate: Bearer and a problem body', async (t) => {
  const { app } = await testApi(seeded.store);
  for (const url of ['/api/v1/positions', '/api/v1/vehicles/veh-1/position']) {
    const res = await app.inject({ url });
    t.is(res.statusCode, 401);
    t.regex(String(res.headers['www-authenticate']), /^Bearer realm="citywatch"$/);
    const body = problem(res);
    t.is(body.title, 'Unauthorized');
    t.is(body.instance, url);
    t.false(res.body.includes('veh-1"'), 'no data without a token');
  }
});

test('auth: a wrong, malformed or non-bearer token is 401 invalid_token', async (t) => {
  const { app } = await testApi(seeded.store);
  for (const authorization of [
    'Bearer wrong-token',
    `Bearer ${ADMIN_TOKEN}x`,
    `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
    `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
    `Bearer ${ADMIN_TOKEN} extra`,
    'Bearer',
    ADMIN_TOKEN,
  ]) {
    const res = await app.inject({ url: '/api/v1/positions', headers: { authorization } });
    t.is(res.statusCode, 401, authorization);
    t.regex(String(res.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
    problem(res);
  }
});

test('auth: the right token passes (scheme name case-insensitive)', async (t) => {
  const { app } = await testApi(seeded.store);
  t.is((await app.inject({ url: '/api/v1/positions', headers: AUTH })).statusCode, 200);
  const lower = await app.inject({
    url: '/api/v1/positions',
    headers: { authorization: `bearer ${ADMIN_TOKEN}` },
  });
  t.is(lower.statusCode, 200);
});

test('auth: unknown /api/v1 routes need the token before they are a 404', async (t) => {
  const { app } = await testApi(seeded.store);
  t.is((await app.inject({ url: '/api/v1/firms' })).statusCode, 401);
  const res = await app.inject({ url: '/api/v1/firms', headers: AUTH });
  t.is(res.statusCode, 404);
  t.is(problem(res).detail, 'No route for GET /api/v1/firms');
});

test('auth: an empty or whitespace admin token is refused at build time', async (t) => {
  for (const adminToken of ['', 'two words']) {
    await t.throwsAsync(testApi(seeded.store, { adminToken }), { message: /admin token/ });
  }
});

// ---------------------------------------------------------------------------------------------------
// positions (real embedded store)

test('positions: latest fix of every unit, with plates, ISO instants and sensor fields', async (t) => {
  const { app } = await testApi(seeded.store);
  const res = await app.inject({ url: '/api/v1/positions', headers: AUTH });
  t.is(res.statusCode, 200);
  const body = PositionListSchema.parse(res.json());
  t.is(body.count, 4);
  t.deepEqual(
    body.items.map((p) => p.vehicle),
    ['cam-1', 'veh-1', 'veh-2', 'veh-s1'],
  );
  const truck = body.items.find((p) => p.vehicle === 'veh-1');
  // The late backfill (ts T0+2s, written last) did not replace the latest fix (T0+10s).
  t.deepEqual(truck, {
    vehicle: 'veh-1',
    device: 'dev-1',
    kind: 'muck_truck',
    firm: 'firm-a',
    plate: '皖A·10001',
    ts: '2026-11-22T08:00:10.000Z',
    received: '2026-11-22T08:00:10.800Z',
    lat: 31.8211,
    lon: 117.2311,
    speed: 32.5,
    heading: 90,
    alt: 30,
    sats: 12,
    accuracy: 5,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ign: true,
    load: 'full',
    weight: 17.5,
    cover: 'closed',
    lift: 'down',
    doors: 'closed',
  });
  const camera = body.items.find((p) => p.vehicle === 'cam-1');
  t.is(camera?.plate, undefined, 'body cameras have no plate');
  t.is(camera?.officer, 'off-1');
  t.is(camera?.recording, true);
  t.is(camera?.battery, 81);
  const sweeper = body.items.find((p) => p.vehicle === 'veh-s1');
  t.is(sweeper?.task, 'sweeping');
  t.is(sweeper?.binLifts, 12);
});

test('positions: filters by firm, kind and vehicle (repeated or comma list), combined with AND', async (t) => {
  const { app } = await testApi(seeded.store);
  const ids = async (query: string) => {
    const res = await app.inject({ url: `/api/v1/positions${query}`, headers: AUTH });
    t.is(res.statusCode, 200, `${query}: ${res.body}`);
    const body = PositionListSchema.parse(res.json());
    t.is(body.count, body.items.length);
    return body.items.map((p) => p.vehicle);
  };
  t.deepEqual(await ids('?firm=firm-a'), ['veh-1', 'veh-s1']);
  t.deepEqual(await ids('?kind=muck_truck'), ['veh-1', 'veh-2']);
  t.deepEqual(await ids('?kind=body_camera'), ['cam-1']);
  t.deepEqual(await ids('?firm=firm-a&kind=sanitation'), ['veh-s1']);
  t.deepEqual(await ids('?vehicle=veh-2'), ['veh-2']);
  t.deepEqual(await ids('?vehicle=veh-2&vehicle=cam-1'), ['cam-1', 'veh-2']);
  t.deepEqual(await ids('?vehicle=veh-2,cam-1,veh-1'), ['cam-1', 'veh-1', 'veh-2']);
  t.deepEqual(await ids('?vehicle=veh-2,%20cam-1&vehicle=veh-2'), ['cam-1', 'veh-2']);
  t.deepEqual(await ids('?vehicle=veh-1,veh-2&firm=firm-b'), ['veh-2']);
  t.deepEqual(await ids('?vehicle=veh-silent'), [], 'a unit without fixes is simply absent');
  t.deepEqual(await ids('?vehicle='), [], 'an empty list selects nothing');
  t.deepEqual(await ids('?firm=nobody'), []);
});

test('positions: one unit, by vehicle id or body camera id', async (t) => {
  const { app } = await testApi(seeded.store);
  const truck = await app.inject({ url: '/api/v1/vehicles/veh-2/position', headers: AUTH });
  t.is(truck.statusCode, 200);
  const dto = PositionDtoSchema.parse(truck.json());
  t.is(dto.plate, '皖A·10002');
  t.is(dto.ts, new Date(T0 + 5_000).toISOString());
  t.is(dto.crsIn, 'GCJ02');
  t.is(dto.load, 'half');

  const camera = await app.inject({ url: '/api/v1/vehicles/cam-1/position', headers: AUTH });
  t.is(camera.statusCode, 200);
  t.is(camera.json().kind, 'body_camera');
});

test('positions: 404 problem for an unknown unit and for a unit without a fix', async (t) => {
  const { app } = await testApi(seeded.store);
  const unknown = await app.inject({ url: '/api/v1/vehicles/veh-404/position', headers: AUTH });
  t.is(unknown.statusCode, 404);
  const u = problem(unknown);
  t.is(u.type, PROBLEM_TYPES.unknownUnit);
  t.regex(u.detail ?? '', /veh-404/);
  t.is(u.instance, '/api/v1/vehicles/veh-404/position');

  // A device id that is not a unit (a vehicle terminal) is not a unit either; the answer names its vehicle.
  const device = await app.inject({ url: '/api/v1/vehicles/dev-1/position', headers: AUTH });
  t.is(device.statusCode, 404);
  t.regex(
    problem(device).detail ?? '',
    /'dev-1' is a device, not a unit: .* mounted on vehicle 'veh-1' \(\/api\/v1\/vehicles\/veh-1\/position\)/,
  );

  const silent = await app.inject({ url: '/api/v1/vehicles/veh-silent/position', headers: AUTH });
  t.is(silent.statusCode, 404);
  t.is(problem(silent).type, PROBLEM_TYPES.noPosition);
});

test('positions: a failing store is a 503 problem that does not leak the cause', async (t) => {
  const broken = {
    latest: async () => {
      throw new Error('ECONNREFUSED 10.0.0.7:8086 secret-detail');
    },
    latestOf: async () => {
      throw new Error('ECONNREFUSED 10.0.0.7:8086 secret-detail');
    },
  };
  const { app } = await testApi(broken);
  for (const url of ['/api/v1/positions', '/api/v1/vehicles/veh-1/position']) {
    const res = await app.inject({ url, headers: AUTH });
    t.is(res.statusCode, 503);
    t.is(problem(res).type, PROBLEM_TYPES.storeUnavailable);
    t.false(res.body.includes('secret-detail'));
  }
});

// ---------------------------------------------------------------------------------------------------
// validation and unknown routes

test('validation: a bad query is a 400 problem naming the field at fault', async (t) => {
  const { app } = await testApi(seeded.store);
  const res = await app.inject({ url: '/api/v1/positions?kind=tractor', headers: AUTH });
  t.is(res.statusCode, 400);
  const body = problem(res);
  t.is(body.type, PROBLEM_TYPES.validation);
  t.regex(
    body.detail ?? '',
    /^querystring\/kind: Invalid option: expected one of "muck_truck"\|"sanitation"\|"body_camera"/,
  );
  t.deepEqual(
    body.errors?.map((e) => [e.in, e.pointer]),
    [['querystring', '/kind']],
  );

  const typo = await app.inject({ url: '/api/v1/positions?vehicles=veh-1', headers: AUTH });
  t.is(typo.statusCode, 400);
  t.is(problem(typo).detail, 'querystring/vehicles: Unrecognized key: "vehicles"');

  const several = await app.inject({ url: `/api/v1/positions?firm=&kind=x`, headers: AUTH });
  t.is(several.statusCode, 400);
  t.deepEqual(
    problem(several).errors?.map((e) => e.pointer),
    ['/firm', '/kind'],
  );

  const longId = await app.inject({ url: `/api/v1/vehicles/${'x'.repeat(129)}/position`, headers: AUTH });
  t.is(longId.statusCode, 400);
  t.regex(problem(longId).detail ?? '', /^params\/id: Too big: expected string to have <=128 characters/);

  const veryLong = await app.inject({ url: `/api/v1/vehicles/${'x'.repeat(300)}/position`, headers: AUTH });
  t.is(veryLong.statusCode, 414);
  problem(veryLong);
});

test('unknown routes and methods are 404 problems', async (t) => {
  const { app } = await testApi(seeded.store);
  const res = await app.inject({ url: '/nowhere?x=1' });
  t.is(res.statusCode, 404);
  const body = problem(res);
  t.is(body.type, 'about:blank');
  t.is(body.title, 'Not Found');
  t.is(body.detail, 'No route for GET /nowhere');
  t.is(body.instance, '/nowhere?x=1');
  const post = await app.inject({ method: 'POST', url: '/healthz', payload: {} });
  t.is(post.statusCode, 404);
  problem(post);
});

// ---------------------------------------------------------------------------------------------------
// OpenAPI

test('docs: /docs/json is a sound OpenAPI 3 document listing the routes with bearer security', async (t) => {
  const { app } = await testApi(seeded.store);
  const res = await app.inject({ url: '/docs/json' });
  t.is(res.statusCode, 200);
  const doc = res.json();
  t.deepEqual(openApiProblems(doc), []);
  t.regex(doc.openapi, /^3\./);
  t.is(doc.info.title, 'CityWatch API');
  t.is(typeof doc.info.version, 'string');
  t.like(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer' });
  t.regex(doc.components.securitySchemes.bearerAuth.description, /ADMIN_TOKEN, or an API key/);
  t.deepEqual(Object.keys(doc.paths).sort(), [
    // the audit log is always served (in memory when no file is given)
    '/api/v1/audit',
    '/api/v1/audit/verify',
    '/api/v1/positions',
    '/api/v1/vehicles/{id}/position',
    '/healthz',
    '/metrics',
  ]);
  const positions = doc.paths['/api/v1/positions'].get;
  t.deepEqual(positions.security, [{ bearerAuth: [] }]);
  t.deepEqual(
    positions.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`),
    ['query:firm', 'query:kind', 'query:vehicle', 'query:bbox', 'query:limit', 'query:cursor'],
  );
  t.truthy(positions.responses['401'].content['application/problem+json']);
  t.deepEqual(doc.paths['/api/v1/vehicles/{id}/position'].get.security, [{ bearerAuth: [] }]);
  t.is(doc.paths['/healthz'].get.security, undefined, 'healthz is open');
  const position = doc.components.schemas.Position;
  t.true(position.required.includes('ts'));
  t.is(position.properties.ts.format, 'date-time');
  t.truthy(position.properties.plate);
  t.truthy(doc.components.schemas.Problem);
});

test('docs: swagger UI is served at /docs', async (t) => {
  const { app } = await testApi(seeded.store);
  const res = await app.inject({ url: '/docs' });
  t.is(res.statusCode, 200);
  t.regex(String(res.headers['content-type']), /^text\/html/);
  t.regex(res.body, /swagger-ui/i);
  const init = await app.inject({ url: '/docs/static/swagger-initializer.js' });
  t.is(init.statusCode, 200);
});

// ---------------------------------------------------------------------------------------------------
// over real sockets

test('socket: listen on an ephemeral port and fetch with and without the token', async (t) => {
  const { app } = await testApi(seeded.store);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());

  const health = await fetch(`${address}/healthz`);
  t.is(health.status, 200);
  t.is(HealthReportSchema.parse(await health.json()).status, 'ok');

  const denied = await fetch(`${address}/api/v1/positions`);
  t.is(denied.status, 401);
  t.is(denied.headers.get('www-authenticate'), 'Bearer realm="citywatch"');
  t.regex(denied.headers.get('content-type') ?? '', /^application\/problem\+json/);

  const res = await fetch(`${address}/api/v1/positions?kind=muck_truck&vehicle=veh-1,veh-2`, {
    headers: AUTH,
  });
  t.is(res.status, 200);
  const body = PositionListSchema.parse(await res.json());
  t.deepEqual(
    body.items.map((p) => p.plate),
    ['皖A·10001', '皖A·10002'],
  );
});

test('socket: HTTPS with the given key and certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  // openssl is part of Debian's base system; a missing one fails the test rather than skipping it.
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
      .concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'])
      .concat(['-keyout', keyFile, '-out', certFile]),
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile);
  const cert = readFileSync(certFile);
  const app = await buildApi(
    {
      adminToken: ADMIN_TOKEN,
      positions: seeded.store,
      registry: fleetRegistry(),
      health: async () => OK_HEALTH,
      metrics: new MetricsRegistry(),
    },
    { https: { key, cert } },
  );
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  t.true(address.startsWith('https://'));
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      `${address}/api/v1/vehicles/veh-1/position`,
      { ca: cert, headers: AUTH },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          data += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  t.is(status, 200);
  t.is(JSON.parse(body).plate, '皖A·10001');
});
