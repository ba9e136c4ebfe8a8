/**
 * The external-broker transport: devices publish to a real Mosquitto; ingest subscribes as a client with
 * a persistent session. Same core, same validation, same results as the embedded path.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startMosquitto } from '../../testkit/servers/mosquitto.ts';
import { connectClient, endClient, eventually, publishQos1, startTestPlatform } from '../support/platform.ts';

const fix = (ts: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ ts, lat: 31.82, lon: 117.23, speed: 25, load: 'full', ...extra });

test('ingest from Mosquitto: valid fixes stored, bad ones dead-lettered, MQTT 5 devices, nothing missed across an ingest restart', async (t) => {
  const mosquitto = await startMosquitto();
  t.teardown(() => mosquitto.stop());
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-ext-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const env = { PARTS: 'ingest,api', INGEST_MQTT_URL: mosquitto.url, DATA_DIR: dataDir };

  let tp = await startTestPlatform(env);
  t.is(tp.platform.broker, undefined, 'no embedded broker in this mode');
  const r = tp.platform.registry;
  r.upsertFirm({ id: 'firm-x', name: 'external firm' });
  r.upsertVehicle({ id: 'veh-x', plate: '皖A·X0001', kind: 'muck_truck', firm: 'firm-x' });
  await r.putDevice({
    id: 'dev-x',
    secret: 'secret-x',
    kind: 'muck_truck',
    vehicle: 'veh-x',
    firm: 'firm-x',
  });

  const letters: Array<{ reasons: Array<{ reason: string }>; device: string }> = [];
  const watcher = await connectClient(mosquitto.url, { clientId: 'dlq-watch' });
  watcher.on('message', (_topic, payload) => letters.push(JSON.parse(payload.toString())));
  await watcher.subscribeAsync('platform/deadletter', { qos: 1 });

  const device = await connectClient(mosquitto.url, { clientId: 'dev-x' });
  const t0 = Date.now() - 600_000;
  for (let i = 0; i < 10; i++) await publishQos1(device, 'devices/dev-x/telemetry', fix(t0 + i * 1000));
  await publishQos1(device, 'devices/dev-x/telemetry', fix(t0 + 3000)); // redelivery: stored once
  await publishQos1(device, 'devices/dev-x/telemetry', fix(t0 + 500)); // late: stored, marked late
  await publishQos1(device, 'devices/dev-x/telemetry', '{"ts":broken');
  await publishQos1(device, 'devices/ghost/telemetry', fix(t0)); // Mosquitto has no ACL here: unknown device

  const v5 = await connectClient(mosquitto.url, { clientId: 'dev-x-v5', protocolVersion: 5 });
  await publishQos1(v5, 'devices/dev-x/telemetry', fix(t0 + 10_000, { crs: 'GCJ02' }));
  await endClient(v5);

  await eventually(
    async () => ((await tp.platform.store.count('veh-x', t0, t0 + 60_000)) === 12 ? true : undefined),
    '12 fixes stored',
  );
  await eventually(() => (letters.length === 2 ? true : undefined), 'two dead letters');
  t.deepEqual(letters.map((l) => l.reasons[0]?.reason).sort(), ['malformed_json', 'unknown_device']);
  const track = await tp.platform.store.track({ vehicle: 'veh-x', from: t0, to: t0 + 60_000 });
  t.deepEqual(
    track.filter((f) => f.late).map((f) => f.ts),
    [t0 + 500],
  );
  const v5fix = track.find((f) => f.ts === t0 + 10_000);
  t.truthy(v5fix);
  t.is(v5fix?.crsIn, 'GCJ02');
  t.true(Math.abs((v5fix?.lon ?? 0) - 117.2245) < 0.001, 'converted to WGS-84 as on the embedded path');

  // Ingest goes away; devices keep publishing to Mosquitto; the persistent session holds the messages.
  await tp.platform.stop();
  for (let i = 0; i < 30; i++)
    await publishQos1(device, 'devices/dev-x/telemetry', fix(t0 + 20_000 + i * 1000));
  tp = await startTestPlatform(env);
  t.teardown(() => tp.stop());
  await eventually(
    async () => ((await tp.platform.store.count('veh-x', t0, t0 + 60_000)) === 42 ? true : undefined),
    'the 30 fixes published while ingest was down',
  );
  const metrics = await (await fetch(`${tp.httpUrl}/metrics`)).text();
  t.regex(metrics, /citywatch_ingest_messages_total\{transport="external"\} 30\b/);
  await endClient(device);
  await endClient(watcher);
});
