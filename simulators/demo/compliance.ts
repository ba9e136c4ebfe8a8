import { localDate, localMsOfDay } from '../../geofence/geo/windows.ts';
import type {
  Permit,
  PolygonCoords,
  Position,
  Route,
  Site,
  VehicleProfile,
  Zone,
} from '../../geofence/model.ts';
import type { LatLon } from '../shared/tracks.ts';
import { type DemoSite, scenarioGeometry } from './geometry.ts';
import { DEFAULT_INTERVAL_S, demoRegistrySeed } from './registry.ts';
import { demoScenarioFleet, type ScenarioName } from './scenario-trucks.ts';

/**
 * The demo's 两点一线 world (issue 3): the sites, routes, zones and permits the compliance engine judges
 * the Hefei demo fleet by, written from the fixed geometry of demoPlan() and scenarioGeometry(), so the
 * demo trucks (fleet.ts) haul inside their permits and each scenario truck (scenario-trucks.ts) breaks
 * exactly the rule it is there for.
 *
 * - sites: per haul an origin (工地) and a disposal site (消纳场), as in demoPlan(), plus an unlicensed
 *   disposal site beside haul 1's route that no permit names (WRONG_SITE);
 * - routes: the two haul routes, 50 m corridors, a 60 km/h limit over their whole length;
 * - zones: a school area closed to muck trucks all day (禁行区) and a 30 km/h hospital zone, each on a
 *   loop only one scenario truck drives (restrictedZone, overspeed), well away from every route;
 * - permits: one per haulage firm naming the firm's demo trucks and its scenario trucks, open all day
 *   ('00:00-24:00') so the demo trucks are inside their hours at any time; a separate permit for the
 *   offHours truck whose only window is 2 h long and starts 12 h after `now` (local hour, rounded down),
 *   so it is out of hours for the next ~12 h whenever the demo starts; the noPermit truck has none.
 *   Validity: the local dates (Asia/Shanghai) of now - 30 days to now + 30 days.
 * Every entity is version 1 and every permit is active.
 */

export interface DemoComplianceSeed {
  sites: Site[];
  routes: Route[];
  zones: Zone[];
  permits: Permit[];
}

export const DEMO_COMPLIANCE_IDS = {
  origins: ['site-hf-shushan-anzhifang', 'site-hf-luyang-zongheti'],
  disposals: ['site-hf-baohe-xiaona', 'site-hf-luyang-ziyuanhua'],
  unpermittedDisposal: 'site-hf-yaohai-weibeian',
  routes: ['route-hf-jianyun-01', 'route-hf-xinglong-01'],
  schoolZone: 'zone-hf-school-restricted',
  speedZone: 'zone-hf-hospital-30',
  permits: ['permit-hf-jianyun-2025-001', 'permit-hf-xinglong-2025-001'],
  offHoursPermit: 'permit-hf-xinglong-2025-002',
  thresholds: 'city-hf',
} as const;

/** Scenario trucks without the firm-wide permit: offHours has its own, noPermit none. */
const OWN_PERMIT: readonly ScenarioName[] = ['offHours', 'noPermit'];

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const position = (p: LatLon): Position => [Math.round(p.lon * 1e7) / 1e7, Math.round(p.lat * 1e7) / 1e7];
const polygonOf = (ring: readonly LatLon[]): PolygonCoords => [ring.map(position)];

function site(id: string, kind: Site['kind'], s: DemoSite): Site {
  return { id, version: 1, kind, name: s.name, polygons: [polygonOf(s.polygon)] };
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** The off-hours truck's only window: 2 h, starting 12 h after `now` (local hour rounded down). */
export function offHoursWindow(now: number): string {
  const hour = Math.floor(localMsOfDay(now) / HOUR_MS);
  const start = (hour + 12) % 24;
  const end = (start + 2) % 24;
  return `${pad(start)}:00-${pad(end)}:00`;
}

/** Sites, routes, zones and permits of the demo, valid around `now` (epoch ms; the fleet's start). */
export function demoComplianceSeed(now: number): DemoComplianceSeed {
  const g = scenarioGeometry();
  const ids = DEMO_COMPLIANCE_IDS;
  const sites: Site[] = [];
  const routes: Route[] = [];
  g.hauls.forEach((h, i) => {
    sites.push(site(ids.origins[i]!, 'origin', h.origin));
    sites.push(site(ids.disposals[i]!, 'disposal', h.disposal));
    const line = h.route.points.map(position);
    routes.push({
      id: ids.routes[i]!,
      version: 1,
      name: `${h.origin.name} → ${h.disposal.name}`,
      line,
      corridorM: 50,
      limits: [{ from: 0, to: line.length - 1, speedLimitKmh: 60 }],
    });
  });
  sites.push(site(ids.unpermittedDisposal, 'disposal', g.unpermittedSite));

  const zones: Zone[] = [
    {
      id: ids.schoolZone,
      version: 1,
      kind: 'restricted',
      name: '蜀山区 某小学周边 渣土车禁行区',
      polygons: [polygonOf(g.schoolZone)],
      windows: ['00:00-24:00'],
      appliesTo: ['muck_truck'],
    },
    {
      id: ids.speedZone,
      version: 1,
      kind: 'speed',
      name: '庐阳区 某医院周边 限速30',
      polygons: [polygonOf(g.speedZone)],
      windows: [],
      speedLimitKmh: 30,
      appliesTo: ['muck_truck'],
    },
  ];

  const validFrom = localDate(now - 30 * DAY_MS);
  const validTo = localDate(now + 30 * DAY_MS);
  const demoTrucks = demoRegistrySeed().vehicles.filter((v) => v.kind === 'muck_truck');
  const scenario = demoScenarioFleet().trucks;
  const permits: Permit[] = g.hauls.map((h, i) => ({
    id: ids.permits[i]!,
    version: 1,
    firm: h.firm,
    vehicles: [
      ...demoTrucks.filter((v) => v.firm === h.firm).map((v) => v.id),
      ...scenario
        .filter((t) => t.haul === i && t.vehicle.firm === h.firm && !OWN_PERMIT.includes(t.scenario))
        .map((t) => t.vehicle.id),
    ],
    origins: [ids.origins[i]!],
    disposals: [ids.disposals[i]!],
    routes: [ids.routes[i]!],
    validFrom,
    validTo,
    windows: ['00:00-24:00'],
    cargo: '建筑垃圾（工程渣土）',
  }));
  const offHours = scenario.find((t) => t.scenario === 'offHours');
  if (offHours) {
    const i = offHours.haul;
    permits.push({
      id: ids.offHoursPermit,
      version: 1,
      firm: offHours.vehicle.firm,
      vehicles: [offHours.vehicle.id],
      origins: [ids.origins[i]!],
      disposals: [ids.disposals[i]!],
      routes: [ids.routes[i]!],
      validFrom,
      validTo,
      windows: [offHoursWindow(now)],
      cargo: '建筑垃圾（工程渣土）',
    });
  }
  return { sites, routes, zones, permits };
}

/**
 * Engine vehicle profiles of every demo unit (demo trucks, sweepers, body cameras) and every scenario
 * truck: firm, kind, rated load, report interval.
 */
export function demoVehicleProfiles(): VehicleProfile[] {
  const seed = demoRegistrySeed();
  const vehicles = [...seed.vehicles, ...demoScenarioFleet().vehicles];
  const profiles: VehicleProfile[] = vehicles.map((v) => ({
    id: v.id,
    version: 1,
    firm: v.firm,
    kind: v.kind,
    ...(v.ratedLoadT !== undefined ? { ratedLoadT: v.ratedLoadT } : {}),
    reportIntervalS: DEFAULT_INTERVAL_S[v.kind],
  }));
  for (const d of seed.devices) {
    if (d.kind !== 'body_camera') continue;
    profiles.push({
      id: d.id,
      version: 1,
      firm: d.firm,
      kind: 'body_camera',
      reportIntervalS: d.reportIntervalS ?? DEFAULT_INTERVAL_S.body_camera,
    });
  }
  return profiles;
}
