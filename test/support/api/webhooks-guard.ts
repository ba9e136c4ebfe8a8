/**
 * The world and helpers of the webhooks-guard tests (test/api/webhooks-guard*.test.ts).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../../../delivery/webhooks/dispatcher.ts';
import { WebhookStore } from '../../../delivery/webhooks/store.ts';
import type { ViolationEvent } from '../../../geofence/types.ts';
import { EMPTY_ALLOWLIST, parseAllowlist } from '../../../outbound/address-policy.ts';
import type { OutboundPolicy } from '../../../outbound/guarded-request.ts';
import { SqliteApiKeys } from '../../../registry/api-keys.ts';
import { AUTH, testApi } from '../api-fixtures.ts';

export const silent = pino({ level: 'silent' });
export const FAST_RETRY = { baseMs: 20, maxMs: 100, factor: 2 };
export const T0 = Date.parse('2026-11-22T14:00:00Z');
export const HTTP_ONLY: OutboundPolicy = { allow: EMPTY_ALLOWLIST, allowHttp: true };
export const LOOPBACK: OutboundPolicy = { allow: parseAllowlist('127.0.0.0/8,::1'), allowHttp: true };

export function violation(n: number, firm = 'firm-a'): ViolationEvent {
  return {
    phase: 'opened',
    violation: {
      id: `veh-1:OFF_ROUTE:${T0 + n}`,
      code: 'OFF_ROUTE',
      vehicle: 'veh-1',
      firm,
      startTs: T0 + n,
      level: 0,
      startPos: [117.21, 31.82],
      lastPos: [117.22, 31.823],
      refs: [],
      thresholds: {},
      ruleVersion: 1,
      details: {},
    },
  };
}

export interface Receiver {
  port: number;
  connections: number;
  requests: number;
  status: number;
  headers: Record<string, string>;
}

/** A receiver on one port of both 127.0.0.1 and ::1, counting connections. */
export async function receiver(t: ExecutionContext, status = 200): Promise<Receiver> {
  const r: Receiver = { port: 0, connections: 0, requests: 0, status, headers: {} };
  const servers: Server[] = [];
  for (const host of ['127.0.0.1', '::1']) {
    const server = createServer((req, res: ServerResponse) => {
      r.requests++;
      req.resume();
      res.writeHead(r.status, r.headers).end();
    });
    server.on('connection', () => r.connections++);
    await new Promise<void>((resolve) => server.listen(r.port, host, resolve));
    r.port = (server.address() as AddressInfo).port;
    servers.push(server);
  }
  t.teardown(() =>
    Promise.all(
      servers.map(
        (s) =>
          new Promise((res) => {
            s.closeAllConnections();
            s.close(res);
          }),
      ),
    ),
  );
  return r;
}

export interface Rig {
  dispatcher: WebhookDispatcher;
  app: FastifyInstance;
  metrics: MetricsRegistry;
  keys: SqliteApiKeys;
  firmA: Record<string, string>;
  firmB: Record<string, string>;
  changes: Array<{ subscription: string; state: string; reason: string; at: number }>;
}

export async function rig(
  t: ExecutionContext,
  options: Partial<WebhookDispatcherOptions> = {},
): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-webhooks-guard-'));
  const metrics = new MetricsRegistry();
  const keys = new SqliteApiKeys({ dir });
  const changes: Rig['changes'] = [];
  const dispatcher = new WebhookDispatcher({
    store: new WebhookStore({ file: join(dir, 'webhooks.sqlite') }),
    logger: silent,
    retry: FAST_RETRY,
    timeoutMs: 5000,
    metrics,
    onStateChange: (c) => changes.push(c),
    ...options,
  });
  dispatcher.start();
  const { app } = await testApi(
    { latest: async () => [], latestOf: async () => undefined },
    {
      webhooks: dispatcher,
      keys,
    },
  );
  t.teardown(async () => {
    await app.close();
    await dispatcher.stop();
    keys.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const bearer = (role: 'firm-a' | 'firm-b') => ({
    authorization: `Bearer ${keys.create({ name: role, role: 'firm', firm: role, createdBy: 'test' }).secret}`,
  });
  return { dispatcher, app, metrics, keys, firmA: bearer('firm-a'), firmB: bearer('firm-b'), changes };
}

export async function refusedCount(metrics: MetricsRegistry): Promise<Record<string, number>> {
  const metric = await metrics.getSingleMetric('citywatch_webhook_refused_total')?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
}

export async function json(
  app: FastifyInstance,
  url: string,
  headers: Record<string, string> = AUTH,
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
): Promise<any> {
  const res = await app.inject({ url, headers });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

export const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]', '127.1'];
