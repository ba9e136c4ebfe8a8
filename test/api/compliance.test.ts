/**
 * The rest of the tests (their world: test/support/api/compliance.ts).
 */
import test from 'ava';
import { wgs84ToGcj02 } from '../../geofence/geo/gcj02.ts';
import { Ruler } from '../../geofence/geo/ruler.ts';
import type { Position } from '../../geofence/model.ts';
import { api, LINE, problem, routeFeature, siteFeature } from '../support/api/compliance.ts';
import { AUTH } from '../support/api-fixtures.ts';
import { squareFrom } from '../support/geometry.ts';

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
