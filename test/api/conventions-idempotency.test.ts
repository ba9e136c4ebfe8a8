/**
 * Idempotency-Key on every POST and PATCH: replays, conflicts, restarts, expiry, the document (their world: test/support/api/conventions.ts).
 */

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../../api/app.ts';
import { fingerprintOf } from '../../api/idempotency/plugin.ts';
import { IdempotencyStore } from '../../api/idempotency/store.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { admin, dataDir, idem, type Json, restartPlatform, setUp, tp } from '../support/api/conventions.ts';
import { ADMIN_TOKEN as FIXTURE_TOKEN, fleetRegistry, OK_HEALTH } from '../support/api-fixtures.ts';
import { call } from '../support/identity-world.ts';
import { as, KEYS } from '../support/role-keys.ts';

setUp();

// ---------------------------------------------------------------------------------------------------
// Idempotency-Key

test.serial(
  'idempotency: a repeat replays the first answer; another body is a 422 naming the header',
  async (t) => {
    const body = { id: 'firm-i', name: '幂等运输公司' };
    const first = await admin('POST', '/api/v1/firms', body, idem('create-firm-i'));
    t.is(first.status, 201, first.text);
    t.is(first.headers.get('idempotent-replayed'), null);
    const again = await admin('POST', '/api/v1/firms', body, idem('create-firm-i'));
    t.is(again.status, 201, 'the first answer, not the 409 a second creation would get');
    t.is(again.text, first.text);
    t.is(again.headers.get('location'), first.headers.get('location'));
    t.is(again.headers.get('idempotent-replayed'), 'true');
    t.not(again.headers.get('x-request-id'), first.headers.get('x-request-id'), 'a request of its own');
    // the draft's quoted form is the same key as the bare one
    const quoted = await admin('POST', '/api/v1/firms', body, idem('"create-firm-i"'));
    t.is(quoted.headers.get('idempotent-replayed'), 'true');
    t.is((await admin('GET', '/api/v1/firms')).json.items.filter((f: Json) => f.id === 'firm-i').length, 1);

    const other = await admin('POST', '/api/v1/firms', { ...body, name: '别的公司' }, idem('create-firm-i'));
    t.is(other.status, 422);
    t.regex(String(other.headers.get('content-type')), /^application\/problem\+json/);
    t.is(other.json.type, 'urn:citywatch:problem:idempotency-key-reused');
    t.deepEqual(
      other.json.errors.map((e: Json) => [e.in, e.pointer]),
      [['headers', '/idempotency-key']],
    );

    // keys are per API key: another key may use the same value for its own request
    const key = (await admin('POST', '/api/v1/keys', { name: 'second admin', role: 'admin' })).json;
    const theirs = await call(tp.httpUrl, 'POST', '/api/v1/firms', {
      token: key.secret,
      body: { id: 'firm-j', name: '另一家' },
      headers: idem('create-firm-i'),
    });
    t.is(theirs.status, 201, theirs.text);
    t.is(theirs.json.id, 'firm-j');
  },
);

test.serial('idempotency: a refused creation (4xx) is replayed too; malformed keys are a 400', async (t) => {
  const dup = { id: 'firm-i', name: 'dup' };
  const first = await admin('POST', '/api/v1/firms', dup, idem('dup-1'));
  t.is(first.status, 409);
  await admin('PUT', '/api/v1/firms/firm-i', { name: '改名' });
  const again = await admin('POST', '/api/v1/firms', dup, idem('dup-1'));
  t.is(again.status, 409);
  t.is(again.headers.get('idempotent-replayed'), 'true');
  t.is(again.json.title, first.json.title);

  for (const bad of ['x'.repeat(256), '"unterminated', 'tab\there', 'caf\u00e9']) {
    const res = await admin('POST', '/api/v1/firms', { id: 'firm-z', name: 'z' }, idem(bad));
    t.is(res.status, 400, `${bad}: ${res.text}`);
    t.deepEqual(res.json.errors[0], {
      in: 'headers',
      pointer: '/idempotency-key',
      message: res.json.errors[0].message,
    });
  }
  t.is((await admin('GET', '/api/v1/firms/firm-z')).status, 404, 'nothing was created');
});

test.serial(
  'idempotency: device credentials are replayed to the same key only, and never stored in clear',
  async (t) => {
    await admin('POST', '/api/v1/vehicles', {
      id: 'veh-i1',
      plate: '皖A·I0001',
      kind: 'muck_truck',
      firm: 'firm-i',
    });
    const body = { kind: 'muck_truck', vehicle: 'veh-i1' };
    const first = await admin('POST', '/api/v1/devices', body, idem('provision-veh-i1'));
    t.is(first.status, 201, first.text);
    const replay = await admin('POST', '/api/v1/devices', body, idem('provision-veh-i1'));
    t.is(replay.headers.get('idempotent-replayed'), 'true');
    t.is(replay.json.credentials.password, first.json.credentials.password);
    t.is((await admin('GET', '/api/v1/devices?vehicle=veh-i1')).json.items.length, 1, 'one device');

    const password = first.json.credentials.password as string;
    // The database file must be there (a missing file fails the test instead of skipping the check);
    // the WAL is read when present (a checkpoint may have folded it into the database).
    const files = ['idempotency.sqlite', 'idempotency.sqlite-wal'].filter(
      (file, i) => i === 0 || existsSync(join(dataDir, file)),
    );
    const bytes = files.map((file) => readFileSync(join(dataDir, file)).toString('latin1')).join('');
    // positive control: the record of this request is in the bytes read (its key is stored in clear)
    t.true(bytes.includes('provision-veh-i1'), `the idempotency record is in ${files.join(' + ')}`);
    t.false(bytes.includes(password), `the secret is in ${files.join(' + ')} in clear`);
  },
);

test.serial(
  'idempotency: while the first request runs, a repeat is a 409; concurrent repeats run once',
  async (t) => {
    // Another process sharing DATA_DIR is in the middle of this request (the store's claim is what it holds).
    const body = { kind: 'muck_truck', vehicle: 'veh-i1' };
    const elsewhere = new IdempotencyStore({ file: join(dataDir, 'idempotency.sqlite') });
    t.teardown(() => elsewhere.close());
    const scope = { principal: 'admin-token', method: 'POST', path: '/api/v1/devices', key: 'busy-1' };
    const claim = elsewhere.begin(scope, fingerprintOf(body), Date.now(), 60_000);
    t.is(claim.kind, 'new');
    const busy = await admin('POST', '/api/v1/devices', body, idem('busy-1'));
    t.is(busy.status, 409, busy.text);
    t.is(busy.json.type, 'urn:citywatch:problem:idempotency-key-in-flight');
    t.is(busy.headers.get('retry-after'), '1');
    if (claim.kind === 'new') elsewhere.abandon(scope, claim.claim);
    t.is(
      (await admin('POST', '/api/v1/devices', body, idem('busy-1'))).status,
      201,
      'free again once abandoned',
    );

    // Five at once with one key: one device is provisioned, whatever each of them was answered.
    await admin('POST', '/api/v1/vehicles', {
      id: 'veh-i2',
      plate: '皖A·I0002',
      kind: 'muck_truck',
      firm: 'firm-i',
    });
    const race = { kind: 'muck_truck', vehicle: 'veh-i2' };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => admin('POST', '/api/v1/devices', race, idem('race-1'))),
    );
    t.true(
      answers.every((a) => a.status === 201 || a.status === 409),
      answers.map((a) => a.status).join(),
    );
    const created = answers.filter((a) => a.status === 201);
    t.true(created.length >= 1);
    t.is(new Set(created.map((a) => a.json.device.id)).size, 1, 'never two devices');
    t.is((await admin('GET', '/api/v1/devices?vehicle=veh-i2')).json.items.length, 1);
  },
);

test.serial('idempotency: recorded answers survive a restart (SQLite in DATA_DIR)', async (t) => {
  const before = await admin(
    'POST',
    '/api/v1/firms',
    { id: 'firm-i', name: '幂等运输公司' },
    idem('create-firm-i'),
  );
  await restartPlatform();
  const after = await admin(
    'POST',
    '/api/v1/firms',
    { id: 'firm-i', name: '幂等运输公司' },
    idem('create-firm-i'),
  );
  t.is(after.status, 201);
  t.is(after.headers.get('idempotent-replayed'), 'true');
  t.is(after.text, before.text);
});

test('idempotency: a record expires after its time; the key may then be used afresh', async (t) => {
  let clock = Date.UTC(2026, 0, 1);
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-idem-ttl-'));
  const registry = new SqliteRegistry({ dir });
  const app = await buildApi(
    {
      adminToken: FIXTURE_TOKEN,
      keys: KEYS,
      positions: { latest: async () => [], latestOf: async () => undefined },
      registry: fleetRegistry(),
      resources: { registry },
      health: async () => OK_HEALTH,
      metrics: new MetricsRegistry(),
    },
    // a clock of the test's own: the record's expiry is reached by moving it, not by waiting
    { idempotencyTtlMs: 60_000, idempotencyNow: () => clock },
  );
  t.teardown(async () => {
    await app.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const post = (body: object) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/firms',
      headers: { ...as('admin'), ...idem('ttl') },
      payload: body,
    });
  t.is((await post({ id: 'f1', name: 'one' })).statusCode, 201);
  t.is((await post({ id: 'f2', name: 'two' })).statusCode, 422);
  clock += 59_999;
  t.is((await post({ id: 'f2', name: 'two' })).statusCode, 422, 'still kept 1 ms before its expiry');
  clock += 1;
  const fresh = await post({ id: 'f2', name: 'two' });
  t.is(fresh.statusCode, 201, fresh.body);
  t.is(fresh.headers['idempotent-replayed'], undefined);
});

test.serial(
  'idempotency: every POST and PATCH operation documents the header and the 409/422 answers',
  async (t) => {
    const doc: Json = (await call(tp.httpUrl, 'GET', '/docs/json')).json;
    const missing: string[] = [];
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const method of ['post', 'patch']) {
        const op = item[method];
        if (!op) continue;
        const header = (op.parameters ?? []).find(
          (p: Json) => p.in === 'header' && p.name === 'idempotency-key',
        );
        if (!header || !op.responses['409'] || !op.responses['422']) missing.push(`${method} ${path}`);
      }
    }
    t.deepEqual(missing, []);
  },
);
