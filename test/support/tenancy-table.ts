import type { TenantData, World } from './identity-world.ts';
import { PLAN_TENANCY } from './tenancy-plans.ts';

/**
 * The tenancy matrix: EVERY operation of the OpenAPI document under /api/v1, with the status each kind
 * of key must get. test/api/tenancy.test.ts fails for an operation of the document missing here (so a
 * new route cannot ship without its row), for a row whose operation is gone, and for any answer that
 * differs from its row.
 *
 * A row, keyed `'METHOD /api/v1/path/{param}'` exactly as in the document:
 *   expect: [admin key, monitor key, firm-A key on firm-A's resource, firm-A key on firm-B's resource]
 *   req(target, world): the path parameters, query and body for a target:
 *     'own'     firm-A's resource (used for admin, monitor and firm-A on its own)
 *     'other'   firm-B's resource (firm-A on another firm's); for lists, `?firm=firm-b` where there is
 *               such a filter; for creations, a body naming firm-b
 *     'missing' an id that does not exist: when firm-A on firm-B's resource must be 404, the test also
 *               asks for a missing one and requires the same status, problem type and title, so a firm
 *               key cannot tell another firm's resource from none
 *   It is called once per case, so a case that consumes its resource (delete, rotate) makes a fresh one
 *   with world.fresh.*.
 *   lists: the answer is a list of both firms' items: admin and monitor must see firm-a and firm-b in it,
 *          firm-A only firm-a.
 *   stream: a Server-Sent Events route: only the status is read.
 * Every 2xx answer to firm-A's key is also scanned for firm-B's ids (firm-b, veh-b, dev-b, ...): none
 * may appear.
 */

export type { RouteRequest, RouteSpec, Target } from './tenancy-types.ts';

import type { RouteRequest, RouteSpec, Target } from './tenancy-types.ts';

const MISSING = 'no-such-id';

/** `{id}` = the tenant's existing resource picked from TenantData. */
const byId =
  (
    pick: (d: TenantData) => string,
    extra: (t: Target, w: World) => Omit<RouteRequest, 'params'> = () => ({}),
  ) =>
  (target: Target, w: World): RouteRequest => ({
    params: { id: target === 'missing' ? MISSING : pick(target === 'own' ? w.a : w.b) },
    ...extra(target, w),
  });

/** `{id}` = a fresh resource of the tenant, made for this case alone. */
const freshId =
  (make: (tenant: 'a' | 'b', w: World) => Promise<string>) =>
  async (target: Target, w: World): Promise<RouteRequest> => ({
    params: { id: target === 'missing' ? MISSING : await make(target === 'own' ? 'a' : 'b', w) },
  });

/** A list with a firm filter: firm-A asks for firm-b's items in the 'other' case. */
const firmFilter = (target: Target): RouteRequest =>
  target === 'other' ? { query: { firm: 'firm-b' } } : {};

/** City data (sites, routes, zones): not owned by a firm, so 'other' is the same resource. */
const cityId = (id: string) => (target: Target) => ({ params: { id: target === 'missing' ? MISSING : id } });

/** `{id}` = a device model made for this case by the admin (the shipped one must stay) */
const freshModel =
  (body?: (id: string) => unknown) =>
  async (target: Target, w: World): Promise<RouteRequest> => {
    if (target === 'missing') return { params: { id: MISSING } };
    const id = w.fresh.id('model-x');
    await w.admin('POST', '/api/v1/device-models', { id, cover: { item: 240, bit: 0, set: 'open' } });
    return { params: { id }, ...(body ? { body: body(id) } : {}) };
  };

const FIRM = (t: Target) => (t === 'other' ? 'b' : 'a');

export const TENANCY: Record<string, RouteSpec> = {
  // ---- positions (api/positions.ts) ----
  'GET /api/v1/positions': { expect: [200, 200, 200, 200], req: firmFilter, lists: true },
  'GET /api/v1/vehicles/{id}/position': { expect: [200, 200, 200, 404], req: byId((d) => d.vehicle) },
  'GET /api/v1/vehicles/{id}/track': { expect: [200, 200, 200, 404], req: byId((d) => d.vehicle) },

  // ---- live streams (api/live.ts) ----
  'GET /api/v1/live/positions': { expect: [200, 200, 200, 200], req: firmFilter, stream: true },
  'GET /api/v1/live/violations': { expect: [200, 200, 200, 200], req: firmFilter, stream: true },
  // a ticket names no firm's resource: every key gets one for its own streams (its firm's units only)
  'POST /api/v1/live/tickets': {
    expect: [201, 201, 201, 201],
    req: () => ({ body: { streams: ['positions'] } }),
  },

  // ---- city data: firms read it, only admins change it (api/compliance.ts) ----
  'POST /api/v1/sites': {
    expect: [201, 403, 403, 403],
    req: (_t, w) => ({ body: w.bodies.site(w.fresh.id('site-n')) }),
  },
  'GET /api/v1/sites': { expect: [200, 200, 200, 200] },
  'GET /api/v1/sites/{id}': { expect: [200, 200, 200, 200], req: cityId('site-o') },
  'PUT /api/v1/sites/{id}': {
    expect: [200, 403, 403, 403],
    req: (t, w) => ({ ...cityId('site-o')(t), body: w.bodies.site('site-o') }),
  },
  'DELETE /api/v1/sites/{id}': { expect: [200, 403, 403, 403], req: freshId((_t, w) => w.fresh.site()) },
  'GET /api/v1/sites/{id}/versions': { expect: [200, 200, 200, 200], req: cityId('site-o') },
  'POST /api/v1/routes': {
    expect: [201, 403, 403, 403],
    req: (_t, w) => ({ body: w.bodies.route(w.fresh.id('route-n')) }),
  },
  'GET /api/v1/routes': { expect: [200, 200, 200, 200] },
  'GET /api/v1/routes/{id}': { expect: [200, 200, 200, 200], req: cityId('route-1') },
  'PUT /api/v1/routes/{id}': {
    expect: [200, 403, 403, 403],
    req: (t, w) => ({ ...cityId('route-1')(t), body: w.bodies.route('route-1') }),
  },
  'DELETE /api/v1/routes/{id}': { expect: [200, 403, 403, 403], req: freshId((_t, w) => w.fresh.route()) },
  'GET /api/v1/routes/{id}/versions': { expect: [200, 200, 200, 200], req: cityId('route-1') },
  'POST /api/v1/zones': {
    expect: [201, 403, 403, 403],
    req: (_t, w) => ({ body: w.bodies.zone(w.fresh.id('zone-n')) }),
  },
  'GET /api/v1/zones': { expect: [200, 200, 200, 200] },
  'GET /api/v1/zones/{id}': {
    expect: [200, 200, 200, 200],
    req: async (t, w) => cityId(await w.fresh.zone())(t),
  },
  'PUT /api/v1/zones/{id}': {
    expect: [200, 403, 403, 403],
    req: async (t, w) => {
      const id = await w.fresh.zone();
      return { ...cityId(id)(t), body: w.bodies.zone(id) };
    },
  },
  'DELETE /api/v1/zones/{id}': { expect: [200, 403, 403, 403], req: freshId((_t, w) => w.fresh.zone()) },
  'GET /api/v1/zones/{id}/versions': {
    expect: [200, 200, 200, 200],
    req: async (t, w) => cityId(await w.fresh.zone())(t),
  },
  // ---- plans (api/plans.ts, issue 15): rows in support/tenancy-plans.ts ----
  ...PLAN_TENANCY,

  'GET /api/v1/thresholds': { expect: [200, 200, 200, 200] },
  'PUT /api/v1/thresholds': { expect: [200, 403, 403, 403], req: () => ({ body: { values: {} } }) },
  'GET /api/v1/thresholds/versions': { expect: [200, 200, 200, 200] },

  // ---- permits: a firm applies for and sees its own (api/compliance.ts) ----
  'POST /api/v1/permits': {
    expect: [201, 403, 201, 400],
    req: (t, w) => ({ body: w.bodies.permit(w.fresh.id(`permit-${FIRM(t)}-n`), FIRM(t)) }),
  },
  'GET /api/v1/permits': { expect: [200, 200, 200, 200], req: firmFilter, lists: true },
  'GET /api/v1/permits/{id}': { expect: [200, 200, 200, 404], req: byId((d) => d.permit) },
  'PUT /api/v1/permits/{id}': {
    expect: [200, 403, 200, 404],
    // an application still under review (a firm amends only those); no id in the body, the URL names it
    req: async (t, w) => ({
      ...(await freshId((tenant, w2) => w2.fresh.permit(tenant))(t, w)),
      body: { ...(w.bodies.permit('', FIRM(t)) as object), id: undefined },
    }),
  },
  'GET /api/v1/permits/{id}/versions': { expect: [200, 200, 200, 404], req: byId((d) => d.permit) },
  // approving is the city's: a firm key may only resubmit its own rejected permit
  'POST /api/v1/permits/{id}/status': {
    expect: [200, 403, 403, 404],
    req: async (t, w) => ({
      ...(await freshId((tenant, w2) => w2.fresh.permit(tenant))(t, w)),
      body: { status: 'approved' },
    }),
  },
  'GET /api/v1/permits/{id}/audit': { expect: [200, 200, 200, 404], req: byId((d) => d.permit) },

  // ---- violations, trips, evidence (api/violations.ts) ----
  'GET /api/v1/violations': { expect: [200, 200, 200, 200], req: firmFilter, lists: true },
  'GET /api/v1/violations/{id}': { expect: [200, 200, 200, 404], req: byId((d) => d.violation) },
  'GET /api/v1/violations/{id}/evidence': { expect: [200, 200, 200, 404], req: byId((d) => d.violation) },
  // verifying is pure: any key may check a package it holds; only the comparison with the platform's
  // record is confined to the key's own violations (firm-A sending firm-B's gets record "unknown")
  'POST /api/v1/evidence/verify': {
    expect: [200, 200, 200, 200],
    req: async (t, w) => ({
      body: await w.tp.platform.events.evidence(t === 'other' ? w.b.violation : w.a.violation),
    }),
  },
  'GET /api/v1/trips': { expect: [200, 200, 200, 200], req: firmFilter, lists: true },
  // acknowledging is the city's (admin, monitor); a firm may only dispute its own
  'POST /api/v1/violations/{id}/status': {
    expect: [200, 200, 403, 404],
    req: async (t, w) => ({
      ...(await freshId((tenant, w2) => w2.fresh.violation(tenant))(t, w)),
      body: { status: 'acknowledged' },
    }),
  },
  'GET /api/v1/violations/{id}/audit': { expect: [200, 200, 200, 404], req: byId((d) => d.violation) },

  // ---- monthly firm scorecards (api/scorecards.ts) ----
  'GET /api/v1/scorecards': {
    expect: [200, 200, 200, 200],
    req: () => ({ query: { month: '2026-11' } }),
    lists: true,
  },
  'GET /api/v1/scorecards/{firm}': {
    expect: [200, 200, 200, 404],
    req: (t, w) => ({
      params: { firm: t === 'missing' ? MISSING : t === 'own' ? w.a.firm : w.b.firm },
      query: { month: '2026-11' },
    }),
  },

  // ---- the audit log: admins only (api/audit/) ----
  // ---- the platform's own outages: operators only (api/platform-outages.ts) ----
  'GET /api/v1/platform/outages': { expect: [200, 200, 403, 403] },

  'GET /api/v1/audit': { expect: [200, 403, 403, 403] },
  'GET /api/v1/audit/verify': { expect: [200, 403, 403, 403] },

  // ---- API keys: admins only (api/keys.ts) ----
  'POST /api/v1/keys': {
    expect: [201, 403, 403, 403],
    req: () => ({ body: { name: 'matrix', role: 'monitor' } }),
  },
  'GET /api/v1/keys': { expect: [200, 403, 403, 403] },
  'GET /api/v1/keys/{id}': { expect: [200, 403, 403, 403], req: freshId((_t, w) => w.fresh.key()) },
  'PATCH /api/v1/keys/{id}': {
    expect: [200, 403, 403, 403],
    req: async (t, w) => ({
      ...(await freshId((_t2, w2) => w2.fresh.key())(t, w)),
      body: { enabled: false },
    }),
  },
  'POST /api/v1/keys/{id}/rotate': {
    expect: [200, 403, 403, 403],
    req: async (t, w) => ({
      ...(await freshId((_t2, w2) => w2.fresh.key())(t, w)),
      body: { overlapS: 60 },
    }),
  },
  'DELETE /api/v1/keys/{id}': { expect: [200, 403, 403, 403], req: freshId((_t, w) => w.fresh.key()) },

  // ---- device models (api/device-models.ts): city data, every key reads, only admins change ----
  'POST /api/v1/device-models': {
    expect: [201, 403, 403, 403],
    req: (_t, w) => ({ body: { id: w.fresh.id('model-n'), lift: { item: 241, bit: 0, set: 'up' } } }),
  },
  'GET /api/v1/device-models': { expect: [200, 200, 200, 200] },
  'GET /api/v1/device-models/{id}': { expect: [200, 200, 200, 200], req: cityId('citywatch-muck-1') },
  'PUT /api/v1/device-models/{id}': {
    expect: [200, 403, 403, 403],
    req: freshModel((id) => ({ id, lift: { item: 242, bit: 1, set: 'up' } })),
  },
  'DELETE /api/v1/device-models/{id}': { expect: [200, 403, 403, 403], req: freshModel() },

  // ---- firms (api/firms.ts): the city creates them; a firm sees itself ----
  'POST /api/v1/firms': {
    expect: [201, 403, 403, 403],
    req: (_t, w) => ({ body: { id: w.fresh.id('firm-n'), name: '新运输公司' } }),
  },
  'GET /api/v1/firms': { expect: [200, 200, 200, 200], lists: true },
  'GET /api/v1/firms/{id}': { expect: [200, 200, 200, 404], req: byId((d) => d.firm) },
  'PUT /api/v1/firms/{id}': {
    expect: [200, 403, 403, 404],
    req: byId(
      (d) => d.firm,
      (t) => ({ body: { name: t === 'other' ? '合肥b运输有限公司' : '合肥a运输有限公司' } }),
    ),
  },

  // ---- vehicles (api/vehicles.ts): firms register their own ----
  'POST /api/v1/vehicles': {
    expect: [201, 403, 201, 400],
    req: (t, w) => ({
      body: {
        id: w.fresh.id(`veh-${FIRM(t)}-n`),
        plate: '皖A·99999',
        kind: 'muck_truck',
        firm: `firm-${FIRM(t)}`,
      },
    }),
  },
  'GET /api/v1/vehicles': { expect: [200, 200, 200, 200], req: firmFilter, lists: true },
  'GET /api/v1/vehicles/{id}': { expect: [200, 200, 200, 404], req: byId((d) => d.vehicle) },
  'PUT /api/v1/vehicles/{id}': {
    expect: [200, 403, 200, 404],
    req: byId(
      (d) => d.vehicle,
      () => ({ body: { plate: '皖A·00001', kind: 'muck_truck', ratedLoadT: 31 } }),
    ),
  },
  'DELETE /api/v1/vehicles/{id}': {
    expect: [200, 403, 200, 404],
    req: freshId((t, w) => w.fresh.vehicle(t)),
  },

  // ---- JT/T 808 commands (api/device-commands.ts): the identity world runs without the gateway, and
  // ---- its devices are MQTT devices: a command is a 409 once tenancy and role have passed
  'POST /api/v1/devices/{id}/commands': {
    expect: [409, 403, 409, 404],
    req: byId(
      (d) => d.device,
      () => ({ body: { type: 'location_query' } }),
    ),
  },
  'GET /api/v1/devices/{id}/commands': { expect: [200, 200, 200, 404], req: byId((d) => d.device) },
  'GET /api/v1/devices/{id}/commands/{command}': {
    expect: [404, 404, 404, 404],
    req: (t, w) => ({
      params: { id: t === 'missing' ? MISSING : (t === 'own' ? w.a : w.b).device, command: 'cmd-none' },
    }),
  },

  // ---- officers (api/officers.ts) ----
  'POST /api/v1/officers': {
    expect: [201, 403, 201, 400],
    req: (t, w) => ({
      body: { id: w.fresh.id(`off-${FIRM(t)}-n`), name: '新警员', firm: `firm-${FIRM(t)}` },
    }),
  },
  'GET /api/v1/officers': { expect: [200, 200, 200, 200], req: firmFilter, lists: true },
  'GET /api/v1/officers/{id}': { expect: [200, 200, 200, 404], req: byId((d) => d.officer) },
  'PUT /api/v1/officers/{id}': {
    expect: [200, 403, 200, 404],
    req: byId(
      (d) => d.officer,
      () => ({ body: { name: '警员甲' } }),
    ),
  },
  'DELETE /api/v1/officers/{id}': {
    expect: [200, 403, 200, 404],
    req: freshId((t, w) => w.fresh.officer(t)),
  },

  // ---- devices (api/devices.ts): firms provision their own ----
  'POST /api/v1/devices': {
    expect: [201, 403, 201, 400],
    req: async (t, w) => ({ body: { kind: 'muck_truck', vehicle: await w.fresh.vehicle(FIRM(t)) } }),
  },
  'GET /api/v1/devices': { expect: [200, 200, 200, 200], req: firmFilter, lists: true },
  'GET /api/v1/devices/{id}': { expect: [200, 200, 200, 404], req: byId((d) => d.device) },
  'PATCH /api/v1/devices/{id}': {
    expect: [200, 403, 200, 404],
    req: byId(
      (d) => d.device,
      () => ({ body: { reportIntervalS: 20 } }),
    ),
  },
  'DELETE /api/v1/devices/{id}': { expect: [200, 403, 200, 404], req: freshId((t, w) => w.fresh.device(t)) },
  'POST /api/v1/devices/{id}/rotate': {
    expect: [200, 403, 200, 404],
    req: freshId((t, w) => w.fresh.device(t)),
  },

  // ---- webhooks (api/webhooks/routes.ts): a subscription belongs to the key that made it ----
  // firm-A naming firm-b in `firms` is a 403 naming /firms/0 (the webhook module's choice).
  'POST /api/v1/webhooks': {
    expect: [201, 201, 201, 403],
    req: (t, w) => ({ body: w.bodies.webhook(FIRM(t)) }),
  },
  'GET /api/v1/webhooks': { expect: [200, 200, 200, 200], lists: true },
  'GET /api/v1/webhooks/dead-letters': { expect: [200, 200, 200, 200] },
  'GET /api/v1/webhooks/{id}': { expect: [200, 200, 200, 404], req: byId((d) => d.webhook) },
  'DELETE /api/v1/webhooks/{id}': {
    expect: [200, 403, 200, 404],
    req: freshId((t, w) => w.fresh.webhook(t)),
  },
  // enabling an active subscription changes nothing: the case can run for every key
  'PATCH /api/v1/webhooks/{id}': {
    expect: [200, 403, 200, 404],
    req: byId(
      (d) => d.webhook,
      () => ({ body: { enabled: true } }),
    ),
  },
  'GET /api/v1/webhooks/{id}/deliveries': { expect: [200, 200, 200, 404], req: byId((d) => d.webhook) },
  'GET /api/v1/webhooks/{id}/deliveries/{deliveryId}': {
    expect: [200, 200, 200, 404],
    req: (t, w) => {
      const d = t === 'other' ? w.b : w.a;
      return {
        params: {
          id: t === 'missing' ? MISSING : d.webhook,
          deliveryId: t === 'missing' ? MISSING : d.delivery,
        },
      };
    },
  },
  'POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/replay': {
    expect: [202, 403, 202, 404],
    req: (t, w) => {
      const d = t === 'other' ? w.b : w.a;
      return {
        params: {
          id: t === 'missing' ? MISSING : d.webhook,
          deliveryId: t === 'missing' ? MISSING : d.delivery,
        },
      };
    },
  },
};
