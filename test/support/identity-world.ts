import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildEvidence } from '../../geofence/evidence.ts';
import type { Violation } from '../../geofence/types.ts';
import { squareFrom } from './geometry.ts';
import {
  ADMIN_TOKEN,
  connectClient,
  endClient,
  eventually,
  LOOPBACK_WEBHOOKS,
  publishQos1,
  startTestPlatform,
  type TestPlatform,
} from './platform.ts';

/**
 * A whole platform (real sockets, the embedded broker) with two tenants built through the API itself:
 * firm-a and firm-b, each with a key, a vehicle, a device that has reported a position over MQTT, an
 * officer, a permit, a violation with its evidence, a trip and a webhook subscription with a delivery;
 * plus an admin key and a monitor key. Used by the identity and tenancy tests.
 */

/** Parsed JSON bodies are navigated by the tests' assertions, which check their shape as they go. */
// biome-ignore lint/suspicious/noExplicitAny: see above
type Json = any;

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** the parsed body, when it is JSON */
  json: Json;
}

export interface CallOptions {
  /** a bearer token; none when null */
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  /** read only the status and headers, then hang up (Server-Sent Events) */
  stream?: boolean;
}

/** One HTTP request over a real socket. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== null && opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    signal: controller.signal,
  });
  if (opts.stream) {
    controller.abort();
    return { status: res.status, headers: res.headers, text: '', json: undefined };
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export type Tenant = 'a' | 'b';
const FIRM = { a: 'firm-a', b: 'firm-b' } as const;

export interface TenantData {
  firm: string;
  key: string;
  keyId: string;
  vehicle: string;
  device: string;
  deviceSecret: string;
  officer: string;
  permit: string;
  violation: string;
  trip: string;
  webhook: string;
  delivery: string;
}

export interface World {
  tp: TestPlatform;
  url: string;
  adminKey: string;
  adminKeyId: string;
  monitorKey: string;
  monitorKeyId: string;
  a: TenantData;
  b: TenantData;
  /** a request as the ADMIN_TOKEN that must succeed (set-up); returns the JSON body */
  admin(method: string, path: string, body?: unknown): Promise<Json>;
  /** fresh resources for cases that consume them (delete, rotate) */
  fresh: {
    vehicle(tenant: Tenant): Promise<string>;
    device(tenant: Tenant): Promise<string>;
    officer(tenant: Tenant): Promise<string>;
    site(): Promise<string>;
    route(): Promise<string>;
    zone(): Promise<string>;
    key(): Promise<string>;
    webhook(tenant: Tenant): Promise<string>;
    /** an ongoing violation of the tenant's vehicle, as the engine records it (enforcement status open) */
    violation(tenant: Tenant): Promise<string>;
    /** a permit the tenant's key applied for (status submitted) */
    permit(tenant: Tenant): Promise<string>;
    /** a new id never used */
    id(prefix: string): string;
  };
  /** bodies for create and update calls */
  bodies: {
    site(id: string): unknown;
    route(id: string): unknown;
    zone(id: string): unknown;
    permit(id: string, tenant: Tenant): unknown;
    webhook(tenant: Tenant): unknown;
  };
  close(): Promise<void>;
}

export async function buildWorld(env: Record<string, string> = {}): Promise<World> {
  const tp = await startTestPlatform({ API_RATE_LIMIT: '0', ...LOOPBACK_WEBHOOKS, ...env });
  const url = tp.httpUrl;
  let seq = 0;
  const id = (prefix: string) => `${prefix}-${++seq}`;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await call(url, method, path, { token: ADMIN_TOKEN, body });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    return res.json;
  };
  const newKey = async (body: object) => {
    const k = await admin('POST', '/api/v1/keys', body);
    return { secret: k.secret as string, id: k.id as string };
  };

  // A receiver for webhook deliveries: answers 200 to everything.
  const hooks: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;

  const bodies: World['bodies'] = {
    site: (sid) => ({
      type: 'Feature',
      id: sid,
      geometry: { type: 'Polygon', coordinates: squareFrom(117.2, 31.8) },
      properties: { kind: 'origin', name: sid },
    }),
    route: (rid) => ({
      type: 'Feature',
      id: rid,
      geometry: {
        type: 'LineString',
        coordinates: [
          [117.2025, 31.8025],
          [117.3025, 31.8525],
        ],
      },
      properties: { name: rid },
    }),
    zone: (zid) => ({
      type: 'Feature',
      id: zid,
      geometry: { type: 'Polygon', coordinates: squareFrom(117.25, 31.83) },
      properties: { kind: 'restricted', name: zid, windows: ['07:00-09:00'] },
    }),
    permit: (pid, tenant) => ({
      id: pid,
      firm: FIRM[tenant],
      vehicles: [`veh-${tenant}1`],
      origins: ['site-o'],
      disposals: ['site-d'],
      routes: ['route-1'],
      validFrom: '2026-11-01',
      validTo: '2026-11-30',
      windows: ['22:00-06:00'],
      cargo: '建筑垃圾',
    }),
    webhook: (tenant) => ({ url: hookUrl, events: ['violation.opened'], firms: [FIRM[tenant]] }),
  };

  await admin('POST', '/api/v1/sites', bodies.site('site-o'));
  await admin('POST', '/api/v1/sites', {
    ...(bodies.site('site-d') as object),
    geometry: { type: 'Polygon', coordinates: squareFrom(117.3, 31.85) },
    properties: { kind: 'disposal', name: 'site-d' },
  });
  await admin('POST', '/api/v1/routes', bodies.route('route-1'));

  const adminKey = await newKey({ name: 'city admin', role: 'admin' });
  const monitorKey = await newKey({ name: 'command centre', role: 'monitor' });
  const keys = {} as Record<Tenant, { secret: string; id: string }>;
  for (const tenant of ['a', 'b'] as const) {
    await admin('POST', '/api/v1/firms', { id: FIRM[tenant], name: `合肥${tenant}运输有限公司` });
    keys[tenant] = await newKey({ name: `${FIRM[tenant]} dispatch`, role: 'firm', firm: FIRM[tenant] });
  }

  const violationOf = (tenant: Tenant, startTs: number): Violation => ({
    id: `veh-${tenant}1:OFF_ROUTE:${startTs}`,
    code: 'OFF_ROUTE',
    vehicle: `veh-${tenant}1`,
    firm: FIRM[tenant],
    permit: `permit-${tenant}`,
    startTs,
    level: 0,
    startPos: [117.22, 31.807],
    lastPos: [117.23, 31.808],
    refs: [{ kind: 'thresholds', id: 'city', version: 1 }],
    thresholds: { offRouteMinMs: 60_000 },
    ruleVersion: 1,
    details: {},
  });
  const T = Date.parse('2026-11-20T15:00:00Z');

  const fresh: World['fresh'] = {
    id,
    violation: async (tenant) => {
      const violation = violationOf(tenant, T + ++seq * 1000);
      await tp.platform.events.recordViolation({ phase: 'opened', violation });
      return violation.id;
    },
    vehicle: async (tenant) => {
      const vid = id(`veh-${tenant}-x`);
      await admin('POST', '/api/v1/vehicles', {
        id: vid,
        plate: `皖${tenant.toUpperCase()}·${seq}`,
        kind: 'muck_truck',
        firm: FIRM[tenant],
      });
      return vid;
    },
    device: async (tenant) => {
      const vehicle = await fresh.vehicle(tenant);
      const did = id(`dev-${tenant}-x`);
      await admin('POST', '/api/v1/devices', { id: did, kind: 'muck_truck', vehicle });
      return did;
    },
    officer: async (tenant) => {
      const oid = id(`off-${tenant}-x`);
      await admin('POST', '/api/v1/officers', { id: oid, name: `警员${seq}`, firm: FIRM[tenant] });
      return oid;
    },
    site: async () => (await admin('POST', '/api/v1/sites', bodies.site(id('site-x')))).id,
    route: async () => (await admin('POST', '/api/v1/routes', bodies.route(id('route-x')))).id,
    zone: async () => (await admin('POST', '/api/v1/zones', bodies.zone(id('zone-x')))).id,
    key: async () => (await newKey({ name: id('spare'), role: 'monitor' })).id,
    permit: async (tenant) => {
      // applied for by the firm's own key, so it waits in 'submitted' for the city's decision
      const body = bodies.permit(id(`permit-${tenant}-x`), tenant);
      const res = await call(url, 'POST', '/api/v1/permits', { token: keys[tenant].secret, body });
      if (res.status !== 201) throw new Error(`permit: ${res.status} ${res.text}`);
      return res.json.id as string;
    },
    webhook: async (tenant) => {
      const res = await call(url, 'POST', '/api/v1/webhooks', {
        token: keys[tenant].secret,
        body: bodies.webhook(tenant),
      });
      if (res.status !== 201) throw new Error(`webhook: ${res.status} ${res.text}`);
      return res.json.id as string;
    },
  };

  const tenants = {} as Record<Tenant, TenantData>;
  for (const tenant of ['a', 'b'] as const) {
    const firm = FIRM[tenant];
    const vehicle = `veh-${tenant}1`;
    await admin('POST', '/api/v1/vehicles', {
      id: vehicle,
      plate: `皖${tenant.toUpperCase()}·00001`,
      kind: 'muck_truck',
      firm,
      ratedLoadT: 31,
    });
    const provisioned = await admin('POST', '/api/v1/devices', {
      id: `dev-${tenant}1`,
      kind: 'muck_truck',
      vehicle,
    });
    const officer = `off-${tenant}1`;
    await admin('POST', '/api/v1/officers', { id: officer, name: `警员${tenant}`, firm });
    const permit = `permit-${tenant}`;
    await admin('POST', '/api/v1/permits', bodies.permit(permit, tenant));

    // A position reported over MQTT by the device, with the credentials the API returned.
    const client = await connectClient(tp.mqttUrl, {
      username: provisioned.credentials.username,
      password: provisioned.credentials.password,
    });
    await publishQos1(
      client,
      `devices/dev-${tenant}1/telemetry`,
      JSON.stringify({ ts: Date.now() - 1000, lat: 31.82, lon: 117.23, speed: 20 }),
    );
    await endClient(client);
    await eventually(async () => {
      const res = await call(url, 'GET', `/api/v1/vehicles/${vehicle}/position`, { token: ADMIN_TOKEN });
      return res.status === 200 ? true : undefined;
    }, `position of ${vehicle}`);

    // A closed violation with its sealed evidence, and a trip, as the compliance engine stores them.
    const violation: Violation = { ...violationOf(tenant, T), endTs: T + 120_000, durationMs: 120_000 };
    const { endTs: _e, durationMs: _d, ...opened } = violation;
    await tp.platform.events.recordViolations([
      { phase: 'opened', violation: opened },
      { phase: 'closed', violation },
    ]);
    await tp.platform.events.putEvidence(
      buildEvidence(violation, [], tp.platform.complianceService.currentWorld()),
    );
    const trip = `${vehicle}:trip:${T}`;
    await tp.platform.events.recordTrip({
      kind: 'started',
      trip: {
        id: trip,
        vehicle,
        firm,
        permit,
        originSite: 'site-o',
        originVersion: 1,
        startTs: T,
        startPos: [117.2, 31.8],
        loadTrigger: 'load',
      },
    });

    // A webhook subscription of the firm's key, and one delivery to it.
    const webhook = await fresh.webhook(tenant);
    tp.platform.webhooks.onViolation({ phase: 'opened', violation: opened });
    const delivery = await eventually(() => {
      const page = tp.platform.webhooks.store.deliveries(webhook, { limit: 10 });
      return page.items[0]?.id;
    }, `a webhook delivery for ${firm}`);

    tenants[tenant] = {
      firm,
      key: keys[tenant].secret,
      keyId: keys[tenant].id,
      vehicle,
      device: `dev-${tenant}1`,
      deviceSecret: provisioned.credentials.password,
      officer,
      permit,
      violation: violation.id,
      trip,
      webhook,
      delivery,
    };
  }

  return {
    tp,
    url,
    adminKey: adminKey.secret,
    adminKeyId: adminKey.id,
    monitorKey: monitorKey.secret,
    monitorKeyId: monitorKey.id,
    a: tenants.a,
    b: tenants.b,
    admin,
    fresh,
    bodies,
    async close() {
      await tp.stop();
      await new Promise<void>((resolve) => hooks.close(() => resolve()));
    },
  };
}
