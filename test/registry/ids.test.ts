/**
 * One id grammar for every registry entity (registry/ids.ts): refused at the API and in the registry
 * when called directly; ids created before it stay readable and changeable, and on InfluxDB a device
 * whose ids the store cannot hold has its fixes refused (`unstorable_id`) instead of acknowledged and
 * then refused by the store (the defect: vehicle `fa-bs\` and `q\nx` were PUBACKed, then "store refused
 * a fix permanently", and the newline one's track answered 503).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { ID_GRAMMAR, InvalidIdError, idsOutsideGrammar, isValidId } from '../../registry/ids.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { startInfluxd } from '../../testkit/servers/influxd.ts';
import { call } from '../support/identity-world.ts';
import {
  ADMIN_TOKEN,
  connectClient,
  endClient,
  eventually,
  publishQos1,
  startTestPlatform,
} from '../support/platform.ts';

const BAD_IDS = [
  'fa-bs\\',
  'q\nx',
  '',
  ' lead',
  'a/b',
  'a+b',
  '#',
  '$SYS',
  'a b',
  '车-1',
  '-x',
  '.',
  '..',
  'a%2F',
  'x'.repeat(65),
];
const GOOD_IDS = [
  'a',
  'dev-d1234',
  'cam-sc-0001',
  'Z9',
  'site-0b6c1f7e-2d7a-4f0e-9f61-5a0d7f3c8e21',
  'a.b:c_d-e',
  'x'.repeat(64),
];

test('the grammar: letters, digits and - _ . : , starting with a letter or digit, 1-64', (t) => {
  for (const id of GOOD_IDS) t.true(isValidId(id), id);
  for (const id of BAD_IDS) t.false(isValidId(id), JSON.stringify(id));
  t.deepEqual(idsOutsideGrammar({ vehicle: ['ok-1', 'fa-bs\\', 'q\nx'], firm: ['f1'] }), [
    { kind: 'vehicle', count: 2, examples: ['fa-bs\\', 'q\nx'] },
  ]);
});

test('the registry refuses a new id outside the grammar when called directly, for every kind', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ids-registry-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const registry = new SqliteRegistry({ dir });
  t.teardown(() => registry.close());
  registry.upsertFirm({ id: 'firm-a', name: 'A' });
  registry.upsertVehicle({ id: 'veh-1', plate: '皖A·1', kind: 'muck_truck', firm: 'firm-a' });
  for (const id of ['fa-bs\\', 'q\nx', 'a b']) {
    t.throws(() => registry.upsertFirm({ id, name: 'x' }), {
      instanceOf: InvalidIdError,
      message: /^firm id/,
    });
    t.throws(() => registry.upsertVehicle({ id, plate: 'p', kind: 'muck_truck', firm: 'firm-a' }), {
      instanceOf: InvalidIdError,
    });
    t.throws(() => registry.upsertOfficer({ id, name: 'n', firm: 'firm-a' }), { instanceOf: InvalidIdError });
    await t.throwsAsync(
      registry.putDevice({ id, secret: 's', kind: 'muck_truck', vehicle: 'veh-1', firm: 'firm-a' }),
      { instanceOf: InvalidIdError, message: new RegExp(`must be ${ID_GRAMMAR.slice(0, 20)}`) },
    );
    t.throws(
      () =>
        registry.importDevices([{ id, secretHash: 'scrypt$1$1$1$a$b', kind: 'body_camera', firm: 'firm-a' }]),
      { instanceOf: InvalidIdError },
    );
  }
  t.deepEqual(
    registry.vehicles().map((v) => v.id),
    ['veh-1'],
  );

  const compliance = new ComplianceRegistry({ dir });
  t.teardown(() => compliance.close());
  const square: [number, number][][] = [
    [
      [117.2, 31.8],
      [117.21, 31.8],
      [117.21, 31.81],
      [117.2, 31.8],
    ],
  ];
  const err = t.throws(() =>
    compliance.put('site', { id: 'site\\', kind: 'origin', name: 'o', polygons: [square] }),
  );
  t.regex(err?.message ?? '', /invalid site/);
  t.deepEqual((err as unknown as { issues: unknown[] }).issues, [
    { path: 'id', message: `must be ${ID_GRAMMAR}` },
  ]);
  t.is(compliance.put('site', { id: 'site-1', kind: 'origin', name: 'o', polygons: [square] }).id, 'site-1');
});

test('ids from before the grammar: readable and changeable; on InfluxDB a device the store cannot hold is refused at ingest, not PUBACKed and lost', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.destroy());
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ids-legacy-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const env = { DATA_DIR: dataDir, INFLUX_URL: influx.url, INFLUX_DATABASE: 'citywatch' };

  // a registry with ids from before the grammar, as the API used to accept them
  let tp = await startTestPlatform(env);
  const r = tp.platform.registry;
  r.upsertFirm({ id: 'firm-a', name: 'A' });
  for (const [vehicle, device] of [
    ['veh-ok', 'dev-ok'],
    ['veh-bs', 'dev-bs'],
    ['veh-nl', 'dev-nl'],
    ['veh-sp', 'dev-sp'],
  ] as const) {
    r.upsertVehicle({ id: vehicle, plate: `皖A·${vehicle}`, kind: 'muck_truck', firm: 'firm-a' });
    await r.putDevice({
      id: device,
      secret: `secret-${device}`,
      kind: 'muck_truck',
      vehicle,
      firm: 'firm-a',
    });
  }
  await tp.stop();
  const db = new Database(path.join(dataDir, 'registry', 'registry.db'));
  for (const [from, to] of [
    ['veh-bs', 'fa-bs\\'],
    ['veh-nl', 'q\nx'],
    ['veh-sp', 'veh 7'],
  ]) {
    db.prepare('UPDATE vehicles SET id = ? WHERE id = ?').run(to, from);
    db.prepare('UPDATE devices SET unit = ? WHERE unit = ?').run(to, from);
  }
  db.close();

  tp = await startTestPlatform(env);
  t.teardown(() => tp.stop());
  const api = (method: string, p: string, body?: unknown) =>
    call(tp.httpUrl, method, p, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });
  const ts = Date.now() - 30_000;
  for (const device of ['dev-ok', 'dev-bs', 'dev-nl', 'dev-sp']) {
    const client = await connectClient(tp.mqttUrl, {
      username: device,
      password: `secret-${device}`,
      clientId: device,
    });
    // acknowledged either way (a refused message is answered, resending cannot help)
    await publishQos1(client, `devices/${device}/telemetry`, JSON.stringify({ ts, lat: 31.82, lon: 117.23 }));
    await endClient(client);
  }
  // veh 7 (a space: outside the grammar, but InfluxDB holds it) still works like veh-ok
  for (const vehicle of ['veh-ok', 'veh 7']) {
    await eventually(async () => {
      const got = await api(
        'GET',
        `/api/v1/vehicles/${encodeURIComponent(vehicle)}/track?from=${ts}&to=${ts}`,
      );
      return got.status === 200 && (got.json as { items: unknown[] }).items.length === 1 ? true : undefined;
    }, `${vehicle} stored`);
  }
  const metrics = await (await fetch(`${tp.httpUrl}/metrics`)).text();
  t.regex(metrics, /citywatch_ingest_rejected_total\{reason="unstorable_id"\} 2\n/);
  t.regex(metrics, /citywatch_store_fixes_quarantined_total 0\n/);

  // readable: the registry entries and (empty) tracks answer, where the newline one was a 503
  for (const vehicle of ['fa-bs\\', 'q\nx']) {
    const path = `/api/v1/vehicles/${encodeURIComponent(vehicle)}`;
    t.is((await api('GET', path)).status, 200, vehicle);
    const track = await api('GET', `${path}/track?from=${ts}&to=${ts}`);
    t.is(track.status, 200, `${JSON.stringify(vehicle)}: ${track.text}`);
    t.deepEqual((track.json as { items: unknown[] }).items, []);
    for (const list of ['violations', 'trips']) {
      const got = await api('GET', `/api/v1/${list}?vehicle=${encodeURIComponent(vehicle)}`);
      t.is(got.status, 200, `${list} of ${JSON.stringify(vehicle)}: ${got.text}`);
      t.deepEqual((got.json as { items: unknown[] }).items, []);
    }
  }
  // changeable, not creatable
  const put = await api('PUT', `/api/v1/vehicles/${encodeURIComponent('veh 7')}`, {
    plate: '皖A·77777',
    kind: 'muck_truck',
    firm: 'firm-a',
  });
  t.is(put.status, 200, put.text);
  const post = await api('POST', '/api/v1/vehicles', {
    id: 'veh 8',
    plate: 'p',
    kind: 'muck_truck',
    firm: 'firm-a',
  });
  t.is(post.status, 400);
  t.regex(post.text, /\/id/);
});

test('the API refuses a new id outside the grammar for every kind, naming the field and the rule', async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  const api = (method: string, p: string, body?: unknown) =>
    call(tp.httpUrl, method, p, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });
  t.is((await api('POST', '/api/v1/firms', { id: 'firm-a', name: 'A' })).status, 201);
  t.is(
    (await api('POST', '/api/v1/vehicles', { id: 'veh-1', plate: 'p', kind: 'muck_truck', firm: 'firm-a' }))
      .status,
    201,
  );
  const square = {
    type: 'Polygon',
    coordinates: [
      [
        [117.2, 31.8],
        [117.21, 31.8],
        [117.21, 31.81],
        [117.2, 31.8],
      ],
    ],
  };
  for (const bad of ['fa-bs\\', 'q\nx', 'a b', '车-1', '-x']) {
    const bodies: [string, unknown][] = [
      ['/api/v1/firms', { id: bad, name: 'x' }],
      ['/api/v1/vehicles', { id: bad, plate: 'p', kind: 'muck_truck', firm: 'firm-a' }],
      ['/api/v1/officers', { id: bad, name: 'x', firm: 'firm-a' }],
      ['/api/v1/devices', { id: bad, kind: 'muck_truck', vehicle: 'veh-1' }],
      [
        '/api/v1/sites',
        { type: 'Feature', id: bad, geometry: square, properties: { kind: 'origin', name: 'o' } },
      ],
      [
        '/api/v1/zones',
        { type: 'Feature', id: bad, geometry: square, properties: { kind: 'restricted', name: 'z' } },
      ],
    ];
    for (const [route, body] of bodies) {
      const res = await api('POST', route, body);
      t.is(res.status, 400, `${route} ${JSON.stringify(bad)}: ${res.text}`);
      t.regex(res.text, /\/id/, route);
      t.regex(res.text, /ASCII letters, digits/, route);
    }
  }
  t.is((await api('GET', '/api/v1/vehicles')).json.items.length, 1);
});
