/**
 * Webhooks' subscription API (api/webhooks/): tenancy (a firm key receives and sees only its own), and
 * validation errors as problems naming the field, with the routes in the OpenAPI document. Deliveries:
 * webhooks.test.ts; the pure parts: test/delivery/webhooks.test.ts.
 */
import test from 'ava';
import {
  deliveries,
  get,
  problem,
  rig,
  startReceiver,
  subscribe,
  T0,
  violationEvent,
} from '../support/api/webhooks.ts';
import { AUTH } from '../support/api-fixtures.ts';
import { openApiProblems } from '../support/openapi.ts';
import { eventually } from '../support/platform.ts';

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
