/**
 * Authentication hardening (issue 19): failed bearer authentications throttled per source address and
 * per token prefix while valid keys keep being served; key expiry, rotation with an overlap window and
 * last use noted without a disk write per request. Real sockets for the flood, real SQLite key stores.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { AuthFailureThrottle, addressKey } from '../../api/auth-throttle.ts';
import { SqliteApiKeys } from '../../registry/api-keys.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';
import { call } from '../support/identity-world.ts';
import { ADMIN_TOKEN, startTestPlatform } from '../support/platform.ts';

const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
const ADMIN_TOKEN_OF_TEST_API = AUTH.authorization.slice('Bearer '.length);
const badKey = () => `cwk_${randomBytes(32).toString('base64url')}`;

// ---------------------------------------------------------------------------------------------------
// The throttle itself (pure, controlled clock)

test('throttle: a burst of failures, then one more per 60/perMinute s; per address (IPv6 by /64) and per prefix', (t) => {
  let now = 0;
  const throttle = new AuthFailureThrottle({ perMinute: 6, now: () => now });
  for (let i = 0; i < 6; i++) {
    t.is(throttle.check('192.0.2.1', `tok-${i}`), undefined, `failure ${i + 1} allowed`);
    throttle.fail('192.0.2.1', `tok-${i}`);
  }
  t.deepEqual(throttle.check('192.0.2.1', 'tok-x'), { by: 'address', retryAfterS: 10 });
  t.is(throttle.check('192.0.2.2', 'tok-x'), undefined, 'another address is not throttled');
  now += 9_999;
  t.deepEqual(throttle.check('192.0.2.1', 'tok-x'), { by: 'address', retryAfterS: 1 });
  now += 1;
  t.is(throttle.check('192.0.2.1', 'tok-x'), undefined, 'one failure regained after 10 s');

  // the same prefix from many addresses
  const prefix = 'cwk_ABCD';
  for (let i = 0; i < 6; i++) throttle.fail(`198.51.100.${i}`, `${prefix}${i}rest`);
  t.deepEqual(throttle.check('203.0.113.9', `${prefix}zzzz`), { by: 'prefix', retryAfterS: 10 });
  t.is(throttle.check('203.0.113.9', 'cwk_WXYZzzzz'), undefined);

  // IPv6: one /64 is one client; IPv4-mapped is the IPv4 address
  t.is(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb::2'));
  t.not(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
  t.is(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  for (let i = 0; i < 6; i++) throttle.fail(`2001:db8:9:9::${i + 1}`, undefined);
  t.is(throttle.check('2001:db8:9:9:ffff::1', undefined)?.by, 'address');
});

test('throttle: buckets are bounded; full ones go first, then the oldest', (t) => {
  let now = 0;
  const throttle = new AuthFailureThrottle({ perMinute: 2, maxEntries: 100, now: () => now });
  for (let i = 0; i < 1000; i++) throttle.fail(`10.0.${i >> 8}.${i & 255}`, `p${i}`);
  t.true(throttle.size().addresses <= 100);
  t.true(throttle.size().prefixes <= 100);
  // the most recent one is still counted
  throttle.fail('10.0.3.231', 'p999');
  t.is(throttle.check('10.0.3.231', undefined)?.by, 'address');
  now += 120_000;
  throttle.fail('172.16.0.1', 'q');
  t.true(throttle.size().addresses <= 100);
});

// ---------------------------------------------------------------------------------------------------
// A flood over real sockets

test('a flood of bad tokens is answered 429 with Retry-After while a valid key keeps being served', async (t) => {
  const tp = await startTestPlatform({ API_AUTH_FAILURE_LIMIT: '10', API_RATE_LIMIT: '0' });
  t.teardown(() => tp.stop());
  const url = tp.httpUrl;
  const created = await call(url, 'POST', '/api/v1/keys', {
    token: ADMIN_TOKEN,
    body: { name: 'wall screen', role: 'monitor' },
  });
  t.is(created.status, 201);
  const valid = created.json.secret as string;

  const bad: number[] = [];
  const good: number[] = [];
  let throttled: Awaited<ReturnType<typeof call>> | undefined;
  // 200 bad tokens (keys and other strings) from this address, a valid request after every fifth
  for (let i = 0; i < 200; i++) {
    const token = i % 2 === 0 ? badKey() : `not-a-key-${i}-${randomBytes(8).toString('hex')}`;
    const r = await call(url, 'GET', '/api/v1/positions', { token });
    bad.push(r.status);
    if (r.status === 429) throttled ??= r;
    if (i % 5 === 4) good.push((await call(url, 'GET', '/api/v1/positions', { token: valid })).status);
  }
  t.deepEqual(bad.slice(0, 10), Array(10).fill(401), 'the first 10 failures are plain 401s');
  // a failure is regained every 6 s: over a slow run a few more 401s may slip in, never many
  const refused = bad.filter((s) => s === 429).length;
  t.true(refused >= 150, `429s: ${refused}`);
  t.true(
    bad.every((s) => s === 401 || s === 429),
    JSON.stringify(bad),
  );
  t.deepEqual(good, Array(40).fill(200), 'the valid key is served throughout');
  if (!throttled) throw new Error('no 429');
  t.regex(String(throttled.headers.get('content-type')), /^application\/problem\+json/);
  t.is(throttled.json.type, 'urn:citywatch:problem:authentication-throttled');
  t.regex(throttled.json.detail, /from this address/);
  const retryAfter = Number(throttled.headers.get('retry-after'));
  t.true(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 6, String(retryAfter));
  // While throttled, the admin token is not even compared from this address (API keys still are).
  t.is((await call(url, 'GET', '/api/v1/positions', { token: ADMIN_TOKEN })).status, 429);

  const metrics = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? 'NaN');
  t.is(value(/^citywatch_api_auth_throttled_total\{by="address"\} (\d+)$/m), refused + 1);
  t.is(value(/^citywatch_api_auth_failures_total\{reason="invalid"\} (\d+)$/m), 200 - refused);
});

test('throttle: another address is not held up by a flood from one; the same key prefix from many addresses is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-auth-'));
  const keys = new SqliteApiKeys({ dir });
  const { app } = await testApi(NO_POSITIONS, { keys });
  t.teardown(async () => {
    await app.close();
    keys.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const get = (token: string, remoteAddress: string) =>
    app.inject({ url: '/api/v1/positions', headers: { authorization: `Bearer ${token}` }, remoteAddress });
  for (let i = 0; i < 31; i++) await get(badKey(), '198.51.100.7');
  t.is((await get(badKey(), '198.51.100.7')).statusCode, 429);
  t.is((await get(badKey(), '198.51.100.8')).statusCode, 401, 'another address still gets 401');
  t.is(
    (await get(ADMIN_TOKEN_OF_TEST_API, '198.51.100.8')).statusCode,
    200,
    'and the admin token works there',
  );

  // one prefix, 31 addresses: the 32nd address with that prefix is throttled by prefix
  const prefix = `cwk_${randomBytes(3).toString('base64url')}`;
  for (let i = 0; i < 31; i++)
    await get(`${prefix}${randomBytes(30).toString('base64url')}`, `203.0.113.${i}`);
  const byPrefix = await get(`${prefix}${randomBytes(30).toString('base64url')}`, '203.0.113.200');
  t.is(byPrefix.statusCode, 429);
  t.regex(byPrefix.json().detail, /with this token prefix/);
  const { secret } = keys.create({ name: 'ok', role: 'monitor', createdBy: 'test' });
  t.is((await get(secret, '203.0.113.200')).statusCode, 200);
});

// ---------------------------------------------------------------------------------------------------
// Key lifetimes

interface Rig {
  keys: SqliteApiKeys;
  app: Awaited<ReturnType<typeof testApi>>['app'];
  dir: string;
  clock: { now: number };
}

async function keyRig(t: ExecutionContext): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-keys-'));
  const clock = { now: Date.now() };
  const keys = new SqliteApiKeys({ dir, now: () => clock.now, lastUsedFlushMs: 3_600_000 });
  const { app } = await testApi(NO_POSITIONS, { keys });
  t.teardown(async () => {
    await app.close();
    keys.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { keys, app, dir, clock };
}

const use = (r: Rig, secret: string) =>
  r.app.inject({ url: '/api/v1/positions', headers: { authorization: `Bearer ${secret}` } });

test('expiry: a key works until its expiresAt, then 401 with a problem naming the instant; PATCH extends it', async (t) => {
  const r = await keyRig(t);
  const expiresAt = new Date(r.clock.now + 3_600_000).toISOString();
  const created = await r.app.inject({
    method: 'POST',
    url: '/api/v1/keys',
    headers: AUTH,
    payload: { name: 'contractor', role: 'monitor', expiresAt: expiresAt.replace('Z', '+00:00') },
  });
  t.is(created.statusCode, 201, created.body);
  t.is(created.json().expiresAt, expiresAt);
  const { id, secret } = created.json();
  t.is((await use(r, secret)).statusCode, 200);

  r.clock.now += 3_600_000;
  const expired = await use(r, secret);
  t.is(expired.statusCode, 401);
  const problem = expired.json();
  t.is(problem.type, 'urn:citywatch:problem:key-expired');
  t.is(problem.title, 'API key expired');
  t.is(problem.detail.includes(`The API key ${id} expired at ${expiresAt}`), true, problem.detail);
  t.regex(
    String(expired.headers['www-authenticate']),
    /error="invalid_token", error_description="the key expired"/,
  );

  // the admin extends it (the API checks "in the future" on the wall clock, the store on its own)
  r.clock.now = Date.now();
  const later = new Date(Date.now() + 7_200_000).toISOString();
  const patched = await r.app.inject({
    method: 'PATCH',
    url: `/api/v1/keys/${id}`,
    headers: AUTH,
    payload: { expiresAt: later },
  });
  t.is(patched.statusCode, 200, patched.body);
  t.is(patched.json().expiresAt, later);
  t.is((await use(r, secret)).statusCode, 200);
  const cleared = await r.app.inject({
    method: 'PATCH',
    url: `/api/v1/keys/${id}`,
    headers: AUTH,
    payload: { expiresAt: null },
  });
  t.is(cleared.json().expiresAt, undefined);

  // validation: an instant without a zone, or in the past, is refused naming the field
  for (const bad of ['2030-01-01T00:00:00', '2001-01-01T00:00:00Z']) {
    const res = await r.app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: AUTH,
      payload: { name: 'x', role: 'monitor', expiresAt: bad },
    });
    t.is(res.statusCode, 400, bad);
    t.deepEqual(
      res.json().errors.map((e: { pointer: string }) => e.pointer),
      ['/expiresAt'],
    );
  }
  const empty = await r.app.inject({
    method: 'PATCH',
    url: `/api/v1/keys/${id}`,
    headers: AUTH,
    payload: {},
  });
  t.is(empty.statusCode, 400);
});

test('rotation: the old secret works through the overlap window (Sunset header), then 401 naming the rotation', async (t) => {
  const r = await keyRig(t);
  const { key, secret: first } = r.keys.create({
    name: 'erp',
    role: 'firm',
    firm: 'firm-a',
    createdBy: 'test',
  });
  const rotated = await r.app.inject({
    method: 'POST',
    url: `/api/v1/keys/${key.id}/rotate`,
    headers: AUTH,
    payload: { overlapS: 600 },
  });
  t.is(rotated.statusCode, 200, rotated.body);
  const body = rotated.json();
  const second = body.secret as string;
  t.not(second, first);
  t.is(body.id, key.id, 'same key: id, role, firm stay');
  t.is(body.firm, 'firm-a');
  t.is(body.hint, second.slice(0, 8));
  t.is(body.previousValidUntil, new Date(r.clock.now + 600_000).toISOString());
  t.truthy(body.rotatedAt);

  const old = await use(r, first);
  t.is(old.statusCode, 200, 'the old secret works during the overlap');
  t.is(old.headers.sunset, new Date(body.previousValidUntil).toUTCString());
  const fresh = await use(r, second);
  t.is(fresh.statusCode, 200);
  t.is(fresh.headers.sunset, undefined);

  r.clock.now += 600_000;
  const ended = await use(r, first);
  t.is(ended.statusCode, 401);
  t.is(ended.json().type, 'urn:citywatch:problem:key-rotated');
  t.true(ended.json().detail.includes(`stopped working at ${body.previousValidUntil}`), ended.json().detail);
  t.is((await use(r, second)).statusCode, 200);

  // a second rotation: the secret before ends at once with overlap 0, and the first one is forgotten
  const again = r.keys.rotate(key.id, { overlapMs: 0 });
  t.truthy(again);
  t.is((await use(r, second)).statusCode, 401);
  t.is((await use(r, first)).statusCode, 401);
  t.is((await use(r, again!.secret)).statusCode, 200);
  t.is(r.keys.get(key.id)?.previousValidUntil, undefined);

  // revoked: the rotation is refused (409), and every secret is 401
  r.keys.revoke(key.id);
  const refused = await r.app.inject({
    method: 'POST',
    url: `/api/v1/keys/${key.id}/rotate`,
    headers: AUTH,
    payload: {},
  });
  t.is(refused.statusCode, 409);
  t.is((await use(r, again!.secret)).statusCode, 401);
  const unknown = await r.app.inject({
    method: 'POST',
    url: '/api/v1/keys/key_nope/rotate',
    headers: AUTH,
    payload: {},
  });
  t.is(unknown.statusCode, 404);
});

test('last use: shown to admins at once, written to disk only by the periodic flush (one write for many requests)', async (t) => {
  const r = await keyRig(t);
  const { key, secret } = r.keys.create({ name: 'poller', role: 'monitor', createdBy: 'test' });
  const t1 = r.clock.now;
  for (let i = 0; i < 50; i++) {
    r.clock.now = t1 + i * 1000;
    t.is((await use(r, secret)).statusCode, 200);
  }
  const shown = await r.app.inject({ url: `/api/v1/keys/${key.id}`, headers: AUTH });
  t.is(shown.json().lastUsedAt, new Date(t1 + 49_000).toISOString());
  const onDisk = () => {
    const db = new Database(join(r.dir, 'api-keys.db'), { readonly: true });
    try {
      return (
        db.prepare('SELECT last_used_at FROM api_keys WHERE id = ?').get(key.id) as {
          last_used_at: string | null;
        }
      ).last_used_at;
    } finally {
      db.close();
    }
  };
  t.is(onDisk(), null, 'nothing written per request');
  r.keys.flushLastUsed();
  t.is(onDisk(), new Date(t1 + 49_000).toISOString());
  // an older noted use never moves it back (another process may have written a later one)
  r.clock.now = t1;
  await use(r, secret);
  r.keys.flushLastUsed();
  t.is(onDisk(), new Date(t1 + 49_000).toISOString());
});

test('keys of a version-1 file keep working after the upgrade (columns added in place)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-keys-v1-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = new Database(join(dir, 'api-keys.db'));
  db.exec(`CREATE TABLE api_keys (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL, firm TEXT,
    scopes TEXT NOT NULL, secret_sha256 TEXT NOT NULL UNIQUE, hint TEXT NOT NULL, created_at TEXT NOT NULL,
    created_by TEXT NOT NULL, enabled INTEGER NOT NULL, revoked_at TEXT, last_used_at TEXT) STRICT`);
  const secret = badKey();
  db.prepare(
    `INSERT INTO api_keys VALUES ('key_old', 'old', 'monitor', NULL, '[]', ?, ?, '2026-01-01T00:00:00.000Z', 'admin-token', 1, NULL, NULL)`,
  ).run(createHash('sha256').update(secret).digest('hex'), secret.slice(0, 8));
  db.pragma('user_version = 1');
  db.close();
  const keys = new SqliteApiKeys({ dir });
  t.teardown(() => keys.close());
  t.is(keys.resolve(secret)?.keyId, 'key_old');
  t.truthy(keys.rotate('key_old', { overlapMs: 1000 }));
  t.is(keys.resolve(secret)?.keyId, 'key_old', 'the old secret in its overlap');
});
