/**
 * Every API route family once over a real socket against the real platform (startTestPlatform: the
 * SQLite registry, the SQLite API key store, the embedded store, the real health checks), with keys
 * created through POST /keys and resolved by the key store on every request, a device provisioned
 * through the API that speaks MQTT. The inject tests (app.inject with in-memory parts) stay where they
 * check a route's edge cases quickly; this file is where each family meets the real parts.
 *
 *   family                              here                          more over sockets in
 *   vehicles, devices, firms, officers  'registry: ...'               api-identity, api-conventions
 *   sites, routes, zones, permits       'compliance registry: ...'    api-journey
 *   positions, tracks/export            'positions and tracks: ...'   api-positions-export
 *   live streams                        'live: ...'                   api-live
 *   violations, evidence                'violations: ...'             api-journey, compliance-e2e
 *   scorecards                          'scorecards: ...'             api-journey
 *   webhooks                            'webhooks: ...'               api-journey, webhooks
 *   keys                                'keys: ...'                   api-identity
 *   healthz, metrics                    'healthz and metrics: ...'
 */
import test from 'ava';
import mqtt from 'mqtt';
import { squareAround } from '../support/geometry.ts';
import { offRouteHaulFixes } from '../support/haul-world.ts';
import { call, type Reply } from '../support/identity-world.ts';
import { ADMIN_TOKEN, eventually, startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { SseClient } from '../support/sse.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are navigated field by field
type Json = any;

const LAT = 31.83;
const cstDate = (ms: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(ms);

let tp: TestPlatform;
/** secrets of keys made through POST /keys: resolved by the SQLite key store on every request */
const keys = { monitor: '', firm: '' };
let device: { username: string; password: string; topic: string };

const req = (token: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call(tp.httpUrl, method, path, {
    token,
    ...(body === undefined ? {} : { body }),
    ...(headers ? { headers } : {}),
  });

async function ok(reply: Promise<Reply>, status: number, what: string): Promise<Json> {
  const r = await reply;
  if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 400)}`);
  return r.json;
}

test.before(async () => {
  tp = await startTestPlatform({ API_RATE_LIMIT: '0' });
  await ok(
    req(ADMIN_TOKEN, 'POST', '/api/v1/firms', { id: 'firm-rs', name: '实连运输有限公司' }),
    201,
    'firm',
  );
  keys.monitor = (
    await ok(req(ADMIN_TOKEN, 'POST', '/api/v1/keys', { name: 'city monitor', role: 'monitor' }), 201, 'key')
  ).secret;
  keys.firm = (
    await ok(
      req(ADMIN_TOKEN, 'POST', '/api/v1/keys', { name: 'firm dispatch', role: 'firm', firm: 'firm-rs' }),
      201,
      'firm key',
    )
  ).secret;
});
test.after.always(async () => {
  await tp?.stop();
});

test.serial(
  'registry: firms, vehicles, devices and officers through a firm key, stored in SQLite',
  async (t) => {
    const firm = await ok(req(keys.firm, 'GET', '/api/v1/firms/firm-rs'), 200, 'own firm');
    t.is(firm.name, '实连运输有限公司');
    await ok(
      req(keys.firm, 'POST', '/api/v1/vehicles', { id: 'veh-rs1', plate: '皖A·R0001', kind: 'muck_truck' }),
      201,
      'vehicle',
    );
    const created = await ok(
      req(keys.firm, 'POST', '/api/v1/devices', {
        kind: 'muck_truck',
        vehicle: 'veh-rs1',
        reportIntervalS: 10,
      }),
      201,
      'device',
    );
    device = { ...created.credentials, topic: created.device.telemetryTopic };
    t.is(created.device.firm, 'firm-rs', 'a firm key provisions for its own firm');
    const officer = await ok(
      req(keys.firm, 'POST', '/api/v1/officers', { id: 'off-rs1', name: '李警官' }),
      201,
      'officer',
    );
    t.is(officer.firm, 'firm-rs');
    // what was written is in the platform's SQLite registry, not only in the answer
    t.is(tp.platform.registry.vehicle('veh-rs1')?.plate, '皖A·R0001');
    t.is(tp.platform.registry.device(device.username)?.unit, 'veh-rs1');
    t.is(tp.platform.registry.officer(officer.id)?.name, '李警官');
    const lists = await Promise.all(
      ['/api/v1/vehicles', '/api/v1/devices', '/api/v1/officers'].map((p) =>
        ok(req(keys.firm, 'GET', p), 200, p),
      ),
    );
    t.deepEqual(
      lists.map((l) => l.items.length),
      [1, 1, 1],
    );
    // a monitor reads but never writes
    t.is(
      (await req(keys.monitor, 'POST', '/api/v1/officers', { id: 'off-x', name: 'x', firm: 'firm-rs' }))
        .status,
      403,
    );
    t.is((await req(keys.firm, 'DELETE', `/api/v1/officers/${officer.id}`)).status, 200);
    t.is(tp.platform.registry.officer(officer.id), undefined);
  },
);

test.serial(
  'compliance registry: sites, routes, a zone and a permit; the permit workflow to active',
  async (t) => {
    const site = (id: string, lon: number, kind: string) =>
      ok(
        req(ADMIN_TOKEN, 'POST', '/api/v1/sites', {
          type: 'Feature',
          id,
          geometry: { type: 'Polygon', coordinates: squareAround(lon, LAT) },
          properties: { kind, name: id },
        }),
        201,
        id,
      );
    await site('site-rs-o', 117.2, 'origin');
    await site('site-rs-d', 117.3, 'disposal');
    await ok(
      req(ADMIN_TOKEN, 'POST', '/api/v1/routes', {
        type: 'Feature',
        id: 'route-rs',
        geometry: {
          type: 'LineString',
          coordinates: [
            [117.2, LAT],
            [117.3, LAT],
          ],
        },
        properties: { name: '实连线路' },
      }),
      201,
      'route',
    );
    const zone = await ok(
      req(ADMIN_TOKEN, 'POST', '/api/v1/zones', {
        type: 'Feature',
        id: 'zone-rs',
        geometry: { type: 'Polygon', coordinates: squareAround(117.6, 31.5) },
        properties: { kind: 'restricted', name: '学校禁行区', windows: ['07:00-09:00'] },
      }),
      201,
      'zone',
    );
    t.is(zone.properties.kind, 'restricted');
    const zones = await ok(req(keys.monitor, 'GET', '/api/v1/zones'), 200, 'zones');
    t.deepEqual(
      zones.features.map((f: Json) => f.id),
      ['zone-rs'],
    );
    const day = 86_400_000;
    const applied = await ok(
      req(keys.firm, 'POST', '/api/v1/permits', {
        id: 'permit-rs',
        firm: 'firm-rs',
        vehicles: ['veh-rs1'],
        origins: ['site-rs-o'],
        disposals: ['site-rs-d'],
        routes: ['route-rs'],
        validFrom: cstDate(Date.now() - day),
        validTo: cstDate(Date.now() + day),
        windows: ['00:00-24:00'],
        cargo: '建筑垃圾',
      }),
      201,
      'permit',
    );
    t.is(applied.status, 'submitted');
    const active = await ok(
      req(ADMIN_TOKEN, 'POST', '/api/v1/permits/permit-rs/status', { status: 'approved' }),
      200,
      'approve',
    );
    t.is(active.status, 'active');
    t.is(
      tp.platform.compliance.get('permit', 'permit-rs')?.state,
      'approved',
      'in the SQLite compliance registry',
    );
  },
);

test.serial(
  'live: the position stream over a socket carries the device’s fixes as they are stored',
  async (t) => {
    const live = await SseClient.connect(`${tp.httpUrl}/api/v1/live/positions`, {
      authorization: `Bearer ${keys.firm}`,
    });
    t.teardown(() => live.close());
    // the off-route haul: 36 fixes, fixes 6..23 300 m off the corridor
    const client = await mqtt.connectAsync(tp.mqttUrl, {
      username: device.username,
      password: device.password,
      clientId: device.username,
      reconnectPeriod: 0,
    });
    const t0 = Date.now() - 7 * 60_000;
    for (const fix of offRouteHaulFixes(t0, { lat: LAT }))
      await client.publishAsync(device.topic, JSON.stringify(fix), { qos: 1 });
    await client.endAsync();
    await live.until(() => live.events.filter((e) => e.event === 'position').length >= 36, '36 positions');
    t.true(live.events.every((e) => e.event !== 'position' || JSON.parse(e.data).vehicle === 'veh-rs1'));
  },
);

test.serial('positions and tracks: latest position, a track as JSON and as CSV', async (t) => {
  const list = await ok(req(keys.firm, 'GET', '/api/v1/positions'), 200, 'positions');
  t.is(list.items.length, 1);
  t.is(list.items[0].vehicle, 'veh-rs1');
  const latest = await ok(req(keys.monitor, 'GET', '/api/v1/vehicles/veh-rs1/position'), 200, 'position');
  t.is(latest.plate, '皖A·R0001');
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date().toISOString();
  const track = await eventually(async () => {
    const r = await req(keys.firm, 'GET', `/api/v1/vehicles/veh-rs1/track?from=${from}&to=${to}`);
    return r.status === 200 && r.json.items?.length === 36 ? r.json : undefined;
  }, 'the 36 fixes in the store');
  t.is(track.total, 36);
  const csv = await req(keys.firm, 'GET', `/api/v1/vehicles/veh-rs1/track?from=${from}&to=${to}`, undefined, {
    accept: 'text/csv',
  });
  t.is(csv.status, 200);
  t.regex(String(csv.headers.get('content-type')), /^text\/csv/);
  t.is(csv.text.trim().split(/\r?\n/).length, 37, 'a header and 36 rows');
});

test.serial(
  'violations: list, detail, the enforcement workflow and its audit; evidence and its verification',
  async (t) => {
    const violation = await eventually(async () => {
      const r = await req(keys.firm, 'GET', '/api/v1/violations?vehicle=veh-rs1&code=OFF_ROUTE&phase=closed');
      return r.status === 200 ? r.json.items[0] : undefined;
    }, 'the closed OFF_ROUTE violation');
    t.is(violation.permit, 'permit-rs');
    const id = encodeURIComponent(violation.id);
    const detail = await ok(req(keys.monitor, 'GET', `/api/v1/violations/${id}`), 200, 'detail');
    t.deepEqual(
      detail.phases.map((p: Json) => p.phase).filter((p: string) => p !== 'updated'),
      ['opened', 'closed'],
    );
    const acked = await ok(
      req(keys.monitor, 'POST', `/api/v1/violations/${id}/status`, { status: 'acknowledged' }),
      200,
      'acknowledge',
    );
    t.is(acked.status, 'acknowledged');
    const disputed = await ok(
      req(keys.firm, 'POST', `/api/v1/violations/${id}/status`, { status: 'disputed', note: '绕行施工路段' }),
      200,
      'dispute',
    );
    t.is(disputed.status, 'disputed');
    const illegal = await req(keys.monitor, 'POST', `/api/v1/violations/${id}/status`, {
      status: 'acknowledged',
    });
    t.is(illegal.status, 409);
    const audit = await ok(req(keys.monitor, 'GET', `/api/v1/violations/${id}/audit`), 200, 'audit');
    t.deepEqual(
      audit.items.map((i: Json) => i.to),
      ['acknowledged', 'disputed'],
    );

    const pkg = await eventually(async () => {
      const r = await req(keys.firm, 'GET', `/api/v1/violations/${id}/evidence`);
      return r.status === 200 ? r.json : undefined;
    }, 'the evidence package');
    t.is(pkg.violation.id, violation.id);
    const verdict = await ok(req(keys.monitor, 'POST', '/api/v1/evidence/verify', pkg), 200, 'verify');
    t.true(verdict.verified, verdict.reason);
    t.is(verdict.record, 'matches');
  },
);

test.serial('scorecards: the firm’s month over a socket, JSON and CSV', async (t) => {
  const month = cstDate(Date.now() - 7 * 60_000).slice(0, 7);
  const card = await ok(req(keys.firm, 'GET', `/api/v1/scorecards/firm-rs?month=${month}`), 200, 'scorecard');
  t.is(card.firm, 'firm-rs');
  t.true(card.violationsByCode.OFF_ROUTE >= 1);
  const all = await req(keys.monitor, 'GET', `/api/v1/scorecards?month=${month}`, undefined, {
    accept: 'text/csv',
  });
  t.is(all.status, 200);
  t.regex(all.text, /firm-rs/);
});

test.serial('webhooks: a subscription made, listed, its deliveries read, deleted', async (t) => {
  const sub = await ok(
    req(keys.firm, 'POST', '/api/v1/webhooks', {
      url: 'https://receiver.example.com/citywatch',
      events: ['violation.opened'],
    }),
    201,
    'subscription',
  );
  t.regex(sub.secret, /^whsec_/);
  const list = await ok(req(keys.firm, 'GET', '/api/v1/webhooks'), 200, 'list');
  t.deepEqual(
    list.items.map((s: Json) => s.id),
    [sub.id],
  );
  const deliveries = await ok(
    req(keys.firm, 'GET', `/api/v1/webhooks/${sub.id}/deliveries`),
    200,
    'deliveries',
  );
  t.true(Array.isArray(deliveries.items));
  t.is((await req(keys.firm, 'DELETE', `/api/v1/webhooks/${sub.id}`)).status, 200);
  t.is((await req(keys.firm, 'GET', `/api/v1/webhooks/${sub.id}`)).status, 404);
});

test.serial(
  'keys: listed without secrets; a disabled key is refused over the socket until enabled',
  async (t) => {
    const list = await ok(req(ADMIN_TOKEN, 'GET', '/api/v1/keys'), 200, 'keys');
    const firmKey = list.items.find((k: Json) => k.name === 'firm dispatch');
    t.truthy(firmKey);
    t.false(JSON.stringify(list).includes(keys.firm), 'no secret in the list');
    await ok(req(ADMIN_TOKEN, 'PATCH', `/api/v1/keys/${firmKey.id}`, { enabled: false }), 200, 'disable');
    t.is((await req(keys.firm, 'GET', '/api/v1/vehicles')).status, 401);
    await ok(req(ADMIN_TOKEN, 'PATCH', `/api/v1/keys/${firmKey.id}`, { enabled: true }), 200, 'enable');
    t.is((await req(keys.firm, 'GET', '/api/v1/vehicles')).status, 200);
  },
);

test.serial('healthz and metrics: the real components and counters of this platform', async (t) => {
  const res = await fetch(`${tp.httpUrl}/healthz`);
  t.is(res.status, 200);
  const health = (await res.json()) as Json;
  t.is(health.status, 'ok');
  t.like(health.components.store, { state: 'ok', name: 'embedded' });
  t.like(health.components.spool, { state: 'ok', depthFixes: 0 });
  t.is(health.components.spool.limitBytes, 4 * 1024 ** 3);
  t.true(health.components.broker.connections >= 0);
  t.is(health.components.compliance.state, 'ok');
  const metrics = await (
    await fetch(`${tp.httpUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  ).text();
  const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
  t.is(sample('citywatch_ingest_fixes_accepted_total'), 36, 'the haul’s fixes');
  t.true(sample('citywatch_spool_fill_ratio') < 0.001, 'a few KiB of a 4 GiB limit');
  t.true(sample('citywatch_spool_disk_bytes') > 0);
});
