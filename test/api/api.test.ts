/**
 * The rest of the tests (their world: test/support/api/api.ts).
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../../api/app.ts';
import { HealthReportSchema, PositionListSchema } from '../../api/schemas.ts';
import { problem, seeded, setUp } from '../support/api/api.ts';
import { ADMIN_TOKEN, AUTH, fleetRegistry, OK_HEALTH, testApi } from '../support/api-fixtures.ts';
import { openApiProblems } from '../support/openapi.ts';

setUp();

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
