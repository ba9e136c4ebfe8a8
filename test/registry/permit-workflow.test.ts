import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { ProblemSchema } from '../../api/schemas.ts';
import type { Fix } from '../../core/fix.ts';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine } from '../../geofence/engine.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import type { ViolationEvent } from '../../geofence/types.ts';
import { ComplianceRegistry, type PermitInput } from '../../registry/compliance.ts';
import { permitStatus, permitTransitionRefusal } from '../../registry/permit-workflow.ts';
import { testApi } from '../support/api-fixtures.ts';
import { squareFrom } from '../support/geometry.ts';
import { as, KEYS, keyIdOf } from '../support/role-keys.ts';

/**
 * The permit approval workflow (registry/permit-workflow.ts) through the API with one key per role, on a
 * real registry; and the engine's view of it: only approved permits are enforced.
 */

const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
/** 12:00 local (04:00Z) on 15 November 2026, inside the permits' validity */
const NOV_15 = Date.parse('2026-11-15T04:00:00Z');

const PERMIT = {
  id: 'permit-1',
  firm: 'firm-a',
  vehicles: ['veh-1'],
  origins: ['site-o'],
  disposals: ['site-d'],
  routes: ['route-1'],
  validFrom: '2026-11-01',
  validTo: '2026-11-30',
  windows: ['00:00-24:00'],
  cargo: '建筑垃圾',
};

function world(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-permit-workflow-'));
  const clock = { now: NOV_15 };
  const registry = new ComplianceRegistry({
    dir,
    now: () => clock.now,
    vehicles: () => [{ id: 'veh-1', version: 1, firm: 'firm-a', kind: 'muck_truck', reportIntervalS: 10 }],
  });
  t.teardown(() => {
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  registry.put('site', {
    id: 'site-o',
    kind: 'origin',
    name: '蜀山工地',
    polygons: [squareFrom(117.2, 31.8)],
  });
  registry.put('site', {
    id: 'site-d',
    kind: 'disposal',
    name: '肥西消纳场',
    polygons: [squareFrom(117.3, 31.85)],
  });
  registry.put('route', {
    id: 'route-1',
    name: '繁华大道',
    line: [
      [117.2025, 31.8025],
      [117.3025, 31.8525],
    ],
  });
  return { registry, clock };
}

async function api(t: ExecutionContext) {
  const w = world(t);
  const { app } = await testApi(NO_POSITIONS, { compliance: w.registry, keys: KEYS });
  t.teardown(() => app.close());
  return { app, ...w };
}

type Res = { statusCode: number; headers: Record<string, unknown>; body: string };

function problem(res: Res) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  return ProblemSchema.parse(JSON.parse(res.body));
}

const decide = (app: FastifyInstance, who: Parameters<typeof as>[0], id: string, body: object) =>
  app.inject({ method: 'POST', url: `/api/v1/permits/${id}/status`, headers: as(who), payload: body });

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

test('an admin issues a permit approved; the calendar activates and expires it', async (t) => {
  const { app, registry, clock } = await api(t);
  const issued = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: as('admin'),
    payload: { ...PERMIT, validTo: '2026-11-20' },
  });
  t.is(issued.statusCode, 201, issued.body);
  t.like(issued.json(), { state: 'approved', status: 'active' });
  t.deepEqual(
    registry.permitAudit('permit-1').map((e) => [e.action, e.to, e.actor]),
    [['create', 'active', 'key-admin']],
  );
  const later = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: as('admin'),
    payload: { ...PERMIT, id: 'permit-2', validFrom: '2026-12-01', validTo: '2026-12-31' },
  });
  t.like(later.json(), { state: 'approved', status: 'approved' }, 'approved, not yet valid');
  const born = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: as('admin'),
    payload: { ...PERMIT, id: 'permit-3', state: 'revoked', reason: 'x' },
  });
  t.is(born.statusCode, 409, 'a permit starts submitted or approved');
  t.regex(
    problem(born).detail ?? '',
    /a new permit starts submitted \(or approved by the city\), not revoked/,
  );
  // Clients of the first release said 'active' to issue an enforced permit: still an approval.
  const legacy = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: as('admin'),
    payload: { ...PERMIT, id: 'permit-4', validTo: '2026-11-20', state: 'active' },
  });
  t.like(legacy.json(), { state: 'active', status: 'active' });
  const monitor = await app.inject({
    method: 'POST',
    url: '/api/v1/permits',
    headers: as('monitor'),
    payload: { ...PERMIT, id: 'permit-5' },
  });
  t.is(monitor.statusCode, 403, 'a monitor neither applies nor issues');

  // 00:30 local on 21 November: permits 1 and 4 have expired (validTo is the 20th, inclusive).
  clock.now = Date.parse('2026-11-20T16:30:00Z');
  const list = await app.inject({ url: '/api/v1/permits?status=expired', headers: as('monitor') });
  t.deepEqual(
    list.json().items.map((p: { id: string; status: string }) => [p.id, p.status]),
    [
      ['permit-1', 'expired'],
      ['permit-4', 'expired'],
    ],
  );
  const revoke = await decide(app, 'admin', 'permit-1', { status: 'revoked', reason: '过期后不能撤销' });
  t.is(revoke.statusCode, 409);
  t.regex(problem(revoke).detail ?? '', /the permit is expired and cannot become revoked/);
  t.is((await app.inject({ url: '/api/v1/permits?status=approved', headers: as('admin') })).json().count, 1);
  // Expiry needs no write: the snapshot keeps it, the engine compares the dates itself.
  t.deepEqual(
    registry.snapshot().permits.map((p) => p.id),
    ['permit-1', 'permit-2', 'permit-4'],
  );
});

test('an admin PUT that changes the state is a transition too; an update without state keeps it', async (t) => {
  const { app } = await api(t);
  await app.inject({ method: 'POST', url: '/api/v1/permits', headers: as('firmA'), payload: PERMIT });
  const bad = await app.inject({
    method: 'PUT',
    url: '/api/v1/permits/permit-1',
    headers: as('admin'),
    payload: { ...PERMIT, state: 'revoked', reason: '—' },
  });
  t.is(bad.statusCode, 409);
  t.regex(problem(bad).detail ?? '', /is submitted and cannot become revoked/);
  const ok = await app.inject({
    method: 'PUT',
    url: '/api/v1/permits/permit-1',
    headers: as('admin'),
    payload: { ...PERMIT, state: 'approved', cargo: '工程渣土' },
  });
  t.like(ok.json(), { version: 2, state: 'approved', status: 'active', cargo: '工程渣土' });
  // a GET result sent back unchanged (with its output fields) is an amendment, not a transition
  const got = (await app.inject({ url: '/api/v1/permits/permit-1', headers: as('admin') })).json();
  const back = await app.inject({
    method: 'PUT',
    url: '/api/v1/permits/permit-1',
    headers: as('admin'),
    payload: got,
  });
  t.is(back.statusCode, 200, back.body);
  t.like(back.json(), { version: 3, state: 'approved' });
  t.is((await decide(app, 'monitor', 'permit-1', { status: 'revoked', reason: 'x' })).statusCode, 403);
});

// ---------------------------------------------------------------------------------------------------
// The engine enforces only approved permits

/**
 * veh-1 parked empty inside site-o, then loaded there: a loading at 12:01 local on 15 November (the load
 * reading stays full for 80 s: a change counts once it persisted a minute, geofence/rules/confirm.ts).
 */
function loadingAtOrigin(): Fix[] {
  return Array.from({ length: 12 }, (_, i) => ({
    vehicle: 'veh-1',
    device: 'dev-1',
    kind: 'muck_truck' as const,
    firm: 'firm-a',
    ts: NOV_15 + i * 10_000,
    received: NOV_15 + i * 10_000,
    lat: 31.8025,
    lon: 117.2025,
    speed: 0,
    valid: true,
    crsIn: 'WGS84' as const,
    late: false,
    load: i < 4 ? ('empty' as const) : ('full' as const),
  }));
}

function noPermitEvents(registry: ComplianceRegistry): ViolationEvent[] {
  const engine = createEngine(ALL_RULES, chinaCalendar);
  const w = compileWorld(registry.snapshot());
  let state = engine.initial('veh-1');
  const out: ViolationEvent[] = [];
  for (const fix of loadingAtOrigin()) {
    const r = engine.step(state, fix, w);
    state = r.state;
    out.push(...r.events.filter((e) => e.violation.code === 'NO_PERMIT'));
  }
  return out;
}

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

test('a registry file of schema 1 (no reasons yet) opens; its permits join the workflow', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-permit-schema1-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const old = new Database(join(dir, 'compliance.db'));
  old.exec(`CREATE TABLE entity_versions (
    kind TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL, body TEXT,
    created_at INTEGER NOT NULL, actor TEXT, PRIMARY KEY (kind, id, version)) STRICT, WITHOUT ROWID;
    PRAGMA user_version = 1;`);
  const permit = { ...PERMIT, id: 'permit-1', version: 1, state: 'active' };
  old
    .prepare('INSERT INTO entity_versions VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run('permit', 'permit-1', 1, 0, JSON.stringify(permit), NOV_15, 'api:admin');
  old.close();

  const registry = new ComplianceRegistry({ dir, now: () => NOV_15 });
  t.teardown(() => registry.close());
  t.deepEqual(
    registry.snapshot().permits.map((p) => [p.id, p.version]),
    [['permit-1', 1]],
    "a legacy 'active' permit is enforced",
  );
  registry.transitionPermit('permit-1', 'revoked', { actor: 'key-admin', reason: '迁移后撤销' });
  t.deepEqual(
    registry.permitAudit('permit-1').map((e) => [e.version, e.action, e.from, e.to, e.actor, e.reason]),
    [
      [1, 'create', undefined, 'active', 'api:admin', undefined],
      [2, 'revoke', 'active', 'revoked', 'key-admin', '迁移后撤销'],
    ],
  );
  t.deepEqual(registry.snapshot().permits, []);
});
