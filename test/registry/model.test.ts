import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ValidationError } from '../../registry/geometry.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { NO_POSITIONS } from '../support/api/compliance.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';

/**
 * One schema per entity (registry/model/, issue 11): the device registry validates every write with the
 * schema the API builds its request bodies from, so what the API refuses a direct caller of the registry
 * (a seed, an import, the cluster's API node) cannot store either, and both name the same field with the
 * same message. Before, the registry checked by hand and let through what the API refused (a rated load
 * of 500 t, a report interval of a day and more, a 300-character plate).
 */
test('the device registry refuses what the API refuses, naming the same field with the same message', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'citywatch-model-'));
  const registry = new SqliteRegistry({ dir });
  const { app } = await testApi(NO_POSITIONS, { registry, resources: { registry } });
  t.teardown(async () => {
    await app.close();
    registry.close();
    await rm(dir, { recursive: true, force: true });
  });
  registry.upsertFirm({ id: 'firm-a', name: 'A' });
  const vehicle = { id: 'veh-1', plate: '皖A·1', kind: 'muck_truck' as const, firm: 'firm-a' };
  const cases: Array<[string, Record<string, unknown>, string, () => unknown]> = [
    [
      '/vehicles',
      { ...vehicle, ratedLoadT: 500 },
      'ratedLoadT',
      () => registry.upsertVehicle({ ...vehicle, ratedLoadT: 500 }),
    ],
    [
      '/vehicles',
      { ...vehicle, plate: 'P'.repeat(300) },
      'plate',
      () => registry.upsertVehicle({ ...vehicle, plate: 'P'.repeat(300) }),
    ],
    [
      '/officers',
      { id: 'off-1', name: ' ', firm: 'firm-a' },
      'name',
      () => registry.upsertOfficer({ id: 'off-1', name: ' ', firm: 'firm-a' }),
    ],
    [
      '/firms',
      { id: 'firm-b', name: 'N'.repeat(201) },
      'name',
      () => registry.upsertFirm({ id: 'firm-b', name: 'N'.repeat(201) }),
    ],
    [
      '/devices',
      { id: 'cam-1', kind: 'body_camera', firm: 'firm-a', reportIntervalS: 100_000 },
      'reportIntervalS',
      () =>
        registry.putDevice({
          id: 'cam-1',
          secret: 's',
          kind: 'body_camera',
          firm: 'firm-a',
          reportIntervalS: 100_000,
        }),
    ],
    [
      '/devices',
      { id: 'cam-2', kind: 'body_camera', firm: 'firm-a', jt808: { phone: '1391234567x' } },
      'jt808.phone',
      () =>
        registry.putDevice({
          id: 'cam-2',
          secret: 's',
          kind: 'body_camera',
          firm: 'firm-a',
          jt808: { phone: '1391234567x' },
        }),
    ],
  ];
  for (const [path, body, field, direct] of cases) {
    const res = await app.inject({ method: 'POST', url: `/api/v1${path}`, headers: AUTH, payload: body });
    t.is(res.statusCode, 400, `${path} ${field}: ${res.body}`);
    const errors = (res.json() as { errors: Array<{ pointer: string; message: string }> }).errors;
    const pointer = `/${field.replaceAll('.', '/')}`;
    const api = errors.find((e) => e.pointer === pointer);
    t.truthy(api, `${path}: ${JSON.stringify(errors)}`);
    let err: unknown;
    try {
      await direct();
    } catch (e) {
      err = e;
    }
    t.true(err instanceof ValidationError, `${path} ${field}: the registry refuses it (${String(err)})`);
    t.deepEqual(
      (err as ValidationError).issues.filter((i) => i.path === field).map((i) => i.message),
      [api!.message],
      `${path} ${field}`,
    );
  }
  t.deepEqual(registry.vehicles(), []);
  t.deepEqual(registry.officers(), []);
  t.deepEqual(registry.devices(), []);
  t.deepEqual(
    registry.firms().map((f) => f.id),
    ['firm-a'],
  );
});

test('the registry stores what the API stores: a name is trimmed by the one schema, directly as through the API', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'citywatch-model-'));
  const registry = new SqliteRegistry({ dir });
  t.teardown(async () => {
    registry.close();
    await rm(dir, { recursive: true, force: true });
  });
  registry.upsertFirm({ id: 'firm-a', name: '  合肥甲运输  ' });
  t.is(registry.firm('firm-a')?.name, '合肥甲运输');
  registry.upsertVehicle({ id: 'veh-1', plate: ' 皖A·1 ', kind: 'sanitation', firm: 'firm-a' });
  t.is(registry.vehicle('veh-1')?.plate, '皖A·1');
});
