/**
 * Webhooks under the outbound guard and delivery hygiene (issue 19): targets on loopback refused with
 * the default settings (at subscription and at delivery, the receiver sees no connection), delivered
 * once the operator allows them; refusals counted and in the delivery log with the reason; a name that
 * resolves to loopback refused; a redirect not followed; 410 Gone disables; dead letters in a row pause;
 * the owner enables again. Real sockets, a real SQLite store, real API keys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../../api/webhooks/dispatcher.ts';
import { WebhookStore } from '../../api/webhooks/store.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { EMPTY_ALLOWLIST, parseAllowlist } from '../../outbound/address-policy.ts';
import type { OutboundPolicy } from '../../outbound/guarded-request.ts';
import { SqliteApiKeys } from '../../registry/api-keys.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';
import { eventually } from '../support/platform.ts';

const silent = pino({ level: 'silent' });
const FAST_RETRY = { baseMs: 20, maxMs: 100, factor: 2 };
const T0 = Date.parse('2026-11-22T14:00:00Z');
const HTTP_ONLY: OutboundPolicy = { allow: EMPTY_ALLOWLIST, allowHttp: true };
const LOOPBACK: OutboundPolicy = { allow: parseAllowlist('127.0.0.0/8,::1'), allowHttp: true };

function violation(n: number, firm = 'firm-a'): ViolationEvent {
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

interface Receiver {
  port: number;
  connections: number;
  requests: number;
  status: number;
  headers: Record<string, string>;
}

/** A receiver on one port of both 127.0.0.1 and ::1, counting connections. */
async function receiver(t: ExecutionContext, status = 200): Promise<Receiver> {
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

interface Rig {
  dispatcher: WebhookDispatcher;
  app: FastifyInstance;
  metrics: MetricsRegistry;
  keys: SqliteApiKeys;
  firmA: Record<string, string>;
  firmB: Record<string, string>;
  changes: Array<{ subscription: string; state: string; reason: string; at: number }>;
}

async function rig(t: ExecutionContext, options: Partial<WebhookDispatcherOptions> = {}): Promise<Rig> {
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

async function refusedCount(metrics: MetricsRegistry): Promise<Record<string, number>> {
  const metric = await metrics.getSingleMetric('citywatch_webhook_refused_total')?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
async function json(app: FastifyInstance, url: string, headers: Record<string, string> = AUTH): Promise<any> {
  const res = await app.inject({ url, headers });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]', '127.1'];

test('default settings: a webhook to 127.0.0.1, localhost, [::1] or 127.1 is refused at subscription (400 naming /url)', async (t) => {
  const r = await rig(t);
  const recv = await receiver(t);
  for (const scheme of ['https', 'http']) {
    for (const host of LOOPBACK_HOSTS) {
      const res = await r.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: AUTH,
        payload: { url: `${scheme}://${host}:${recv.port}/hook`, events: ['violation.opened'] },
      });
      t.is(res.statusCode, 400, `${scheme}://${host}`);
      const problem = res.json();
      t.deepEqual(
        problem.errors.map((e: { pointer: string }) => e.pointer),
        ['/url'],
      );
      t.regex(
        problem.detail,
        scheme === 'http'
          ? /https only \(WEBHOOK_ALLOW_HTTP=1 allows http\)/
          : /is loopback .*WEBHOOK_ALLOW_HOSTS/,
        `${scheme}://${host}`,
      );
    }
  }
  t.deepEqual((await json(r.app, '/api/v1/webhooks')).items, []);
  t.is(recv.connections, 0);
});

test('default settings: deliveries to loopback in every spelling are refused without a connection, logged and counted; allowed, the same receiver gets them', async (t) => {
  const recv = await receiver(t);
  // http allowed, no allowlist: the address alone decides. Subscriptions made directly in the store, as
  // if created while the operator allowed loopback and kept after the allowlist was narrowed.
  const strict = await rig(t, { outbound: HTTP_ONLY });
  const subs = LOOPBACK_HOSTS.map((host) =>
    strict.dispatcher.createSubscription({
      url: `http://${host}:${recv.port}/hook`,
      events: ['violation.opened'],
      ownerKey: 'admin-token',
    }),
  );
  strict.dispatcher.onViolation(violation(1));
  const logs = await eventually(async () => {
    const all = await Promise.all(
      subs.map(async (s) => (await json(strict.app, `/api/v1/webhooks/${s.id}/deliveries`)).items[0]),
    );
    return all.every((d) => d?.status === 'dead') ? all : undefined;
  }, 'every delivery refused');
  for (const [i, d] of logs.entries()) {
    t.is(d.attempts, 1, LOOPBACK_HOSTS[i]);
    t.is(d.log[0].statusCode, undefined);
    t.regex(d.log[0].error, /^refused: .*(127\.0\.0\.1|::1) is loopback \(RFC/, LOOPBACK_HOSTS[i]);
  }
  t.deepEqual(await refusedCount(strict.metrics), { loopback: 4 });
  t.is(recv.connections, 0, 'the receiver saw nothing');

  // https only (the default) refuses http on the scheme
  const httpsOnly = await rig(t);
  const sub = httpsOnly.dispatcher.createSubscription({
    url: `http://127.0.0.1:${recv.port}/hook`,
    events: ['violation.opened'],
    ownerKey: 'admin-token',
  });
  httpsOnly.dispatcher.onViolation(violation(2));
  const refused = await eventually(async () => {
    const [d] = (await json(httpsOnly.app, `/api/v1/webhooks/${sub.id}/deliveries`)).items;
    return d?.status === 'dead' ? d : undefined;
  }, 'refused on the scheme');
  t.regex(refused.log[0].error, /^refused: http is not allowed: https only/);
  t.deepEqual(await refusedCount(httpsOnly.metrics), { scheme: 1 });
  t.is(recv.connections, 0);

  // The operator allows loopback: the same receiver gets every delivery, through the API this time.
  const allowed = await rig(t, { outbound: LOOPBACK });
  for (const host of LOOPBACK_HOSTS) {
    const res = await allowed.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: AUTH,
      payload: { url: `http://${host}:${recv.port}/hook`, events: ['violation.opened'] },
    });
    t.is(res.statusCode, 201, host);
  }
  allowed.dispatcher.onViolation(violation(3));
  await eventually(() => (recv.requests === 4 ? true : undefined), 'four deliveries');
  t.is(recv.connections, 4);
  t.deepEqual(await refusedCount(allowed.metrics), {});
});

test('a host name that resolves to loopback is refused when the delivery connects', async (t) => {
  const recv = await receiver(t);
  const resolved: string[] = [];
  const r = await rig(t, {
    outbound: {
      ...HTTP_ONLY,
      resolve: async (name) => {
        resolved.push(name);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    },
  });
  const res = await r.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers: AUTH,
    payload: { url: `http://hooks.example.test:${recv.port}/hook`, events: ['violation.opened'] },
  });
  t.is(res.statusCode, 201, 'a name is accepted: what it resolves to is checked at each delivery');
  t.deepEqual(resolved, [], 'nothing resolved at subscription');
  r.dispatcher.onViolation(violation(1));
  const d = await eventually(async () => {
    const [item] = (await json(r.app, `/api/v1/webhooks/${res.json().id}/deliveries`)).items;
    return item?.status === 'dead' ? item : undefined;
  }, 'the refused delivery');
  t.regex(d.log[0].error, /^refused: hooks\.example\.test -> 127\.0\.0\.1 is loopback/);
  t.deepEqual(resolved, ['hooks.example.test']);
  t.is(recv.connections, 0);
});

test('a redirect to loopback is not followed: the 3xx is a failed attempt', async (t) => {
  const target = await receiver(t);
  const redirecting = await receiver(t, 307);
  redirecting.headers = { location: `http://127.0.0.1:${target.port}/stolen` };
  const r = await rig(t, { outbound: LOOPBACK, retry: { ...FAST_RETRY, maxAttempts: 2 } });
  const sub = r.dispatcher.createSubscription({
    url: `http://127.0.0.1:${redirecting.port}/hook`,
    events: ['violation.opened'],
    ownerKey: 'admin-token',
  });
  r.dispatcher.onViolation(violation(1));
  const d = await eventually(async () => {
    const [item] = (await json(r.app, `/api/v1/webhooks/${sub.id}/deliveries`)).items;
    return item?.status === 'dead' ? item : undefined;
  }, 'the redirected delivery dead-lettered');
  t.deepEqual(
    d.log.map((a: { statusCode: number }) => a.statusCode),
    [307, 307],
  );
  t.is(redirecting.requests, 2);
  t.is(target.connections, 0, 'the Location was never visited');
});

test('410 Gone disables the subscription at once; its owner enables it and the waiting deliveries go out', async (t) => {
  const recv = await receiver(t, 410);
  const r = await rig(t, { outbound: LOOPBACK });
  const created = await r.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers: r.firmA,
    payload: { url: `http://127.0.0.1:${recv.port}/hook`, events: ['violation.opened'] },
  });
  t.is(created.statusCode, 201);
  const id = created.json().id;
  t.is(created.json().state, 'active');
  r.dispatcher.onViolation(violation(1));
  const sub = await eventually(async () => {
    const s = await json(r.app, `/api/v1/webhooks/${id}`, r.firmA);
    return s.state === 'disabled' ? s : undefined;
  }, 'disabled by the 410');
  t.regex(sub.stateReason, /^the receiver answered 410 Gone at \d{4}-/);
  t.truthy(sub.stateChangedAt);
  const [dead] = (await json(r.app, `/api/v1/webhooks/${id}/deliveries`, r.firmA)).items;
  t.is(dead.status, 'dead');
  t.is(dead.attempts, 1, 'a 410 is not retried');
  t.deepEqual(r.changes, [
    { subscription: id, state: 'disabled', reason: sub.stateReason, at: r.changes[0]?.at },
  ]);

  // Disabled: a new event makes no delivery.
  r.dispatcher.onViolation(violation(2));
  r.dispatcher.onViolation(violation(3, 'firm-a'));
  // another firm's key cannot see it, let alone enable it
  const foreign = await r.app.inject({
    method: 'PATCH',
    url: `/api/v1/webhooks/${id}`,
    headers: r.firmB,
    payload: { enabled: true },
  });
  t.is(foreign.statusCode, 404);
  // The receiver is back; the owner enables the subscription.
  recv.status = 200;
  const enabled = await r.app.inject({
    method: 'PATCH',
    url: `/api/v1/webhooks/${id}`,
    headers: r.firmA,
    payload: { enabled: true },
  });
  t.is(enabled.statusCode, 200, enabled.body);
  t.is(enabled.json().state, 'active');
  t.is(enabled.json().stateReason, undefined);
  r.dispatcher.onViolation(violation(4));
  await eventually(async () => {
    const items = (await json(r.app, `/api/v1/webhooks/${id}/deliveries`, r.firmA)).items;
    return items.length === 2 && items[0].status === 'delivered' ? true : undefined;
  }, 'the delivery after enabling');
  t.is(recv.requests, 2, 'one 410, then the event after enabling: none while disabled');
  t.true(r.dispatcher.status().pending === 0);
});

test('dead letters in a row pause a subscription with a notice; pending ones wait; enabling resumes them', async (t) => {
  const recv = await receiver(t, 503);
  const r = await rig(t, {
    outbound: LOOPBACK,
    retry: { ...FAST_RETRY, maxAttempts: 1 },
    pauseAfterDead: 3,
    perTargetConcurrency: 1,
  });
  const sub = r.dispatcher.createSubscription({
    url: `http://127.0.0.1:${recv.port}/hook`,
    events: ['violation.opened'],
    ownerKey: 'admin-token',
  });
  // a delivered one in between starts the count again
  r.dispatcher.onViolation(violation(1));
  await eventually(() => (recv.requests === 1 ? true : undefined), 'first dead letter');
  recv.status = 200;
  r.dispatcher.onViolation(violation(2));
  await eventually(() => (recv.requests === 2 ? true : undefined), 'a delivered one');
  await eventually(async () => {
    const s = await json(r.app, `/api/v1/webhooks/${sub.id}`);
    return s.consecutiveDeadLetters === 0 ? true : undefined;
  }, 'the run reset');
  recv.status = 503;
  for (let i = 3; i < 9; i++) r.dispatcher.onViolation(violation(i));
  const paused = await eventually(async () => {
    const s = await json(r.app, `/api/v1/webhooks/${sub.id}`);
    return s.state === 'paused' ? s : undefined;
  }, 'paused');
  t.is(paused.consecutiveDeadLetters, 3);
  t.regex(paused.stateReason, /^3 deliveries in a row were dead-lettered \(the last: HTTP 503\)/);
  t.is(r.changes.length, 1);
  t.is(r.changes[0]?.state, 'paused');
  const stops = await r.metrics.getSingleMetric('citywatch_webhook_subscription_stops_total')?.get();
  t.deepEqual(
    stops?.values.map((v) => [v.labels.state, v.value]),
    [['paused', 1]],
  );
  // 2 + 3 requests; the other three deliveries wait, unattempted
  const items = (await json(r.app, `/api/v1/webhooks/${sub.id}/deliveries?status=pending`)).items;
  t.is(items.length, 3);
  t.true(items.every((d: { attempts: number }) => d.attempts === 0));
  t.is(recv.requests, 5);
  // no new deliveries while paused
  r.dispatcher.onViolation(violation(20));
  recv.status = 200;
  const res = await r.app.inject({
    method: 'PATCH',
    url: `/api/v1/webhooks/${sub.id}`,
    headers: AUTH,
    payload: { enabled: true },
  });
  t.is(res.statusCode, 200);
  t.is(res.json().consecutiveDeadLetters, 0);
  await eventually(() => (r.dispatcher.status().pending === 0 ? true : undefined), 'the waiting ones sent');
  t.is(recv.requests, 8, 'the three that waited, none for the event while paused');
  // the owner may also disable it
  const off = await r.app.inject({
    method: 'PATCH',
    url: `/api/v1/webhooks/${sub.id}`,
    headers: AUTH,
    payload: { enabled: false },
  });
  t.is(off.json().state, 'disabled');
  t.is(off.json().stateReason, 'disabled by admin-token');
});
