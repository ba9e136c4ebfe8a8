import { squareFrom } from './geometry.ts';
import type { World } from './identity-world.ts';
import type { RouteRequest, RouteSpec, Target } from './tenancy-types.ts';

/**
 * Tenancy rows of the plans (issue 15, api/plans.ts), spread into the table of tenancy-table.ts:
 * collection points, sweep plans and duty plans belong to a firm (admin writes; a firm key reads its
 * own, another firm's is 404 like a missing one); upload stations are city data (like zones).
 */

type Owned = 'collection-points' | 'sweep-plans' | 'duty-plans';
const FIRM = { a: 'firm-a', b: 'firm-b' } as const;
const MISSING = 'no-such-id';

export function planBody(path: Owned | 'upload-stations', id: string, tenant: 'a' | 'b'): unknown {
  const firm = FIRM[tenant];
  const vehicles = [`veh-${tenant}1`];
  switch (path) {
    case 'collection-points':
      return {
        type: 'Feature',
        id,
        geometry: { type: 'Point', coordinates: [117.21, 31.81] },
        properties: { firm, name: '收运点', windows: ['08:00-08:30'], vehicles },
      };
    case 'sweep-plans':
      return {
        type: 'Feature',
        id,
        geometry: {
          type: 'LineString',
          coordinates: [
            [117.21, 31.81],
            [117.22, 31.81],
          ],
        },
        properties: { firm, name: '清扫', windows: ['06:00-08:00'], vehicles },
      };
    case 'duty-plans':
      return {
        type: 'Feature',
        id,
        geometry: { type: 'Polygon', coordinates: squareFrom(117.25, 31.85) },
        properties: { firm, name: '网格', windows: ['08:00-12:00'], officers: [`off-${tenant}1`] },
      };
    case 'upload-stations':
      return {
        type: 'Feature',
        id,
        geometry: { type: 'Point', coordinates: [117.23, 31.83] },
        properties: { name: '采集站', radiusM: 50 },
      };
  }
}

const made = new Set<string>();

/** The tenant's plan of that kind, made once by the admin (both firms' for lists). */
async function plan(w: World, path: Owned, tenant: 'a' | 'b'): Promise<string> {
  const id = `${path}-${tenant}`;
  if (!made.has(id)) {
    await w.admin('POST', `/api/v1/${path}`, planBody(path, id, tenant));
    made.add(id);
  }
  return id;
}

const own =
  (path: Owned) =>
  async (t: Target, w: World): Promise<RouteRequest> => {
    if (t === 'missing') return { params: { id: MISSING } };
    return { params: { id: await plan(w, path, t === 'own' ? 'a' : 'b') } };
  };

async function station(w: World): Promise<string> {
  if (!made.has('station-1')) {
    await w.admin('POST', '/api/v1/upload-stations', planBody('upload-stations', 'station-1', 'a'));
    made.add('station-1');
  }
  return 'station-1';
}

function ownedRows(path: Owned): Record<string, RouteSpec> {
  const base = `/api/v1/${path}`;
  return {
    [`POST ${base}`]: {
      expect: [201, 403, 403, 403],
      req: (t, w) => ({ body: planBody(path, w.fresh.id(`${path}-n`), t === 'other' ? 'b' : 'a') }),
    },
    [`GET ${base}`]: {
      expect: [200, 200, 200, 200],
      lists: true,
      req: async (_t, w) => {
        await plan(w, path, 'a');
        await plan(w, path, 'b');
        return {};
      },
    },
    [`GET ${base}/{id}`]: { expect: [200, 200, 200, 404], req: own(path) },
    [`PUT ${base}/{id}`]: {
      expect: [200, 403, 403, 403],
      req: async (t, w) => {
        const r = await own(path)(t, w);
        const id = r.params!.id!;
        return { ...r, body: planBody(path, id, t === 'other' ? 'b' : 'a') };
      },
    },
    [`DELETE ${base}/{id}`]: {
      expect: [200, 403, 403, 403],
      req: async (t, w) => {
        if (t === 'missing') return { params: { id: MISSING } };
        const id = w.fresh.id(`${path}-x`);
        await w.admin('POST', base, planBody(path, id, t === 'other' ? 'b' : 'a'));
        return { params: { id } };
      },
    },
    [`GET ${base}/{id}/versions`]: { expect: [200, 200, 200, 404], req: own(path) },
  };
}

/** A fresh incident made by the admin (city data: firm keys have no access, so no 'other'). */
async function incident(w: World): Promise<string> {
  const made = await w.admin('POST', '/api/v1/incidents', { lat: 31.82, lon: 117.231, title: '占道经营' });
  return String((made as { id: string }).id);
}
const incidentId = async (t: Target, w: World): Promise<RouteRequest> => ({
  params: { id: t === 'missing' ? MISSING : await incident(w) },
});

export const PLAN_TENANCY: Record<string, RouteSpec> = {
  // the duty report (api/duty-report.ts): a firm key gets its own plans' rows, asking for another's: none
  'GET /api/v1/reports/duty': {
    expect: [200, 200, 200, 200],
    req: (t) => ({ query: { date: '2026-12-07', ...(t === 'other' ? { firm: 'firm-b' } : {}) } }),
  },
  // the coverage report (api/coverage-report.ts): the same: its own plans' rows, another firm's: none
  'GET /api/v1/reports/coverage': {
    expect: [200, 200, 200, 200],
    req: (t) => ({ query: { date: '2026-12-07', ...(t === 'other' ? { firm: 'firm-b' } : {}) } }),
  },
  // incidents (api/incidents.ts): the admin writes, admin and monitor read, firm keys have no access
  'POST /api/v1/incidents': {
    expect: [201, 403, 403, 403],
    req: () => ({ body: { lat: 31.82, lon: 117.231, title: '渣土撒漏' } }),
  },
  'GET /api/v1/incidents': {
    expect: [200, 200, 403, 403],
    req: async (_t, w) => {
      await incident(w);
      return {};
    },
  },
  'GET /api/v1/incidents/{id}': { expect: [200, 200, 403, 403], req: incidentId },
  'GET /api/v1/incidents/{id}/versions': { expect: [200, 200, 403, 403], req: incidentId },
  // veh-a1 reported a position; each case its own incident (the admin's alone is answered)
  'POST /api/v1/incidents/{id}/assign': {
    expect: [200, 403, 403, 403],
    req: async (t, w) => ({ ...(await incidentId(t, w)), body: { unit: 'veh-a1' } }),
  },
  'POST /api/v1/incidents/{id}/close': {
    expect: [200, 403, 403, 403],
    req: async (t, w) => ({ ...(await incidentId(t, w)), body: {} }),
  },
  // nearest-unit dispatch (api/dispatch.ts): both firms' trucks reported at (117.23, 31.82)
  'GET /api/v1/dispatch/nearest': {
    expect: [200, 200, 200, 200],
    lists: true,
    req: () => ({ query: { lat: '31.8201', lon: '117.2301', limit: '50' } }),
  },
  ...ownedRows('collection-points'),
  ...ownedRows('sweep-plans'),
  ...ownedRows('duty-plans'),
  'POST /api/v1/upload-stations': {
    expect: [201, 403, 403, 403],
    req: (_t, w) => ({ body: planBody('upload-stations', w.fresh.id('station-n'), 'a') }),
  },
  'GET /api/v1/upload-stations': { expect: [200, 200, 200, 200] },
  'GET /api/v1/upload-stations/{id}': {
    expect: [200, 200, 200, 200],
    req: async (t, w) => ({ params: { id: t === 'missing' ? MISSING : await station(w) } }),
  },
  'PUT /api/v1/upload-stations/{id}': {
    expect: [200, 403, 403, 403],
    req: async (t, w) => {
      const id = t === 'missing' ? MISSING : await station(w);
      return { params: { id }, body: planBody('upload-stations', id, 'a') };
    },
  },
  'DELETE /api/v1/upload-stations/{id}': {
    expect: [200, 403, 403, 403],
    req: async (t, w) => {
      if (t === 'missing') return { params: { id: MISSING } };
      const id = w.fresh.id('station-x');
      await w.admin('POST', '/api/v1/upload-stations', planBody('upload-stations', id, 'a'));
      return { params: { id } };
    },
  },
  'GET /api/v1/upload-stations/{id}/versions': {
    expect: [200, 200, 200, 200],
    req: async (t, w) => ({ params: { id: t === 'missing' ? MISSING : await station(w) } }),
  },
};
