/** The world of the route-time rule tests. */

import type { Fix } from '../../../core/fix.ts';
import { chinaCalendar } from '../../../geofence/calendar.ts';
import { compileWorld } from '../../../geofence/compile.ts';
import { type Calendar, createEngine, type VehicleState } from '../../../geofence/engine.ts';
import { metresPerDegree } from '../../../geofence/geo/ruler.ts';
import type {
  Permit,
  PolygonCoords,
  Position,
  RegistrySnapshot,
  Route,
  Zone,
} from '../../../geofence/model.ts';
import { offHours } from '../../../geofence/rules/off-hours.ts';
import { offRoute } from '../../../geofence/rules/off-route.ts';
import { offline } from '../../../geofence/rules/offline.ts';
import { overspeed } from '../../../geofence/rules/overspeed.ts';
import { restrictedZone } from '../../../geofence/rules/restricted-zone.ts';
import { trackGap } from '../../../geofence/rules/track-gap.ts';
import { DEFAULT_THRESHOLDS } from '../../../geofence/thresholds/index.ts';
import type { World } from '../../../geofence/types.ts';
import { gaussian, type Item, type Logged, local, prng } from './track-kit.ts';

/*
 * Route and time rules (OFF_ROUTE, OFF_HOURS, OVERSPEED, RESTRICTED_ZONE, TRACK_GAP, OFFLINE) through the
 * REAL engine core and the REAL compiled world, on tracks built around Hefei (31.82 N, 117.23 E).
 *
 * Geometry: route R1 runs A (117.20, 31.82) east to B (117.24, 31.82), then north to C (117.24, 31.85).
 * "along" is metres from A along the route, "lateral" metres to the left of the direction of travel
 * (north on the first leg). Origin site around A, disposal site around C (150 m half-size boxes).
 */

// ---------------------------------------------------------------------------------------------- fixtures

export const calendar: Calendar = chinaCalendar;

export const LAT0 = 31.82;
export const { kx: KX, ky: KY } = metresPerDegree(LAT0);
export const A: Position = [117.2, 31.82];
export const B: Position = [117.24, 31.82];
export const C: Position = [117.24, 31.85];
export const LEG0 = (B[0] - A[0]) * KX;
export const LEG1 = (C[1] - B[1]) * KY;
export const ROUTE_LEN = LEG0 + LEG1;

export function offset(p: Position, eastM: number, northM: number): Position {
  return [p[0] + eastM / KX, p[1] + northM / metresPerDegree(p[1]).ky];
}

/** Point `along` metres from A on R1, `lateral` metres to its left. */
export function onRoute(along: number, lateral = 0): Position {
  if (along <= LEG0) return offset(A, along, lateral);
  return offset(B, -lateral, along - LEG0);
}

export function box(center: Position, halfEastM: number, halfNorthM = halfEastM): PolygonCoords {
  const sw = offset(center, -halfEastM, -halfNorthM);
  const ne = offset(center, halfEastM, halfNorthM);
  return [
    [
      [sw[0], sw[1]],
      [ne[0], sw[1]],
      [ne[0], ne[1]],
      [sw[0], ne[1]],
      [sw[0], sw[1]],
    ],
  ];
}

export const ROUTE_V1: Route = {
  id: 'R1',
  version: 1,
  name: 'Site A to disposal C',
  line: [A, B, C],
  corridorM: 50,
  limits: [
    { from: 0, to: 1, speedLimitKmh: 60, nightLimitKmh: 40 },
    { from: 1, to: 2, speedLimitKmh: 50 },
  ],
};

/** the speed zone covers the route from 2,600 m to 3,000 m along */
export const SPEED_ZONE: Zone = {
  id: 'SZ1',
  version: 1,
  kind: 'speed',
  name: 'School zone',
  polygons: [box(onRoute(2800), 200)],
  windows: [],
  speedLimitKmh: 30,
};

/** a restricted zone 1 km north of the first leg (07:00-09:00 closed), 400 m square */
export const RZ_CENTER = onRoute(1500, 1000);
export const RESTRICTED: Zone = {
  id: 'RZ1',
  version: 3,
  kind: 'restricted',
  name: 'Old town',
  polygons: [box(RZ_CENTER, 200)],
  windows: ['07:00-09:00'],
};

export const PERMIT: Permit = {
  id: 'P1',
  version: 2,
  firm: 'F1',
  vehicles: ['V1'],
  origins: ['S-O'],
  disposals: ['S-D'],
  routes: ['R1'],
  validFrom: '2026-11-01',
  validTo: '2026-11-30',
  windows: ['22:00-06:00'],
  cargo: 'construction waste',
};

export function snapshot(over: Partial<RegistrySnapshot> = {}): RegistrySnapshot {
  return {
    sites: [
      { id: 'S-O', version: 1, kind: 'origin', name: 'Site A', polygons: [box(A, 150)] },
      { id: 'S-D', version: 1, kind: 'disposal', name: 'Disposal C', polygons: [box(C, 150)] },
    ],
    routes: [ROUTE_V1],
    zones: [SPEED_ZONE, RESTRICTED],
    permits: [PERMIT],
    vehicles: [
      { id: 'V1', version: 1, firm: 'F1', kind: 'muck_truck', ratedLoadT: 31, reportIntervalS: 10 },
      { id: 'S1', version: 1, firm: 'F1', kind: 'sanitation', reportIntervalS: 10 },
      { id: 'C1', version: 1, firm: 'F1', kind: 'body_camera', reportIntervalS: 10 },
    ],
    thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
    ...over,
  };
}

export const WORLD = compileWorld(snapshot());

export function fixAt(ts: number, pos: Position, extra: Partial<Fix> = {}): Fix {
  return {
    vehicle: 'V1',
    device: 'D1',
    kind: 'muck_truck',
    firm: 'F1',
    ts,
    received: ts + 500,
    lon: pos[0],
    lat: pos[1],
    speed: 30,
    heading: 90,
    accuracy: 10,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ign: true,
    load: 'full',
    ...extra,
  };
}

/** 15 m Gaussian GPS noise on each axis */
export function noisy(p: Position, g: () => number, sigmaM = 15): Position {
  return offset(p, g() * sigmaM, g() * sigmaM);
}

export const ALL_RULES = [offRoute, offHours, overspeed, restrictedZone, trackGap, offline];

/** Feeds fixes / ticks / world changes through the real engine; returns the events with the instant. */
export function run(items: readonly Item[], opts: { world?: World; vehicle?: string } = {}) {
  const engine = createEngine(ALL_RULES, calendar);
  let world = opts.world ?? WORLD;
  let state: VehicleState = engine.initial(opts.vehicle ?? 'V1');
  const log: Logged[] = [];
  for (const item of items) {
    if ('world' in item) {
      world = item.world;
      continue;
    }
    const r = 'tick' in item ? engine.tick(state, item.tick, world) : engine.step(state, item, world);
    state = r.state;
    const at = 'tick' in item ? item.tick : item.ts;
    for (const event of r.events) log.push({ at, event });
  }
  return { log, state, events: log.map((l) => l.event) };
}

export function phases(log: readonly Logged[]): string[] {
  return log.map((l) => `${l.event.violation.code}:${l.event.phase}`);
}

/** A loaded truck at 10 s fixes along the first leg; `lateral(i)` per fix index, `speed` km/h. */
export function track(
  startTs: number,
  n: number,
  o: {
    along?: number;
    step?: number;
    interval?: number;
    lateral?: (i: number) => number;
    extra?: (i: number) => Partial<Fix>;
  } = {},
): Fix[] {
  const out: Fix[] = [];
  const interval = o.interval ?? 10_000;
  for (let i = 0; i < n; i++) {
    const along = (o.along ?? 1000) + i * (o.step ?? 0);
    out.push(
      fixAt(startTs + i * interval, onRoute(along, o.lateral ? o.lateral(i) : 0), o.extra ? o.extra(i) : {}),
    );
  }
  return out;
}

export const NIGHT = local(23); // inside the permit window 22:00-06:00: OFF_HOURS silent, night limit 40 km/h
export const MORNING = local(10);

// ---------------------------------------------------------------------------------------------- RESTRICTED_ZONE

export function inZone(ts: number, eastM: number, northM: number, extra: Partial<Fix> = {}): Fix {
  return fixAt(ts, offset(RZ_CENTER, eastM, northM), { load: 'empty', ...extra });
}

// ---------------------------------------------------------------------------------------------- engine-level

export function mixedTrip(): Fix[] {
  // 21:50 onwards: off-hours, speeding in the school zone, off-route excursion, a silent spell, back in
  const g = gaussian(prng(7));
  const out: Fix[] = [];
  let ts = local(21, 50);
  for (let i = 0; i < 200; i++) {
    const along = 200 + i * 30;
    const lateral = i >= 60 && i < 80 ? 180 : 0;
    const speed = i >= 90 && i < 100 ? 45 : 28;
    ts += i === 150 ? 700_000 : 10_000;
    out.push(fixAt(ts, noisy(onRoute(Math.min(along, ROUTE_LEN - 100), lateral), g), { speed: speed + g() }));
  }
  return out;
}
