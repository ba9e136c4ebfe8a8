/**
 * Permits issued and changed by an admin; an old registry file joining the workflow (their world: test/support/registry/permit-workflow.ts).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { api, decide, NOV_15, PERMIT, problem } from '../support/registry/permit-workflow.ts';
import { as } from '../support/role-keys.ts';

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
