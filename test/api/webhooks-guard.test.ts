/**
 * Webhooks under the outbound guard and delivery hygiene (issue 19): targets on loopback refused with
 * the default settings (at subscription and at delivery, the receiver sees no connection), delivered
 * once the operator allows them; refusals counted and in the delivery log with the reason; a name that
 * resolves to loopback refused; a redirect not followed; 410 Gone disables; dead letters in a row pause;
 * the owner enables again. Real sockets, a real SQLite store, real API keys.
 */
import test from 'ava';
import {
  FAST_RETRY,
  HTTP_ONLY,
  json,
  LOOPBACK,
  LOOPBACK_HOSTS,
  receiver,
  refusedCount,
  rig,
  violation,
} from '../support/api/webhooks-guard.ts';
import { AUTH } from '../support/api-fixtures.ts';
import { eventually } from '../support/platform.ts';

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
