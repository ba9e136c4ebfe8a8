/**
 * Stream tickets (api/live-tickets.ts): how a browser's EventSource, which cannot send an Authorization
 * header, opens the live streams without a long-lived key in its URL. Against the running platform over
 * real sockets (keys made through POST /keys, fixes published over MQTT): a ticket opens its stream
 * once; it opens only the streams it names and no other route; an API key or the admin token in
 * `?ticket=` is refused; a firm's ticket streams its own units only; `lastEventId` resumes a new
 * connection. Expiry runs on a clock of the test's own (buildApi's streamTicketNow), not by waiting.
 */
import test from 'ava';
import { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../../api/app.ts';
import { LiveHub } from '../../api/live-hub.ts';
import { StreamTicketStore } from '../../api/live-tickets.ts';
import type { Fix } from '../../core/fix.ts';
import { ADMIN_TOKEN as FIXTURE_TOKEN, fleetRegistry, OK_HEALTH } from '../support/api-fixtures.ts';
import { createKey, type FleetUnit, registerFleet, TestDevice } from '../support/live-fleet.ts';
import { ADMIN_TOKEN, startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { SseClient, type SseResponse } from '../support/sse.ts';

const UNITS: FleetUnit[] = [
  { unit: 'veh-ta1', device: 'dev-ta1', secret: 'secret-ta1', kind: 'muck_truck', firm: 'firm-ta' },
  { unit: 'veh-tb1', device: 'dev-tb1', secret: 'secret-tb1', kind: 'muck_truck', firm: 'firm-tb' },
];

let tp: TestPlatform;
const devices = new Map<string, TestDevice>();
let ts = Date.now() - 3_600_000;
const keys: Record<
  'monitor' | 'firmA' | 'positionsOnly' | 'violationsOnly' | 'registryOnly',
  { authorization: string }
> = {
  monitor: { authorization: '' },
  firmA: { authorization: '' },
  positionsOnly: { authorization: '' },
  violationsOnly: { authorization: '' },
  registryOnly: { authorization: '' },
};

test.before(async () => {
  tp = await startTestPlatform({ API_RATE_LIMIT: '0' });
  await registerFleet(tp, UNITS);
  for (const u of UNITS) devices.set(u.unit, await TestDevice.connect(tp, u));
  keys.monitor = await createKey(tp, { role: 'monitor' });
  keys.firmA = await createKey(tp, { role: 'firm', firm: 'firm-ta' });
  keys.positionsOnly = await createKey(tp, { role: 'monitor', scopes: ['positions:read'] });
  keys.violationsOnly = await createKey(tp, { role: 'monitor', scopes: ['violations:read'] });
  keys.registryOnly = await createKey(tp, { role: 'monitor', scopes: ['registry:read'] });
});

test.after.always(async () => {
  for (const d of devices.values()) await d.close();
  await tp?.stop();
});

async function ticket(
  auth: { authorization: string },
  body: object = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${tp.httpUrl}/api/v1/live/tickets`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function newTicket(auth: { authorization: string }, body: object = {}): Promise<string> {
  const r = await ticket(auth, body);
  if (r.status !== 201) throw new Error(`ticket: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.ticket as string;
}

/** Opens a stream the way EventSource does: no Authorization header, the ticket in the URL. */
const open = (stream: string, query: string) =>
  SseClient.open(`${tp.httpUrl}/api/v1/live/${stream}?${query}`);

async function send(unit: string, extra: Record<string, unknown> = {}): Promise<number> {
  ts += 10_000;
  await devices.get(unit)!.send({ ts, lat: 31.8, lon: 117.2, speed: 20, ...extra });
  return ts;
}

const problem = (r: SseClient | SseResponse) => {
  if (r instanceof SseClient) throw new Error('expected a refusal, got an event stream');
  return { status: r.status, ...(JSON.parse(r.body) as { type: string; detail: string }) };
};

test.serial(
  'a ticket opens its stream once, without a header; it names the key it was issued to',
  async (t) => {
    const issued = await ticket(keys.monitor);
    t.is(issued.status, 201);
    t.regex(issued.json.ticket as string, /^cwt_[A-Za-z0-9_-]{43}$/);
    t.deepEqual(issued.json.streams, ['positions', 'violations']);
    t.like(issued.json.principal, { role: 'monitor' });
    t.is(issued.json.ttlS, 30);
    t.true(Date.parse(issued.json.expiresAt as string) > Date.now());

    const live = await open('positions', `ticket=${issued.json.ticket}`);
    if (!(live instanceof SseClient)) return t.fail(`stream refused: ${live.status} ${live.body}`);
    t.teardown(() => live.close());
    const sent = await send('veh-ta1');
    const e = await live.next();
    t.is(e.event, 'position');
    t.is(Date.parse(JSON.parse(e.data).ts), sent);

    // used once: the same ticket again is refused, and says how to get a new one
    const again = problem(await open('positions', `ticket=${issued.json.ticket}`));
    t.is(again.status, 401);
    t.is(again.type, 'urn:citywatch:problem:stream-ticket-refused');
    t.regex(again.detail, /already used.*POST \/api\/v1\/live\/tickets/);
  },
);

test.serial('a ticket opens only the streams it names, and nothing but a live stream', async (t) => {
  const positionsOnly = await newTicket(keys.monitor, { streams: ['positions'] });
  const refused = problem(await open('violations', `ticket=${positionsOnly}`));
  t.is(refused.status, 403);
  t.regex(refused.detail, /violations:read/);

  // any other route ignores ?ticket= (it is not even a parameter there): no header, no entry
  const both = await newTicket(keys.monitor);
  const res = await fetch(`${tp.httpUrl}/api/v1/positions?ticket=${both}`);
  t.is(res.status, 401);
  // that attempt did not spend it: the ticket still opens its stream
  const live = await open('violations', `ticket=${both}`);
  t.true(live instanceof SseClient);
  if (live instanceof SseClient) live.close();
});

test.serial('an API key or the admin token in the URL is never accepted', async (t) => {
  const secret = keys.monitor.authorization.replace(/^Bearer /, '');
  for (const value of [secret, ADMIN_TOKEN]) {
    const r = problem(await open('positions', `ticket=${encodeURIComponent(value)}`));
    t.is(r.status, 401);
    t.is(r.type, 'urn:citywatch:problem:stream-ticket-refused');
  }
  // nor under another parameter name: the query is strict
  const other = await open('positions', `access_token=${encodeURIComponent(secret)}`);
  t.false(other instanceof SseClient);
});

test.serial('a key may not get a ticket for a stream its scopes do not allow', async (t) => {
  const r = await ticket(keys.positionsOnly, { streams: ['violations'] });
  t.is(r.status, 403);
  t.regex(String(r.json.detail), /violations:read/);
  const own = await ticket(keys.positionsOnly);
  t.is(own.status, 201);
  t.deepEqual(own.json.streams, ['positions']);
  t.is((await ticket({ authorization: 'Bearer not-a-key-0123456789' })).status, 401);
});

test.serial(
  'either live scope gets a ticket for its own stream; a key with neither is refused naming both',
  async (t) => {
    const own = await ticket(keys.violationsOnly);
    t.is(own.status, 201);
    t.deepEqual(own.json.streams, ['violations']);
    const none = await ticket(keys.registryOnly);
    t.is(none.status, 403);
    t.regex(String(none.json.detail), /positions:read, violations:read/);
  },
);

test.serial('a firm’s ticket streams its own units only', async (t) => {
  const firmTicket = await newTicket(keys.firmA);
  const live = await open('positions', `ticket=${firmTicket}`);
  if (!(live instanceof SseClient)) return t.fail('stream refused');
  t.teardown(() => live.close());
  // the other firm's fix first, then a fence of the firm's own: the fence must be the first event
  await send('veh-tb1');
  const fence = await send('veh-ta1', { speed: 33 });
  const first = JSON.parse((await live.next()).data);
  t.is(first.vehicle, 'veh-ta1');
  t.is(Date.parse(first.ts), fence);
});

test.serial(
  'a new connection resumes after lastEventId (EventSource sends no header on a new connection)',
  async (t) => {
    const first = await open('positions', `ticket=${await newTicket(keys.monitor)}`);
    if (!(first instanceof SseClient)) return t.fail('stream refused');
    await send('veh-ta1');
    await first.next();
    const lastId = first.lastEventId!;
    first.close();
    const missed = [await send('veh-ta1'), await send('veh-tb1')];
    const second = await open('positions', `ticket=${await newTicket(keys.monitor)}&lastEventId=${lastId}`);
    if (!(second instanceof SseClient)) return t.fail('stream refused');
    t.teardown(() => second.close());
    const got = await second.take(2);
    t.deepEqual(
      got.map((e) => Date.parse(JSON.parse(e.data).ts)),
      missed,
    );
    t.is(Number(got[0]!.id), Number(lastId) + 1);
  },
);

test('a ticket expires: refused once its time to live has passed, accepted 1 ms before', async (t) => {
  let clock = Date.UTC(2026, 11, 1);
  const hub = new LiveHub({
    registry: { vehicle: () => undefined, device: () => undefined },
    retentionMs: 60_000,
    maxEvents: 100,
    maxLag: 100,
    clientBufferBytes: 64 * 1024,
    heartbeatMs: 0,
  });
  const app = await buildApi(
    {
      adminToken: FIXTURE_TOKEN,
      positions: { latest: async () => [], latestOf: async () => undefined },
      registry: fleetRegistry(),
      health: async () => OK_HEALTH,
      metrics: new MetricsRegistry(),
      live: hub,
    },
    { streamTicketTtlMs: 30_000, streamTicketNow: () => clock },
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    hub.close();
    await app.close();
  });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1`;
  const issue = async () => {
    const res = await fetch(`${base}/live/tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${FIXTURE_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const body = (await res.json()) as { ticket: string; expiresAt: string };
    t.is(body.expiresAt, new Date(clock + 30_000).toISOString());
    return body.ticket;
  };
  const late = await issue();
  const inTime = await issue();
  clock += 30_000;
  const refused = await SseClient.open(`${base}/live/positions?ticket=${late}`);
  t.false(refused instanceof SseClient);
  if (!(refused instanceof SseClient)) {
    t.is(refused.status, 401);
    t.regex(JSON.parse(refused.body).detail, /expired before it was used/);
  }
  clock -= 1;
  const live = await SseClient.open(`${base}/live/positions?ticket=${inTime}`);
  if (!(live instanceof SseClient)) return t.fail(`refused 1 ms before expiry: ${live.body}`);
  t.teardown(() => live.close());
  hub.publishFixes([
    {
      vehicle: 'v1',
      firm: 'f',
      kind: 'muck_truck',
      lat: 31.8,
      lon: 117.2,
      ts: clock,
      received: clock,
    } as Fix,
  ]);
  t.is((await live.next()).event, 'position');
});

test('the ticket store is bounded and keeps only the streams’ scopes', (t) => {
  let clock = 0;
  const store = new StreamTicketStore({ ttlMs: 1000, maxOutstanding: 2, now: () => clock });
  const admin = { keyId: 'k1', role: 'admin' as const, scopes: [] };
  const a = store.issue(admin, ['positions']);
  t.truthy(a);
  t.truthy(store.issue(admin, ['violations']));
  t.is(store.issue(admin, ['positions']), undefined, 'a third outstanding ticket is refused');
  clock = 1000;
  t.truthy(store.issue(admin, ['positions']), 'expired ones make room');
  t.is(store.outstanding, 1);
  clock = 0;
  const b = store.issue({ keyId: 'k2', role: 'firm', firm: 'f1', scopes: [] }, ['positions'])!;
  const redeemed = store.redeem(b.ticket);
  t.deepEqual(redeemed, {
    ok: true,
    principal: { keyId: 'k2', role: 'firm', firm: 'f1', scopes: ['positions:read'] },
  });
  t.deepEqual(store.redeem(b.ticket), { ok: false, reason: 'unknown' });
  t.deepEqual(store.redeem(a!.ticket), { ok: false, reason: 'unknown' }, 'swept when it expired');
});
