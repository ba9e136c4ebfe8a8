/**
 * The permit, zone and threshold routes; auth and OpenAPI of the compliance routes (their world: test/support/api/compliance.ts).
 */
import test from 'ava';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import { api, NO_POSITIONS, PERMIT, problem, seed, siteFeature } from '../support/api/compliance.ts';
import { ADMIN_TOKEN, AUTH, testApi } from '../support/api-fixtures.ts';
import { squareFrom } from '../support/geometry.ts';
import { openApiProblems } from '../support/openapi.ts';

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
