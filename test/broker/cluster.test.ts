/**
 * The embedded broker spread over edge processes (MQTT_PROCESSES = 2, broker/cluster/): the platform as
 * its own process (`npm start`'s entry), devices and services over real TCP with mqtt.js. Seen from the
 * clients it must be one broker: every device's telemetry acknowledged only once stored, status and
 * platform publishes reaching a subscriber whichever process holds it, retained messages there for a
 * later subscriber, a disabled device cut off, a device created after the start let in, a dead edge
 * process replaced, and SIGTERM stopping it all.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { MqttClient } from 'mqtt';
import { type ChildPlatform, spawnPlatform } from '../../testkit/child-platform.ts';
import { connectClient, endClient, eventually, publishQos1 } from '../support/platform.ts';

const TOKEN = 'cluster-admin-token-0123456789';
const SERVICE_PASSWORD = 'cluster-service-secret';
const DEVICES = [
  'dev-d1234',
  'dev-d5678',
  'dev-f2468',
  'dev-f1357',
  'dev-h0621',
  'dev-h0622',
  'cam-sc-0001',
  'cam-sc-0002',
];

/** the parts of API answers the test reads */
interface ApiJson {
  items?: Array<{ device: string }>;
  credentials?: { username: string; password: string };
}

interface BrokerHealth {
  connections: number;
  maxConnections: number;
  processes: number;
  connectionsByProcess: Record<string, number>;
}

async function api(p: ChildPlatform, method: string, url: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${p.ports.http}${url}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as ApiJson | undefined };
}

async function brokerHealth(p: ChildPlatform): Promise<BrokerHealth> {
  const res = await fetch(`http://127.0.0.1:${p.ports.http}/healthz`);
  return ((await res.json()) as { components: { broker: BrokerHealth } }).components.broker;
}

// The edge processes among the platform's children: on a cold tsx cache, esbuild's service process
// (tsx compiling files it has not cached yet) is a child of the platform too.
const edgePids = (p: ChildPlatform): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(p.child.pid), '-f', 'edge-main'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
};

const fix = (lat: number) =>
  JSON.stringify({ ts: Date.now(), lat, lon: 117.23, speed: 20, heading: 90, sats: 9, valid: true });

/** collects what a client receives, by topic */
function inbox(client: MqttClient) {
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) =>
    got.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  return got;
}

const subscribe = (client: MqttClient, filter: string) =>
  new Promise<void>((resolve, reject) =>
    client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  );

test.serial('MQTT_PROCESSES=2: one broker to its clients, across two edge processes', async (t) => {
  t.timeout(300_000);
  const dataDir = await mkdtemp(join(tmpdir(), 'broker-cluster-'));
  const p = await spawnPlatform({
    SIMULATE: 'seed',
    MQTT_PROCESSES: '2',
    DATA_DIR: dataDir,
    ADMIN_TOKEN: TOKEN,
    SERVICE_PASSWORD,
    MQTT_MAX_CONNECTIONS: '20',
  });
  const clients: MqttClient[] = [];
  t.teardown(() => {
    for (const c of clients) c.end(true);
    p.child.kill('SIGKILL');
  });
  const url = `mqtt://127.0.0.1:${p.ports.mqtt}`;
  t.is(edgePids(p).length, 2, 'two edge processes');

  // a service watching every device's status and the dead letters, connected before the devices
  const service = await connectClient(url, {
    username: 'platform',
    password: SERVICE_PASSWORD,
    clientId: 'watcher',
  });
  clients.push(service);
  const seen = inbox(service);
  await subscribe(service, 'devices/+/status');
  await subscribe(service, 'platform/deadletter');

  const devices = new Map<string, MqttClient>();
  for (const id of DEVICES) {
    const c = await connectClient(url, { username: id, password: `demo-only-secret-${id}`, clientId: id });
    clients.push(c);
    devices.set(id, c);
  }
  const health = await eventually(async () => {
    const h = await brokerHealth(p);
    return h.connections === DEVICES.length + 1 ? h : undefined;
  }, 'all connections counted');
  t.is(health.processes, 2);
  t.is(health.maxConnections, 20, 'the cap divided between the edges, their shares summed');
  const perProcess = Object.values(health.connectionsByProcess);
  t.is(perProcess.length, 2);
  t.true(
    perProcess.every((n) => n > 0),
    `the connections are spread: ${JSON.stringify(health.connectionsByProcess)}`,
  );

  // GET /metrics sums the edges' broker metrics: the device connections of both
  const metricsText = await (await fetch(`http://127.0.0.1:${p.ports.http}/metrics`)).text();
  t.regex(metricsText, /^process_cpu_seconds_total /m, 'the platform process its own');
  const deviceGauge = /^citywatch_mqtt_connections\{type="device"\} (\d+)/m.exec(metricsText);
  t.is(Number(deviceGauge?.[1]), DEVICES.length, 'device connections summed over the edge processes');

  // the status of every device reaches the one service, whichever process holds either
  await eventually(() => {
    const online = new Set(seen.filter((m) => m.payload.includes('online')).map((m) => m.topic));
    return DEVICES.every((id) => online.has(`devices/${id}/status`)) ? true : undefined;
  }, 'online status of every device at the service');

  // telemetry: PUBACK for each, and each stored (the API serves it)
  await Promise.all(
    DEVICES.map((id, i) => publishQos1(devices.get(id)!, `devices/${id}/telemetry`, fix(31.8 + i / 1000))),
  );
  const positions = await eventually(async () => {
    const r = await api(p, 'GET', '/api/v1/positions');
    const have = new Set((r.json?.items ?? []).map((x: { device: string }) => x.device));
    return DEVICES.every((id) => have.has(id)) ? have : undefined;
  }, 'the position of every device');
  t.is(positions.size, DEVICES.length);

  // a device with its own valid credentials cannot take over another device's client id, whichever
  // process either connection lands on (round robin): CONNACK 2, counted, and the owner stays connected
  for (let i = 0; i < 4; i++) {
    const err = await t.throwsAsync(
      connectClient(url, {
        username: 'dev-d5678',
        password: 'demo-only-secret-dev-d5678',
        clientId: 'dev-d1234',
      }),
    );
    t.is((err as Error & { code?: number }).code, 2, 'identifier rejected');
  }
  await publishQos1(devices.get('dev-d1234')!, 'devices/dev-d1234/telemetry', fix(31.9));
  t.true(devices.get('dev-d1234')!.connected, 'the owner of the client id was not disconnected');
  const takeovers = await eventually(async () => {
    const text = await (await fetch(`http://127.0.0.1:${p.ports.http}/metrics`)).text();
    const m = /^citywatch_mqtt_auth_failures_total\{reason="client_id_takeover"\} (\d+)/m.exec(text);
    return Number(m?.[1]) === 4 ? 4 : undefined;
  }, 'the takeover attempts counted over both processes');
  t.is(takeovers, 4);

  // a refused message: the platform's dead letter reaches the service through whichever edge holds it
  await publishQos1(devices.get('dev-h0621')!, 'devices/dev-h0621/telemetry', '{"not":"a fix"');
  await eventually(
    () =>
      seen.some((m) => m.topic === 'platform/deadletter' && m.payload.includes('dev-h0621'))
        ? true
        : undefined,
    'the dead letter at the service',
  );

  // a later subscriber gets the retained status of every device, those of the other process included
  const late = await connectClient(url, {
    username: 'platform',
    password: SERVICE_PASSWORD,
    clientId: 'late',
  });
  clients.push(late);
  const lateSeen = inbox(late);
  await subscribe(late, 'devices/+/status');
  await eventually(() => {
    const retained = new Set(lateSeen.filter((m) => m.retain).map((m) => m.topic));
    return DEVICES.every((id) => retained.has(`devices/${id}/status`)) ? true : undefined;
  }, 'retained status of every device at a later subscriber');

  // disabling a device through the API ends its connection, wherever it is
  const victim = devices.get('cam-sc-0002')!;
  const cut = new Promise<void>((resolve) => victim.once('close', () => resolve()));
  t.is((await api(p, 'PATCH', '/api/v1/devices/cam-sc-0002', { enabled: false })).status, 200);
  await cut;
  await t.throwsAsync(
    connectClient(url, {
      username: 'cam-sc-0002',
      password: 'demo-only-secret-cam-sc-0002',
      clientId: 'cam-sc-0002-again',
    }),
    { message: /Not authorized|Bad username/i },
  );

  // a device created after the start is let in by either process (they read the registry through)
  const created = await api(p, 'POST', '/api/v1/devices', {
    kind: 'body_camera',
    firm: 'dept-hf-shushan-cg',
    officer: 'officer-001',
  });
  t.is(created.status, 201, JSON.stringify(created.json));
  const { username, password } = created.json?.credentials ?? { username: '', password: '' };
  for (let i = 0; i < 4; i++) {
    const c = await connectClient(url, { username, password, clientId: `${username}-${i}` });
    await endClient(c);
  }

  // an edge process that dies is replaced; its devices come back
  const [first] = edgePids(p);
  process.kill(first!, 'SIGKILL');
  await eventually(async () => {
    const pids = edgePids(p);
    const h = await brokerHealth(p);
    return pids.length === 2 && !pids.includes(first!) && h.processes === 2 ? true : undefined;
  }, 'a new edge process');
  const back = await connectClient(url, {
    username: 'dev-d1234',
    password: 'demo-only-secret-dev-d1234',
    clientId: 'dev-d1234-back',
  });
  clients.push(back);
  await publishQos1(back, 'devices/dev-d1234/telemetry', fix(31.9));

  // SIGTERM: the platform and its edge processes stop
  const pidsBefore = edgePids(p);
  p.child.kill('SIGTERM');
  t.is(await p.exited, 0);
  for (const pid of pidsBefore)
    t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `edge process ${pid} is gone`);
});
