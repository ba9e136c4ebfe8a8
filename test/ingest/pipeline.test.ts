/**
 * The spine end to end, in-process: devices over real MQTT/TCP into the embedded aedes broker, ingest,
 * the spool, a real InfluxDB 1.x server, and the API over HTTP.
 */
import test from 'ava';
import type { MqttClient } from 'mqtt';
import { startInfluxd } from '../../testkit/servers/influxd.ts';
import {
  adminGet,
  connectClient,
  endClient,
  eventually,
  publishQos1,
  startTestPlatform,
  type TestPlatform,
} from '../support/platform.ts';

const SERVICE_PASSWORD = 'service-password-for-tests';

async function registerTrucks(tp: TestPlatform, n: number): Promise<string[]> {
  const r = tp.platform.registry;
  r.upsertFirm({ id: 'firm-a', name: '合肥渣土运输有限公司' });
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) {
    r.upsertVehicle({
      id: `veh-${i}`,
      plate: `皖A·D${1000 + i}`,
      kind: 'muck_truck',
      firm: 'firm-a',
      ratedLoadT: 18,
    });
    await r.putDevice({
      id: `dev-${i}`,
      secret: `secret-${i}`,
      kind: 'muck_truck',
      vehicle: `veh-${i}`,
      firm: 'firm-a',
    });
    ids.push(`dev-${i}`);
  }
  return ids;
}

const fix = (ts: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ ts, lat: 31.82, lon: 117.23, speed: 30, load: 'full', cover: 'closed', ...extra });

test.serial('QoS 1 fixes flow device → broker → ingest → InfluxDB → API', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.destroy());
  const tp = await startTestPlatform({ INFLUX_URL: influx.url, INFLUX_DATABASE: 'citywatch' });
  t.teardown(() => tp.stop());
  await registerTrucks(tp, 1);
  t.is(tp.platform.store.name, 'influxdb-v1');

  const device = await connectClient(tp.mqttUrl, {
    username: 'dev-1',
    password: 'secret-1',
    clientId: 'dev-1',
  });
  const t0 = Date.now() - 60_000;
  for (let i = 0; i < 20; i++) await publishQos1(device, 'devices/dev-1/telemetry', fix(t0 + i * 1000));
  // A batch upload (JSON array) and a QoS 1 redelivery of an already stored fix.
  await publishQos1(
    device,
    'devices/dev-1/telemetry',
    `[${fix(t0 + 20_000)},${fix(t0 + 21_000, { crs: 'GCJ02' })}]`,
  );
  await publishQos1(device, 'devices/dev-1/telemetry', fix(t0 + 5000));
  await endClient(device);

  const latest = await adminGet(tp, '/api/v1/vehicles/veh-1/position');
  t.is(latest.status, 200);
  t.is(latest.body.ts, new Date(t0 + 21_000).toISOString());
  t.is(latest.body.plate, '皖A·D1001');
  t.true(Math.abs(latest.body.lon - 117.2245) < 0.001, 'GCJ-02 converted to WGS-84');

  const stored = await eventually(
    async () => ((await tp.platform.store.count('veh-1', t0, t0 + 60_000)) === 22 ? 22 : undefined),
    '22 fixes in InfluxDB',
  );
  t.is(stored, 22, 'the duplicate was stored once');
  const track = await tp.platform.store.track({ vehicle: 'veh-1', from: t0, to: t0 + 60_000 });
  t.deepEqual(
    track.map((f) => f.ts),
    Array.from({ length: 22 }, (_, i) => t0 + i * 1000),
  );
  const metrics = await (await fetch(`${tp.httpUrl}/metrics`)).text();
  t.regex(metrics, /citywatch_ingest_duplicates_total 1\b/);
  t.regex(metrics, /citywatch_ingest_fixes_accepted_total 22\b/);

  const all = await adminGet(tp, '/api/v1/positions');
  t.is(all.body.items.length, 1);
  const noToken = await fetch(`${tp.httpUrl}/api/v1/positions`);
  t.is(noToken.status, 401);
});

test.serial(
  'hostile input is refused with reasons and dead-lettered while valid traffic keeps flowing',
  async (t) => {
    const tp = await startTestPlatform({ SERVICE_PASSWORD });
    t.teardown(() => tp.stop());
    await registerTrucks(tp, 2);
    const service = await connectClient(tp.mqttUrl, {
      username: 'platform',
      password: SERVICE_PASSWORD,
      clientId: 'dlq-reader',
    });
    const letters: Array<{ reasons: Array<{ reason: string }> }> = [];
    service.on('message', (_topic, payload) => letters.push(JSON.parse(payload.toString())));
    await service.subscribeAsync('platform/deadletter', { qos: 1 });

    const good = await connectClient(tp.mqttUrl, {
      username: 'dev-1',
      password: 'secret-1',
      clientId: 'dev-1',
    });
    const bad = await connectClient(tp.mqttUrl, {
      username: 'dev-2',
      password: 'secret-2',
      clientId: 'dev-2',
    });
    const t0 = Date.now() - 120_000;
    const hostile: Array<[string | Buffer, string]> = [
      ['{"ts":', 'malformed_json'],
      [Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), 'bad_utf8'],
      [fix(t0, { speed: 'NaN' }), 'schema'],
      [fix(t0, { lat: 123 }), 'coordinates_out_of_range'],
      [fix(Date.now() + 3_600_000), 'ts_in_future'],
      [fix(Date.now() - 30 * 86_400_000), 'ts_too_old'],
      [fix(t0, { device: 'dev-1' }), 'topic_device_mismatch'],
      [`${'['.repeat(200_000)}${']'.repeat(200_000)}`, 'payload_too_large'],
      // 20,000 levels parse in V8; the result is an array whose element is not a fix
      [`${'['.repeat(20_000)}${']'.repeat(20_000)}`, 'schema'],
      [`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`, 'schema'],
      [JSON.stringify(Array.from({ length: 1001 }, (_, i) => JSON.parse(fix(t0 + i)))), 'too_many_fixes'],
      ['null', 'schema'],
    ];
    const expected = new Map<string, number>();
    let goodTs = t0;
    for (let round = 0; round < 20; round++) {
      for (const [payload, reason] of hostile) {
        await publishQos1(bad, 'devices/dev-2/telemetry', payload);
        expected.set(reason, (expected.get(reason) ?? 0) + 1);
        goodTs += 1000;
        await publishQos1(good, 'devices/dev-1/telemetry', fix(goodTs));
      }
    }
    const hostileCount = 20 * hostile.length;
    t.true(hostileCount >= 200);
    await eventually(() => (letters.length >= hostileCount ? true : undefined), 'all dead letters');
    t.is(letters.length, hostileCount);

    const metrics = await (await fetch(`${tp.httpUrl}/metrics`)).text();
    for (const [reason, n] of expected) {
      t.regex(metrics, new RegExp(`citywatch_ingest_rejected_total\\{reason="${reason}"\\} ${n}\\b`), reason);
    }
    // Valid traffic from both devices still flows: the hostile device's connection was never dropped.
    await publishQos1(bad, 'devices/dev-2/telemetry', fix(goodTs));
    const pos2 = await adminGet(tp, '/api/v1/vehicles/veh-2/position');
    t.is(pos2.status, 200);
    const pos1 = await adminGet(tp, '/api/v1/vehicles/veh-1/position');
    t.is(pos1.body.ts, new Date(goodTs).toISOString());
    const count = await eventually(
      async () =>
        (await tp.platform.store.count('veh-1', t0, goodTs)) === hostile.length * 20 ? true : undefined,
      'all valid fixes stored',
    );
    t.true(count);

    // Publishing into another device's topic is an ACL breach: the connection is closed, nothing stored.
    const closed = new Promise<void>((resolve) => bad.once('close', () => resolve()));
    bad.publish('devices/dev-1/telemetry', fix(goodTs + 1000), { qos: 1 });
    await closed;
    t.is((await adminGet(tp, '/api/v1/vehicles/veh-1/position')).body.ts, new Date(goodTs).toISOString());
    const after = await (await fetch(`${tp.httpUrl}/metrics`)).text();
    t.regex(after, /citywatch_mqtt_acl_denials_total\{action="publish"\} 1\b/);
    bad.end(true);
    await endClient(good);
    await endClient(service);
  },
);

test.serial('an InfluxDB outage mid-stream loses nothing and stores every fix exactly once', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.destroy());
  const tp = await startTestPlatform({
    INFLUX_URL: influx.url,
    INFLUX_DATABASE: 'citywatch',
    STORE_BATCH_SIZE: '50',
  });
  t.teardown(() => tp.stop());
  const ids = await registerTrucks(tp, 5);
  const clients: MqttClient[] = [];
  for (const id of ids) {
    clients.push(
      await connectClient(tp.mqttUrl, { username: id, password: id.replace('dev', 'secret'), clientId: id }),
    );
  }
  const t0 = Date.now() - 600_000;
  let seq = 0;
  const publishRound = async () => {
    seq++;
    await Promise.all(
      clients.map((c, i) => publishQos1(c, `devices/${ids[i]}/telemetry`, fix(t0 + seq * 1000))),
    );
  };
  for (let i = 0; i < 50; i++) await publishRound();
  await influx.stop();
  for (let i = 0; i < 100; i++) await publishRound(); // every one of these is acknowledged from the spool
  const degraded = await eventually(async () => {
    const res = await fetch(`${tp.httpUrl}/healthz`);
    const body = (await res.json()) as {
      components: { store: { state: string }; spool: { depthFixes: number } };
    };
    return body.components.store.state === 'degraded' && body.components.spool.depthFixes > 0
      ? body
      : undefined;
  }, 'health to report the store outage and a non-empty spool');
  t.true(degraded.components.spool.depthFixes > 0);
  await influx.restart();
  for (let i = 0; i < 50; i++) await publishRound();
  for (let v = 1; v <= 5; v++) {
    await eventually(
      async () =>
        (await tp.platform.store.count(`veh-${v}`, t0, t0 + 1_000_000)) === 200 ? true : undefined,
      `veh-${v}: 200 fixes stored`,
      30_000,
    );
  }
  const track = await tp.platform.store.track({ vehicle: 'veh-3', from: t0, to: t0 + 1_000_000 });
  t.deepEqual(
    track.map((f) => f.ts),
    Array.from({ length: 200 }, (_, i) => t0 + (i + 1) * 1000),
    'every fix once, in order',
  );
  // every part comes back to ok on its own; not necessarily at the instant the last fix is stored (the
  // event store, behind the same InfluxDB, is retried on its own backoff)
  let lastHealth = '';
  const healthy = await eventually(
    async () => {
      const body = (await (await fetch(`${tp.httpUrl}/healthz`)).json()) as { status: string };
      lastHealth = JSON.stringify(body);
      return body.status === 'ok' ? body : undefined;
    },
    'health to be ok again after the outage',
    30_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last report: ${lastHealth}`);
  });
  t.is(healthy.status, 'ok');
  await Promise.all(clients.map(endClient));
});
