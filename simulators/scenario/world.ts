import { localDate, localMsOfDay } from '../../geofence/geo/windows.ts';
import type { Permit, PolygonCoords, Route, Site, Thresholds, Zone } from '../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import { SHIPPED_MODEL } from '../../registry/device-models.ts';
import type { Firm, NewDevice, Officer, Vehicle } from '../../registry/types.ts';
import { DEFAULT_INTERVAL_S } from '../demo/registry.ts';
import { buildPlans, type PlanRole, type SimPlans } from '../plans/world.ts';
import { centroidOf, edgeDistanceM, inAnyPolygon, toLatLon } from '../shared/geo.ts';
import { phoneForDevice } from '../shared/jt808-fix.ts';
import { createRng, hashString } from '../shared/rng.ts';
import { blockLoop, type LatLon, offsetM, Polyline, patrolLoop } from '../shared/tracks.ts';
import type { ScenarioFile, ScenarioInjection } from './file-schema.ts';
import type { VehicleLevelType } from './injection-types.ts';

/**
 * A scenario file made concrete for one run: the entities to provision (registry and compliance), and
 * what the simulator drives on (each muck truck's haul, each sweeper's round, each officer's patrol).
 * Pure and deterministic in (scenario, start, duration, seed, injections).
 *
 * What the run changes in the world (the vehicle-level injections):
 * - NO_PERMIT: the truck is taken off every permit (it still hauls its usual haul);
 * - OFF_HOURS: the truck is taken off its permits and gets its own permit, same sites and route, whose
 *   only window is one hour that the run never reaches (it starts ceil(duration) + 1 h after the start's
 *   local hour), so every loaded drive of the run is out of hours. Needs a run of at most 22 h.
 * - REVOKE: the truck is taken off its permits and gets its own permit (`<permit>-revoke-<vehicle>`, the
 *   same sites, route and hours) that the run revokes through the API while the truck hauls loaded
 *   (fleet-sim.ts decides when; the ground truth then holds its loaded movement as NO_PERMIT).
 * Permit dates left out of the file default to 30 days either side of the start (local dates).
 */

export interface Haul {
  route: Route;
  /** the line the truck drives: origin first, into the sites when the route stops at their edge */
  line: Polyline;
  origin: Site;
  disposal: Site;
}

export interface SimWorld {
  name: string;
  startTs: number;
  durationMs: number;
  thresholds: Thresholds;
  firms: Firm[];
  officers: Officer[];
  vehicles: Vehicle[];
  /** with their plain secrets and report intervals */
  devices: NewDevice[];
  sites: Site[];
  routes: Route[];
  zones: Zone[];
  /** active permits, version 1 */
  permits: Permit[];
  hauls: Map<string, Haul>;
  rounds: Map<string, Polyline>;
  patrols: Map<string, Polyline>;
  /** the plans of issue 15 to provision (windows resolved for this run) */
  plans: SimPlans;
  /** what each unit a plan names does in the run (collection round, sweeping, patrol) */
  roles: Map<string, PlanRole>;
  /** vehicles whose permits the run changed, and how */
  vehicleInjections: Map<string, VehicleLevelType>;
  /** REVOKE: the permit of each such vehicle that the run revokes */
  revocable: Map<string, string>;
}

export interface WorldOptions {
  startTs: number;
  durationMs: number;
  seed: number;
  /** the run's injections (file and command line together) */
  injections: readonly ScenarioInjection[];
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const pad = (n: number): string => String(n).padStart(2, '0');

/** One local hour the run never reaches: ceil(duration) + 1 h after the start's local hour. */
export function unreachedWindow(startTs: number, durationMs: number): string {
  const span = Math.ceil(durationMs / HOUR_MS) + 1;
  if (span > 23)
    throw new RangeError('OFF_HOURS needs a run of at most 22 h (its permit window lies outside the run)');
  const h = (Math.floor(localMsOfDay(startTs) / HOUR_MS) + span) % 24;
  return `${pad(h)}:00-${pad((h + 1) % 24)}:00`;
}

const polygonsOf = (g: ScenarioFile['sites'][number]['geometry']): PolygonCoords[] =>
  g.type === 'Polygon' ? [g.coordinates] : g.coordinates;

/**
 * Muck-truck devices are JT/T 808 terminals too (a phone from the device id, the shipped model), so a
 * run can drive them over JT/T 808 (`sim run --jt808`) with the same world provisioned.
 */
function withJt808(devices: NewDevice[]): NewDevice[] {
  return devices.map((d) =>
    d.kind === 'muck_truck' ? { ...d, jt808: { phone: phoneForDevice(d.id), model: SHIPPED_MODEL.id } } : d,
  );
}

/** Generated trucks of `fleet.muckTrucks`: vehicles, devices, and the permits they join. */
function fleetTrucks(s: ScenarioFile): {
  vehicles: Vehicle[];
  devices: NewDevice[];
  joins: Map<string, string[]>;
} {
  const vehicles: Vehicle[] = [];
  const devices: NewDevice[] = [];
  const joins = new Map<string, string[]>();
  const firmOf = new Map(s.permits.map((p) => [p.id, p.firm]));
  for (const f of s.fleet.muckTrucks) {
    const firm = firmOf.get(f.permit)!;
    for (let n = 1; n <= f.count; n++) {
      const num = String(n).padStart(Math.max(4, String(f.count).length), '0');
      const id = `${f.idPrefix}${num}`;
      const deviceId = `dev-${id}`;
      vehicles.push({
        id,
        plate: `${f.platePrefix}${num}`,
        kind: 'muck_truck',
        firm,
        ratedLoadT: f.ratedLoadT,
      });
      devices.push({
        id: deviceId,
        secret: f.secretPattern.replaceAll('{id}', deviceId),
        kind: 'muck_truck',
        vehicle: id,
        firm,
        reportIntervalS: f.reportIntervalS,
      });
      joins.set(f.permit, [...(joins.get(f.permit) ?? []), id]);
    }
  }
  return { vehicles, devices, joins };
}

/** Which muck trucks the vehicle-level injections (explicit, then by rate) apply to. */
function vehicleLevel(
  trucks: readonly string[],
  injections: readonly ScenarioInjection[],
  seed: number,
): Map<string, VehicleLevelType> {
  const out = new Map<string, VehicleLevelType>();
  const level = (type: string): type is VehicleLevelType =>
    type === 'NO_PERMIT' || type === 'OFF_HOURS' || type === 'REVOKE';
  const explicit = new Set(injections.flatMap((i) => (i.vehicle && level(i.type) ? [i.vehicle] : [])));
  for (const i of injections) {
    if (i.vehicle && level(i.type)) out.set(i.vehicle, i.type);
  }
  const rates = injections.filter((i) => i.rate !== undefined && level(i.type));
  for (const v of trucks) {
    if (explicit.has(v)) continue;
    // one draw per truck and type from a stream of its own: adding trucks does not reshuffle the others
    for (const r of rates) {
      const rng = createRng((Math.imul(seed, 0x9e3779b1) ^ hashString(`${v}/${r.type}`)) >>> 0);
      if (!out.has(v) && rng.chance(r.rate ?? 0)) out.set(v, r.type as VehicleLevelType);
    }
  }
  return out;
}

/**
 * The truck's line: the route oriented from the origin, and extended to the site's middle when an end
 * of the route lies outside the site (a truck loads and tips inside the site, not at its gate).
 */
function haulLine(route: Route, origin: Site, disposal: Site, path: string): Polyline {
  let pts = route.line.map(toLatLon);
  const distTo = (site: Site, p: LatLon) =>
    inAnyPolygon(site.polygons, p) ? 0 : edgeDistanceM(site.polygons, p);
  if (
    distTo(origin, pts.at(-1)!) + distTo(disposal, pts[0]!) <
    distTo(origin, pts[0]!) + distTo(disposal, pts.at(-1)!)
  )
    pts = pts.reverse();
  const start = distTo(origin, pts[0]!);
  const end = distTo(disposal, pts.at(-1)!);
  if (start > 500 || end > 500)
    throw new RangeError(
      `${path}: route '${route.id}' must start within 500 m of site '${origin.id}' and end within 500 m of '${disposal.id}'`,
    );
  if (start > 0) pts = [centroidOf(origin.polygons), ...pts];
  if (end > 0) pts = [...pts, centroidOf(disposal.polygons)];
  return new Polyline(pts);
}

function middleOf(s: ScenarioFile): LatLon {
  const all = [
    ...s.sites.flatMap((x) => polygonsOf(x.geometry).flat(2)),
    ...s.routes.flatMap((r) => r.geometry.coordinates),
  ];
  if (all.length === 0) return { lat: 31.82, lon: 117.23 };
  const lat = all.reduce((a, p) => a + p[1], 0) / all.length;
  const lon = all.reduce((a, p) => a + p[0], 0) / all.length;
  return { lat, lon };
}

export function buildWorld(s: ScenarioFile, opts: WorldOptions): SimWorld {
  const fleet = fleetTrucks(s);
  const vehicles: Vehicle[] = [
    ...s.vehicles.map((v) => ({
      id: v.id,
      plate: v.plate,
      kind: v.kind,
      firm: v.firm,
      ...(v.ratedLoadT !== undefined ? { ratedLoadT: v.ratedLoadT } : {}),
    })),
    ...fleet.vehicles,
  ];
  const devices: NewDevice[] = withJt808([
    ...s.devices.map((d) => ({
      id: d.id,
      secret: d.secret,
      kind: d.kind,
      ...(d.vehicle !== undefined ? { vehicle: d.vehicle } : {}),
      firm: d.firm,
      ...(d.officer !== undefined ? { officer: d.officer } : {}),
      reportIntervalS: d.reportIntervalS ?? DEFAULT_INTERVAL_S[d.kind],
    })),
    ...fleet.devices,
  ]);
  const sites: Site[] = s.sites.map((x) => ({
    id: x.id,
    version: 1,
    kind: x.kind,
    name: x.name,
    polygons: polygonsOf(x.geometry),
  }));
  const routes: Route[] = s.routes.map((r) => ({
    id: r.id,
    version: 1,
    name: r.name,
    line: r.geometry.coordinates,
    corridorM: r.corridorM ?? 50,
    limits: r.limits ?? [],
  }));
  const zones: Zone[] = s.zones.map((z) => ({
    id: z.id,
    version: 1,
    kind: z.kind,
    name: z.name,
    polygons: polygonsOf(z.geometry),
    windows: z.windows ?? [],
    ...(z.speedLimitKmh !== undefined ? { speedLimitKmh: z.speedLimitKmh } : {}),
    ...(z.appliesTo !== undefined ? { appliesTo: z.appliesTo } : {}),
  }));

  const trucks = vehicles.filter((v) => v.kind === 'muck_truck').map((v) => v.id);
  const vehicleInjections = vehicleLevel(trucks, opts.injections, opts.seed);
  const validFrom = localDate(opts.startTs - 30 * DAY_MS);
  const validTo = localDate(opts.startTs + 30 * DAY_MS);
  const permits: Permit[] = [];
  const revocable = new Map<string, string>();
  for (const p of s.permits) {
    const named = [...p.vehicles, ...(fleet.joins.get(p.id) ?? [])];
    const base: Permit = {
      id: p.id,
      version: 1,
      firm: p.firm,
      vehicles: named.filter((v) => !vehicleInjections.has(v)),
      origins: p.origins,
      disposals: p.disposals,
      routes: p.routes,
      validFrom: p.validFrom ?? validFrom,
      validTo: p.validTo ?? validTo,
      windows: p.windows,
      cargo: p.cargo,
    };
    permits.push(base);
    for (const v of named) {
      const injected = vehicleInjections.get(v);
      if (injected === 'OFF_HOURS') {
        permits.push({
          ...base,
          id: `${p.id}-offhours-${v}`,
          vehicles: [v],
          windows: [unreachedWindow(opts.startTs, opts.durationMs)],
        });
      } else if (injected === 'REVOKE' && !revocable.has(v)) {
        const id = `${p.id}-revoke-${v}`;
        permits.push({ ...base, id, vehicles: [v] });
        revocable.set(v, id);
      }
    }
  }

  const siteById = new Map(sites.map((x) => [x.id, x]));
  const routeById = new Map(routes.map((r) => [r.id, r]));
  const hauls = new Map<string, Haul>();
  const allPermits = [...s.permits.map((p, i) => ({ p, i, extra: fleet.joins.get(p.id) ?? [] }))];
  vehicles.forEach((v, i) => {
    if (v.kind !== 'muck_truck') return;
    const own = s.vehicles.find((x) => x.id === v.id)?.haul;
    const entry = allPermits.find((e) => e.p.vehicles.includes(v.id) || e.extra.includes(v.id));
    const pick =
      own ??
      (entry
        ? { route: entry.p.routes[0]!, origin: entry.p.origins[0]!, disposal: entry.p.disposals[0]! }
        : undefined);
    if (!pick) throw new RangeError(`vehicles[${i}]: no haul for '${v.id}'`);
    const path = own ? `vehicles[${i}].haul` : `permits[${entry!.i}].routes[0]`;
    const route = routeById.get(pick.route)!;
    const origin = siteById.get(pick.origin)!;
    const disposal = siteById.get(pick.disposal)!;
    hauls.set(v.id, { route, origin, disposal, line: haulLine(route, origin, disposal, path) });
  });

  // Rounds and patrols not in the file: fixed geometry near the middle of the world (its own seed).
  const geo = createRng(hashString(`geometry/${s.name}`));
  const middle = middleOf(s);
  const rounds = new Map<string, Polyline>();
  s.vehicles.forEach((v) => {
    if (v.kind !== 'sanitation') return;
    const line = v.round
      ? new Polyline(v.round.coordinates.map(toLatLon))
      : blockLoop(geo, offsetM(middle, geo.range(-1500, 1000), geo.range(-1500, 1000)), 700, 500);
    rounds.set(v.id, line);
  });
  const patrols = new Map<string, Polyline>();
  s.devices.forEach((d) => {
    if (d.kind !== 'body_camera') return;
    const line = d.patrol
      ? new Polyline(d.patrol.coordinates.map(toLatLon))
      : patrolLoop(geo, offsetM(middle, geo.range(-1500, 1500), geo.range(-1500, 1500)), 450);
    patrols.set(d.id, line);
  });

  const { plans, roles } = buildPlans(s, opts.startTs, opts.durationMs);

  return {
    name: s.name,
    startTs: opts.startTs,
    durationMs: opts.durationMs,
    thresholds: { ...DEFAULT_THRESHOLDS, ...(s.thresholds ?? {}) },
    firms: s.firms.map((f) => ({ ...f })),
    officers: s.officers.map((o) => ({ ...o })),
    vehicles,
    devices,
    sites,
    routes,
    zones,
    permits,
    hauls,
    rounds,
    patrols,
    plans,
    roles,
    vehicleInjections,
    revocable,
  };
}

/** The unit a device's fixes are filed under: its vehicle, or the body camera itself. */
export const unitOf = (d: Pick<NewDevice, 'id' | 'vehicle'>): string => d.vehicle ?? d.id;
