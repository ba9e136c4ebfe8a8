import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { ProblemSchema } from '../../api/schemas.ts';
import { wgs84ToGcj02 } from '../../geofence/geo/gcj02.ts';
import { Ruler } from '../../geofence/geo/ruler.ts';
import type { Position } from '../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { ADMIN_TOKEN, AUTH, testApi } from '../support/api-fixtures.ts';
import { squareFrom } from '../support/geometry.ts';
import { openApiProblems } from '../support/openapi.ts';

/** The compliance registry API through app.inject(), on a real registry in a temporary directory. */

const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };

async function api(t: ExecutionContext): Promise<{ app: FastifyInstance; registry: ComplianceRegistry }> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-api-compliance-'));
  const registry = new ComplianceRegistry({ dir });
  const { app } = await testApi(NO_POSITIONS, { compliance: registry });
  t.teardown(async () => {
    await app.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, registry };
}

function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  const body = ProblemSchema.parse(JSON.parse(res.body));
  if (body.status !== res.statusCode) throw new Error(`problem status ${body.status} != ${res.statusCode}`);
  return body;
}

const siteFeature = (id: string, kind: 'origin' | 'disposal', lon: number, lat: number, name = id) => ({
  type: 'Feature',
  id,
  geometry: { type: 'Polygon', coordinates: squareFrom(lon, lat) },
  properties: { kind, name },
});
const LINE: Position[] = [
  [117.2025, 31.8025],
  [117.25, 31.82],
  [117.3025, 31.8525],
];
const routeFeature = {
  type: 'Feature',
  id: 'route-1',
  geometry: { type: 'LineString', coordinates: LINE },
  properties: { name: '繁华大道' },
};
const PERMIT = {
  id: 'permit-1',
  firm: 'firm-a',
  vehicles: ['veh-1'],
  origins: ['site-o'],
  disposals: ['site-d'],
  routes: ['route-1'],
  validFrom: '2026-11-01',
  validTo: '2026-11-30',
  windows: ['22:00-06:00'],
  cargo: '建筑垃圾',
};

async function seed(app: FastifyInstance) {
  for (const payload of [
    siteFeature('site-o', 'origin', 117.2, 31.8),
    siteFeature('site-d', 'disposal', 117.3, 31.85),
  ]) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/sites', headers: AUTH, payload });
    if (res.statusCode !== 201) throw new Error(res.body);
  }
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/routes',
    headers: AUTH,
    payload: routeFeature,
  });
  if (res.statusCode !== 201) throw new Error(res.body);
}

test('sites: create (201, version 1), read, update (version 2), versions, old version, list, delete', async (t) => {
  const { app, registry } = await api(t);
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/sites',
    headers: AUTH,
    payload: siteFeature('site-o', 'origin', 117.2, 31.8, '蜀山工地'),
  });
  t.is(created.statusCode, 201, created.body);
  t.is(created.headers.location, '/api/v1/sites/site-o');
  const body = created.json();
  t.is(body.id, 'site-o');
  t.is(body.properties.version, 1);
  t.is(body.properties.name, '蜀山工地');
  t.deepEqual(body.geometry, { type: 'Polygon', coordinates: squareFrom(117.2, 31.8) });

  const read = await app.inject({ url: '/api/v1/sites/site-o', headers: AUTH });
  t.is(read.statusCode, 200);
  t.deepEqual(read.json(), body);

  // a GET result can be edited and sent back (version and updatedAt are accepted)
  const edited = { ...read.json(), properties: { ...read.json().properties, name: '蜀山工地二期' } };
  const updated = await app.inject({
    method: 'PUT',
    url: '/api/v1/sites/site-o',
    headers: AUTH,
    payload: edited,
  });
  t.is(updated.statusCode, 200, updated.body);
  t.is(updated.json().properties.version, 2);
  t.is(registry.get('site', 'site-o')?.name, '蜀山工地二期');

  // the same edit again is stale now
  const stale = await app.inject({
    method: 'PUT',
    url: '/api/v1/sites/site-o',
    headers: AUTH,
    payload: edited,
  });
  t.is(stale.statusCode, 409);
  t.regex(problem(stale).detail ?? '', /is at version 2, not 1/);

  const versions = await app.inject({ url: '/api/v1/sites/site-o/versions', headers: AUTH });
  t.is(versions.statusCode, 200);
  t.deepEqual(
    versions
      .json()
      .items.map((v: { version: number; actor: string; body: { properties: { name: string } } }) => [
        v.version,
        v.actor,
        v.body.properties.name,
      ]),
    [
      [1, 'api:admin', '蜀山工地'],
      [2, 'api:admin', '蜀山工地二期'],
    ],
  );
  const v1 = await app.inject({ url: '/api/v1/sites/site-o?version=1', headers: AUTH });
  t.is(v1.json().properties.name, '蜀山工地');
  t.is((await app.inject({ url: '/api/v1/sites/site-o?version=9', headers: AUTH })).statusCode, 404);

  await app.inject({
    method: 'POST',
    url: '/api/v1/sites',
    headers: AUTH,
    payload: siteFeature('site-d', 'disposal', 117.3, 31.85),
  });
  const list = await app.inject({ url: '/api/v1/sites', headers: AUTH });
  t.is(list.json().type, 'FeatureCollection');
  t.deepEqual(
    list
      .json()
      .features.map((f: { id: string; properties: { version: number } }) => [f.id, f.properties.version]),
    [
      ['site-d', 1],
      ['site-o', 2],
    ],
  );

  const dup = await app.inject({
    method: 'POST',
    url: '/api/v1/sites',
    headers: AUTH,
    payload: siteFeature('site-d', 'disposal', 117.3, 31.85),
  });
  t.is(dup.statusCode, 409);

  const del = await app.inject({ method: 'DELETE', url: '/api/v1/sites/site-d', headers: AUTH });
  t.is(del.statusCode, 200);
  t.like(del.json(), { kind: 'site', id: 'site-d', version: 2, deleted: true });
  t.is((await app.inject({ url: '/api/v1/sites/site-d', headers: AUTH })).statusCode, 404);
  const history = await app.inject({ url: '/api/v1/sites/site-d/versions', headers: AUTH });
  t.deepEqual(
    history
      .json()
      .items.map((v: { version: number; deleted: boolean; body?: unknown }) => [
        v.version,
        v.deleted,
        v.body === undefined,
      ]),
    [
      [1, false, false],
      [2, true, true],
    ],
  );
  t.is((await app.inject({ method: 'DELETE', url: '/api/v1/sites/site-d', headers: AUTH })).statusCode, 404);
  t.is(
    (await app.inject({ method: 'PUT', url: '/api/v1/sites/nope', headers: AUTH, payload: edited }))
      .statusCode,
    400,
    'id mismatch',
  );
  const missing = await app.inject({
    method: 'PUT',
    url: '/api/v1/sites/nope',
    headers: AUTH,
    payload: { ...siteFeature('nope', 'origin', 117.2, 31.8) },
  });
  t.is(missing.statusCode, 404);
  t.is(problem(missing).type, 'urn:citywatch:problem:unknown-entity');
});

test('invalid geometry is a 400 problem naming the path', async (t) => {
  const { app, registry } = await api(t);
  const bowtie = {
    type: 'Feature',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [117.2, 31.8],
          [117.21, 31.81],
          [117.21, 31.8],
          [117.2, 31.81],
          [117.2, 31.8],
        ],
      ],
    },
    properties: { kind: 'origin', name: 'x' },
  };
  const res = await app.inject({ method: 'POST', url: '/api/v1/sites', headers: AUTH, payload: bowtie });
  t.is(res.statusCode, 400);
  const p = problem(res);
  t.is(p.type, 'urn:citywatch:problem:validation');
  t.is(p.detail, 'body/geometry/coordinates: self-intersecting polygon at [117.205, 31.805]');
  t.deepEqual(p.errors, [
    {
      in: 'body',
      pointer: '/geometry/coordinates',
      message: 'self-intersecting polygon at [117.205, 31.805]',
    },
  ]);

  const unclosed = {
    ...bowtie,
    geometry: { type: 'Polygon', coordinates: [squareFrom(117.2, 31.8)[0]!.slice(0, 4)] },
  };
  const open = await app.inject({ method: 'POST', url: '/api/v1/sites', headers: AUTH, payload: unclosed });
  t.regex(problem(open).detail ?? '', /^body\/geometry\/coordinates\/0\/3: ring is not closed/);

  const onePoint = { ...routeFeature, geometry: { type: 'LineString', coordinates: [LINE[0]] } };
  const r1 = await app.inject({ method: 'POST', url: '/api/v1/routes', headers: AUTH, payload: onePoint });
  t.is(r1.statusCode, 400);
  t.is(problem(r1).detail, 'body/geometry/coordinates: a route needs at least 2 positions, got 1');

  const width0 = { ...routeFeature, properties: { name: 'x', corridorM: 0 } };
  const r2 = await app.inject({ method: 'POST', url: '/api/v1/routes', headers: AUTH, payload: width0 });
  t.is(problem(r2).detail, 'body/properties/corridorM: corridor width must be greater than 0 m, got 0');

  const zone = {
    type: 'Feature',
    geometry: { type: 'Polygon', coordinates: squareFrom(117.28, 31.86) },
    properties: { kind: 'restricted', name: '老城区', windows: ['07:00-09:00', '7-9'] },
  };
  const z = await app.inject({ method: 'POST', url: '/api/v1/zones', headers: AUTH, payload: zone });
  t.is(z.statusCode, 400);
  t.deepEqual(
    problem(z).errors?.map((e) => e.pointer),
    ['/properties/windows/1'],
  );

  // shape errors come from the schema, named the same way
  const typo = await app.inject({
    method: 'POST',
    url: '/api/v1/routes',
    headers: AUTH,
    payload: { ...routeFeature, properties: { name: 'x', corridor: 60 } },
  });
  t.is(typo.statusCode, 400);
  t.deepEqual(
    problem(typo).errors?.map((e) => [e.in, e.pointer]),
    [['body', '/properties/corridor']],
  );
  const wrongType = await app.inject({
    method: 'POST',
    url: '/api/v1/sites',
    headers: AUTH,
    payload: { ...bowtie, geometry: { type: 'Point', coordinates: [1, 2] } },
  });
  t.is(wrongType.statusCode, 400);
  t.regex(problem(wrongType).detail ?? '', /^body\/geometry/);

  t.deepEqual(registry.list('site'), []);
  t.deepEqual(registry.list('route'), []);
  t.deepEqual(registry.list('zone'), []);
});

test('GCJ-02 input (?crs=GCJ02) is stored and served in WGS-84', async (t) => {
  const { app } = await api(t);
  const wgs = squareFrom(117.2, 31.8);
  const gcj = wgs.map((ring) => ring.map((p) => wgs84ToGcj02(p)));
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/sites?crs=GCJ02',
    headers: AUTH,
    payload: {
      type: 'Feature',
      id: 'g',
      geometry: { type: 'Polygon', coordinates: gcj },
      properties: { kind: 'origin', name: 'g' },
    },
  });
  t.is(res.statusCode, 201, res.body);
  const ruler = new Ruler(31.8);
  const got: Position[] = res.json().geometry.coordinates[0];
  got.forEach((p, i) => {
    t.true(ruler.distanceM(p, wgs[0]![i]!) < 0.5);
    t.true(ruler.distanceM(p, gcj[0]![i]!) > 300);
  });
  const bad = await app.inject({ method: 'POST', url: '/api/v1/sites?crs=BD09', headers: AUTH, payload: {} });
  t.is(bad.statusCode, 400);
});

test('permits: references checked, versions, state filter; zones; thresholds', async (t) => {
  const { app, registry } = await api(t);
  await seed(app);

  const unknownSite = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: AUTH,
    payload: { ...PERMIT, origins: ['site-x'] },
  });
  t.is(unknownSite.statusCode, 400);
  t.is(problem(unknownSite).detail, "body/origins/0: unknown site 'site-x'");
  const reversed = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: AUTH,
    payload: { ...PERMIT, validTo: '2026-10-01' },
  });
  t.deepEqual(
    problem(reversed).errors?.map((e) => e.pointer),
    ['/validTo'],
  );

  // An admin's permit is approved unless it says otherwise (test/registry/permit-workflow.test.ts); this one goes
  // through the workflow.
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: AUTH,
    payload: { ...PERMIT, state: 'submitted' },
  });
  t.is(created.statusCode, 201, created.body);
  t.like(created.json(), { id: 'permit-1', version: 1, state: 'submitted', status: 'submitted' });
  t.deepEqual(registry.snapshot().permits, [], 'a submitted permit is not enforced');

  const activated = await app.inject({
    method: 'PUT',
    url: '/api/v1/permits/permit-1',
    headers: AUTH,
    payload: { ...PERMIT, state: 'active', version: 1 },
  });
  t.is(activated.statusCode, 200, activated.body);
  t.like(activated.json(), { version: 2, state: 'active' });
  t.deepEqual(
    registry.snapshot().permits.map((p) => [p.id, p.version]),
    [['permit-1', 2]],
  );
  const kept = await app.inject({
    method: 'PUT',
    url: '/api/v1/permits/permit-1',
    headers: AUTH,
    payload: { ...PERMIT, cargo: '工程渣土' },
  });
  t.like(kept.json(), { version: 3, state: 'active', cargo: '工程渣土' }, 'an update without state keeps it');

  const active = await app.inject({ url: '/api/v1/permits?state=active', headers: AUTH });
  t.is(active.json().count, 1);
  t.is((await app.inject({ url: '/api/v1/permits?state=revoked', headers: AUTH })).json().count, 0);
  t.is(
    (await app.inject({ url: '/api/v1/permits/permit-1?version=1', headers: AUTH })).json().state,
    'submitted',
  );
  t.is((await app.inject({ url: '/api/v1/permits/permit-1/versions', headers: AUTH })).json().count, 3);
  t.is((await app.inject({ url: '/api/v1/permits/nope', headers: AUTH })).statusCode, 404);

  const inUse = await app.inject({ method: 'DELETE', url: '/api/v1/routes/route-1', headers: AUTH });
  t.is(inUse.statusCode, 409);
  t.regex(problem(inUse).detail ?? '', /permit\(s\) 'permit-1'/);

  const zone = await app.inject({
    method: 'POST',
    url: '/api/v1/zones',
    headers: AUTH,
    payload: {
      type: 'Feature',
      id: 'zone-1',
      geometry: { type: 'MultiPolygon', coordinates: [squareFrom(117.28, 31.86), squareFrom(117.29, 31.87)] },
      properties: { kind: 'speed', name: '学校周边', windows: ['07:00-09:00'], speedLimitKmh: 30 },
    },
  });
  t.is(zone.statusCode, 201, zone.body);
  t.like(zone.json().properties, { kind: 'speed', speedLimitKmh: 30, version: 1 });
  t.is(zone.json().geometry.type, 'MultiPolygon');

  const th = await app.inject({ url: '/api/v1/thresholds', headers: AUTH });
  t.like(th.json(), { id: 'city', version: 1, values: DEFAULT_THRESHOLDS });
  const put = await app.inject({
    method: 'PUT',
    url: '/api/v1/thresholds',
    headers: AUTH,
    payload: { values: { offRouteMinMs: 90_000 }, version: 1 },
  });
  t.is(put.statusCode, 200, put.body);
  t.like(put.json(), { version: 2, values: { ...DEFAULT_THRESHOLDS, offRouteMinMs: 90_000 } });
  const badTh = await app.inject({
    method: 'PUT',
    url: '/api/v1/thresholds',
    headers: AUTH,
    payload: { values: { nightWindows: ['late'] } },
  });
  t.is(problem(badTh).detail, 'body/values/nightWindows/0: bad time window "late", expected HH:MM-HH:MM');
  t.is((await app.inject({ url: '/api/v1/thresholds/versions', headers: AUTH })).json().count, 2);
  t.is(registry.snapshot().thresholds.version, 2);
});

test('auth: every compliance route needs the bearer token', async (t) => {
  const { app, registry } = await api(t);
  const routes: Array<[string, string]> = [
    ['GET', '/api/v1/sites'],
    ['POST', '/api/v1/sites'],
    ['GET', '/api/v1/sites/a'],
    ['PUT', '/api/v1/sites/a'],
    ['DELETE', '/api/v1/sites/a'],
    ['GET', '/api/v1/sites/a/versions'],
    ['GET', '/api/v1/routes'],
    ['POST', '/api/v1/zones'],
    ['GET', '/api/v1/permits'],
    ['POST', '/api/v1/permits'],
    ['PUT', '/api/v1/permits/a'],
    ['GET', '/api/v1/thresholds'],
    ['PUT', '/api/v1/thresholds'],
  ];
  for (const [method, url] of routes) {
    const res = await app.inject({
      method: method as 'GET',
      url,
      payload: method === 'GET' || method === 'DELETE' ? undefined : siteFeature('a', 'origin', 117.2, 31.8),
    });
    t.is(res.statusCode, 401, `${method} ${url}`);
    problem(res);
    const wrong = await app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer x${ADMIN_TOKEN}` },
    });
    t.is(wrong.statusCode, 401);
  }
  t.deepEqual(registry.list('site'), []);
});

test('docs: the compliance routes are in a sound OpenAPI document; without a registry they are not served', async (t) => {
  const { app } = await api(t);
  const doc = (await app.inject({ url: '/docs/json' })).json();
  t.deepEqual(openApiProblems(doc), []);
  for (const path of [
    '/api/v1/sites',
    '/api/v1/sites/{id}',
    '/api/v1/sites/{id}/versions',
    '/api/v1/routes/{id}',
    '/api/v1/zones/{id}/versions',
    '/api/v1/permits/{id}',
    '/api/v1/thresholds',
  ]) {
    t.truthy(doc.paths[path], path);
  }
  t.deepEqual(doc.paths['/api/v1/sites'].post.security, [{ bearerAuth: [] }]);
  t.truthy(doc.paths['/api/v1/sites'].post.responses['400'].content['application/problem+json']);
  t.truthy(doc.components.schemas.SiteFeature);
  t.truthy(doc.components.schemas.Permit);

  const { app: plain } = await testApi(NO_POSITIONS);
  t.teardown(() => plain.close());
  t.is((await plain.inject({ url: '/api/v1/sites', headers: AUTH })).statusCode, 404);
});
