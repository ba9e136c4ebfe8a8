/**
 * The rest of the tests (their world: test/support/broker/broker.ts).
 */

import { connect as netConnect } from 'node:net';
import test from 'ava';
import mqtt from 'mqtt';
import { collect, fixJson, fixture } from '../support/broker/broker.ts';
import { deferred, metricValue, SECRETS, until } from './fixture.ts';

// ---------------------------------------------------------------- durability contract

test('QoS 1 telemetry: PUBACK only after onTelemetry resolves', async (t) => {
  const f = await fixture(t);
  const gate = deferred();
  const entered = deferred();
  f.hook.fn = async (deviceId) => {
    if (deviceId !== 'truck-1') return;
    entered.resolve();
    await gate.promise;
  };
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  const other = await f.connect('truck-2', SECRETS['truck-2']);
  const pubacks: number[] = [];
  device.on('packetreceive', (p) => {
    if (p.cmd === 'puback') pubacks.push(p.messageId ?? -1);
  });
  let acked = false;
  const published = device.publishAsync('devices/truck-1/telemetry', fixJson(), { qos: 1 }).then(() => {
    acked = true;
  });

  await entered.promise;
  // The negative, confirmed by a later positive event: a message published after truck-1's hook was
  // entered, whose hook resolves at once, gets its PUBACK; truck-1's still has not come.
  await other.publishAsync('devices/truck-2/telemetry', fixJson(2), { qos: 1 });
  t.false(acked, 'no PUBACK while ingest has not made the fix durable');
  t.deepEqual(pubacks, []);

  gate.resolve();
  await published;
  t.true(acked);
  t.is(pubacks.length, 1);
  t.deepEqual(f.calls, [
    { deviceId: 'truck-1', topic: 'devices/truck-1/telemetry', payload: fixJson(), qos: 1 },
    { deviceId: 'truck-2', topic: 'devices/truck-2/telemetry', payload: fixJson(2), qos: 1 },
  ]);
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_messages_in_total{qos="1"}'), 2);
  t.is(f.broker.stats().messagesIn['1'], 2);
});

test('telemetry whose hook rejects: connection closed, no PUBACK, counted; the device sends it again', async (t) => {
  const f = await fixture(t);
  let failures = 1;
  f.hook.fn = async () => {
    if (failures-- > 0) throw new Error('disk full');
  };
  // clean=false + fixed client id: mqtt.js keeps the unacknowledged message and resends it on reconnect
  const device = mqtt.connect(f.url, {
    username: 'truck-1',
    password: SECRETS['truck-1'],
    clientId: 'truck-1',
    clean: false,
    reconnectPeriod: 100,
  });
  f.clients.push(device);
  let closes = 0;
  device.on('close', () => closes++);
  const pubacks: number[] = [];
  device.on('packetreceive', (p) => {
    if (p.cmd === 'puback') pubacks.push(p.messageId ?? -1);
  });
  await new Promise<void>((resolve) => device.once('connect', () => resolve()));
  await device.publishAsync('devices/truck-1/telemetry', fixJson(), { qos: 1 });

  t.true(closes >= 1, 'the first attempt cost the connection');
  t.is(f.calls.length, 2, 'the same message reached the hook twice: once failed, once stored');
  t.is(f.calls[0]?.payload, f.calls[1]?.payload);
  t.is(pubacks.length, 1, 'exactly one PUBACK, for the stored attempt');
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_telemetry_failures_total'), 1);
});

test('telemetry is forwarded to subscribed services as usual', async (t) => {
  const f = await fixture(t);
  const svc = await f.connect('ingest', SECRETS.ingest);
  const got = collect(svc);
  await svc.subscribeAsync('devices/+/telemetry', { qos: 1 });
  const device = await f.connect('cam-1', SECRETS['cam-1']);
  await device.publishAsync('devices/cam-1/telemetry', fixJson(), { qos: 1 });
  await until(() => got.length === 1, 5000, 'forwarded telemetry');
  t.deepEqual(got[0], { topic: 'devices/cam-1/telemetry', text: fixJson(), retain: false });
});

test('QoS 0 telemetry goes through the hook too; other subtopics of a device do not', async (t) => {
  const f = await fixture(t);
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  await device.publishAsync('devices/truck-1/telemetry', fixJson(), { qos: 0 });
  await device.publishAsync('devices/truck-1/events/door', 'open', { qos: 1 });
  // marker: a later telemetry message on the same connection reaches the hook after everything sent
  // before it (the hook is called in arrival order), so by its PUBACK the door event would be there
  await device.publishAsync('devices/truck-1/telemetry', fixJson(2), { qos: 1 });
  t.deepEqual(
    f.calls.map((c) => [c.deviceId, c.qos, c.payload]),
    [
      ['truck-1', 0, fixJson()],
      ['truck-1', 1, fixJson(2)],
    ],
  );
  t.true(device.connected);
});

// ---------------------------------------------------------------- authentication

test('CONNACK 4 for a wrong secret, an unknown user and missing credentials; 5 for a disabled device', async (t) => {
  const f = await fixture(t);
  const refused = async (username: string | undefined, password?: string) => {
    const err = await t.throwsAsync(f.connect(username, password));
    return (err as Error & { code?: number }).code;
  };
  t.is(await refused('truck-1', 'wrong'), 4);
  t.is(await refused('truck-1', SECRETS['truck-2']), 4, "another device's secret is a wrong secret");
  t.is(await refused('nobody', 'whatever'), 4);
  t.is(await refused('ingest', 'wrong'), 4, 'a service with a wrong secret');
  t.is(await refused(undefined), 4, 'no credentials at all');
  t.is(await refused('truck-1'), 4, 'username without password');
  t.is(await refused('off-1', SECRETS['off-1']), 5, 'disabled device, right secret');
  t.is(await refused('off-1', 'wrong'), 5, 'disabled device, wrong secret');

  const m = (reason: string) =>
    metricValue(f.metrics, `citywatch_mqtt_auth_failures_total{reason="${reason}"}`);
  t.is(await m('bad_secret'), 3);
  t.is(await m('unknown_user'), 1);
  t.is(await m('missing_credentials'), 2);
  t.is(await m('disabled'), 2);
  t.deepEqual(f.broker.stats().authFailures, {
    bad_secret: 3,
    unknown_user: 1,
    missing_credentials: 2,
    disabled: 2,
    throttled: 0,
    busy: 0,
    client_id_takeover: 0,
    client_id_not_own: 0,
  });
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_connects_total{type="device"}'), 0);
});

test('good device and service connect; connections gauge and connects counter follow', async (t) => {
  const f = await fixture(t);
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  await f.connect('ingest', SECRETS.ingest);
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_connections{type="device"}'), 1);
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_connections{type="service"}'), 1);
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_connects_total{type="device"}'), 1);
  await device.endAsync();
  await until(() => f.broker.stats().connectionsByType.device === 0, 5000, 'gauge down');
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_connections{type="device"}'), 0);
  t.is(f.broker.stats().connects.service, 1);
  t.is(f.broker.stats().connections, 1);
});

test('MQTT 5 CONNECT: aedes 1.2 answers CONNACK return code 1 (unacceptable protocol version) and closes', async (t) => {
  const f = await fixture(t);
  // mqtt.js with protocolVersion 5
  const err = await t.throwsAsync(f.connect('truck-1', SECRETS['truck-1'], { protocolVersion: 5 }));
  t.is((err as Error & { code?: number }).code, 1);
  t.regex(err?.message ?? '', /Unacceptable protocol version/);

  // the same on the wire: a minimal v5 CONNECT (level 5, clean start, keepalive 60, no properties, empty id)
  const socket = netConnect(f.ports.tcpPort, '127.0.0.1');
  const reply: Buffer[] = [];
  socket.on('data', (d) => reply.push(d));
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 60, 0, 0, 0]));
  await ended;
  // a 3.1.1-style CONNACK: type 2, remaining length 2, session present 0, return code 1
  t.is(Buffer.concat(reply).toString('hex'), '20020001');
  // credentials are never looked at, so nothing is counted as an auth failure
  t.deepEqual(f.broker.stats().authFailures, {
    bad_secret: 0,
    unknown_user: 0,
    missing_credentials: 0,
    disabled: 0,
    throttled: 0,
    busy: 0,
    client_id_takeover: 0,
    client_id_not_own: 0,
  });
});
