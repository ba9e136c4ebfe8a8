/**
 * Webhooks (delivery/webhooks/, their routes in api/webhooks/): signing, retries, dead letters, replay,
 * isolation of a slow receiver and durability across a restart, over real sockets: every receiver is a
 * node:http server that checks the signature with its own implementation of the Standard Webhooks scheme,
 * and the dispatcher's store is a real SQLite file (the world: test/support/api/webhooks.ts). And end to
 * end: a violation judged by the real platform arrives signed. The pure parts:
 * test/delivery/webhooks.test.ts; tenancy and validation of the subscription API: webhooks-api.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { WebhookDispatcher } from '../../delivery/webhooks/dispatcher.ts';
import { WebhookStore } from '../../delivery/webhooks/store.ts';
import {
  deliveries,
  FAST_RETRY,
  get,
  LOOPBACK,
  postTo,
  problem,
  rig,
  silent,
  startReceiver,
  subscribe,
  T0,
  tripCompleted,
  violationEvent,
} from '../support/api/webhooks.ts';
import { type HaulWorld, offRouteHaulFixes, publishFixes, seedHaulWorld } from '../support/haul-world.ts';
import {
  eventually,
  LOOPBACK_WEBHOOKS,
  ADMIN_TOKEN as PLATFORM_ADMIN_TOKEN,
  startTestPlatform,
} from '../support/platform.ts';

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
