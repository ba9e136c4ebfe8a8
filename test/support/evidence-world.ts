/**
 * A small real world for building evidence packages (geofence/evidence.ts): one origin site, one route,
 * one permit for vehicle v1, a track near the route and an OFF_ROUTE violation on it. Shared by
 * test/geofence/evidence.test.ts, the EventStore contract (test/store/events-contract/, which stores the
 * packages it builds) and the API's evidence world (test/support/api/evidence.ts, two firms' trucks).
 */

import type { Fix } from '../../core/fix.ts';
import type { RegistrySnapshot } from '../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import type { Violation } from '../../geofence/types.ts';

/** 22:00 China Standard Time, inside the permit's night window */
export const T0 = Date.UTC(2026, 10, 20, 14, 0, 0);

/** A vehicle of the world and its firm. */
export interface EvidenceUnit {
  id: string;
  firm: string;
}

/**
 * The registry; the site and route names are parameters so a test can put awkward text in them. The
 * permit is the first unit's, for that unit alone; every unit is a muck truck of 18 t.
 */
export function evidenceSnapshot(
  siteName = '工地',
  routeName = 'r',
  units: readonly [EvidenceUnit, ...EvidenceUnit[]] = [{ id: 'v1', firm: 'f' }],
): RegistrySnapshot {
  const [permitHolder] = units;
  return {
    sites: [
      {
        id: 'site-o',
        version: 2,
        kind: 'origin',
        name: siteName,
        polygons: [
          [
            [
              [117.2, 31.8],
              [117.21, 31.8],
              [117.21, 31.81],
              [117.2, 31.81],
              [117.2, 31.8],
            ],
          ],
        ],
      },
    ],
    routes: [
      {
        id: 'route-1',
        version: 3,
        name: routeName,
        line: [
          [117.21, 31.805],
          [117.25, 31.805],
        ],
        corridorM: 50,
        limits: [],
      },
    ],
    zones: [],
    permits: [
      {
        id: 'permit-1',
        version: 1,
        firm: permitHolder.firm,
        vehicles: [permitHolder.id],
        origins: ['site-o'],
        disposals: [],
        routes: ['route-1'],
        validFrom: '2026-11-01',
        validTo: '2026-11-30',
        windows: ['22:00-06:00'],
        cargo: '建筑垃圾',
      },
    ],
    vehicles: units.map(({ id, firm }) => ({
      id,
      version: 1,
      firm,
      kind: 'muck_truck',
      ratedLoadT: 18,
      reportIntervalS: 10,
    })),
    thresholds: { id: 'city', version: 5, values: DEFAULT_THRESHOLDS },
  };
}

/** The i-th fix of v1's loaded track, one every `stepMs` from T0, drifting north off the route. */
export const trackFix = (i: number, stepMs = 10_000, over: Partial<Fix> = {}): Fix => ({
  vehicle: 'v1',
  device: 'd1',
  kind: 'muck_truck',
  firm: 'f',
  ts: T0 + i * stepMs,
  received: T0 + i * stepMs + 500,
  lat: 31.806 + i * 0.0001,
  lon: 117.22,
  valid: true,
  crsIn: 'WGS84',
  late: false,
  load: 'full',
  ...over,
});

/** A closed OFF_ROUTE violation of v1 citing the thresholds, the permit and the route. */
export function offRoute(startTs: number, endTs: number, over: Partial<Violation> = {}): Violation {
  return {
    id: `v1:OFF_ROUTE:${startTs}`,
    code: 'OFF_ROUTE',
    vehicle: 'v1',
    firm: 'f',
    permit: 'permit-1',
    startTs,
    endTs,
    durationMs: endTs - startTs,
    level: 0,
    startPos: [117.22, 31.807],
    lastPos: [117.22, 31.808],
    refs: [
      { kind: 'thresholds', id: 'city', version: 5 },
      { kind: 'permit', id: 'permit-1', version: 1 },
      { kind: 'route', id: 'route-1', version: 3 },
    ],
    thresholds: { offRouteMinMs: 60_000 },
    ruleVersion: 1,
    details: { maxDeviationM: 180.5 },
    ...over,
  };
}
