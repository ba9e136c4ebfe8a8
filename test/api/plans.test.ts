import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { ProblemSchema } from '../../api/schemas.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { wgs84ToGcj02 } from '../../geofence/geo/gcj02.ts';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';
import { squareFrom } from '../support/geometry.ts';
import { planBody } from '../support/tenancy-plans.ts';

/** The plans of issue 15 through app.inject() on a real registry: GeoJSON in and out, validation, versions. */

const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };

async function api(t: ExecutionContext): Promise<{ app: FastifyInstance; registry: ComplianceRegistry }> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-api-plans-'));
  const registry = new ComplianceRegistry({ dir });
  const { app } = await testApi(NO_POSITIONS, { compliance: registry });
  t.teardown(async () => {
    await app.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, registry };
}

const post = (app: FastifyInstance, url: string, payload: unknown) =>
  app.inject({ method: 'POST', url, headers: AUTH, payload: payload as object });

test('each plan kind: created from a Feature with its defaults, read back, versioned, compiled for the engine', async (t) => {
  const { app, registry } = await api(t);
  const cp = await post(app, '/api/v1/collection-points', planBody('collection-points', 'cp-1', 'a'));
  t.is(cp.statusCode, 201, cp.body);
  const body = cp.json();
  t.deepEqual(body.geometry, { type: 'Point', coordinates: [117.21, 31.81] });
  t.like(body.properties, {
    firm: 'firm-a',
    radiusM: 30,
    windows: ['08:00-08:30'],
    vehicles: ['veh-a1'],
    version: 1,
  });
  for (const path of ['sweep-plans', 'duty-plans', 'upload-stations'] as const) {
    const res = await post(app, `/api/v1/${path}`, planBody(path, `${path}-1`, 'a'));
    t.is(res.statusCode, 201, `${path}: ${res.body}`);
  }
  t.is(
    (await app.inject({ url: '/api/v1/sweep-plans/sweep-plans-1', headers: AUTH })).json().properties
      .corridorM,
    20,
  );
  const duty = (await app.inject({ url: '/api/v1/duty-plans/duty-plans-1', headers: AUTH })).json();
  t.deepEqual(duty.properties.cameras, []);
  t.is(duty.geometry.type, 'Polygon');
  const changed = planBody('collection-points', 'cp-1', 'a') as { properties: Record<string, unknown> };
  changed.properties.windows = ['22:00-02:00'];
  changed.properties.version = 1;
  const put = await app.inject({
    method: 'PUT',
    url: '/api/v1/collection-points/cp-1',
    headers: AUTH,
    payload: changed,
  });
  t.is(put.statusCode, 200, put.body);
  t.is(put.json().properties.version, 2);
  const stale = await app.inject({
    method: 'PUT',
    url: '/api/v1/collection-points/cp-1',
    headers: AUTH,
    payload: changed,
  });
  t.is(stale.statusCode, 409);
  const versions = (
    await app.inject({ url: '/api/v1/collection-points/cp-1/versions', headers: AUTH })
  ).json();
  t.is(versions.count, 2);
  t.deepEqual(versions.items[0].body.properties.windows, ['08:00-08:30']);
  // the engine's world has them
  const world = compileWorld(registry.snapshot());
  t.is(world.collectionPointsOf('veh-a1')[0]!.id, 'cp-1');
  t.is(world.sweepPlansOf('veh-a1')[0]!.id, 'sweep-plans-1');
  t.is(world.dutyPlansOf('cam-x', 'off-a1')[0]!.id, 'duty-plans-1');
  t.is(world.uploadStationAt([117.23, 31.83])?.id, 'upload-stations-1');
  const del = await app.inject({ method: 'DELETE', url: '/api/v1/sweep-plans/sweep-plans-1', headers: AUTH });
  t.is(del.statusCode, 200);
  t.deepEqual(compileWorld(registry.snapshot()).sweepPlansOf('veh-a1'), []);
});

test('invalid plans: every field at fault is named as a pointer into the Feature', async (t) => {
  const { app } = await api(t);
  const res = await post(app, '/api/v1/sweep-plans', {
    type: 'Feature',
    geometry: {
      type: 'MultiLineString',
      coordinates: [
        [
          [117.2, 31.8],
          [117.21, 31.8],
        ],
        [[117.2, 95]],
      ],
    },
    properties: { firm: 'firm-a', name: '清扫', windows: ['25:00-06:00'], vehicles: ['v'] },
  });
  t.is(res.statusCode, 400);
  const p = ProblemSchema.parse(res.json());
  const pointers = (p.errors ?? []).map((e) => e.pointer).sort();
  t.true(pointers.includes('/properties/windows/0'), pointers.join(' '));
  t.true(
    pointers.some((x) => x.startsWith('/geometry/coordinates/1')),
    pointers.join(' '),
  );
  const noUnits = await post(app, '/api/v1/duty-plans', {
    type: 'Feature',
    geometry: { type: 'Polygon', coordinates: squareFrom(117.25, 31.85) },
    properties: { firm: 'firm-a', name: '网格', windows: ['08:00-12:00'] },
  });
  t.is(noUnits.statusCode, 400);
  t.true(noUnits.body.includes('/properties/cameras'), noUnits.body);
  const wrongGeometry = await post(app, '/api/v1/collection-points', {
    ...(planBody('collection-points', 'cp-2', 'a') as object),
    geometry: { type: 'Polygon', coordinates: squareFrom(117.25, 31.85) },
  });
  t.is(wrongGeometry.statusCode, 400);
});

test('GCJ-02 points are converted to WGS-84 when declared', async (t) => {
  const { app } = await api(t);
  const gcj = wgs84ToGcj02([117.21, 31.81]);
  const body = planBody('upload-stations', 'st-g', 'a') as { geometry: { coordinates: number[] } };
  body.geometry.coordinates = gcj;
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/upload-stations?crs=GCJ02',
    headers: AUTH,
    payload: body,
  });
  t.is(res.statusCode, 201, res.body);
  const [lon, lat] = res.json().geometry.coordinates;
  t.true(Math.abs(lon - 117.21) < 1e-5 && Math.abs(lat - 31.81) < 1e-5, `${lon} ${lat}`);
});

test("plan thresholds: each rule's zod schema validates the city thresholds and is in the OpenAPI document", async (t) => {
  const { app } = await api(t);
  const bad = await app.inject({
    method: 'PUT',
    url: '/api/v1/thresholds',
    headers: AUTH,
    payload: { values: { sweepCoverageMin: 1.5 } },
  });
  t.is(bad.statusCode, 400);
  t.true(bad.body.includes('sweepCoverageMin'), bad.body);
  const ok = await app.inject({
    method: 'PUT',
    url: '/api/v1/thresholds',
    headers: AUTH,
    payload: { values: { sweepSpeedLimitKmh: 12 } },
  });
  t.is(ok.statusCode, 200, ok.body);
  t.is(ok.json().values.sweepSpeedLimitKmh, 12);
  t.is(ok.json().values.uploadMaxMs, 24 * 3_600_000, 'the others keep their defaults');
  const doc = app.swagger() as {
    components: { schemas: Record<string, { properties?: Record<string, { description?: string }> }> };
  };
  const values = doc.components.schemas.ThresholdValues!.properties!;
  t.regex(values.sweepCoverageMin!.description ?? '', /SWEEP_COVERAGE/);
  t.truthy(doc.components.schemas.CollectionPointFeature);
});
