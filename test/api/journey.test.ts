import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { parse as parseCsv } from 'csv-parse/sync';
import mqtt from 'mqtt';
import { docClient, type Json, LAT, seedCity, signedReceiver } from '../support/api/journey.ts';
import { offRouteHaulFixes } from '../support/haul-world.ts';
import { call } from '../support/identity-world.ts';
import { ADMIN_TOKEN, eventually, LOOPBACK_WEBHOOKS, startTestPlatform } from '../support/platform.ts';

/**
 * The integrator's journey of issue 4's "done when", over real sockets against the whole platform, using
 * only what the OpenAPI document at /docs/json describes: every request goes to an operation looked up
 * in the document (the step fails if it is missing), and the webhook signature is checked as the
 * operation's description lays it out. The device speaks MQTT with the credentials and topic the API
 * returned. Firm A works through it; firm B, with a key of its own, must see none of it.
 */

/** A date in China Standard Time, as permits are written (YYYY-MM-DD). */
const cstDate = (ms: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(ms);

test('a firm integrator, reading only /docs: device, permit, live stream, signed webhook, evidence, scorecard; another firm sees nothing', async (t) => {
  const tp = await startTestPlatform({
    ...LOOPBACK_WEBHOOKS,
    API_RATE_LIMIT: '0',
    WEBHOOK_RETRY_BASE_MS: '200',
  });
  t.teardown(() => tp.stop());
  const base = tp.httpUrl;

  // ---- the document: every step below goes through an operation it declares ----
  const doc: Json = (await call(base, 'GET', '/docs/json')).json;
  t.truthy(doc?.paths, 'the OpenAPI document');
  const client = docClient(base, doc);
  const { api, ok, sse } = client;

  // ---- the city: origin and disposal sites, a route; firms A and B, a firm key for each ----
  const admin = ADMIN_TOKEN;
  const keyOf = await seedCity(client, admin);
  const A = keyOf['firm-a']!;
  const B = keyOf['firm-b']!;

  // ---- firm A: its truck, its device (credentials shown once), its permit application ----
  await ok(
    api(A, 'POST', '/api/v1/vehicles', { body: { id: 'veh-a1', plate: '皖A·J0001', kind: 'muck_truck' } }),
    201,
    'vehicle',
  );
  const provisioned = await ok(
    api(A, 'POST', '/api/v1/devices', {
      body: { kind: 'muck_truck', vehicle: 'veh-a1', reportIntervalS: 10 },
      headers: { 'idempotency-key': 'provision-veh-a1' },
    }),
    201,
    'device',
  );
  const { username, password } = provisioned.credentials;
  t.is(provisioned.device.firm, 'firm-a');
  // a retry with the same key gets the same credentials, not a second device
  const retried = await api(A, 'POST', '/api/v1/devices', {
    body: { kind: 'muck_truck', vehicle: 'veh-a1', reportIntervalS: 10 },
    headers: { 'idempotency-key': 'provision-veh-a1' },
  });
  t.is(retried.headers.get('idempotent-replayed'), 'true');
  t.is(retried.json.credentials.password, password);

  const day = 86_400_000;
  const permit = await ok(
    api(A, 'POST', '/api/v1/permits', {
      body: {
        id: 'permit-a1',
        firm: 'firm-a',
        vehicles: ['veh-a1'],
        origins: ['site-origin'],
        disposals: ['site-disposal'],
        routes: ['route-main'],
        validFrom: cstDate(Date.now() - day),
        validTo: cstDate(Date.now() + day),
        windows: ['00:00-24:00'],
        cargo: '建筑垃圾',
      },
    }),
    201,
    'permit application',
  );
  t.is(permit.status, 'submitted');

  // ---- the city approves ----
  const approved = await ok(
    api(admin, 'POST', '/api/v1/permits/{id}/status', {
      params: { id: 'permit-a1' },
      body: { status: 'approved' },
    }),
    200,
    'approval',
  );
  t.is(approved.status, 'active', 'approved, within its dates: enforced today');
  const audit = await ok(
    api(A, 'GET', '/api/v1/permits/{id}/audit', { params: { id: 'permit-a1' } }),
    200,
    'audit',
  );
  // who did what, from the firm's own view of the audit trail: it applied, the city (admin token) approved
  t.deepEqual(
    audit.items.map((i: Json) => [i.action, i.to]),
    [
      ['create', 'submitted'],
      ['approve', 'active'],
    ],
  );
  t.is(audit.items[1].actor, 'admin-token');

  // ---- firm A's webhook receiver (node:http), checking every signature ----
  const hook = await signedReceiver(t);
  const { received } = hook;
  const subscription = await ok(
    api(A, 'POST', '/api/v1/webhooks', {
      body: { url: hook.url, events: ['violation.opened', 'violation.closed'] },
      headers: { 'idempotency-key': 'subscribe-1' },
    }),
    201,
    'webhook subscription',
  );
  hook.secret = subscription.secret;

  // ---- live streams: firm A watches its positions; firm B watches everything it may ----
  const liveA = await sse(A, '/api/v1/live/positions');
  const liveB = [
    await sse(B, '/api/v1/live/positions'),
    await sse(B, '/api/v1/live/violations'),
    await sse(B, '/api/v1/live/positions', '?firm=firm-a'),
  ];
  t.teardown(() => {
    for (const s of [liveA, ...liveB]) s.close();
  });

  // ---- the truck drives: 1 min on the route, 3 min 300 m off it, 2 min back on it ----
  const device = await mqtt.connectAsync(tp.mqttUrl, {
    username,
    password,
    clientId: username,
    reconnectPeriod: 0,
  });
  const t0 = Date.now() - 7 * 60_000;
  for (const fix of offRouteHaulFixes(t0, { lat: LAT }))
    await device.publishAsync(provisioned.device.telemetryTopic, JSON.stringify(fix), { qos: 1 });
  await device.endAsync();

  // live: firm A sees its truck
  await liveA.until(() => liveA.events.length >= 36, 'firm A’s 36 positions');
  t.true(liveA.events.every((e) => e.event === 'position' && JSON.parse(e.data).vehicle === 'veh-a1'));
  t.regex(JSON.parse(liveA.events[0]!.data).ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  // the violation, from the API
  const violation: Json = await eventually(async () => {
    const page = await api(A, 'GET', '/api/v1/violations', {
      query: 'vehicle=veh-a1&code=OFF_ROUTE&phase=closed',
    });
    return page.status === 200 ? page.json.items[0] : undefined;
  }, 'the closed OFF_ROUTE violation');
  t.is(violation.firm, 'firm-a');
  t.is(violation.permit, 'permit-a1');
  t.is(violation.startAt, new Date(violation.startTs).toISOString());

  // the signed webhook
  const opened = await eventually(
    () => received.find((r) => r.body.type === 'violation.opened' && r.body.data.code === 'OFF_ROUTE'),
    'the violation.opened webhook',
  );
  t.true(opened.verified, 'the signature verifies');
  t.is(opened.body.data.id, violation.id);
  t.is(opened.body.data.startAt, violation.startAt);
  t.true(received.every((r) => r.verified));
  t.true(received.every((r) => r.body.data.firm === 'firm-a'));

  // ---- the evidence: JSON and GeoJSON, verified by the platform ----
  const evidencePath = '/api/v1/violations/{id}/evidence';
  const json = await eventually(async () => {
    const r = await api(A, 'GET', evidencePath, { params: { id: violation.id } });
    return r.status === 200 ? r : undefined;
  }, 'the evidence package');
  t.regex(String(json.headers.get('repr-digest')), /^sha-256=:[A-Za-z0-9+/]+=*:$/);
  const pkg = json.json;
  t.is(pkg.violation.id, violation.id);
  t.true(pkg.fixes.length >= 18);
  const geo = await api(A, 'GET', evidencePath, {
    params: { id: violation.id },
    headers: { accept: 'application/geo+json' },
  });
  t.is(geo.status, 200);
  t.regex(String(geo.headers.get('content-type')), /^application\/geo\+json/);
  t.is(geo.json.type, 'FeatureCollection');
  t.is(geo.json.properties.sha256, pkg.sha256);
  const route = geo.json.features.find((f: Json) => f.properties.kind === 'route');
  t.is(route.properties.id, 'route-main');
  t.is(typeof route.properties.version, 'number');

  const verdict = await ok(api(A, 'POST', '/api/v1/evidence/verify', { body: pkg }), 200, 'verify');
  t.true(verdict.verified, verdict.reason);
  t.is(verdict.record, 'matches');
  const tampered = structuredClone(pkg);
  tampered.fixes[7].lat += 0.01;
  const refused = await ok(
    api(A, 'POST', '/api/v1/evidence/verify', { body: tampered }),
    200,
    'verify tampered',
  );
  t.false(refused.verified);
  t.not(refused.recomputed, refused.claimed);
  t.deepEqual(
    refused.differences.map((d: Json) => d.pointer),
    ['/fixes/7/lat'],
  );

  // ---- the monthly scorecard ----
  const month = cstDate(violation.startTs).slice(0, 7);
  const card = await ok(
    api(A, 'GET', '/api/v1/scorecards/{firm}', { params: { firm: 'firm-a' }, query: `month=${month}` }),
    200,
    'scorecard',
  );
  t.is(card.firm, 'firm-a');
  t.true(card.violationsByCode.OFF_ROUTE >= 1);
  t.true(card.openViolations >= 1);

  // ---- firm B sees none of it ----
  const none = async (template: string, opts: Parameters<typeof api>[3] = {}) => {
    const r = await api(B, 'GET', template, opts);
    t.is(r.status, 200, `${template}: ${r.text.slice(0, 200)}`);
    t.deepEqual(r.json.items ?? r.json.features, [], `${template} ${opts.query ?? ''}`);
    t.false(r.text.includes('firm-a') || r.text.includes('veh-a1'), `${template}: ${r.text.slice(0, 200)}`);
  };
  await none('/api/v1/violations');
  await none('/api/v1/violations', { query: 'firm=firm-a' });
  await none('/api/v1/trips');
  await none('/api/v1/vehicles');
  await none('/api/v1/devices');
  await none('/api/v1/permits');
  await none('/api/v1/webhooks');
  await none('/api/v1/positions');
  await none('/api/v1/positions', { query: 'firm=firm-a' });
  for (const [template, params] of [
    ['/api/v1/violations/{id}', { id: violation.id }],
    [evidencePath, { id: violation.id }],
    ['/api/v1/permits/{id}', { id: 'permit-a1' }],
    ['/api/v1/vehicles/{id}', { id: 'veh-a1' }],
    ['/api/v1/devices/{id}', { id: username }],
    ['/api/v1/webhooks/{id}', { id: subscription.id }],
    ['/api/v1/scorecards/{firm}', { firm: 'firm-a' }],
  ] as const) {
    const r = await api(B, 'GET', template, {
      params,
      query: template.includes('scorecards') ? `month=${month}` : '',
    });
    t.is(r.status, 404, `${template}: ${r.text.slice(0, 200)}`);
  }
  const peek = await ok(
    api(B, 'POST', '/api/v1/evidence/verify', { body: pkg }),
    200,
    'B verifies A’s package',
  );
  t.is(peek.record, 'unknown', 'B is not told how A’s package compares with the record');
  // nothing reached firm B's streams (the stream starts with comments only)
  t.true(liveB.every((s) => s.events.filter((e) => e.event !== 'reset').length === 0));

  // ---- the audit log: every change above, once, in order, chained; a changed record breaks the chain ----
  const trail: Json = await ok(api(admin, 'GET', '/api/v1/audit', { query: 'limit=1000' }), 200, 'audit log');
  const records = [...trail.items].reverse();
  t.deepEqual(
    records.map((r: Json) => [r.action, r.entityId, r.actor]),
    [
      ['site.create', 'site-origin', 'ADMIN_TOKEN'],
      ['site.create', 'site-disposal', 'ADMIN_TOKEN'],
      ['route.create', 'route-main', 'ADMIN_TOKEN'],
      ['firm.create', 'firm-a', 'ADMIN_TOKEN'],
      ['key.create', records[4]?.entityId, 'ADMIN_TOKEN'],
      ['firm.create', 'firm-b', 'ADMIN_TOKEN'],
      ['key.create', records[6]?.entityId, 'ADMIN_TOKEN'],
      ['vehicle.create', 'veh-a1', 'firm-a dispatch'],
      // the retried provisioning was a replay, not a second change
      ['device.create', username, 'firm-a dispatch'],
      ['permit.create', 'permit-a1', 'firm-a dispatch'],
      ['permit.status', 'permit-a1', 'ADMIN_TOKEN'],
      ['webhook.create', subscription.id, 'firm-a dispatch'],
    ],
    'the evidence checks (POST /evidence/verify) change nothing and are not recorded',
  );
  t.deepEqual(
    records.map((r: Json) => r.seq),
    records.map((_r: Json, i: number) => i + 1),
  );
  for (const r of records) {
    t.regex(r.after, /^sha256:[0-9a-f]{64}$/, r.action);
    t.truthy(r.requestId, r.action);
    t.is(r.ip, '127.0.0.1');
    t.is(r.status, r.action === 'permit.status' ? 200 : 201, r.action);
  }
  const byAction = (action: string) => records.find((r: Json) => r.action === action);
  t.is(byAction('site.create').before, null, 'nothing before a creation');
  t.is(byAction('vehicle.create').role, 'firm');
  t.is(byAction('vehicle.create').firm, 'firm-a');
  t.is(
    byAction('permit.status').before,
    byAction('permit.create').after,
    'the approval started from the application',
  );
  t.not(byAction('permit.status').after, byAction('permit.status').before);
  // filters, and the other firm may not read it
  const permitTrail = await ok(
    api(admin, 'GET', '/api/v1/audit', { query: 'entityKind=permit&entityId=permit-a1' }),
    200,
    'filtered',
  );
  t.deepEqual(
    permitTrail.items.map((r: Json) => r.action),
    ['permit.status', 'permit.create'],
  );
  t.is((await api(B, 'GET', '/api/v1/audit')).status, 403);
  // CSV export: the same records, oldest first
  const csv = await api(admin, 'GET', '/api/v1/audit', { query: 'format=csv' });
  t.is(csv.status, 200);
  t.regex(String(csv.headers.get('content-type')), /^text\/csv/);
  const rows: Array<Record<string, string>> = parseCsv(csv.text, { columns: true });
  t.deepEqual(
    rows.map((r) => [Number(r.seq), r.action, r.hash]),
    records.map((r: Json) => [r.seq, r.action, r.hash]),
  );
  const verified = await ok(api(admin, 'GET', '/api/v1/audit/verify'), 200, 'verify');
  t.deepEqual(verified, {
    valid: true,
    records: records.length,
    head: { seq: records.length, hash: records.at(-1).hash, at: records.at(-1).at },
  });
  // Append-only: SQLite refuses to change a record; with its guard dropped, the change shows.
  const db = new Database(path.join(tp.dataDir, 'audit.sqlite'));
  try {
    t.throws(() => db.prepare("UPDATE audit_log SET actor = 'someone else' WHERE seq = 11").run(), {
      any: true,
      message: /append-only/,
    });
    db.exec('DROP TRIGGER audit_no_update');
    db.prepare("UPDATE audit_log SET actor = 'someone else' WHERE seq = 11").run();
  } finally {
    db.close();
  }
  const broken = await ok(api(admin, 'GET', '/api/v1/audit/verify'), 200, 'verify after tampering');
  t.false(broken.valid);
  t.deepEqual(broken.firstInvalid, { seq: 11, reason: 'hash' });
  t.is(broken.records, 10);
});
