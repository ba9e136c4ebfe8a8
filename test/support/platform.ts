import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type Logger, pino } from 'pino';
import { loadConfig } from '../../platform/config.ts';
import { type Platform, startPlatform } from '../../platform/platform.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/**
 * Settings for tests whose webhook receivers listen on loopback over plain http: by default the outbound
 * guard refuses both (outbound/), so these tests allow them, as an operator would for an internal host.
 */
export const LOOPBACK_WEBHOOKS = { WEBHOOK_ALLOW_HOSTS: '127.0.0.0/8,::1', WEBHOOK_ALLOW_HTTP: '1' } as const;

export interface TestPlatform {
  platform: Platform;
  dataDir: string;
  mqttUrl: string;
  httpUrl: string;
  stop(): Promise<void>;
}

/** Starts the whole platform in-process on free ports with a temporary DATA_DIR and no demo fleet. */
export async function startTestPlatform(
  env: Record<string, string> = {},
  opts: { logger?: Logger } = {},
): Promise<TestPlatform> {
  const dataDir = env.DATA_DIR ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-')));
  const config = loadConfig({
    HTTP_PORT: '0',
    MQTT_PORT: '0',
    MQTT_WS_PORT: '0',
    // the JT/T 808 gateway only where a test asks for it (JT808_PORT: a free port)
    JT808_PORT: '0',
    SIMULATE: '0',
    ADMIN_TOKEN,
    DATA_DIR: dataDir,
    STORE_MAX_BACKOFF_MS: '500',
    ...env,
  });
  const platform = await startPlatform(config, {
    logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  return {
    platform,
    dataDir,
    mqttUrl: `mqtt://127.0.0.1:${platform.ports.mqtt}`,
    httpUrl: `http://127.0.0.1:${platform.ports.http}`,
    stop: async () => {
      await platform.stop();
      if (env.DATA_DIR === undefined) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** GET an API path with the admin token; the body parsed as JSON. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
export async function adminGet(tp: TestPlatform, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${tp.httpUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return { status: res.status, body: await res.json() };
}

/**
 * A client id the broker lets this user name use (broker/client-id.ts): a device's own id followed by a
 * random suffix (so that two connections of one device do not take one another over), as mqtt.js's own
 * default (`mqttjs_…`) is no device's. Without a user name, mqtt.js's default.
 */
export function ownClientId(username: string | undefined): { clientId?: string } {
  return username === undefined ? {} : { clientId: `${username}-${Math.random().toString(16).slice(2, 10)}` };
}

/** Connects an mqtt.js client and waits for CONNACK (rejects on refusal). */
export function connectClient(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...ownClientId(options.username),
      ...options,
    });
    client.once('connect', () => {
      client.off('error', onError);
      resolve(client);
    });
    const onError = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('error', onError);
  });
}

export function publishQos1(client: MqttClient, topic: string, payload: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  );
}

export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * Stops a test platform once its evidence jobs are done: ComplianceService.stop() waits for them on
 * unref'd timers, and with nothing else left alive the test worker would exit mid-stop.
 */
export async function stopAfterEvidence(tp: TestPlatform | undefined): Promise<void> {
  if (tp) {
    await eventually(
      () => (tp.platform.complianceService.status().pendingEvidence === 0 ? true : undefined),
      'evidence jobs to finish',
      60_000,
    );
  }
  await tp?.stop();
}

export function endClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}
