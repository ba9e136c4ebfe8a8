/**
 * Webhook subscriptions paused and disabled by their receivers: 410 Gone and dead letters in a row (their world: test/support/api/webhooks-guard.ts).
 */
import test from 'ava';
import { FAST_RETRY, json, LOOPBACK, receiver, rig, violation } from '../support/api/webhooks-guard.ts';
import { AUTH } from '../support/api-fixtures.ts';
import { eventually } from '../support/platform.ts';

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
