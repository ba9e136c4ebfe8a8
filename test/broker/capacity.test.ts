/**
 * The broker's connection cap (MQTT_MAX_CONNECTIONS): CONNACK 3 over it, counted and shown in /healthz,
 * room again once a device leaves; sockets beyond the cap plus its margin closed at accept; the default
 * derived from the process's open-files limit. Real platform, real TCP, mqtt.js devices.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { MqttClient } from 'mqtt';
import { socketMargin } from '../../broker/capacity.ts';
import {
  defaultMaxConnections,
  descriptorReserve,
  FALLBACK_MAX_CONNECTIONS,
  parseOpenFilesLimit,
  readOpenFilesLimit,
} from '../../broker/open-files.ts';
import { ConfigError, loadConfig } from '../../platform/config.ts';
import { seedCheapFleet } from '../../testkit/cheap-fleet.ts';
import { spawnPlatform } from '../../testkit/child-platform.ts';
import {
  connectClient,
  endClient,
  eventually,
  startTestPlatform,
  type TestPlatform,
} from '../support/platform.ts';
import { closed, deferred, SECRETS, startFixture } from './fixture.ts';

// biome-ignore lint/suspicious/noExplicitAny: the health body is asserted field by field
async function health(httpUrl: string): Promise<any> {
  const res = await fetch(`${httpUrl}/healthz`);
  return res.json();
}

async function metric(httpUrl: string, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

async function cappedPlatform(
  t: { teardown(fn: () => Promise<void>): void },
  max: number,
  devices: number,
): Promise<{ tp: TestPlatform; ids: string[]; secret: string }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-cap-'));
  const fleet = seedCheapFleet(dataDir, devices);
  const tp = await startTestPlatform({ DATA_DIR: dataDir, MQTT_MAX_CONNECTIONS: String(max) });
  t.teardown(async () => {
    await tp.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return { tp, ...fleet };
}

test('MQTT_MAX_CONNECTIONS=5: the sixth device gets CONNACK 3, counted in the metric and /healthz; a leaving device makes room', async (t) => {
  const { tp, ids, secret } = await cappedPlatform(t, 5, 8);
  const device = (i: number, password = secret) =>
    connectClient(tp.mqttUrl, { clientId: ids[i], username: ids[i], password });
  const clients: MqttClient[] = [];
  t.teardown(() => {
    for (const c of clients) c.end(true);
  });
  for (let i = 0; i < 5; i++) clients.push(await device(i));

  const refused = await t.throwsAsync(device(5));
  t.is((refused as Error & { code?: number }).code, 3, 'CONNACK return code 3: server unavailable');
  // over the cap the credentials are not even looked at: a wrong secret is refused with 3 as well, not 4
  const wrong = await t.throwsAsync(device(6, 'not-the-secret'));
  t.is((wrong as Error & { code?: number }).code, 3);

  t.is(await metric(tp.httpUrl, 'citywatch_mqtt_connections_refused_total{reason="capacity"}'), 2);
  t.is(await metric(tp.httpUrl, 'citywatch_mqtt_connections_refused_total{reason="socket_limit"}'), 0);
  const full = await health(tp.httpUrl);
  t.is(full.status, 'degraded');
  t.like(full.components.broker, {
    state: 'degraded',
    connections: 5,
    maxConnections: 5,
    refusedConnections: 2,
    droppedSockets: 0,
  });
  t.regex(full.components.broker.detail, /CONNACK 3/);

  // One device leaves. Once the broker has closed its socket it is below the cap again ('ok'), and the
  // next device gets in at its first attempt.
  const below = async () => {
    const body = await health(tp.httpUrl);
    return body.components.broker.state === 'ok' ? body : undefined;
  };
  await endClient(clients.shift()!);
  const roomy = await eventually(below, 'room after a device left');
  t.is(roomy.components.broker.connections, 4);
  t.is(roomy.components.broker.detail, undefined);
  clients.push(await device(5));
  t.is(
    await metric(tp.httpUrl, 'citywatch_mqtt_connections_refused_total{reason="capacity"}'),
    2,
    'the connection after one left is not refused',
  );
  t.like((await health(tp.httpUrl)).components.broker, { state: 'degraded', connections: 5 });
  const again = await t.throwsAsync(device(6), undefined, 'full again');
  t.is((again as Error & { code?: number }).code, 3);
  t.is((await health(tp.httpUrl)).components.broker.refusedConnections, 3);
});

test('sockets beyond the cap plus its margin are closed at accept, without a CONNACK, and counted', async (t) => {
  const max = 2;
  const { tp, ids, secret } = await cappedPlatform(t, max, 2);
  const clients = [
    await connectClient(tp.mqttUrl, { clientId: ids[0], username: ids[0], password: secret }),
    await connectClient(tp.mqttUrl, { clientId: ids[1], username: ids[1], password: secret }),
  ];
  const port = Number(new URL(tp.mqttUrl).port);
  const sockets: Socket[] = [];
  t.teardown(() => {
    for (const c of clients) c.end(true);
    for (const s of sockets) s.destroy();
  });
  // Sockets that never send CONNECT: the first `margin` are held (waiting for their CONNECT), the
  // rest closed by the broker at once.
  const margin = socketMargin(max);
  const extra = 3;
  const closedByBroker: boolean[] = [];
  for (let i = 0; i < margin + extra; i++) {
    const socket = netConnect(port, '127.0.0.1');
    const index = i;
    closedByBroker[index] = false;
    socket.on('close', () => {
      closedByBroker[index] = true;
    });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    sockets.push(socket);
  }
  await eventually(
    async () =>
      (await metric(tp.httpUrl, 'citywatch_mqtt_connections_refused_total{reason="socket_limit"}')) === extra
        ? true
        : undefined,
    `${extra} sockets dropped`,
  );
  await eventually(() => (closedByBroker.filter(Boolean).length === extra ? true : undefined), 'closes seen');
  t.deepEqual(
    closedByBroker.map((c, i) => (c ? i : -1)).filter((i) => i >= 0),
    Array.from({ length: extra }, (_, k) => margin + k),
    'exactly the sockets past the margin were closed',
  );
  const body = await health(tp.httpUrl);
  t.is(body.components.broker.droppedSockets, extra);
  t.is(body.components.broker.connections, 2, 'the devices stay connected');
  t.true(clients.every((c) => c.connected));
});

test('MQTT_MAX_CONNECTIONS is validated, and a bad value names the setting', (t) => {
  for (const bad of ['0', '-3', '1.5', 'lots']) {
    const err = t.throws(() => loadConfig({ MQTT_MAX_CONNECTIONS: bad }), { instanceOf: ConfigError });
    t.regex(err?.message ?? '', /MQTT_MAX_CONNECTIONS/);
  }
  t.is(loadConfig({ MQTT_MAX_CONNECTIONS: '25000' }).env.MQTT_MAX_CONNECTIONS, 25_000);
  t.is(loadConfig({}).env.MQTT_MAX_CONNECTIONS, undefined, 'unset: derived at start-up');
});

test('the default cap: the open-files limit minus max(256, 10 %); a fixed figure when /proc cannot be read', (t) => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             95384                95384                processes ',
    'Max open files            20000                20000                files     ',
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n');
  t.is(parseOpenFilesLimit(limits), 20_000);
  t.is(parseOpenFilesLimit(limits.replace('20000                20000', '1024                 4096')), 1024);
  t.is(
    parseOpenFilesLimit('Max open files            unlimited            unlimited            files'),
    Infinity,
  );
  t.is(parseOpenFilesLimit('Max processes 10 10 processes'), undefined);
  t.is(descriptorReserve(20_000), 2000);
  t.is(descriptorReserve(1024), 256);
  t.is(defaultMaxConnections(20_000), 18_000);
  t.is(defaultMaxConnections(1024), 768);
  t.is(defaultMaxConnections(undefined), FALLBACK_MAX_CONNECTIONS);
  t.is(readOpenFilesLimit('/nonexistent/limits'), undefined);
  // this process: the figure /proc/self/limits gives (Linux)
  t.is(readOpenFilesLimit(), parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8')));
});

test('with MQTT_MAX_CONNECTIONS unset, a platform under `ulimit -n 1024` caps itself at 768 and says so in /healthz', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-cap-default-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const p = await spawnPlatform(
    { DATA_DIR: dataDir, SIMULATE: '0', ADMIN_TOKEN: 'cap-default-admin-token-0123' },
    30_000,
    { openFilesLimit: 1024 },
  );
  t.teardown(() => {
    p.child.kill('SIGKILL');
  });
  const body = await health(`http://127.0.0.1:${p.ports.http}`);
  t.like(body.components.broker, { state: 'ok', maxConnections: 768, refusedConnections: 0 });
  p.child.kill('SIGTERM');
  t.is(await p.exited, 0);
});

test('while the broker closes, a new telemetry message is not taken in: its connection closes without PUBACK; the one under way still gets its PUBACK', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const gate = deferred();
  const entered = deferred();
  f.hook.fn = async () => {
    entered.resolve();
    await gate.promise;
  };
  const first = await f.connect('truck-1', SECRETS['truck-1']);
  const second = await f.connect('truck-2', SECRETS['truck-2']);
  const fix = (ts: number) => JSON.stringify({ ts, lat: 31.82, lon: 117.23, speed: 32 });
  const underWay = first.publishAsync('devices/truck-1/telemetry', fix(1_700_000_000_000), { qos: 1 });
  await entered.promise;
  const closing = f.broker.close();

  const pubacks: number[] = [];
  second.on('packetreceive', (p) => {
    if (p.cmd === 'puback') pubacks.push(p.messageId ?? -1);
  });
  second.on('error', () => undefined);
  const gone = closed(second);
  second.publish('devices/truck-2/telemetry', fix(1_700_000_001_000), { qos: 1 });
  await gone;
  t.deepEqual(pubacks, [], 'no PUBACK: the device keeps the message for the next broker');
  t.deepEqual(
    f.calls.map((c) => c.deviceId),
    ['truck-1'],
    'the message sent during close never reached ingest',
  );

  gate.resolve();
  await t.notThrowsAsync(underWay, 'the hook under way finished and its PUBACK went out');
  await closing;
});
