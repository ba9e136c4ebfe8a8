/**
 * The latest positions, validation problems and unknown routes (their world: test/support/api/api.ts).
 */
import test from 'ava';
import { PROBLEM_TYPES } from '../../api/problem.ts';
import { PositionDtoSchema, PositionListSchema } from '../../api/schemas.ts';
import { problem, seeded, setUp } from '../support/api/api.ts';
import { AUTH, T0, testApi } from '../support/api-fixtures.ts';

setUp();

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
