/**
 * Webhooks (delivery/webhooks/), the pure parts: Standard Webhooks signing, the retry schedule, matching
 * an event to a subscription, and the events' ids and bodies. Deliveries over real sockets through the
 * API: test/api/webhooks.test.ts; the subscription API: test/api/webhooks-api.test.ts.
 */
import test from 'ava';
import { eventBody, tripWebhookEvent, violationWebhookEvent } from '../../delivery/webhooks/events.ts';
import { matches } from '../../delivery/webhooks/match.ts';
import { DEFAULT_RETRY_POLICY, nextStep, parseRetryAfter } from '../../delivery/webhooks/schedule.ts';
import { generateSecret, secretKey, sign } from '../../delivery/webhooks/signature.ts';
import { T0, tripCompleted, verifyStandardWebhook, violationEvent } from '../support/api/webhooks.ts';

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
