import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry as MetricsRegistry } from 'prom-client';
import { type ApiDeps, buildApi } from '../../api/app.ts';
import type { HealthReport } from '../../api/schemas.ts';
import type { Fix } from '../../core/fix.ts';
import type { Device, Firm, Vehicle } from '../../registry/types.ts';
import { EmbeddedStore } from '../../store/embedded.ts';

/** Helpers for the API tests: a small fleet in a real embedded store, and a registry view of it. */

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
export const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

export const T0 = Date.parse('2026-11-22T08:00:00Z');

export const FIRMS: Firm[] = [
  { id: 'firm-a', name: '合肥甲运输有限公司' },
  { id: 'firm-b', name: '合肥乙运输有限公司' },
  { id: 'dept-1', name: '蜀山区城管局' },
];

export const VEHICLES: Vehicle[] = [
  { id: 'veh-1', plate: '皖A·10001', kind: 'muck_truck', firm: 'firm-a', ratedLoadT: 18 },
  { id: 'veh-2', plate: '皖A·10002', kind: 'muck_truck', firm: 'firm-b', ratedLoadT: 31 },
  { id: 'veh-s1', plate: '皖A·20001', kind: 'sanitation', firm: 'firm-a' },
  /** registered, never reported */
  { id: 'veh-silent', plate: '皖A·30001', kind: 'muck_truck', firm: 'firm-a' },
];

export const DEVICES: Device[] = [
  { id: 'dev-1', kind: 'muck_truck', unit: 'veh-1', firm: 'firm-a', reportIntervalS: 10, enabled: true },
  { id: 'dev-2', kind: 'muck_truck', unit: 'veh-2', firm: 'firm-b', reportIntervalS: 10, enabled: true },
  { id: 'dev-s1', kind: 'sanitation', unit: 'veh-s1', firm: 'firm-a', reportIntervalS: 10, enabled: true },
  {
    id: 'cam-1',
    kind: 'body_camera',
    unit: 'cam-1',
    firm: 'dept-1',
    officer: 'off-1',
    reportIntervalS: 15,
    enabled: true,
  },
  {
    id: 'dev-silent',
    kind: 'muck_truck',
    unit: 'veh-silent',
    firm: 'firm-a',
    reportIntervalS: 10,
    enabled: true,
  },
];

/** A registry view over the fixed fleet above (the API only reads it). */
export function fleetRegistry(): ApiDeps['registry'] {
  const firms = new Map(FIRMS.map((f) => [f.id, f]));
  const vehicles = new Map(VEHICLES.map((v) => [v.id, v]));
  const devices = new Map(DEVICES.map((d) => [d.id, d]));
  return {
    firm: (id) => firms.get(id),
    vehicle: (id) => vehicles.get(id),
    device: (id) => devices.get(id),
    vehicles: () => [...vehicles.values()],
    devices: () => [...devices.values()],
  };
}

function fix(over: Partial<Fix> & Pick<Fix, 'vehicle' | 'device' | 'kind' | 'firm' | 'ts'>): Fix {
  return {
    received: over.ts + 800,
    lat: 31.82,
    lon: 117.23,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ...over,
  };
}

/** Fixes of the fleet: several per unit; the latest of each is the last one listed for it by ts. */
export function fleetFixes(): Fix[] {
  const t1 = { vehicle: 'veh-1', device: 'dev-1', kind: 'muck_truck', firm: 'firm-a' } as const;
  const t2 = { vehicle: 'veh-2', device: 'dev-2', kind: 'muck_truck', firm: 'firm-b' } as const;
  const s1 = { vehicle: 'veh-s1', device: 'dev-s1', kind: 'sanitation', firm: 'firm-a' } as const;
  const c1 = { vehicle: 'cam-1', device: 'cam-1', kind: 'body_camera', firm: 'dept-1' } as const;
  return [
    fix({ ...t1, ts: T0, speed: 20, load: 'empty' }),
    fix({
      ...t1,
      ts: T0 + 10_000,
      lat: 31.8211,
      lon: 117.2311,
      speed: 32.5,
      heading: 90,
      alt: 30,
      sats: 12,
      accuracy: 5,
      ign: true,
      load: 'full',
      weight: 17.5,
      cover: 'closed',
      lift: 'down',
      doors: 'closed',
    }),
    fix({ ...t2, ts: T0 + 5_000, lat: 31.9, lon: 117.3, speed: 0, load: 'half', crsIn: 'GCJ02' }),
    fix({ ...s1, ts: T0 + 7_000, speed: 8, task: 'sweeping', brush: true, binLifts: 12, weight: 2.1 }),
    fix({
      ...c1,
      ts: T0 + 3_000,
      recording: true,
      battery: 81,
      storageFree: 20480,
      officer: 'off-1',
      sos: false,
    }),
  ];
}

/** Backfill of veh-1 from before its latest fix (arrives last; must not become the latest). */
export function lateFix(): Fix {
  return fix({
    vehicle: 'veh-1',
    device: 'dev-1',
    kind: 'muck_truck',
    firm: 'firm-a',
    ts: T0 + 2_000,
    received: T0 + 60_000,
    late: true,
    speed: 99,
  });
}

export interface TestStore {
  store: EmbeddedStore;
  dir: string;
  cleanup(): Promise<void>;
}

/** A real embedded store in a fresh temporary directory, with the fleet's fixes written. */
export async function seededStore(): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), 'citywatch-api-'));
  const store = new EmbeddedStore({ dir });
  await store.open();
  await store.writeFixes(fleetFixes());
  await store.writeFixes([lateFix()]);
  return {
    store,
    dir,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const OK_HEALTH: HealthReport = {
  status: 'ok',
  components: {
    broker: { state: 'ok', connections: { device: 3, service: 1 } },
    store: { state: 'ok', name: 'embedded', ok: true },
    spool: { state: 'ok', depthFixes: 0, depthBytes: 0 },
  },
};

/** buildApi with test defaults: the fleet registry, an ok health report and a fresh metrics registry. */
export async function testApi(
  positions: ApiDeps['positions'],
  over: Partial<ApiDeps> = {},
): Promise<{ app: FastifyInstance; metrics: MetricsRegistry }> {
  const metrics = new MetricsRegistry();
  const app = await buildApi({
    adminToken: ADMIN_TOKEN,
    positions,
    registry: fleetRegistry(),
    health: async () => OK_HEALTH,
    metrics,
    ...over,
  });
  return { app, metrics };
}
