/**
 * The rest of the tests (their world: test/support/api/identity.ts).
 */

import { createHash } from 'node:crypto';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { asAdmin, setUp, world } from '../support/api/identity.ts';
import { call } from '../support/identity-world.ts';

setUp();

// ---------------------------------------------------------------------------------------------------
// Keys

test('keys: the secret is returned once, works over a socket, and only its SHA-256 is stored', async (t) => {
  const created = await asAdmin('POST', '/api/v1/keys', { name: 'firm-a ERP', role: 'firm', firm: 'firm-a' });
  t.is(created.status, 201, created.text);
  const { id, secret } = created.json;
  t.regex(secret, /^cwk_[A-Za-z0-9_-]{43}$/);
  t.is(created.headers.get('location'), `/api/v1/keys/${id}`);
  t.deepEqual(created.json.effectiveScopes.includes('registry:read'), true);

  // It authenticates as the firm: its own vehicle is there, the other firm's is not.
  const own = await call(world.url, 'GET', '/api/v1/vehicles/veh-a1', { token: secret });
  t.is(own.status, 200);
  t.is((await call(world.url, 'GET', '/api/v1/vehicles/veh-b1', { token: secret })).status, 404);

  // Never shown again.
  const one = await asAdmin('GET', `/api/v1/keys/${id}`);
  const list = await asAdmin('GET', '/api/v1/keys');
  t.is(one.status, 200);
  t.false(one.text.includes(secret.slice(8)));
  t.false(list.text.includes(secret.slice(8)));
  t.is(one.json.secret, undefined);
  t.is(one.json.hint, secret.slice(0, 8));
  t.truthy(one.json.lastUsedAt, 'the use above is recorded');

  // At rest: the row holds SHA-256 of the secret and nothing from which the secret could be read.
  const db = new Database(path.join(world.tp.dataDir, 'registry', 'api-keys.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as Record<string, unknown>;
    t.is(row.secret_sha256, createHash('sha256').update(secret).digest('hex'));
    for (const [column, value] of Object.entries(row)) {
      t.false(String(value).includes(secret.slice(8)), `column ${column} holds the secret`);
    }
  } finally {
    db.close();
  }
});

test('keys: a disabled key is 401 until enabled again; a revoked key is 401 for good', async (t) => {
  const { json: key } = await asAdmin('POST', '/api/v1/keys', { name: 'wall screen', role: 'monitor' });
  const use = () => call(world.url, 'GET', '/api/v1/positions', { token: key.secret });
  t.is((await use()).status, 200);

  t.is((await asAdmin('PATCH', `/api/v1/keys/${key.id}`, { enabled: false })).json.enabled, false);
  const disabled = await use();
  t.is(disabled.status, 401);
  t.regex(
    String(disabled.headers.get('www-authenticate')),
    /^Bearer realm="citywatch", error="invalid_token"/,
  );
  t.is((await asAdmin('PATCH', `/api/v1/keys/${key.id}`, { enabled: true })).status, 200);
  t.is((await use()).status, 200);

  const revoked = await asAdmin('DELETE', `/api/v1/keys/${key.id}`);
  t.is(revoked.status, 200);
  t.truthy(revoked.json.revokedAt);
  t.false(revoked.json.enabled);
  t.is((await use()).status, 401);
  const again = await asAdmin('PATCH', `/api/v1/keys/${key.id}`, { enabled: true });
  t.is(again.status, 409);
  t.is((await use()).status, 401);
  t.is((await asAdmin('DELETE', '/api/v1/keys/key_0000')).status, 404);
});

test('keys: role, firm and scopes are checked, each error naming its field', async (t) => {
  const cases: [unknown, string][] = [
    [{ name: 'x', role: 'firm' }, '/firm'],
    [{ name: 'x', role: 'monitor', firm: 'firm-a' }, '/firm'],
    [{ name: 'x', role: 'firm', firm: 'firm-nowhere' }, '/firm'],
    [{ name: 'x', role: 'monitor', scopes: ['positions:read', 'devices:write'] }, '/scopes/1'],
    [{ name: 'x', role: 'firm', firm: 'firm-a', scopes: ['keys:write'] }, '/scopes/0'],
    [{ name: 'x', role: 'monitor', scopes: ['teleport:write'] }, '/scopes/0'],
    [{ name: 'x', role: 'root' }, '/role'],
    [{ role: 'monitor' }, '/name'],
  ];
  for (const [body, pointer] of cases) {
    const res = await asAdmin('POST', '/api/v1/keys', body);
    t.is(res.status, 400, JSON.stringify(body));
    t.regex(String(res.headers.get('content-type')), /^application\/problem\+json/);
    t.deepEqual(
      res.json.errors.map((e: { pointer: string }) => e.pointer),
      [pointer],
      JSON.stringify(body),
    );
  }
});

test('scopes: a key without the route’s scope gets 403 naming the scope; its own scopes still work', async (t) => {
  const { json: key } = await asAdmin('POST', '/api/v1/keys', {
    name: 'map only',
    role: 'firm',
    firm: 'firm-a',
    scopes: ['positions:read'],
  });
  t.deepEqual(key.effectiveScopes, ['positions:read']);
  t.is((await call(world.url, 'GET', '/api/v1/positions', { token: key.secret })).status, 200);
  const refused = await call(world.url, 'GET', '/api/v1/vehicles', { token: key.secret });
  t.is(refused.status, 403);
  t.is(refused.json.type, 'urn:citywatch:problem:missing-scope');
  t.regex(refused.json.detail, /registry:read/);
  // Checked before the body: an invalid body still gets the 403, not a 400.
  const write = await call(world.url, 'POST', '/api/v1/vehicles', {
    token: key.secret,
    body: { nonsense: true },
  });
  t.is(write.status, 403);
  t.regex(write.json.detail, /registry:write/);
  // And the document says which scope each operation needs.
  const doc = await call(world.url, 'GET', '/docs/json');
  t.is(doc.json.paths['/api/v1/vehicles'].get['x-scope'], 'registry:read');
  t.regex(doc.json.paths['/api/v1/vehicles'].get.description, /Needs the scope `registry:read`/);
});

test('scopes: a key cannot create a key with a scope it does not hold (no escalation)', async (t) => {
  const { json: keyAdmin } = await asAdmin('POST', '/api/v1/keys', {
    name: 'key desk',
    role: 'admin',
    scopes: ['keys:read', 'keys:write', 'positions:read'],
  });
  const narrow = await call(world.url, 'POST', '/api/v1/keys', {
    token: keyAdmin.secret,
    body: { name: 'viewer', role: 'monitor', scopes: ['positions:read'] },
  });
  t.is(narrow.status, 201, narrow.text);
  const wide = await call(world.url, 'POST', '/api/v1/keys', {
    token: keyAdmin.secret,
    body: { name: 'full monitor', role: 'monitor' },
  });
  t.is(wide.status, 403);
  t.regex(wide.json.detail, /violations:read/);
});

test('roles: a firm key registers vehicles for its own firm only; a monitor reads but never writes', async (t) => {
  const firm = await call(world.url, 'POST', '/api/v1/vehicles', {
    token: world.a.key,
    body: { id: 'veh-a-own', plate: '皖A·55555', kind: 'sanitation' },
  });
  t.is(firm.status, 201, firm.text);
  t.is(firm.json.firm, 'firm-a', 'the firm defaults to the key’s');
  const foreign = await call(world.url, 'POST', '/api/v1/vehicles', {
    token: world.a.key,
    body: { id: 'veh-a-foreign', plate: '皖A·55556', kind: 'sanitation', firm: 'firm-b' },
  });
  t.is(foreign.status, 400);
  t.deepEqual(foreign.json.errors, [{ in: 'body', pointer: '/firm', message: 'unknown firm "firm-b"' }]);
  // exactly the answer for a firm that does not exist
  const none = await call(world.url, 'POST', '/api/v1/vehicles', {
    token: world.a.key,
    body: { id: 'veh-a-foreign', plate: '皖A·55556', kind: 'sanitation', firm: 'firm-zz' },
  });
  t.is(none.json.errors[0].message, 'unknown firm "firm-zz"');

  const monitor = await call(world.url, 'DELETE', '/api/v1/vehicles/veh-a-own', { token: world.monitorKey });
  t.is(monitor.status, 403);
  t.is((await call(world.url, 'GET', '/api/v1/vehicles/veh-a-own', { token: world.monitorKey })).status, 200);
  // A firm cannot rename itself: 403 for its own firm, 404 for another.
  const rename = { name: '改名' };
  t.is(
    (await call(world.url, 'PUT', '/api/v1/firms/firm-a', { token: world.a.key, body: rename })).status,
    403,
  );
  t.is(
    (await call(world.url, 'PUT', '/api/v1/firms/firm-b', { token: world.a.key, body: rename })).status,
    404,
  );
});

test('the bootstrap ADMIN_TOKEN is the admin beside the keys; a wrong token is 401', async (t) => {
  t.is((await asAdmin('GET', '/api/v1/keys')).status, 200);
  const wrong = await call(world.url, 'GET', '/api/v1/keys', { token: `cwk_${'A'.repeat(43)}` });
  t.is(wrong.status, 401);
  t.is((await call(world.url, 'GET', '/api/v1/keys', { token: null })).status, 401);
});
