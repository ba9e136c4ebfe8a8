/**
 * The rest of the tests (their world: test/support/registry/permit-workflow.ts).
 */
import test from 'ava';
import type { PermitInput } from '../../registry/compliance.ts';
import { permitStatus, permitTransitionRefusal } from '../../registry/permit-workflow.ts';
import {
  api,
  decide,
  NOV_15,
  noPermitEvents,
  PERMIT,
  problem,
  world,
} from '../support/registry/permit-workflow.ts';
import { as, keyIdOf } from '../support/role-keys.ts';

test('the transition table, judged on the status of the day', (t) => {
  const p = { validFrom: '2026-11-01', validTo: '2026-11-30' };
  t.is(permitStatus({ ...p, state: 'approved' }, '2026-10-31'), 'approved', 'not yet valid');
  t.is(permitStatus({ ...p, state: 'approved' }, '2026-11-01'), 'active');
  t.is(permitStatus({ ...p, state: 'approved' }, '2026-11-30'), 'active', 'validTo is inclusive');
  t.is(permitStatus({ ...p, state: 'approved' }, '2026-12-01'), 'expired');
  t.is(permitStatus({ ...p, state: 'active' }, '2026-12-01'), 'expired', 'legacy active = approved');
  t.is(permitStatus({ ...p, state: 'revoked' }, '2026-11-15'), 'revoked');
  t.is(permitTransitionRefusal('submitted', 'approved'), undefined);
  t.is(permitTransitionRefusal('submitted', 'active'), undefined, "legacy 'active' is an approval");
  t.is(permitTransitionRefusal('rejected', 'submitted'), undefined);
  t.is(permitTransitionRefusal('active', 'revoked'), undefined);
  t.is(permitTransitionRefusal('approved', 'revoked'), undefined);
  t.is(
    permitTransitionRefusal('rejected', 'approved'),
    'the permit is rejected and cannot become approved; from rejected it can become submitted',
  );
  t.regex(permitTransitionRefusal('expired', 'revoked') ?? '', /nothing \(final\)/);
  t.regex(permitTransitionRefusal('revoked', 'approved') ?? '', /nothing \(final\)/);
  t.regex(permitTransitionRefusal('active', 'submitted') ?? '', /can become revoked$/);
});

test('a firm applies, the city rejects, the firm resubmits, the city approves then revokes: every step audited', async (t) => {
  const { app, registry } = await api(t);

  // The firm applies: submitted, not enforced; it cannot decide, nor apply for another firm.
  const applied = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: as('firmA'),
    payload: PERMIT,
  });
  t.is(applied.statusCode, 201, applied.body);
  t.like(applied.json(), { id: 'permit-1', version: 1, state: 'submitted', status: 'submitted' });
  t.deepEqual(registry.snapshot().permits, []);
  const selfApproved = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: as('firmA'),
    payload: { ...PERMIT, id: 'permit-x', state: 'approved' },
  });
  t.is(selfApproved.statusCode, 403);
  t.regex(problem(selfApproved).detail ?? '', /only the city makes one approved/);
  t.is(
    (
      await app.inject({
        method: 'POST',
        url: '/api/v1/permits',
        headers: as('firmA'),
        payload: { ...PERMIT, id: 'permit-x', firm: 'firm-b' },
      })
    ).statusCode,
    400,
  );
  t.is((await decide(app, 'firmA', 'permit-1', { status: 'approved' })).statusCode, 403);
  t.is((await decide(app, 'monitor', 'permit-1', { status: 'approved' })).statusCode, 403);
  t.is((await decide(app, 'firmB', 'permit-1', { status: 'submitted' })).statusCode, 404, 'another firm');
  t.is((await app.inject({ url: '/api/v1/permits/permit-1', headers: as('firmB') })).statusCode, 404);

  // The city rejects: a reason is required (400 naming the field), then recorded.
  const bare = await decide(app, 'admin', 'permit-1', { status: 'rejected' });
  t.is(bare.statusCode, 400);
  t.deepEqual(problem(bare).errors, [
    { in: 'body', pointer: '/reason', message: 'required to make a permit rejected' },
  ]);
  const rejected = await decide(app, 'admin', 'permit-1', { status: 'rejected', reason: '消纳场容量不足' });
  t.is(rejected.statusCode, 200, rejected.body);
  t.like(rejected.json(), { version: 2, state: 'rejected', status: 'rejected' });

  // A rejected permit cannot be approved: 409 naming the current and the requested status.
  const late = await decide(app, 'admin', 'permit-1', { status: 'approved' });
  t.is(late.statusCode, 409);
  t.is(problem(late).type, 'urn:citywatch:problem:illegal-transition');
  t.is(
    problem(late).detail,
    "permit 'permit-1': the permit is rejected and cannot become approved; from rejected it can become submitted.",
  );

  // The firm amends it, which resubmits it.
  const amended = await app.inject({
    method: 'PUT',
    url: '/api/v1/permits/permit-1',
    headers: as('firmA'),
    payload: { ...PERMIT, windows: ['22:00-06:00'] },
  });
  t.is(amended.statusCode, 200, amended.body);
  t.like(amended.json(), { version: 3, state: 'submitted', status: 'submitted', windows: ['22:00-06:00'] });

  // The city approves: enforced at once (the dates hold on 15 November).
  const approved = await decide(app, 'admin', 'permit-1', { status: 'approved', version: 3 });
  t.is(approved.statusCode, 200, approved.body);
  t.like(approved.json(), { version: 4, state: 'approved', status: 'active' });
  t.deepEqual(
    registry.snapshot().permits.map((p) => [p.id, p.version]),
    [['permit-1', 4]],
  );
  t.regex(
    problem(await decide(app, 'admin', 'permit-1', { status: 'approved' })).detail ?? '',
    /is active and cannot become approved/,
  );
  const firmEdit = await app.inject({
    method: 'PUT',
    url: '/api/v1/permits/permit-1',
    headers: as('firmA'),
    payload: PERMIT,
  });
  t.is(firmEdit.statusCode, 409, 'an approved permit is the city’s to change');
  t.regex(problem(firmEdit).detail ?? '', /is active and cannot become submitted/);

  // The city revokes it, with a reason; it leaves the engine, and nothing follows a revocation.
  t.is((await decide(app, 'admin', 'permit-1', { status: 'revoked' })).statusCode, 400);
  const revoked = await decide(app, 'admin', 'permit-1', { status: 'revoked', reason: '多次偏离路线' });
  t.is(revoked.statusCode, 200, revoked.body);
  t.like(revoked.json(), { version: 5, state: 'revoked', status: 'revoked' });
  t.deepEqual(registry.snapshot().permits, []);
  const again = await decide(app, 'admin', 'permit-1', { status: 'approved' });
  t.is(again.statusCode, 409);
  t.regex(
    problem(again).detail ?? '',
    /is revoked and cannot become approved; from revoked it can become nothing \(final\)/,
  );

  // The audit trail: who, when, why, and the version each step wrote.
  const audit = await app.inject({ url: '/api/v1/permits/permit-1/audit', headers: as('firmA') });
  t.is(audit.statusCode, 200, audit.body);
  const at = new Date(NOV_15).toISOString();
  t.deepEqual(audit.json(), {
    id: 'permit-1',
    count: 5,
    items: [
      { version: 1, action: 'create', to: 'submitted', state: 'submitted', actor: keyIdOf('firmA'), at },
      {
        version: 2,
        action: 'reject',
        from: 'submitted',
        to: 'rejected',
        state: 'rejected',
        actor: keyIdOf('admin'),
        at,
        reason: '消纳场容量不足',
      },
      {
        version: 3,
        action: 'submit',
        from: 'rejected',
        to: 'submitted',
        state: 'submitted',
        actor: keyIdOf('firmA'),
        at,
      },
      {
        version: 4,
        action: 'approve',
        from: 'submitted',
        to: 'active',
        state: 'approved',
        actor: keyIdOf('admin'),
        at,
      },
      {
        version: 5,
        action: 'revoke',
        from: 'active',
        to: 'revoked',
        state: 'revoked',
        actor: keyIdOf('admin'),
        at,
        reason: '多次偏离路线',
      },
    ],
  });
  t.is((await app.inject({ url: '/api/v1/permits/permit-1/audit', headers: as('monitor') })).statusCode, 200);
  t.is((await app.inject({ url: '/api/v1/permits/permit-1/audit', headers: as('firmB') })).statusCode, 404);
  t.is((await app.inject({ url: '/api/v1/permits/nope/audit', headers: as('admin') })).statusCode, 404);

  // The version a violation was judged against is still there, as it was.
  const v4 = await app.inject({ url: '/api/v1/permits/permit-1?version=4', headers: as('admin') });
  t.like(v4.json(), { version: 4, state: 'approved', windows: ['22:00-06:00'] });
  t.is(v4.json().status, undefined, 'a past version has no status of today');
});

test('the engine: a loading under an approved permit is fine; submitted, rejected or revoked is NO_PERMIT', (t) => {
  const { registry } = world(t);
  const input: PermitInput = { ...PERMIT, state: 'submitted' };
  registry.put('permit', input, { workflow: true, actor: 'key-firm-a' });
  t.deepEqual(
    noPermitEvents(registry).map((e) => e.phase),
    ['opened'],
    'submitted',
  );

  registry.transitionPermit('permit-1', 'rejected', { actor: 'key-admin', reason: '材料不全' });
  t.deepEqual(
    noPermitEvents(registry).map((e) => e.phase),
    ['opened'],
    'rejected',
  );

  registry.transitionPermit('permit-1', 'submitted', { actor: 'key-firm-a' });
  registry.transitionPermit('permit-1', 'approved', { actor: 'key-admin' });
  t.deepEqual(noPermitEvents(registry), [], 'approved and within its dates');

  const revoked = registry.transitionPermit('permit-1', 'revoked', { actor: 'key-admin', reason: '偷倒' });
  const events = noPermitEvents(registry);
  t.deepEqual(
    events.map((e) => e.phase),
    ['opened'],
    'revoked',
  );
  t.is(events[0]!.violation.startTs, NOV_15 + 40_000, 'at the loading fix');
  t.is(events[0]!.violation.permit, undefined);
  // The revocation is a version of its own; the approved version stays readable for the violations
  // judged under it.
  t.is(revoked.version, 5);
  t.is(registry.get('permit', 'permit-1', 4)?.state, 'approved');
});
