import { rmSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Registry as MetricsRegistry } from 'prom-client';
import { type Broker, type BrokerOptions, createBroker, type TelemetryHook } from '../../broker/index.ts';
import { SqliteRegistry } from '../../registry/index.ts';
import { ownClientId } from '../support/platform.ts';

/** Shared set-up of the broker tests: a registry in a temp dir, a broker on port 0, mqtt.js clients. */

export const SECRETS = {
  'truck-1': 'truck-1-secret',
  'truck-2': 'truck-2-secret',
  'cam-1': 'cam-1-secret',
  'off-1': 'off-1-secret',
  ingest: 'ingest-service-secret',
} as const;

export interface TelemetryCall {
  deviceId: string;
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
}

export interface Fixture {
  dir: string;
  registry: SqliteRegistry;
  broker: Broker;
  metrics: MetricsRegistry;
  ports: Awaited<ReturnType<Broker['listen']>>;
  calls: TelemetryCall[];
  /** replace to change how the telemetry hook behaves (default: resolve at once) */
  hook: { fn: TelemetryHook };
  url: string;
  clients: MqttClient[];
  /** connect and wait for CONNACK 0; rejects with the mqtt.js error (err.code = return code) */
  connect(
    username: string | undefined,
    password?: string,
    opts?: IClientOptions & { url?: string },
  ): Promise<MqttClient>;
  close(): Promise<void>;
}

/**
 * scrypt is slow on purpose (and slower still on a busy 2-core CI box), so the seeded registry is built
 * once per test process and each fixture gets its own copy of the database file.
 */
let template: Promise<string> | undefined;

async function buildTemplate(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'citywatch-broker-template-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const registry = new SqliteRegistry({ dir });
  registry.upsertFirm({ id: 'firm-1', name: '合肥渣土运输有限公司' });
  registry.upsertVehicle({
    id: 'veh-1',
    plate: '皖A·12345',
    kind: 'muck_truck',
    firm: 'firm-1',
    ratedLoadT: 31,
  });
  registry.upsertVehicle({ id: 'veh-2', plate: '皖A·54321', kind: 'muck_truck', firm: 'firm-1' });
  await Promise.all([
    registry.putDevice({
      id: 'truck-1',
      secret: SECRETS['truck-1'],
      kind: 'muck_truck',
      vehicle: 'veh-1',
      firm: 'firm-1',
    }),
    registry.putDevice({
      id: 'truck-2',
      secret: SECRETS['truck-2'],
      kind: 'muck_truck',
      vehicle: 'veh-2',
      firm: 'firm-1',
    }),
    registry.putDevice({ id: 'cam-1', secret: SECRETS['cam-1'], kind: 'body_camera', firm: 'firm-1' }),
    registry.putDevice({ id: 'off-1', secret: SECRETS['off-1'], kind: 'body_camera', firm: 'firm-1' }),
    registry.putServiceCredential('ingest', SECRETS.ingest),
  ]);
  registry.setDeviceEnabled('off-1', false);
  registry.close(); // checkpoints the WAL into registry.db
  return dir;
}

export async function startFixture(extra: Partial<BrokerOptions> = {}): Promise<Fixture> {
  template ??= buildTemplate();
  const source = await template;
  const dir = await mkdtemp(join(tmpdir(), 'citywatch-broker-'));
  await copyFile(join(source, 'registry.db'), join(dir, 'registry.db'));
  const registry = new SqliteRegistry({ dir });

  const metrics = new MetricsRegistry();
  const calls: TelemetryCall[] = [];
  const hook: { fn: TelemetryHook } = { fn: async () => {} };
  const broker = createBroker({
    registry,
    port: 0,
    metrics,
    onTelemetry: (deviceId, topic, payload, qos) => {
      calls.push({ deviceId, topic, payload: payload.toString('utf8'), qos });
      return hook.fn(deviceId, topic, payload, qos);
    },
    ...extra,
  });
  const ports = await broker.listen();
  const url = `mqtt://127.0.0.1:${ports.tcpPort}`;
  const clients: MqttClient[] = [];

  return {
    dir,
    registry,
    broker,
    metrics,
    ports,
    calls,
    hook,
    url,
    clients,
    connect(username, password, opts = {}) {
      const { url: target, ...rest } = opts;
      const client = mqtt.connect(target ?? url, {
        reconnectPeriod: 0,
        connectTimeout: 30_000,
        ...ownClientId(username),
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...rest,
      });
      clients.push(client);
      return new Promise<MqttClient>((resolve, reject) => {
        client.once('connect', () => resolve(client));
        client.once('error', reject);
        client.once('close', () => reject(new Error('closed before CONNACK')));
      });
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
      await broker.close();
      registry.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` is true (or throws after `timeoutMs`). */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Resolves when the client's connection closes. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected && client.disconnected) resolve();
    else client.once('close', () => resolve());
  });
}

/** Value of one sample in prom-client text exposition, e.g. metric('x_total{reason="a"}'). */
export async function metricValue(metrics: MetricsRegistry, sample: string): Promise<number | undefined> {
  const text = await metrics.metrics();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
