/**
 * The audit log (api/audit/): the hash chain (pure), the append-only SQLite table and what breaks the
 * chain, paging and filters, the CSV export, the rule that every changing route declares what it
 * audits, and the platform's own record when it stops a webhook subscription.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { parse as parseCsv } from 'csv-parse/sync';
import Fastify from 'fastify';
import { canonicalJson, GENESIS_HASH, recordHash, stateDigest, verifyChain } from '../../api/audit/chain.ts';
import { type AuditEntry, AuditLog } from '../../api/audit/log.ts';
import { auditTrail } from '../../api/audit/plugin.ts';
import { AUTH, testApi } from '../support/api-fixtures.ts';
import { adminGet, eventually, LOOPBACK_WEBHOOKS, startTestPlatform } from '../support/platform.ts';

const entry = (n: number, over: Partial<AuditEntry> = {}): AuditEntry => ({
  at: Date.parse('2026-11-22T08:00:00Z') + n * 1000,
  requestId: `req-${n}`,
  actor: n % 2 ? 'firm-a dispatch' : 'ADMIN_TOKEN',
  keyId: n % 2 ? 'key_a' : 'admin-token',
  role: n % 2 ? 'firm' : 'admin',
  firm: n % 2 ? 'firm-a' : undefined,
  ip: '127.0.0.1',
  action: n % 3 ? 'vehicle.replace' : 'permit.status',
  entityKind: n % 3 ? 'vehicle' : 'permit',
  entityId: n % 3 ? `veh-${n % 4}` : 'permit-1',
  before: stateDigest({ n }),
  after: stateDigest({ n: n + 1 }),
  status: 200,
  ...over,
});

function openLog(t: ExecutionContext): { log: AuditLog; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-audit-'));
  const file = join(dir, 'audit.sqlite');
  const log = new AuditLog({ file });
  t.teardown(() => {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log, file };
}

test('chain: canonical JSON and digests do not depend on key order; each hash covers the previous', (t) => {
  t.is(
    canonicalJson({ b: 1, a: [1, { d: null, c: 'x' }], u: undefined }),
    '{"a":[1,{"c":"x","d":null}],"b":1}',
  );
  t.is(stateDigest({ a: 1, b: 2 }), stateDigest({ b: 2, a: 1 }));
  t.not(stateDigest({ a: 1 }), stateDigest({ a: 2 }));
  t.is(stateDigest(undefined), null);
  t.regex(stateDigest({}) ?? '', /^sha256:[0-9a-f]{64}$/);
  const first = {
    seq: 1,
    at: 'x',
    requestId: null,
    actor: 'a',
    keyId: 'k',
    role: 'admin',
    firm: null,
    ip: null,
    action: 'firm.create',
    entityKind: 'firm',
    entityId: 'f',
    before: null,
    after: 'sha256:00',
    status: 201,
    prevHash: GENESIS_HASH,
  };
  const h1 = recordHash(first);
  const second = { ...first, seq: 2, prevHash: h1 };
  const h2 = recordHash(second);
  t.deepEqual(
    verifyChain([
      { ...first, hash: h1 },
      { ...second, hash: h2 },
    ]),
    {
      valid: true,
      records: 2,
      head: { seq: 2, hash: h2, at: 'x' },
    },
  );
  t.not(recordHash({ ...second, prevHash: GENESIS_HASH }), h2, 'the previous hash is covered');
  t.deepEqual(verifyChain([{ ...second, hash: h2 }]).firstInvalid, { seq: 2, reason: 'link' });
  t.deepEqual(verifyChain([]), { valid: true, records: 0 });
});

test('log: append-only in SQLite; a changed, deleted or reordered record breaks the chain at that record', (t) => {
  const { log, file } = openLog(t);
  const appended = [1, 2, 3, 4, 5].map((n) => log.append(entry(n)));
  t.deepEqual(
    appended.map((r) => r.seq),
    [1, 2, 3, 4, 5],
  );
  t.is(appended[0]?.prevHash, GENESIS_HASH);
  t.is(appended[3]?.prevHash, appended[2]?.hash);
  t.deepEqual(log.verify(), {
    valid: true,
    records: 5,
    head: { seq: 5, hash: appended[4]!.hash, at: appended[4]!.at },
  });

  const db = new Database(file);
  t.teardown(() => db.close());
  for (const sql of ["UPDATE audit_log SET actor = 'x' WHERE seq = 2", 'DELETE FROM audit_log WHERE seq = 2'])
    t.throws(() => db.exec(sql), { any: true, message: /append-only/ }, sql);
  t.true(log.verify().valid);

  // with the guards dropped: a deleted record shows as a broken link at the next one
  db.exec('DROP TRIGGER audit_no_delete; DROP TRIGGER audit_no_update');
  db.exec('DELETE FROM audit_log WHERE seq = 3');
  t.deepEqual(log.verify().firstInvalid, { seq: 4, reason: 'link' });
  // a record rewritten with a recomputed hash still breaks the next link
  const row = db.prepare('SELECT * FROM audit_log WHERE seq = 2').get() as Record<string, unknown>;
  t.truthy(row);
  db.exec("UPDATE audit_log SET entity_id = 'veh-9' WHERE seq = 2");
  t.deepEqual(log.verify().firstInvalid, { seq: 2, reason: 'hash' });
  t.is(log.verify().records, 1);
  t.is(log.verify().head?.seq, 1);
});

test('log: newest-first pages with a cursor, filters combined with AND, the export oldest first', (t) => {
  const { log } = openLog(t);
  for (let n = 1; n <= 12; n++) log.append(entry(n));
  const seen: number[] = [];
  let cursor: string | undefined;
  do {
    const page = log.page({ limit: 5, cursor });
    t.true(page.items.length <= 5);
    seen.push(...page.items.map((r) => r.seq));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  t.deepEqual(seen, [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  t.deepEqual(
    log.page({ entityKind: 'permit' }).items.map((r) => r.seq),
    [12, 9, 6, 3],
  );
  t.deepEqual(
    log.page({ keyId: 'key_a', action: 'permit.status' }).items.map((r) => r.seq),
    [9, 3],
  );
  t.deepEqual(
    log.page({ from: '2026-11-22T08:00:05.000Z', to: '2026-11-22T08:00:07.000Z' }).items.map((r) => r.seq),
    [7, 6, 5],
  );
  t.deepEqual(
    [...log.each({ entityId: 'veh-1' }, 2)].map((r) => r.seq),
    [1, 5],
  );
  t.throws(() => log.page({ cursor: 'abc' }), { message: /invalid cursor/ });
});

test('API: admins query and export it; CSV cells that a spreadsheet would run are defused', async (t) => {
  const { log } = openLog(t);
  const { app } = await testApi({ latest: async () => [], latestOf: async () => undefined }, { audit: log });
  t.teardown(() => app.close());
  log.append(entry(1, { actor: '=HYPERLINK("http://x","y")', entityId: 'veh,"quoted"\nline' }));
  log.append(entry(2));
  const page = await app.inject({ url: '/api/v1/audit?limit=1', headers: AUTH });
  t.is(page.statusCode, 200);
  t.is(page.json().items[0].seq, 2);
  t.is(page.json().nextCursor, '2');
  const csv = await app.inject({ url: '/api/v1/audit', headers: { ...AUTH, accept: 'text/csv' } });
  t.is(csv.statusCode, 200);
  t.regex(String(csv.headers['content-type']), /^text\/csv; charset=utf-8/);
  t.regex(String(csv.headers['content-disposition']), /attachment; filename="citywatch-audit\.csv"/);
  const rows: Array<Record<string, string>> = parseCsv(csv.body, { columns: true });
  t.deepEqual(
    rows.map((r) => r.seq),
    ['1', '2'],
  );
  t.is(rows[0]?.actor, `'=HYPERLINK("http://x","y")`);
  t.is(rows[0]?.entityId, 'veh,"quoted"\nline');
  t.true(csv.body.includes('\r\n'));
  const bad = await app.inject({ url: '/api/v1/audit?format=csv&limit=5', headers: AUTH });
  t.is(bad.statusCode, 400);
  t.deepEqual(
    bad.json().errors.map((e: { pointer: string }) => e.pointer),
    ['/limit'],
  );
  const badCursor = await app.inject({ url: '/api/v1/audit?cursor=x', headers: AUTH });
  t.deepEqual(
    badCursor.json().errors.map((e: { pointer: string }) => e.pointer),
    ['/cursor'],
  );
  const verify = await app.inject({ url: '/api/v1/audit/verify', headers: AUTH });
  t.is(verify.json().valid, true);
  t.is(verify.json().records, 2);
});

test('a route that changes state without declaring its audit entity stops the start', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  const log = new AuditLog({ file: ':memory:' });
  t.teardown(() => log.close());
  await t.throwsAsync(
    async () => {
      await app.register(async (scope) => {
        await scope.register(auditTrail, { log, snapshot: () => undefined });
        scope.get('/things', async () => []);
        scope.post('/things', async () => ({}));
      });
      await app.ready();
    },
    { message: /POST \/things changes state but declares no config\.audit/ },
  );
});

test('platform: its own stop of a webhook subscription (410 Gone) is in the audit log', async (t) => {
  const tp = await startTestPlatform({ ...LOOPBACK_WEBHOOKS });
  t.teardown(() => tp.stop());
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(410).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sub = tp.platform.webhooks.createSubscription({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    events: ['violation.opened'],
    ownerKey: 'admin-token',
  });
  tp.platform.webhooks.onViolation({
    phase: 'opened',
    violation: {
      id: 'veh-1:OFF_ROUTE:1',
      code: 'OFF_ROUTE',
      vehicle: 'veh-1',
      firm: 'firm-a',
      startTs: 1,
      level: 0,
      startPos: [117.2, 31.8],
      lastPos: [117.2, 31.8],
      refs: [],
      thresholds: {},
      ruleVersion: 1,
      details: {},
    },
  });
  const record = await eventually(async () => {
    const res = await adminGet(tp, '/api/v1/audit?action=webhook.disabled');
    return res.body.items[0];
  }, 'the platform’s record');
  t.like(record, {
    actor: 'platform',
    keyId: 'platform',
    role: 'system',
    entityKind: 'webhook',
    entityId: sub.id,
    before: null,
  });
  t.regex(record.after, /^sha256:/);
  t.true((await adminGet(tp, '/api/v1/audit/verify')).body.valid);
});
