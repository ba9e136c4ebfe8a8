/**
 * Sessions: presence (retained status), takeovers and client ids, persistent service sessions, keepalive, logging, close (their world: test/support/broker/broker.ts).
 */

import { connect as netConnect } from 'node:net';
import { Writable } from 'node:stream';
import test from 'ava';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { clientIdOwner, judgeClientId } from '../../broker/client-id.ts';
import {
  collect,
  fixJson,
  fixture,
  ISO_UTC,
  offlineSince,
  rawConnect,
  retainedStatus,
  retainedStatusIs,
} from '../support/broker/broker.ts';
import { closed, deferred, metricValue, SECRETS, startFixture, until } from './fixture.ts';

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
