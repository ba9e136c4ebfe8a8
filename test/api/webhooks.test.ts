/**
 * Webhooks (api/webhooks/): signing, retries, dead letters, replay, tenancy, isolation of a slow
 * receiver and durability across a restart, over real sockets: every receiver is a node:http server
 * that checks the signature with its own implementation of the Standard Webhooks scheme, and the
 * dispatcher's store is a real SQLite file. API keys come from the real key store (registry/api-keys.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { ProblemSchema } from '../../api/schemas.ts';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../../delivery/webhooks/dispatcher.ts';
import { eventBody, tripWebhookEvent, violationWebhookEvent } from '../../delivery/webhooks/events.ts';
import { matches } from '../../delivery/webhooks/match.ts';
import { DEFAULT_RETRY_POLICY, nextStep, parseRetryAfter } from '../../delivery/webhooks/schedule.ts';
import { generateSecret, secretKey, sign } from '../../delivery/webhooks/signature.ts';
import { WebhookStore } from '../../delivery/webhooks/store.ts';
import type { ViolationCode } from '../../geofence/model.ts';
import type { TripEvent } from '../../geofence/trips.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { parseAllowlist } from '../../outbound/address-policy.ts';
import { SqliteApiKeys } from '../../registry/api-keys.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';
import { type HaulWorld, offRouteHaulFixes, publishFixes, seedHaulWorld } from '../support/haul-world.ts';
import { openApiProblems } from '../support/openapi.ts';
import {
  eventually,
  LOOPBACK_WEBHOOKS,
  ADMIN_TOKEN as PLATFORM_ADMIN_TOKEN,
  startTestPlatform,
} from '../support/platform.ts';

const silent = pino({ level: 'silent' });
const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
/** Small backoff so retries happen within a test; the schedule itself is checked on its own. */
const FAST_RETRY = { baseMs: 20, maxMs: 200, factor: 2 };
/** The receivers below listen on loopback over http: allowed here as an operator would allow them. */
const LOOPBACK = { allow: parseAllowlist('127.0.0.0/8,::1'), allowHttp: true };

// ---------------------------------------------------------------------------------------------------
// A receiver's own verification, written from the spec ("Verifying signatures"), not from signature.ts.

function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
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

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  verified: boolean;
  status: number | 'hang';
}

type Behaviour = (n: number) => number | 'hang';

interface Receiver {
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
async function startReceiver(t: ExecutionContext, behaviour: Behaviour = () => 200): Promise<Receiver> {
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
async function postTo(url: string, headers: IncomingHttpHeaders, body: string): Promise<number> {
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

const T0 = Date.parse('2026-11-22T14:00:00Z');

function violationEvent(
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

const tripCompleted: TripEvent = {
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

interface Rig {
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

async function rig(t: ExecutionContext, options: Partial<WebhookDispatcherOptions> = {}): Promise<Rig> {
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

interface Created {
  id: string;
  secret: string;
  owner: string;
  ownerFirm?: string;
}

/** Creates a subscription through the API and hands its secret to the receiver. */
async function subscribe(
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
async function get(r: Rig, url: string, headers = r.auth.admin): Promise<{ status: number; body: any }> {
  const res = await r.app.inject({ url, headers });
  return { status: res.statusCode, body: res.body.length > 0 ? res.json() : undefined };
}

// biome-ignore lint/suspicious/noExplicitAny: delivery bodies are asserted field by field
async function deliveries(r: Rig, subId: string, headers = r.auth.admin): Promise<any[]> {
  const res = await get(r, `/api/v1/webhooks/${subId}/deliveries`, headers);
  if (res.status !== 200) throw new Error(`deliveries: ${res.status}`);
  return res.body.items;
}

function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json'))
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  return ProblemSchema.parse(JSON.parse(res.body));
}

// ---------------------------------------------------------------------------------------------------
// Pure parts

test('signature: the Standard Webhooks reference vector, and secrets of 32 random bytes', (t) => {
  // From the spec's reference library (libraries/javascript/src/webhook.test.ts, "sign function works").
  t.is(
    sign(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    ),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  );
  const secret = generateSecret();
  t.regex(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  t.is(secretKey(secret).length, 32);
  t.not(generateSecret(), secret);
  // the receiver's own verification agrees with the signer, and not with a changed body
  const ts = Math.floor(Date.now() / 1000);
  const headers = {
    'webhook-id': 'evt_1',
    'webhook-timestamp': String(ts),
    'webhook-signature': sign(secret, 'evt_1', ts, '{"a":1}'),
  };
  t.true(verifyStandardWebhook(secret, headers, '{"a":1}'));
  t.false(verifyStandardWebhook(secret, headers, '{"a":2}'));
  t.false(verifyStandardWebhook(generateSecret(), headers, '{"a":1}'));
});

test('schedule: exponential growth with jitter, capped, dead after the last attempt, Retry-After respected', (t) => {
  const policy = { maxAttempts: 8, baseMs: 1000, maxMs: 60_000, factor: 4 };
  const low = (n: number) => nextStep(n, policy, 0);
  const high = (n: number) => nextStep(n, policy, 0.999_999);
  t.deepEqual(low(1), { kind: 'retry', delayMs: 500 });
  t.deepEqual(high(1), { kind: 'retry', delayMs: 1000 });
  t.deepEqual(low(2), { kind: 'retry', delayMs: 2000 });
  t.deepEqual(high(3), { kind: 'retry', delayMs: 16_000 });
  t.deepEqual(high(6), { kind: 'retry', delayMs: 60_000 }, 'capped at maxMs');
  t.deepEqual(low(6), { kind: 'retry', delayMs: 30_000 }, 'jitter stays within the upper half');
  t.deepEqual(nextStep(7, policy, 0.5), { kind: 'retry', delayMs: 45_000 });
  t.deepEqual(nextStep(8, policy, 0.5), { kind: 'dead' });
  t.deepEqual(nextStep(1, policy, 0, 30_000), { kind: 'retry', delayMs: 30_000 }, 'Retry-After lengthens');
  t.deepEqual(nextStep(1, policy, 0, 3_600_000), { kind: 'retry', delayMs: 60_000 }, 'within maxMs');
  t.is(DEFAULT_RETRY_POLICY.maxAttempts, 8);
  t.is(parseRetryAfter('120', 0), 120_000);
  t.is(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
  t.is(parseRetryAfter('soon', 0), undefined);
  t.is(parseRetryAfter(null, 0), undefined);
});

test('match: a firm subscription never matches another firm; filters combine with AND', (t) => {
  const a = violationWebhookEvent(violationEvent('firm-a', 'veh-1', 'OFF_ROUTE'), T0);
  const b = violationWebhookEvent(violationEvent('firm-b', 'veh-2', 'OVERSPEED'), T0);
  const trip = tripWebhookEvent(tripCompleted);
  const all = ['violation.opened', 'trip.completed'] as const;
  t.true(matches({ events: all }, a));
  t.true(matches({ events: all }, b));
  t.false(matches({ events: all, ownerFirm: 'firm-a' }, b));
  t.false(
    matches({ events: all, ownerFirm: 'firm-a', firms: ['firm-b'] }, b),
    'a filter cannot widen tenancy',
  );
  t.true(matches({ events: all, ownerFirm: 'firm-a' }, a));
  t.false(matches({ events: ['violation.closed'] }, a));
  t.false(matches({ events: all, vehicles: ['veh-9'] }, a));
  t.true(matches({ events: all, codes: ['OFF_ROUTE'] }, a));
  t.false(matches({ events: all, codes: ['OFF_ROUTE'] }, b));
  t.true(matches({ events: all, codes: ['OFF_ROUTE'] }, trip), 'trips carry no code');
  t.false(matches({ events: all, firms: ['firm-b'] }, trip));
});

test('events: deterministic ids, occurred-at of each phase, the Standard Webhooks body layout', (t) => {
  const opened = violationWebhookEvent(violationEvent('firm-a', 'veh-1'), T0 + 999);
  t.is(opened.id, violationWebhookEvent(violationEvent('firm-a', 'veh-1'), T0 + 5).id, 'same event, same id');
  t.regex(opened.id, /^evt_[0-9a-f]{32}$/);
  t.is(opened.type, 'violation.opened');
  t.is(opened.occurredAt, T0);
  const closed = violationWebhookEvent(
    violationEvent('firm-a', 'veh-1', 'OFF_ROUTE', T0, 'closed'),
    T0 + 999,
  );
  t.not(closed.id, opened.id);
  t.is(closed.occurredAt, T0 + 90_000);
  t.is(
    violationWebhookEvent(violationEvent('firm-a', 'veh-1', 'OFF_ROUTE', T0, 'updated'), T0 + 7).occurredAt,
    T0 + 7,
  );
  const trip = tripWebhookEvent(tripCompleted);
  t.is(trip.type, 'trip.completed');
  t.is(trip.occurredAt, T0 + 3_600_000);
  const body = JSON.parse(eventBody(opened));
  t.deepEqual(Object.keys(body), ['id', 'type', 'timestamp', 'data']);
  t.is(body.timestamp, '2026-11-22T14:00:00.000Z');
  t.is(body.data.id, 'veh-1:OFF_ROUTE:' + T0);
});

// ---------------------------------------------------------------------------------------------------
// Deliveries over real sockets

test('a delivery arrives signed; the receiver verifies it and refuses a tampered body', async (t) => {
  const r = await rig(t);
  const receiver = await startReceiver(t);
  const sub = await subscribe(r, r.auth.admin, receiver, { events: ['violation.opened', 'trip.completed'] });
  t.regex(sub.id, /^whs_/);
  t.regex(sub.secret, /^whsec_/);
  t.is(sub.owner, 'admin-token');
  t.is(sub.ownerFirm, undefined);

  r.dispatcher.onViolation(violationEvent('firm-a', 'veh-1'));
  r.dispatcher.onTrip(tripCompleted);
  await eventually(() => (receiver.bodies().length === 2 ? true : undefined), 'two signed deliveries');

  const got = receiver.received.find((x) => JSON.parse(x.body).type === 'violation.opened');
  if (!got) throw new Error('no violation.opened');
  t.true(got.verified);
  t.is(got.headers['content-type'], 'application/json');
  const body = JSON.parse(got.body);
  t.is(got.headers['webhook-id'], body.id);
  t.regex(String(got.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
  t.is(body.data.firm, 'firm-a');
  t.is(body.timestamp, new Date(T0).toISOString());
  t.deepEqual(
    receiver
      .bodies()
      .map((b) => b.type)
      .sort(),
    ['trip.completed', 'violation.opened'],
  );

  // The same headers with a changed body: the receiver's check fails (401); the original still passes.
  const tampered = got.body.replace('"firm-a"', '"firm-x"');
  t.not(tampered, got.body);
  t.is(await postTo(receiver.url, got.headers, tampered), 401);
  t.is(await postTo(receiver.url, got.headers, got.body), 200);

  // The delivery log shows one successful attempt per delivery, and GET of one subscription hides the secret.
  const items = await deliveries(r, sub.id);
  t.is(items.length, 2);
  for (const d of items) {
    t.is(d.status, 'delivered');
    t.is(d.log.length, 1);
    t.is(d.log[0].statusCode, 200);
  }
  const one = await get(r, `/api/v1/webhooks/${sub.id}`);
  t.is(one.status, 200);
  t.is(one.body.secret, undefined);
  t.deepEqual(one.body.events, ['violation.opened', 'trip.completed']);
});

test('a failing receiver is retried (timeout, 500, refused connection) until 2xx; every attempt is logged', async (t) => {
  // The timeout must be long enough that the 500 and the 200 of a loaded machine's loopback receiver are
  // never taken for a hang (300 ms was not: the 2nd attempt once timed out while CI-like load ran).
  const r = await rig(t, { timeoutMs: 3000 });
  // 1st: no answer (timeout), 2nd: 500 with Retry-After 0, 3rd: 200
  const receiver = await startReceiver(t, (n) => (n === 1 ? 'hang' : n === 2 ? 500 : 200));
  const sub = await subscribe(r, r.auth.admin, receiver, { events: ['violation.opened'] });
  r.dispatcher.onViolation(violationEvent('firm-a', 'veh-1'));

  const delivered = await eventually(async () => {
    const [d] = await deliveries(r, sub.id);
    return d?.status === 'delivered' ? d : undefined;
  }, 'delivery after retries');
  t.is(delivered.attempts, 3);
  t.deepEqual(
    delivered.log.map((a: { n: number; statusCode?: number }) => [a.n, a.statusCode]),
    [
      [1, undefined],
      [2, 500],
      [3, 200],
    ],
  );
  t.is(delivered.log[0].error, 'timeout after 3000 ms');
  t.true(delivered.log.every((a: { durationMs: number }) => a.durationMs >= 0));
  t.is(delivered.lastStatusCode, 200);
  t.is(delivered.nextAttemptAt, undefined);
  // one event id on every attempt; every attempt signed
  const ids = new Set(receiver.received.map((x) => x.headers['webhook-id']));
  t.is(ids.size, 1);
  t.is(receiver.received.length, 3);
  t.true(receiver.received.every((x) => x.verified));

  // A receiver that is not listening at all: the error is logged per attempt.
  const gone = await startReceiver(t);
  await gone.close();
  const sub2 = await subscribe(r, r.auth.admin, gone, { events: ['violation.closed'] });
  r.dispatcher.onViolation(violationEvent('firm-a', 'veh-1', 'OFF_ROUTE', T0, 'closed'));
  const failing = await eventually(async () => {
    const [d] = await deliveries(r, sub2.id);
    return d && d.log.length >= 2 ? d : undefined;
  }, 'attempts against a closed port');
  t.is(failing.log[0].statusCode, undefined);
  t.is(failing.log[0].error, 'ECONNREFUSED');
});

test('a receiver failing every attempt ends in dead letters; a replay to the repaired receiver delivers', async (t) => {
  const r = await rig(t, { retry: { ...FAST_RETRY, maxAttempts: 3 } });
  const receiver = await startReceiver(t, () => 503);
  const sub = await subscribe(r, r.auth.firmA, receiver, { events: ['violation.opened'] });
  r.dispatcher.onViolation(violationEvent('firm-a', 'veh-1'));

  const dead = await eventually(async () => {
    const res = await get(r, '/api/v1/webhooks/dead-letters', r.auth.firmA);
    return res.body.items.length > 0 ? res.body.items[0] : undefined;
  }, 'a dead letter');
  t.is(dead.subscription, sub.id);
  t.is(dead.status, 'dead');
  t.is(dead.attempts, 3);
  t.deepEqual(
    dead.log.map((a: { statusCode: number }) => a.statusCode),
    [503, 503, 503],
  );
  t.is(receiver.received.length, 3);
  t.truthy(dead.doneAt);
  // the other firm sees none of it
  t.deepEqual((await get(r, '/api/v1/webhooks/dead-letters', r.auth.firmB)).body.items, []);

  receiver.behaviour = () => 200;
  const replay = await r.app.inject({
    method: 'POST',
    url: `/api/v1/webhooks/${sub.id}/deliveries/${dead.id}/replay`,
    headers: r.auth.firmA,
  });
  t.is(replay.statusCode, 202, replay.body);
  const fresh = replay.json();
  t.is(fresh.replayOf, dead.id);
  t.is(fresh.event.id, dead.event.id);
  t.is(replay.headers.location, `/api/v1/webhooks/${sub.id}/deliveries/${fresh.id}`);

  const done = await eventually(async () => {
    const res = await get(r, `/api/v1/webhooks/${sub.id}/deliveries/${fresh.id}`, r.auth.firmA);
    return res.body.status === 'delivered' ? res.body : undefined;
  }, 'the replay delivered');
  t.deepEqual(
    done.log.map((a: { statusCode: number }) => a.statusCode),
    [200],
  );
  t.is(
    receiver.received.at(-1)?.headers['webhook-id'],
    dead.event.id,
    'same Webhook-Id: receivers can dedupe',
  );
  const original = await get(r, `/api/v1/webhooks/${sub.id}/deliveries/${dead.id}`, r.auth.firmA);
  t.is(original.body.replayedBy, fresh.id);
  t.is(original.body.status, 'dead');

  const unknown = await r.app.inject({
    method: 'POST',
    url: `/api/v1/webhooks/${sub.id}/deliveries/dlv_nope/replay`,
    headers: r.auth.firmA,
  });
  t.is(unknown.statusCode, 404);
  t.is(problem(unknown).type, 'urn:citywatch:problem:unknown-webhook-delivery');
  const otherFirm = await r.app.inject({
    method: 'POST',
    url: `/api/v1/webhooks/${sub.id}/deliveries/${dead.id}/replay`,
    headers: r.auth.firmB,
  });
  t.is(otherFirm.statusCode, 404);
});

test('tenancy: a firm key receives only its firm’s events, and sees only its own subscriptions', async (t) => {
  const r = await rig(t);
  const recvA = await startReceiver(t);
  const recvAll = await startReceiver(t);
  const subA = await subscribe(r, r.auth.firmA, recvA, { events: ['violation.opened'] });
  t.is(subA.ownerFirm, 'firm-a');
  t.is(subA.owner, r.firmAKeyId);
  const subAll = await subscribe(r, r.auth.admin, recvAll, { events: ['violation.opened'] });

  // a firm key cannot ask for another firm's events
  const foreign = await r.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers: r.auth.firmA,
    payload: { url: recvA.url, events: ['violation.opened'], firms: ['firm-a', 'firm-b'] },
  });
  t.is(foreign.statusCode, 403);
  t.deepEqual(
    problem(foreign).errors?.map((e) => e.pointer),
    ['/firms/1'],
  );

  r.dispatcher.onViolation(violationEvent('firm-b', 'veh-2'));
  r.dispatcher.onViolation(violationEvent('firm-a', 'veh-1'));
  await eventually(
    () => (recvAll.bodies().length === 2 && recvA.bodies().length === 1 ? true : undefined),
    'deliveries',
  );
  // Deliveries are created when an event is stored, before any is sent: these lists are final.
  t.deepEqual(
    recvA.bodies().map((b) => b.data.firm),
    ['firm-a'],
  );
  t.is((await deliveries(r, subA.id, r.auth.firmA)).length, 1);
  t.is((await deliveries(r, subAll.id)).length, 2);

  // another firm's key: the subscription does not exist for it
  for (const url of [`/api/v1/webhooks/${subA.id}`, `/api/v1/webhooks/${subA.id}/deliveries`]) {
    const res = await r.app.inject({ url, headers: r.auth.firmB });
    t.is(res.statusCode, 404, url);
    t.is(problem(res).type, 'urn:citywatch:problem:unknown-webhook');
  }
  const del = await r.app.inject({
    method: 'DELETE',
    url: `/api/v1/webhooks/${subA.id}`,
    headers: r.auth.firmB,
  });
  t.is(del.statusCode, 404);
  t.deepEqual((await get(r, '/api/v1/webhooks', r.auth.firmB)).body.items, []);
  // the firm key itself: its own only, not the admin's
  t.deepEqual(
    (await get(r, '/api/v1/webhooks', r.auth.firmA)).body.items.map((s: { id: string }) => s.id),
    [subA.id],
  );
  t.is((await get(r, `/api/v1/webhooks/${subAll.id}`, r.auth.firmA)).status, 404);
  // monitor: reads every subscription, changes none but its own
  t.deepEqual(
    (await get(r, '/api/v1/webhooks', r.auth.monitor)).body.items.map((s: { id: string }) => s.id).sort(),
    [subA.id, subAll.id].sort(),
  );
  t.is((await get(r, `/api/v1/webhooks/${subA.id}/deliveries`, r.auth.monitor)).status, 200);
  const monitorDelete = await r.app.inject({
    method: 'DELETE',
    url: `/api/v1/webhooks/${subA.id}`,
    headers: r.auth.monitor,
  });
  t.is(monitorDelete.statusCode, 403);
  t.is((await get(r, `/api/v1/webhooks/${subA.id}`, r.auth.admin)).status, 200);

  // A revoked firm key's subscription gets nothing new; the admin's still does.
  r.keys.revoke(r.firmAKeyId);
  r.dispatcher.onViolation(violationEvent('firm-a', 'veh-1', 'OVERSPEED', T0 + 60_000));
  await eventually(() => (recvAll.bodies().length === 3 ? true : undefined), 'the third delivery');
  t.is((await deliveries(r, subA.id)).length, 1);

  // the owner deletes its own: 200 with what was deleted, then gone (with its log)
  const recvB = await startReceiver(t);
  const subB = await subscribe(r, r.auth.firmB, recvB, { events: ['trip.completed'] });
  const own = await r.app.inject({
    method: 'DELETE',
    url: `/api/v1/webhooks/${subB.id}`,
    headers: r.auth.firmB,
  });
  t.is(own.statusCode, 200);
  t.is(own.json().id, subB.id);
  t.is(own.json().secret, undefined);
  t.is((await get(r, `/api/v1/webhooks/${subB.id}`, r.auth.firmB)).status, 404);
});

test('a receiver that never answers holds only its own slots: another subscriber gets every delivery', async (t) => {
  const r = await rig(t, { perTargetConcurrency: 1, maxInFlight: 2, timeoutMs: 60_000 });
  const stuck = await startReceiver(t, () => 'hang');
  const fine = await startReceiver(t);
  const subStuck = await subscribe(r, r.auth.admin, stuck, { events: ['violation.opened'] });
  const subFine = await subscribe(r, r.auth.admin, fine, { events: ['violation.opened'] });
  for (let i = 0; i < 6; i++)
    r.dispatcher.onViolation(violationEvent('firm-a', 'veh-1', 'OFF_ROUTE', T0 + i * 1000));

  // done once the dispatcher has recorded every 200 (the receiver may see a request before that)
  await eventually(async () => {
    const items = await deliveries(r, subFine.id);
    return items.length === 6 && items.every((d: { status: string }) => d.status === 'delivered')
      ? true
      : undefined;
  }, 'every delivery at the working receiver');
  t.deepEqual(new Set(fine.bodies().map((b) => b.data.startTs)).size, 6);
  // one request in flight at the stuck receiver (its only slot), the rest wait without an attempt
  t.true(stuck.received.length <= 1);
  const waiting = await deliveries(r, subStuck.id);
  t.is(waiting.length, 6);
  t.true(
    waiting.every((d: { status: string; attempts: number }) => d.status === 'pending' && d.attempts === 0),
  );
  t.is(r.dispatcher.status().pending, 6);
});

test('pending deliveries survive a restart: buffered, waiting and in-flight ones are sent by the next run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-webhooks-restart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'webhooks.sqlite');
  const receiver = await startReceiver(t, () => 'hang');

  // Run 1: one delivery is in flight (the receiver holds it), then the process stops.
  const first = new WebhookDispatcher({
    store: new WebhookStore({ file }),
    logger: silent,
    retry: FAST_RETRY,
    timeoutMs: 60_000,
    perTargetConcurrency: 1,
    outbound: LOOPBACK,
  });
  const sub = first.createSubscription({
    url: receiver.url,
    events: ['violation.opened'],
    ownerKey: 'admin-token',
  });
  receiver.secret = sub.secret;
  first.start();
  first.onViolation(violationEvent('firm-a', 'veh-1', 'OFF_ROUTE', T0));
  first.onViolation(violationEvent('firm-a', 'veh-1', 'OFF_ROUTE', T0 + 1000));
  await eventually(() => (receiver.received.length === 1 ? true : undefined), 'the first attempt in flight');
  await first.stop();

  // Run 2, never started: an event that is only buffered when it stops is stored by stop().
  const second = new WebhookDispatcher({
    store: new WebhookStore({ file }),
    logger: silent,
    retry: FAST_RETRY,
    outbound: LOOPBACK,
  });
  second.onViolation(violationEvent('firm-a', 'veh-1', 'OFF_ROUTE', T0 + 2000));
  await second.stop();

  // Run 3: the receiver works again; every delivery arrives, the abandoned attempt was not counted.
  receiver.behaviour = () => 200;
  const third = new WebhookDispatcher({
    store: new WebhookStore({ file }),
    logger: silent,
    retry: FAST_RETRY,
    outbound: LOOPBACK,
  });
  t.teardown(() => third.stop());
  third.start();
  await eventually(() => (third.status().pending === 0 ? true : undefined), 'every pending delivery sent');
  const sent = receiver.bodies().map((b) => b.data.startTs as number);
  t.deepEqual(
    [...new Set(sent)].sort((a, b) => a - b),
    [T0, T0 + 1000, T0 + 2000],
  );
  const page = third.store.deliveries(sub.id, {});
  t.is(page.items.length, 3);
  t.true(
    page.items.every((d) => d.status === 'delivered' && d.attempts === 1 && d.log[0]?.statusCode === 200),
  );
});

test('validation errors are problems naming the field; the OpenAPI document lists the routes', async (t) => {
  const r = await rig(t);
  const cases: Array<[object, string]> = [
    [{ url: 'ftp://example.com/hook', events: ['violation.opened'] }, '/url'],
    [{ url: 'https://user:pw@example.com/hook', events: ['violation.opened'] }, '/url'],
    [{ url: 'https://example.com/hook', events: [] }, '/events'],
    [{ url: 'https://example.com/hook', events: ['violation.exploded'] }, '/events/0'],
    [{ url: 'https://example.com/hook', events: ['trip.started', 'trip.started'] }, '/events'],
    [{ url: 'https://example.com/hook', events: ['violation.opened'], codes: ['NOT_A_CODE'] }, '/codes/0'],
    [{ url: 'https://example.com/hook', events: ['violation.opened'], secret: 'mine' }, '/secret'],
  ];
  for (const [payload, pointer] of cases) {
    const res = await r.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: AUTH, payload });
    t.is(res.statusCode, 400, JSON.stringify(payload));
    const p = problem(res);
    t.is(p.type, 'urn:citywatch:problem:validation');
    t.true(
      p.errors?.some((e) => e.in === 'body' && e.pointer === pointer),
      `${pointer}: ${res.body}`,
    );
  }
  const noAuth = await r.app.inject({ url: '/api/v1/webhooks' });
  t.is(noAuth.statusCode, 401);
  const badCursor = await r.app.inject({ url: '/api/v1/webhooks/dead-letters?cursor=abc', headers: AUTH });
  t.is(badCursor.statusCode, 400);
  t.deepEqual(
    problem(badCursor).errors?.map((e) => e.pointer),
    ['/cursor'],
  );

  const doc = (await r.app.inject({ url: '/docs/json' })).json();
  t.deepEqual(openApiProblems(doc), []);
  for (const [path, methods] of [
    ['/api/v1/webhooks', ['get', 'post']],
    ['/api/v1/webhooks/dead-letters', ['get']],
    ['/api/v1/webhooks/{id}', ['get', 'delete']],
    ['/api/v1/webhooks/{id}/deliveries', ['get']],
    ['/api/v1/webhooks/{id}/deliveries/{deliveryId}', ['get']],
    ['/api/v1/webhooks/{id}/deliveries/{deliveryId}/replay', ['post']],
  ] as const)
    for (const m of methods) t.truthy(doc.paths[path]?.[m], `${m} ${path}`);
});

// ---------------------------------------------------------------------------------------------------
// End to end: the real platform

test.serial(
  'end to end: an OFF_ROUTE violation judged by the platform arrives signed at the receiver',
  async (t) => {
    const tp = await startTestPlatform({
      ...LOOPBACK_WEBHOOKS,
      WEBHOOK_RETRY_BASE_MS: '20',
      WEBHOOK_RETRY_MAX_MS: '200',
      WEBHOOK_TIMEOUT_MS: '5000',
    });
    t.teardown(async () => {
      // ComplianceService.stop() waits for evidence jobs on unref'd timers: with every socket closed
      // the event loop would look idle and AVA would call the test stalled. Hold it open meanwhile.
      const keepAlive = setInterval(() => undefined, 1000);
      try {
        await tp.stop();
      } finally {
        clearInterval(keepAlive);
      }
    });
    const FIRM = 'firm-wh';
    const VEHICLE = 'veh-wh-1';
    const DEVICE = 'dev-wh-1';
    const world: HaulWorld = {
      firm: FIRM,
      firmName: '合肥渣土运输测试公司',
      vehicle: VEHICLE,
      plate: '皖A·W0001',
      device: DEVICE,
      secret: 'secret-wh-1',
      origin: { id: 'site-wh-o', name: '测试工地' },
      disposal: { id: 'site-wh-d', name: '测试消纳场' },
      route: { id: 'route-wh', name: '测试线路' },
      permit: 'permit-wh',
    };
    await seedHaulWorld(tp.platform, world);

    const receiver = await startReceiver(t);
    const res = await fetch(`${tp.httpUrl}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PLATFORM_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        url: receiver.url,
        events: ['violation.opened', 'violation.closed'],
        codes: ['OFF_ROUTE'],
        vehicles: [VEHICLE],
      }),
    });
    t.is(res.status, 201);
    const sub = (await res.json()) as { id: string; secret: string };
    receiver.secret = sub.secret;

    // 1 min on the route, 3 min 300 m north of it, 2 min back on it: a fix every 10 s, ending 1 min ago.
    const t0 = Date.now() - 7 * 60_000;
    await publishFixes(tp.mqttUrl, world, offRouteHaulFixes(t0));

    await eventually(
      () => (receiver.bodies().some((b) => b.type === 'violation.closed') ? true : undefined),
      'the OFF_ROUTE webhooks',
      30_000,
    );
    t.true(
      receiver.received.every((x) => x.verified),
      'every delivery verifies',
    );
    // Deliveries run concurrently: their arrival order is not part of the contract.
    const bodies = receiver.bodies();
    t.deepEqual(bodies.map((b) => b.type).sort(), ['violation.closed', 'violation.opened']);
    const opened = bodies.find((b) => b.type === 'violation.opened');
    const closed = bodies.find((b) => b.type === 'violation.closed');
    t.is(opened.data.code, 'OFF_ROUTE');
    t.is(opened.data.vehicle, VEHICLE);
    t.is(opened.data.firm, FIRM);
    t.is(opened.data.startTs, t0 + 6 * 10_000);
    t.is(opened.timestamp, new Date(t0 + 6 * 10_000).toISOString());
    t.is(closed.data.id, opened.data.id);
    t.is(closed.data.endTs, t0 + 24 * 10_000);
    t.is(closed.timestamp, new Date(t0 + 24 * 10_000).toISOString());

    const log = await fetch(`${tp.httpUrl}/api/v1/webhooks/${sub.id}/deliveries`, {
      headers: { authorization: `Bearer ${PLATFORM_ADMIN_TOKEN}` },
    });
    const items = ((await log.json()) as { items: Array<{ status: string }> }).items;
    t.is(items.length, 2);
    t.true(items.every((d) => d.status === 'delivered'));
    const health = (await (await fetch(`${tp.httpUrl}/healthz`)).json()) as {
      components: Record<string, { pending?: number; dead?: number }>;
    };
    t.is(health.components.webhooks?.pending, 0);
    t.is(health.components.webhooks?.dead, 0);
  },
);
