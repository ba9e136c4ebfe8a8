/**
 * The world and helpers of the webhooks tests (test/api/webhooks.test.ts, webhooks-api.test.ts,
 * test/delivery/webhooks.test.ts; webhooks-guard has its own in webhooks-guard.ts): a receiver on a free port that checks the signature with its own
 * implementation of the Standard Webhooks scheme, engine events as the compliance service emits them,
 * and a dispatcher on a real SQLite file with the API in front of it and real API keys
 * (registry/api-keys.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { ProblemSchema } from '../../../api/schemas.ts';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../../../delivery/webhooks/dispatcher.ts';
import { WebhookStore } from '../../../delivery/webhooks/store.ts';
import type { ViolationCode } from '../../../geofence/model.ts';
import type { TripEvent } from '../../../geofence/trips.ts';
import type { ViolationEvent } from '../../../geofence/types.ts';
import { parseAllowlist } from '../../../outbound/address-policy.ts';
import { SqliteApiKeys } from '../../../registry/api-keys.ts';
import { AUTH, testApi } from '../api-fixtures.ts';

export const silent = pino({ level: 'silent' });
export const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
/** Small backoff so retries happen within a test; the schedule itself is checked on its own. */
export const FAST_RETRY = { baseMs: 20, maxMs: 200, factor: 2 };
/** The receivers below listen on loopback over http: allowed here as an operator would allow them. */
export const LOOPBACK = { allow: parseAllowlist('127.0.0.0/8,::1'), allowHttp: true };

// ---------------------------------------------------------------------------------------------------
// A receiver's own verification, written from the spec ("Verifying signatures"), not from signature.ts.

export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 5 * 60) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, b64] = entry.split(',', 2);
    if (version !== 'v1' || !b64) return false;
    const given = Buffer.from(b64, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  verified: boolean;
  status: number | 'hang';
}

export type Behaviour = (n: number) => number | 'hang';

export interface Receiver {
  url: string;
  /** set once the subscription is created (the secret comes back then) */
  secret: string;
  received: Received[];
  behaviour: Behaviour;
  /** the verified deliveries' parsed bodies */
  // biome-ignore lint/suspicious/noExplicitAny: bodies are asserted field by field
  bodies(): any[];
  close(): Promise<void>;
}

/** A webhook receiver on a free port: 401 for a bad signature, else what `behaviour` says (or no answer). */
export async function startReceiver(
  t: ExecutionContext,
  behaviour: Behaviour = () => 200,
): Promise<Receiver> {
  const hanging = new Set<ServerResponse>();
  const receiver: Receiver = {
    url: '',
    secret: '',
    received: [],
    behaviour,
    bodies: () => receiver.received.filter((r) => r.verified).map((r) => JSON.parse(r.body)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = verifyStandardWebhook(receiver.secret, req.headers, body);
      const status = verified
        ? receiver.behaviour(receiver.received.filter((r) => r.verified).length + 1)
        : 401;
      receiver.received.push({ headers: req.headers, body, verified, status });
      if (status === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 401 ? 'bad signature' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  t.teardown(() => receiver.close());
  return receiver;
}

/** POSTs to the receiver as a sender would (used to check that it refuses a tampered body). */
export async function postTo(url: string, headers: IncomingHttpHeaders, body: string): Promise<number> {
  const pick = (name: string) => String(headers[name]);
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': pick('webhook-id'),
      'webhook-timestamp': pick('webhook-timestamp'),
      'webhook-signature': pick('webhook-signature'),
    },
    body,
  });
  await res.body?.cancel();
  return res.status;
}

// ---------------------------------------------------------------------------------------------------
// Engine events as the compliance service emits them

export const T0 = Date.parse('2026-11-22T14:00:00Z');

export function violationEvent(
  firm: string,
  vehicle: string,
  code: ViolationCode = 'OFF_ROUTE',
  startTs = T0,
  phase: ViolationEvent['phase'] = 'opened',
): ViolationEvent {
  return {
    phase,
    violation: {
      id: `${vehicle}:${code}:${startTs}`,
      code,
      vehicle,
      firm,
      startTs,
      ...(phase === 'closed' ? { endTs: startTs + 90_000, durationMs: 90_000 } : {}),
      level: 0,
      startPos: [117.21, 31.82],
      lastPos: [117.22, 31.823],
      refs: [{ kind: 'thresholds', id: 'city', version: 1 }],
      thresholds: {},
      ruleVersion: 1,
      details: { maxDeviationM: 300 },
    },
  };
}

export const tripCompleted: TripEvent = {
  kind: 'completed',
  trip: {
    id: 'veh-1:trip:1',
    vehicle: 'veh-1',
    firm: 'firm-a',
    permit: 'permit-1',
    originSite: 'site-o',
    originVersion: 1,
    startTs: T0,
    startPos: [117.2, 31.8],
    loadTrigger: 'load',
    disposalSite: 'site-d',
    endTs: T0 + 3_600_000,
    durationMs: 3_600_000,
    distanceKm: 12.5,
    endPos: [117.3, 31.85],
    unloadTrigger: 'lift',
    compliant: true,
    violationCount: 0,
    violations: [],
  },
};

// ---------------------------------------------------------------------------------------------------
// A dispatcher on a real SQLite file, and the API in front of it with real API keys

export interface Rig {
  dir: string;
  store: WebhookStore;
  dispatcher: WebhookDispatcher;
  app: FastifyInstance;
  keys: SqliteApiKeys;
  auth: {
    admin: Record<string, string>;
    monitor: Record<string, string>;
    firmA: Record<string, string>;
    firmB: Record<string, string>;
  };
  firmAKeyId: string;
}

export async function rig(
  t: ExecutionContext,
  options: Partial<WebhookDispatcherOptions> = {},
): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-webhooks-'));
  const keys = new SqliteApiKeys({ dir });
  const store = new WebhookStore({ file: join(dir, 'webhooks.sqlite') });
  const dispatcher = new WebhookDispatcher({
    store,
    logger: silent,
    retry: FAST_RETRY,
    timeoutMs: 5_000,
    outbound: LOOPBACK,
    // a revoked or disabled key's subscriptions get nothing new
    ownerActive: (keyId) => keyId === 'admin-token' || keys.get(keyId)?.enabled === true,
    ...options,
  });
  dispatcher.start();
  const { app } = await testApi(NO_POSITIONS, { webhooks: dispatcher, keys });
  t.teardown(async () => {
    await app.close();
    await dispatcher.stop();
    keys.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  const firmA = keys.create({ name: 'firm a', role: 'firm', firm: 'firm-a', createdBy: 'test' });
  const firmB = keys.create({ name: 'firm b', role: 'firm', firm: 'firm-b', createdBy: 'test' });
  const monitor = keys.create({ name: '城管 monitor', role: 'monitor', createdBy: 'test' });
  return {
    dir,
    store,
    dispatcher,
    app,
    keys,
    auth: {
      admin: AUTH,
      monitor: bearer(monitor.secret),
      firmA: bearer(firmA.secret),
      firmB: bearer(firmB.secret),
    },
    firmAKeyId: firmA.key.id,
  };
}

export interface Created {
  id: string;
  secret: string;
  owner: string;
  ownerFirm?: string;
}

/** Creates a subscription through the API and hands its secret to the receiver. */
export async function subscribe(
  r: Rig,
  headers: Record<string, string>,
  receiver: Receiver,
  body: object,
): Promise<Created> {
  const res = await r.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers,
    payload: { url: receiver.url, ...body },
  });
  if (res.statusCode !== 201) throw new Error(`subscribe: ${res.statusCode} ${res.body}`);
  const created = res.json();
  receiver.secret = created.secret;
  return created;
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
export type Json = any;

export async function get(
  r: Rig,
  url: string,
  headers = r.auth.admin,
): Promise<{ status: number; body: Json }> {
  const res = await r.app.inject({ url, headers });
  return { status: res.statusCode, body: res.body.length > 0 ? res.json() : undefined };
}

// biome-ignore lint/suspicious/noExplicitAny: delivery bodies are asserted field by field
export async function deliveries(r: Rig, subId: string, headers = r.auth.admin): Promise<any[]> {
  const res = await get(r, `/api/v1/webhooks/${subId}/deliveries`, headers);
  if (res.status !== 200) throw new Error(`deliveries: ${res.status}`);
  return res.body.items;
}

export function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json'))
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  return ProblemSchema.parse(JSON.parse(res.body));
}
