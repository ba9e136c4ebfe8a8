/**
 * The "haul world" several platform tests build: a firm with one muck truck and its device in the
 * registry; an origin site, a disposal site and the straight route between them in the compliance
 * registry; an active permit for the truck valid yesterday..tomorrow, all day, for 建筑垃圾. And the
 * haul that breaks it: a loaded truck that leaves the route by 300 m and comes back (OFF_ROUTE).
 *
 * Every test names its own ids (assertions name them), so they are parameters; the geometry defaults
 * to the common one (lat 31.82, origin at lon 117.2, disposal at lon 117.3).
 */
import { localDate } from '../../geofence/geo/windows.ts';
import type { Platform } from '../../platform/platform.ts';
import { squareAround } from './geometry.ts';
import { connectClient, endClient, publishQos1 } from './platform.ts';

export const M_PER_DEG_LAT = 111_320;
const DAY_MS = 86_400_000;

/** The registries the world goes into: `tp.platform`, or the two opened on a DATA_DIR. */
export type HaulRegistries = Pick<Platform, 'registry' | 'compliance'>;

/** The device's MQTT credentials (the username and client id are the device id). */
export interface HaulDevice {
  device: string;
  secret: string;
}

export interface HaulFleet extends HaulDevice {
  firm: string;
  firmName: string;
  vehicle: string;
  plate: string;
  /** none when omitted */
  ratedLoadT?: number;
}

export interface Named {
  id: string;
  name: string;
}

export interface HaulWorld extends HaulFleet {
  origin: Named;
  disposal: Named;
  route: Named;
  permit: string;
  /** default 31.82 */
  lat?: number;
  /** default 117.2 */
  originLon?: number;
  /** default 117.3 */
  disposalLon?: number;
  /** the permit's state; default active */
  permitState?: 'submitted' | 'active';
}

/** The firm, its muck truck and the truck's device (report interval 10 s). */
export async function seedHaulFleet(registry: HaulRegistries['registry'], f: HaulFleet): Promise<void> {
  registry.upsertFirm({ id: f.firm, name: f.firmName });
  registry.upsertVehicle({
    id: f.vehicle,
    plate: f.plate,
    kind: 'muck_truck',
    firm: f.firm,
    ratedLoadT: f.ratedLoadT,
  });
  await registry.putDevice({
    id: f.device,
    secret: f.secret,
    kind: 'muck_truck',
    vehicle: f.vehicle,
    firm: f.firm,
    reportIntervalS: 10,
  });
}

/** The fleet (the truck rated 18 t unless told) and a permit to load at the origin and tip at the disposal site. */
export async function seedHaulWorld(to: HaulRegistries, w: HaulWorld): Promise<void> {
  const { lat = 31.82, originLon = 117.2, disposalLon = 117.3 } = w;
  await seedHaulFleet(to.registry, { ...w, ratedLoadT: w.ratedLoadT ?? 18 });
  const c = to.compliance;
  const { origin, disposal, route } = w;
  c.put('site', {
    id: origin.id,
    kind: 'origin',
    name: origin.name,
    polygons: [squareAround(originLon, lat)],
  });
  c.put('site', {
    id: disposal.id,
    kind: 'disposal',
    name: disposal.name,
    polygons: [squareAround(disposalLon, lat)],
  });
  c.put('route', {
    id: route.id,
    name: route.name,
    line: [
      [originLon, lat],
      [disposalLon, lat],
    ],
  });
  c.put('permit', {
    id: w.permit,
    firm: w.firm,
    vehicles: [w.vehicle],
    origins: [w.origin.id],
    disposals: [w.disposal.id],
    routes: [w.route.id],
    validFrom: localDate(Date.now() - DAY_MS),
    validTo: localDate(Date.now() + DAY_MS),
    windows: ['00:00-24:00'],
    cargo: '建筑垃圾',
    state: w.permitState ?? 'active',
  });
}

export interface OffRouteShape {
  /** the route's latitude; default 31.82 */
  lat?: number;
  /** the first fix's longitude; default 117.21 (the truck moves 0.0008° east a fix) */
  lon0?: number;
  /** default 36 */
  count?: number;
  /** fixes offFrom .. offTo - 1 are 300 m north of the route; default 6 .. 23 */
  offFrom?: number;
  offTo?: number;
}

/**
 * A loaded truck (speed 29, cover closed), a fix every 10 s from t0. By default 1 min on the route,
 * 3 min 300 m north of it, 2 min back on it: OFF_ROUTE opens at fix 6 and closes at fix 24.
 */
export function offRouteHaulFixes(t0: number, shape: OffRouteShape = {}): Array<Record<string, unknown>> {
  const { lat = 31.82, lon0 = 117.21, count = 36, offFrom = 6, offTo = 24 } = shape;
  const offLat = lat + 300 / M_PER_DEG_LAT;
  const fixes: Array<Record<string, unknown>> = [];
  for (let i = 0; i < count; i++) {
    const off = i >= offFrom && i < offTo;
    fixes.push({
      ts: t0 + i * 10_000,
      lat: off ? offLat : lat,
      lon: lon0 + i * 0.0008,
      speed: 29,
      load: 'full',
      cover: 'closed',
    });
  }
  return fixes;
}

/** Connects as the device, publishes the fixes in order on its telemetry topic (QoS 1), disconnects. */
export async function publishFixes(mqttUrl: string, d: HaulDevice, fixes: readonly object[]): Promise<void> {
  const client = await connectClient(mqttUrl, { username: d.device, password: d.secret, clientId: d.device });
  try {
    for (const fix of fixes) await publishQos1(client, `devices/${d.device}/telemetry`, JSON.stringify(fix));
  } finally {
    await endClient(client);
  }
}
