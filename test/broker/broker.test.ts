import { connect as netConnect } from 'node:net';
import { Writable } from 'node:stream';
import test from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { clientIdOwner, judgeClientId } from '../../broker/client-id.ts';
import {
  closed,
  deferred,
  type Fixture,
  metricValue,
  SECRETS,
  sleep,
  startFixture,
  until,
} from './fixture.ts';

const fixture = async (t: { teardown: (fn: () => Promise<void>) => void }): Promise<Fixture> => {
  const f = await startFixture();
  t.teardown(() => f.close());
  return f;
};

const fixJson = (ts = 1_700_000_000_000) => JSON.stringify({ ts, lat: 31.82, lon: 117.23, speed: 32 });

/** Collects messages of a client as (topic, text, retain). */
function collect(client: MqttClient) {
  const messages: { topic: string; text: string; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, text: payload.toString('utf8'), retain: packet.retain }),
  );
  return messages;
}

/**
 * SUBACK return codes per filter, in order. mqtt.js turns any 0x80 into an error carrying the SUBACK,
 * so the codes are read from the packet either way.
 */
function suback(client: MqttClient, filters: Record<string, 0 | 1 | 2>): Promise<Record<string, number>> {
  const topics = Object.keys(filters);
  const subs = Object.fromEntries(topics.map((topic) => [topic, { qos: filters[topic] ?? 0 }]));
  return new Promise((resolve, reject) => {
    client.subscribe(subs, (err, granted) => {
      const codes = (err as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted;
      if (err && codes === undefined) return reject(err);
      const list = codes ?? (granted ?? []).map((g) => g.qos);
      resolve(Object.fromEntries(topics.map((topic, i) => [topic, list[i] ?? -1])));
    });
  });
}

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

// ---------------------------------------------------------------- ACL

test("publishing to another device's topic closes the connection, is counted and never reaches ingest", async (t) => {
  const f = await fixture(t);
  const svc = await f.connect('ingest', SECRETS.ingest);
  const watched = collect(svc);
  await svc.subscribeAsync('devices/#', { qos: 1 });
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  const gone = closed(device);
  device.publish('devices/truck-2/telemetry', fixJson(), { qos: 1 });
  await gone;
  // marker: truck-2 itself publishes to that topic after the refusal; once the service has the marker,
  // a forwarded forgery (decided before the connection closed) would have reached it first
  const owner = await f.connect('truck-2', SECRETS['truck-2']);
  await owner.publishAsync('devices/truck-2/telemetry', fixJson(2), { qos: 1 });
  await until(() => watched.some((m) => m.text === fixJson(2)), 5000, 'the marker');
  t.deepEqual(
    f.calls.map((c) => [c.deviceId, c.payload]),
    [['truck-2', fixJson(2)]],
  );
  t.deepEqual(
    watched.filter((m) => m.topic === 'devices/truck-2/telemetry').map((m) => m.text),
    [fixJson(2)],
  );
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_acl_denials_total{action="publish"}'), 1);
});

test('$SYS publishes are refused for services too; services may publish elsewhere', async (t) => {
  const f = await fixture(t);
  const svc = await f.connect('ingest', SECRETS.ingest);
  await svc.publishAsync('devices/truck-1/commands/reboot', '{}', { qos: 1 });
  await svc.publishAsync('platform/alerts', '{}', { qos: 1 });
  t.true(svc.connected);
  const gone = closed(svc);
  svc.publish('$SYS/fake/heartbeat', 'x', { qos: 1 });
  await gone;
  t.is(f.broker.stats().aclDenials.publish, 1);
});

test('a device subscribes to its own commands only: other filters get 0x80', async (t) => {
  const f = await fixture(t);
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  const codes = await suback(device, {
    'devices/truck-1/commands/#': 1,
    'devices/truck-1/commands/+/ack': 1,
    'devices/truck-2/commands/#': 1,
    'devices/+/commands/#': 1,
    'devices/truck-1/telemetry': 1,
    '#': 0,
    'platform/deadletter': 0,
    'platform/#': 0,
    '$SYS/#': 0,
  });
  t.deepEqual(codes, {
    'devices/truck-1/commands/#': 1,
    'devices/truck-1/commands/+/ack': 1,
    'devices/truck-2/commands/#': 128,
    'devices/+/commands/#': 128,
    'devices/truck-1/telemetry': 128,
    '#': 128,
    'platform/deadletter': 128,
    'platform/#': 128,
    '$SYS/#': 128,
  });
  t.true(device.connected, 'a refused filter does not cost the connection');
  t.is(await metricValue(f.metrics, 'citywatch_mqtt_acl_denials_total{action="subscribe"}'), 7);

  // the granted subscription works: a service sends a command
  const got = collect(device);
  const svc = await f.connect('ingest', SECRETS.ingest);
  await svc.publishAsync('devices/truck-1/commands/reboot', '{"at":"now"}', { qos: 1 });
  await svc.publishAsync('devices/truck-2/commands/reboot', '{"at":"now"}', { qos: 1 });
  // marker: a later command to truck-1 from the same publisher; a leaked one would arrive before it
  await svc.publishAsync('devices/truck-1/commands/marker', '{}', { qos: 1 });
  await until(() => got.length >= 2, 5000, 'the command and the marker');
  t.deepEqual(got, [
    { topic: 'devices/truck-1/commands/reboot', text: '{"at":"now"}', retain: false },
    { topic: 'devices/truck-1/commands/marker', text: '{}', retain: false },
  ]);
});

test('platform/deadletter: refused to a device, granted to a service, which receives broker.publish', async (t) => {
  const f = await fixture(t);
  const device = await f.connect('cam-1', SECRETS['cam-1']);
  t.deepEqual(await suback(device, { 'platform/deadletter': 1 }), { 'platform/deadletter': 128 });
  t.true(device.connected);

  const svc = await f.connect('ingest', SECRETS.ingest);
  const got = collect(svc);
  t.deepEqual(await suback(svc, { 'platform/deadletter': 1 }), { 'platform/deadletter': 1 });
  await f.broker.publish('platform/deadletter', '{"reasons":["invalid_json"]}', { qos: 1 });
  await until(() => got.length === 1, 5000, 'dead letter');
  t.deepEqual(got[0], { topic: 'platform/deadletter', text: '{"reasons":["invalid_json"]}', retain: false });
  await t.throwsAsync(f.broker.publish('platform/#', 'x'), { message: /invalid topic/ });
});

test('a device disabled while connected cannot publish any more', async (t) => {
  const f = await fixture(t);
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  await device.publishAsync('devices/truck-1/telemetry', fixJson(), { qos: 1 });
  f.registry.setDeviceEnabled('truck-1', false);
  const gone = closed(device);
  device.publish('devices/truck-1/telemetry', fixJson(2), { qos: 1 });
  await gone;
  t.is(f.calls.length, 1);
});

// ---------------------------------------------------------------- status

type Status = { state: string; ts: string };

/** The broker's retained packets on a topic, read from its persistence (the stream's end says "no more"). */
async function retainedPackets(f: Fixture, topic: string): Promise<unknown[]> {
  const out: unknown[] = [];
  // aedes' types leave out its persistence; aedes-persistence streams the retained packets matching a topic
  const { persistence } = f.broker.aedes as unknown as {
    persistence: { createRetainedStream(pattern: string): AsyncIterable<unknown> };
  };
  for await (const packet of persistence.createRetainedStream(topic)) out.push(packet);
  return out;
}

/**
 * The retained status a new subscriber gets on SUBSCRIBE: undefined when the broker retains none;
 * otherwise waits for the retained delivery (a positive event) and checks its retain flag.
 */
async function retainedStatus(f: Fixture, id: string): Promise<Status | undefined> {
  const topic = `devices/${id}/status`;
  if ((await retainedPackets(f, topic)).length === 0) return undefined;
  const probe = await f.connect('ingest', SECRETS.ingest, { clientId: `probe-${Math.random()}` });
  const got = collect(probe);
  await probe.subscribeAsync(topic, { qos: 1 });
  await until(() => got.length > 0, 5000, `the retained status of ${id}`);
  await probe.endAsync();
  const first = got[0]!;
  if (!first.retain) throw new Error('status delivered on subscribe must carry the retain flag');
  return JSON.parse(first.text) as Status;
}

/**
 * Polls the retained status until it is `state`: the status publish runs a moment after the connection
 * event the test waited for. Fails (after 5 s) when it never gets there.
 */
async function retainedStatusIs(f: Fixture, id: string, state: string): Promise<Status> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const status = await retainedStatus(f, id);
    if (status?.state === state) return status;
    if (Date.now() > deadline) throw new Error(`retained status of ${id}: ${status?.state}, not ${state}`);
    await sleep(20);
  }
}

/** an offline status stamped at or after `sinceMs` has arrived (a stale one carries an earlier ts) */
function offlineSince(seen: { text: string }[], sinceMs: number): boolean {
  return seen.some((m) => {
    const s = JSON.parse(m.text) as Status;
    return s.state === 'offline' && Date.parse(s.ts) >= sinceMs;
  });
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

test('retained status: online on connect, offline on clean disconnect and on a destroyed socket', async (t) => {
  const f = await fixture(t);
  t.is(await retainedStatus(f, 'truck-1'), undefined);

  const device = await f.connect('truck-1', SECRETS['truck-1']);
  await until(() => f.broker.stats().devicesOnline === 1, 5000, 'online');
  const online = await retainedStatusIs(f, 'truck-1', 'online');
  t.regex(online.ts, ISO_UTC);

  await device.endAsync();
  await until(() => f.broker.stats().devicesOnline === 0, 5000, 'offline');
  await retainedStatusIs(f, 'truck-1', 'offline');

  const again = await f.connect('truck-1', SECRETS['truck-1']);
  await until(() => f.broker.stats().devicesOnline === 1, 5000, 'online again');
  await retainedStatusIs(f, 'truck-1', 'online');
  again.stream.destroy(); // abrupt: no DISCONNECT, the socket just dies
  await until(() => f.broker.stats().devicesOnline === 0, 5000, 'offline after destroy');
  const off = await retainedStatusIs(f, 'truck-1', 'offline');
  t.true(Date.parse(off.ts) >= Date.parse(online.ts));
});

test('a quick reconnect: the old connection dying later does not overwrite online with offline', async (t) => {
  const f = await fixture(t);
  const watcher = await f.connect('ingest', SECRETS.ingest);
  const seen = collect(watcher);
  await watcher.subscribeAsync('devices/truck-1/status', { qos: 1 });

  const first = await f.connect('truck-1', SECRETS['truck-1'], { clientId: 'truck-1-a' });
  // the device comes back on a new connection before the broker notices the old one is gone
  const second = await f.connect('truck-1', SECRETS['truck-1'], { clientId: 'truck-1-b' });
  first.stream.destroy();
  await until(() => f.broker.stats().connectionsByType.device === 1, 5000, 'old connection gone');
  await retainedStatusIs(f, 'truck-1', 'online');

  // The later positive event: the second connection ends and its offline arrives. A device's status
  // publishes run one after another, so a stale offline of the first connection would come before it.
  const endedAt = Date.now();
  await second.endAsync();
  await until(() => offlineSince(seen, endedAt), 5000, "the second connection's offline");
  await retainedStatusIs(f, 'truck-1', 'offline');
  t.deepEqual(
    seen.map((m) => JSON.parse(m.text).state),
    ['online', 'online', 'offline'],
    'no offline was published while a connection was live',
  );
});

test('takeover by the same client id [MQTT-3.1.4-2] ends online', async (t) => {
  const f = await fixture(t);
  const watcher = await f.connect('ingest', SECRETS.ingest);
  const seen = collect(watcher);
  await watcher.subscribeAsync('devices/truck-1/status', { qos: 1 });
  const first = await f.connect('truck-1', SECRETS['truck-1'], { clientId: 'truck-1' });
  const gone = closed(first);
  const second = await f.connect('truck-1', SECRETS['truck-1'], { clientId: 'truck-1' });
  await gone;
  await retainedStatusIs(f, 'truck-1', 'online');
  t.is(f.broker.stats().connectionsByType.device, 1);
  // The later positive event: the new connection ends and its offline arrives. A device's status
  // publishes run in order, so a stale offline of the taken-over connection published after the new
  // online would sit between them: the new connection's offline must directly follow an online.
  const endedAt = Date.now();
  await second.endAsync();
  await until(() => offlineSince(seen, endedAt), 5000, "the new connection's offline");
  t.deepEqual(
    seen.slice(-2).map((m) => JSON.parse(m.text).state),
    ['online', 'offline'],
  );
});

test("client id takeover: good credentials with another device's client id get CONNACK 2, counted; the owner stays", async (t) => {
  const f = await fixture(t);
  const owner = await f.connect('truck-1', SECRETS['truck-1'], { clientId: 'truck-1' });
  const ownerClosed = closed(owner);
  let ownerGone = false;
  void ownerClosed.then(() => {
    ownerGone = true;
  });
  const code = async (username: string, password: string, clientId: string) =>
    f.connect(username, password, { clientId }).then(
      async (c) => {
        await c.endAsync();
        return 0;
      },
      (err: Error & { code?: number }) => err.code,
    );
  // the attack of issue 10: device truck-2, its own valid secret, truck-1's client id
  t.is(await code('truck-2', SECRETS['truck-2'], 'truck-1'), 2);
  t.is(await code('truck-2', SECRETS['truck-2'], 'truck-1-spare'), 2, "a client id of truck-1's form");
  t.is(await code('ingest', SECRETS.ingest, 'truck-1'), 2, 'a service neither');
  t.is(
    await code('truck-2', SECRETS['truck-2'], 'mqttjs_1a2b3c4d'),
    2,
    'no device owns it: not truck-2s either',
  );
  // what a device may use: its id, its id and a suffix, an empty client id (the server assigns one)
  t.is(await code('truck-2', SECRETS['truck-2'], 'truck-2-test'), 0);
  t.is(await code('truck-2', SECRETS['truck-2'], 'truck-2:1'), 0);
  t.is(await code('truck-2', SECRETS['truck-2'], ''), 0);
  t.is(await code('ingest', SECRETS.ingest, 'ingest-x'), 0);
  // the owner is still connected: its telemetry is acknowledged after all of that
  await owner.publishAsync('devices/truck-1/telemetry', fixJson(), { qos: 1 });
  t.false(ownerGone);
  t.true(owner.connected);
  const m = (reason: string) =>
    metricValue(f.metrics, `citywatch_mqtt_auth_failures_total{reason="${reason}"}`);
  t.is(await m('client_id_takeover'), 3);
  t.is(await m('client_id_not_own'), 1);
  // the device itself taking over its own session is the standard's takeover [MQTT-3.1.4-2]
  await f.connect('truck-1', SECRETS['truck-1'], { clientId: 'truck-1' });
  await ownerClosed;
});

test('a client id belongs to the device with the longest id it starts with (then "-", "_", "." or ":")', (t) => {
  const devices = new Set(['dev-1', 'dev-1-x', 'cam.1']);
  const isDevice = (id: string) => devices.has(id);
  t.is(clientIdOwner('dev-1', isDevice), 'dev-1');
  t.is(clientIdOwner('dev-1-a', isDevice), 'dev-1');
  t.is(clientIdOwner('dev-1-x', isDevice), 'dev-1-x');
  t.is(clientIdOwner('dev-1-x-2', isDevice), 'dev-1-x');
  t.is(clientIdOwner('dev-1x', isDevice), undefined, 'no separator after the id');
  t.is(clientIdOwner('cam.1:a', isDevice), 'cam.1');
  t.is(clientIdOwner(`dev-1-${'z'.repeat(70000)}`, isDevice), 'dev-1');
  t.is(judgeClientId('dev-1-x', { type: 'device', id: 'dev-1' }, isDevice), 'takeover');
  t.is(judgeClientId('dev-1-x-9', { type: 'device', id: 'dev-1-x' }, isDevice), 'ok');
  t.is(
    judgeClientId('aedes_0b6c1f7e-2d7a-4f0e-9f61-5a0d7f3c8e21', { type: 'device', id: 'dev-1' }, isDevice),
    'ok',
  );
  t.is(judgeClientId('imei-8612', { type: 'device', id: 'dev-1' }, isDevice), 'not_own');
  t.is(judgeClientId('imei-8612', { type: 'service' }, isDevice), 'ok');
});

test('connections are logged at info as one summary line per interval, each connect and disconnect at debug', async (t) => {
  const lines: { level: number; msg: string; connected?: number; joined?: number; left?: number }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const f = await startFixture({ logger: pino({ level: 'debug' }, sink), connectionLogIntervalMs: 200 });
  t.teardown(() => f.close());
  const a = await f.connect('truck-1', SECRETS['truck-1']);
  await f.connect('truck-2', SECRETS['truck-2']);
  await f.connect('cam-1', SECRETS['cam-1']);
  await a.endAsync();
  const summaries = () => lines.filter((l) => l.msg.startsWith('mqtt connections:'));
  const sum = (k: 'joined' | 'left') => summaries().reduce((n, l) => n + (l[k] ?? 0), 0);
  await until(() => sum('joined') === 3 && sum('left') === 1, 10_000, 'the summary of 3 joined, 1 left');
  // a later change gives a later line; no line ever says nothing changed
  await f.connect('truck-1', SECRETS['truck-1']);
  await until(() => sum('joined') === 4, 10_000, 'the next summary');
  t.true(summaries().every((l) => (l.joined ?? 0) + (l.left ?? 0) > 0 && l.level === 30));
  t.is(summaries().at(-1)?.connected, 3);
  const info = lines.filter((l) => l.level >= 30 && /client (dis)?connected/.test(l.msg));
  t.deepEqual(info, [], 'no info line per connection');
  t.is(lines.filter((l) => l.level === 20 && l.msg === 'mqtt client connected').length, 4);
  t.is(lines.filter((l) => l.level === 20 && l.msg === 'mqtt client disconnected').length, 1);
});

test("a device's own last will on its status topic is allowed", async (t) => {
  const f = await fixture(t);
  const watcher = await f.connect('ingest', SECRETS.ingest);
  const seen = collect(watcher);
  await watcher.subscribeAsync('devices/cam-1/status', { qos: 1 });
  const device = await f.connect('cam-1', SECRETS['cam-1'], {
    will: { topic: 'devices/cam-1/status', payload: Buffer.from('{"state":"lost"}'), qos: 1, retain: true },
  });
  await until(() => seen.length === 1, 5000, 'online');
  device.stream.destroy();
  await until(() => seen.length === 3, 5000, 'will and offline');
  t.deepEqual(
    seen.map((m) => JSON.parse(m.text).state),
    ['online', 'lost', 'offline'],
  );
  t.is(f.broker.stats().aclDenials.publish, 0);
});

// ---------------------------------------------------------------- persistent session

test('a service with clean=false and QoS 1 receives on reconnect what was published while it was away', async (t) => {
  const f = await fixture(t);
  const opts = { clientId: 'ingest-1', clean: false } as const;
  const first = await f.connect('ingest', SECRETS.ingest, opts);
  await first.subscribeAsync('devices/+/telemetry', { qos: 1 });
  await first.endAsync();

  const device = await f.connect('truck-1', SECRETS['truck-1']);
  await device.publishAsync('devices/truck-1/telemetry', fixJson(1), { qos: 1 });
  await device.publishAsync('devices/truck-1/telemetry', fixJson(2), { qos: 1 });

  const second = mqtt.connect(f.url, {
    username: 'ingest',
    password: SECRETS.ingest,
    reconnectPeriod: 0,
    ...opts,
  });
  f.clients.push(second);
  const got = collect(second);
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve) =>
    second.once('connect', resolve),
  );
  t.true(connack.sessionPresent);
  await until(() => got.length === 2, 5000, 'queued messages');
  t.deepEqual(
    got.map((m) => m.text),
    [fixJson(1), fixJson(2)],
  );
});

/** A raw MQTT 3.1.1 CONNECT (clean session, username + password), built by hand. */
function rawConnect(clientId: string, username: string, password: string, keepaliveS: number): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    return Buffer.concat([len, b]);
  };
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(keepaliveS);
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, 0b1100_0010]), // level 4 (3.1.1); username, password, clean session
    keepalive,
    str(clientId),
    str(username),
    str(password),
  ]);
  if (body.length > 127) throw new Error('keep it short');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

test('keepalive timeout [MQTT-3.1.2-24]: a silent device is closed and announced offline', async (t) => {
  const f = await fixture(t);
  // a watcher connected first sees online, then offline: no race with the 1.5 s keepalive allowance
  const watcher = await f.connect('ingest', SECRETS.ingest);
  const seen = collect(watcher);
  await watcher.subscribeAsync('devices/truck-1/status', { qos: 1 });
  const socket = netConnect(f.ports.tcpPort, '127.0.0.1');
  const reply: Buffer[] = [];
  socket.on('data', (d) => reply.push(d));
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(rawConnect('truck-1-raw', 'truck-1', SECRETS['truck-1'], 1));
  await until(() => Buffer.concat(reply).length >= 4, 5000, 'CONNACK');
  t.is(Buffer.concat(reply).subarray(0, 4).toString('hex'), '20020000', 'CONNACK accepted');
  // no PINGREQ: the broker gives up after 1.5 x keepalive
  await ended;
  await until(() => f.broker.stats().devicesOnline === 0, 5000, 'offline');
  await until(() => seen.length >= 2, 5000, 'online and offline at the watcher');
  t.deepEqual(
    seen.map((m) => JSON.parse(m.text).state),
    ['online', 'offline'],
  );
  await retainedStatusIs(f, 'truck-1', 'offline');
});

test('close() lets a telemetry hook under way finish and its PUBACK go out', async (t) => {
  const f = await fixture(t);
  const gate = deferred();
  const entered = deferred();
  f.hook.fn = async () => {
    entered.resolve();
    await gate.promise;
  };
  const device = await f.connect('truck-1', SECRETS['truck-1']);
  const published = device.publishAsync('devices/truck-1/telemetry', fixJson(), { qos: 1 });
  await entered.promise;
  // close() stops accepting before its first await, so a CONNECT made after it returns is refused
  const closing = f.broker.close();
  // no new connections while closing
  await t.throwsAsync(f.connect('truck-2', SECRETS['truck-2'], { connectTimeout: 1000 }));
  gate.resolve();
  await t.notThrowsAsync(published);
  await closing;
});
