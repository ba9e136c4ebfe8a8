/**
 * The rule-matrix world (issue 3 test matrix): the REAL engine with ALL_RULES and the REAL compiled world,
 * positions in local metres east (x) / north (y) of (117.23 E, 31.82 N), Hefei.
 *
 *            D1 (4000,3000) disposal, permitted
 *             |
 *   R1        D2 (4000,1500) disposal NOT on the permit, straddling the route
 *             |
 *  O1 ---O2------SZ1---+ (4000,0)
 * (0,0) (1000,0) (3000,0)
 *  origin  origin NOT on the permit, straddling the route; SZ1 a day-time speed zone (30 km/h, 07:00-19:00)
 *
 *  RZ2 (-1500,-1500) restricted all day      RZ1 (2000,-1500) restricted 23:00-05:00 (crosses midnight)
 *
 * Route R1: (0,0) -> (4000,0) -> (4000,3000), corridor 50 m; segment 0 limit 60 km/h (night 40), segment 1
 * 50 km/h. Permit P1 (version 2): vehicle V1, O1 -> D1 via R1, 2026-11-01..2026-11-30, 22:00-06:00.
 * V2 has no permit; V3 has no rated load; S1 is a sweeper, C1 a body camera.
 *
 * This module holds that map (the registry snapshot and its compiled world); tracks.ts builds tracks on it,
 * perturb.ts spoils them, run.ts runs them through the engine, scenarios.ts has one track per rule.
 */
import { compileWorld } from '../../../../geofence/compile.ts';
import { metresPerDegree } from '../../../../geofence/geo/ruler.ts';
import type { Permit, RegistrySnapshot, Route, Site, Zone } from '../../../../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../../../../geofence/thresholds/index.ts';
import type { World } from '../../../../geofence/types.ts';
import { localPlane } from '../track-kit.ts';

export const LON0 = 117.23;
export const LAT0 = 31.82;

/**
 * `pt(x, y)`: the WGS-84 position of a point x metres east, y metres north of the reference; `xyOf`: the
 * local metres of a fix (its inverse); `square`: a square polygon around a point.
 */
export const { pt, xyOf, square } = localPlane(LON0, LAT0, metresPerDegree(LAT0));

export const O1: Site = {
  id: 'O1',
  version: 3,
  kind: 'origin',
  name: '工地一',
  polygons: [square(0, 0, 150)],
};
export const O2: Site = {
  id: 'O2',
  version: 1,
  kind: 'origin',
  name: '工地二',
  polygons: [square(1000, 0, 100)],
};
export const D1: Site = {
  id: 'D1',
  version: 2,
  kind: 'disposal',
  name: '消纳场一',
  polygons: [square(4000, 3000, 150)],
};
export const D2: Site = {
  id: 'D2',
  version: 5,
  kind: 'disposal',
  name: '消纳场二',
  polygons: [square(4000, 1500, 100)],
};

export const R1: Route = {
  id: 'R1',
  version: 1,
  name: 'O1-D1',
  line: [pt(0, 0), pt(4000, 0), pt(4000, 3000)],
  corridorM: 50,
  limits: [
    { from: 0, to: 1, speedLimitKmh: 60, nightLimitKmh: 40 },
    { from: 1, to: 2, speedLimitKmh: 50 },
  ],
};

export const SZ1: Zone = {
  id: 'SZ1',
  version: 1,
  kind: 'speed',
  name: 'School',
  polygons: [square(3000, 0, 150)],
  windows: ['07:00-19:00'],
  speedLimitKmh: 30,
};
export const RZ1: Zone = {
  id: 'RZ1',
  version: 3,
  kind: 'restricted',
  name: 'Old town (night)',
  polygons: [square(2000, -1500, 200)],
  windows: ['23:00-05:00'],
};
export const RZ2: Zone = {
  id: 'RZ2',
  version: 1,
  kind: 'restricted',
  name: 'Water source (always)',
  polygons: [square(-1500, -1500, 200)],
  windows: [],
};

export const P1: Permit = {
  id: 'P1',
  version: 2,
  firm: 'F1',
  vehicles: ['V1'],
  origins: ['O1'],
  disposals: ['D1'],
  routes: ['R1'],
  validFrom: '2026-11-01',
  validTo: '2026-11-30',
  windows: ['22:00-06:00'],
  cargo: '建筑垃圾',
};

export function snapshot(over: Partial<RegistrySnapshot> = {}): RegistrySnapshot {
  return {
    sites: [O1, O2, D1, D2],
    routes: [R1],
    zones: [SZ1, RZ1, RZ2],
    permits: [P1],
    vehicles: [
      { id: 'V1', version: 1, firm: 'F1', kind: 'muck_truck', ratedLoadT: 31, reportIntervalS: 10 },
      { id: 'V2', version: 1, firm: 'F1', kind: 'muck_truck', ratedLoadT: 31, reportIntervalS: 10 },
      { id: 'V3', version: 1, firm: 'F1', kind: 'muck_truck', reportIntervalS: 10 },
      { id: 'S1', version: 1, firm: 'F1', kind: 'sanitation', reportIntervalS: 10 },
      { id: 'C1', version: 1, firm: 'F1', kind: 'body_camera', reportIntervalS: 15 },
    ],
    thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
    ...over,
  };
}

export const WORLD: World = compileWorld(snapshot());
