import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseWindow } from '../../geofence/geo/windows.ts';
import { PLAN_VIOLATION_CODES, VIOLATION_CODES } from '../../geofence/model.ts';
import { THRESHOLD_OVERRIDES } from '../../geofence/thresholds/index.ts';
import { EntityIdSchema } from '../../registry/ids.ts';

/**
 * The fleet simulator's scenario file (issue 5): the world (firms, vehicles, devices with their secrets,
 * sites, routes, zones, permits as GeoJSON geometry in WGS-84), the fleet composition and the
 * injections, in JSON or YAML. Validated with zod; every problem is reported with the path of the field
 * (`permits[2].windows[0]: expected HH:MM-HH:MM`), references between entities included (these are
 * checked once the shapes are right: a file with shape errors lists those first).
 *
 * YAML: parsed with the `yaml` package, which the platform already installs (a dependency of
 * @fastify/swagger); a file whose name ends in .yaml or .yml is read as YAML, anything else as JSON.
 */

/**
 * Protocol, GNSS and sensor faults (issue 17), injected by rate. What the rate is per:
 * - per message: DUPLICATE, OUT_OF_ORDER, MALFORMED, DROPOUT;
 * - per fix, the chance to start an episode: DRIFT (1-3 min multipath drift), FLICKER (the load state
 *   reads the opposite for 20-30 s while driving), WEIGHT_GLITCH (one weight reading at a tenth),
 *   MULTIPATH (one fix displaced so far that both neighbours would need >= 200 km/h; into a restricted
 *   zone when one is in reach), CANYON (an urban-canyon bias of 20-40 m for 1-3 min, the terminal's
 *   accuracy figure raised with it);
 * - per trip of a muck truck: BLIND_AREA (the terminal records but cannot send for 6-12 min while it
 *   hauls, over the detour on an OFF_ROUTE trip, then uploads the buffer as one batch after the first
 *   live fix: JT/T 808 0x0704 blind-area backfill), SLEEP (after the trip it parks at the origin with the
 *   ignition off and its terminal asleep for 20-40 min);
 * - per device, or for one device (`vehicle`): CLOCK_SKEW (its clock runs 90 s ahead).
 */
export const FAULT_TYPES = [
  'DUPLICATE',
  'OUT_OF_ORDER',
  'MALFORMED',
  'DROPOUT',
  'DRIFT',
  'FLICKER',
  'WEIGHT_GLITCH',
  'MULTIPATH',
  'CANYON',
  'BLIND_AREA',
  'SLEEP',
  'CLOCK_SKEW',
] as const;
export type FaultType = (typeof FAULT_TYPES)[number];
/** Faults that may also name one vehicle (its device) instead of a rate. */
export const DEVICE_FAULT_TYPES: readonly FaultType[] = ['CLOCK_SKEW'];
/**
 * Events of the world during the run: REVOKE (the truck hauls under a permit of its own, revoked
 * through the platform API while it hauls loaded on its first trip at least 10 min into the run).
 */
export const WORLD_EVENT_TYPES = ['REVOKE'] as const;
export const INJECTION_TYPES = [...VIOLATION_CODES, ...FAULT_TYPES, ...WORLD_EVENT_TYPES] as const;
export type InjectionType = (typeof INJECTION_TYPES)[number];

/** Injected per vehicle (its permit is changed when the world is built, or during the run), not per trip. */
export const VEHICLE_LEVEL_TYPES = ['NO_PERMIT', 'OFF_HOURS', 'REVOKE'] as const;
export type VehicleLevelType = (typeof VEHICLE_LEVEL_TYPES)[number];

/**
 * What a sanitation vehicle or a body camera may be given by name (issue 15): the plans' twists, on the
 * occurrences listed in `trips` (its collection visits in window order, or its shifts; default all), and
 * OFFLINE (silent for the allowance + 2-4 min while working or on duty).
 */
export const PLAN_TWISTS: Record<'sanitation' | 'body_camera', readonly string[]> = {
  sanitation: [
    'MISSED_COLLECTION',
    'LATE_COLLECTION',
    'SWEEP_OVERSPEED',
    'SWEEP_COVERAGE',
    'OUT_OF_AREA',
    'OFFLINE',
  ],
  body_camera: [
    'NOT_RECORDING',
    'OUT_OF_GRID',
    'LOW_BATTERY',
    'LOW_STORAGE',
    'NOT_UPLOADED',
    'SOS',
    'OFFLINE',
  ],
};

/** Whether a type may name a vehicle (trip twists, vehicle-level types, device faults) or takes a rate only. */
export function takesVehicle(type: string): boolean {
  return (
    !(FAULT_TYPES as readonly string[]).includes(type) ||
    (DEVICE_FAULT_TYPES as readonly string[]).includes(type)
  );
}

/** every id of a scenario: the registry's one grammar (registry/ids.ts), so provisioning cannot refuse it */
const id = EntityIdSchema;
const position = z
  .array(z.number())
  .min(2, 'expected [longitude, latitude]')
  .max(3, 'expected [longitude, latitude] or [longitude, latitude, altitude]')
  .check((ctx) => {
    const [lon, lat] = ctx.value as number[];
    if (lon !== undefined && (lon < -180 || lon > 180))
      ctx.issues.push({ code: 'custom', input: ctx.value, path: [0], message: 'longitude out of range' });
    if (lat !== undefined && (lat < -90 || lat > 90))
      ctx.issues.push({ code: 'custom', input: ctx.value, path: [1], message: 'latitude out of range' });
  })
  .transform((p) => [p[0], p[1]] as [number, number]);
const ring = z
  .array(position)
  .min(4, 'a ring needs at least 4 positions')
  .refine((r) => {
    const a = r[0];
    const b = r.at(-1);
    return a !== undefined && b !== undefined && a[0] === b[0] && a[1] === b[1];
  }, 'ring not closed: the last position must repeat the first');
const polygon = z.strictObject({ type: z.literal('Polygon'), coordinates: z.array(ring).min(1) });
const multiPolygon = z.strictObject({
  type: z.literal('MultiPolygon'),
  coordinates: z.array(z.array(ring).min(1)).min(1),
});
const area = z.discriminatedUnion('type', [polygon, multiPolygon]);
const lineString = z.strictObject({
  type: z.literal('LineString'),
  coordinates: z.array(position).min(2, 'a line needs at least 2 positions'),
});

const timeWindow = z.string().check((ctx) => {
  if (!/^\d{2}:\d{2}-\d{2}:\d{2}$/.test(ctx.value)) {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: 'expected HH:MM-HH:MM' });
    return;
  }
  try {
    parseWindow(ctx.value);
  } catch (err) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected HH:MM-HH:MM: ${(err as Error).message}`,
    });
  }
});
/**
 * A plan window (issue 15): a daily "HH:MM-HH:MM" in China Standard Time, or one relative to the run's
 * start, "+H:MM-+H:MM" (minutes after the first whole minute of the run; world.ts turns it into the
 * daily window the registry stores), so that a scenario's shifts fall inside a run started at any hour.
 */
export const RELATIVE_WINDOW = /^\+(\d{1,2}):(\d{2})-\+(\d{1,2}):(\d{2})$/;
const planWindow = z.string().check((ctx) => {
  const rel = RELATIVE_WINDOW.exec(ctx.value);
  if (rel) {
    const from = Number(rel[1]) * 60 + Number(rel[2]);
    const to = Number(rel[3]) * 60 + Number(rel[4]);
    if (Number(rel[2]) > 59 || Number(rel[4]) > 59 || to <= from || to - from >= 24 * 60)
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: 'expected +H:MM-+H:MM with the end after the start, less than 24 h later',
      });
    return;
  }
  if (!/^\d{2}:\d{2}-\d{2}:\d{2}$/.test(ctx.value)) {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: 'expected HH:MM-HH:MM or +H:MM-+H:MM' });
    return;
  }
  try {
    parseWindow(ctx.value);
  } catch (err) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected HH:MM-HH:MM: ${(err as Error).message}`,
    });
  }
});
const localDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const rate = z.number().min(0, 'a rate is a probability, 0..1').max(1, 'a rate is a probability, 0..1');
const intervalS = z.number().min(1, 'report interval 1-30 s').max(30, 'report interval 1-30 s');

const FirmSchema = z.strictObject({ id, name: z.string().min(1) });
const OfficerSchema = z.strictObject({ id, name: z.string().min(1), firm: id });
const VehicleSchema = z.strictObject({
  id,
  plate: z.string().min(1),
  kind: z.enum(['muck_truck', 'sanitation']),
  firm: id,
  ratedLoadT: z.number().positive().optional(),
  /** muck trucks named by no permit: where they haul (route, origin and disposal site ids) */
  haul: z.strictObject({ route: id, origin: id, disposal: id }).optional(),
  /** sanitation: the sweeping round (default: a block near the middle of the world) */
  round: lineString.optional(),
});
const DeviceSchema = z.strictObject({
  id,
  secret: z.string().min(16, 'a device secret needs at least 16 characters (the API refuses shorter ones)'),
  kind: z.enum(['muck_truck', 'sanitation', 'body_camera']),
  vehicle: id.optional(),
  firm: id,
  officer: id.optional(),
  reportIntervalS: intervalS.optional(),
  /** body cameras: the patrol loop (default: a loop near the middle of the world) */
  patrol: lineString.optional(),
});
const SiteSchema = z.strictObject({
  id,
  kind: z.enum(['origin', 'disposal']),
  name: z.string().min(1),
  geometry: area,
});
const RouteSchema = z.strictObject({
  id,
  name: z.string().min(1),
  geometry: lineString,
  corridorM: z.number().positive().max(1000).optional(),
  limits: z
    .array(
      z.strictObject({
        from: z.number().int().nonnegative(),
        to: z.number().int().nonnegative(),
        speedLimitKmh: z.number().positive().optional(),
        nightLimitKmh: z.number().positive().optional(),
      }),
    )
    .optional(),
});
const ZoneSchema = z.strictObject({
  id,
  kind: z.enum(['restricted', 'speed']),
  name: z.string().min(1),
  geometry: area,
  windows: z.array(timeWindow).optional(),
  speedLimitKmh: z.number().positive().optional(),
  appliesTo: z.array(z.enum(['muck_truck', 'sanitation'])).optional(),
});
const PermitSchema = z.strictObject({
  id,
  firm: id,
  vehicles: z.array(id),
  origins: z.array(id).min(1),
  disposals: z.array(id).min(1),
  routes: z.array(id).min(1),
  /** default: 30 days before the simulation start (local date) */
  validFrom: localDate.optional(),
  /** default: 30 days after the simulation start */
  validTo: localDate.optional(),
  windows: z.array(timeWindow).min(1),
  cargo: z.string().min(1).default('建筑垃圾'),
});
/**
 * The plans of issue 15 (the registry's shapes, geometry as GeoJSON, windows as above). The simulator
 * drives the units they name by them: a sanitation vehicle named by collection points visits them in
 * their windows (a collection round), one named by a sweep plan sweeps its stretches in its shifts, a
 * body camera named by a duty plan patrols the grid in its shifts and docks at the nearest upload station
 * after each.
 */
const PlansSchema = z.strictObject({
  collectionPoints: z
    .array(
      z.strictObject({
        id,
        firm: id,
        name: z.string().min(1),
        position,
        radiusM: z.number().positive().max(1000).optional(),
        windows: z.array(planWindow).min(1),
        vehicles: z.array(id).min(1),
        binsExpected: z.number().int().nonnegative().optional(),
      }),
    )
    .default([]),
  sweepPlans: z
    .array(
      z.strictObject({
        id,
        firm: id,
        name: z.string().min(1),
        geometry: lineString,
        corridorM: z.number().positive().max(200).optional(),
        windows: z.array(planWindow).min(1),
        vehicles: z.array(id).min(1),
      }),
    )
    .default([]),
  dutyPlans: z
    .array(
      z.strictObject({
        id,
        firm: id,
        name: z.string().min(1),
        geometry: area,
        windows: z.array(planWindow).min(1),
        cameras: z.array(id).default([]),
        officers: z.array(id).default([]),
      }),
    )
    .default([]),
  uploadStations: z
    .array(
      z.strictObject({
        id,
        name: z.string().min(1),
        position,
        radiusM: z.number().positive().max(1000).optional(),
      }),
    )
    .default([]),
});
const FleetSchema = z.strictObject({
  /** generated muck trucks hauling under a permit (added to its vehicles) */
  muckTrucks: z
    .array(
      z.strictObject({
        permit: id,
        count: z.number().int().positive().max(100_000),
        idPrefix: z.string().min(1).max(40),
        platePrefix: z.string().min(1).max(10).default('皖A·S'),
        ratedLoadT: z.number().positive().default(31),
        reportIntervalS: intervalS.default(10),
        /** device secret; {id} is replaced by the device id (say so only for throw-away test brokers) */
        secretPattern: z.string().min(5).default('sim-secret-{id}'),
      }),
    )
    .default([]),
});
const InjectionSchema = z
  .strictObject({
    type: z.enum(INJECTION_TYPES),
    /** inject for this vehicle (every trip, or the listed trips counted from 0) */
    vehicle: id.optional(),
    trips: z.array(z.number().int().nonnegative()).optional(),
    /** or: a rate (per trip for trip twists; share of the trucks for NO_PERMIT / OFF_HOURS / REVOKE; faults: see FAULT_TYPES) */
    rate: rate.optional(),
    /** SPILLAGE: by an open cover or by weight loss (default: either, drawn per trip) */
    variant: z.enum(['cover', 'weight']).optional(),
  })
  .check((ctx) => {
    const v = ctx.value;
    if ((v.vehicle === undefined) === (v.rate === undefined))
      ctx.issues.push({ code: 'custom', input: v, message: 'give either vehicle or rate' });
    if (v.vehicle !== undefined && !takesVehicle(v.type))
      ctx.issues.push({
        code: 'custom',
        input: v,
        path: ['vehicle'],
        message: `${v.type} is injected by rate only`,
      });
    if (v.variant !== undefined && v.type !== 'SPILLAGE')
      ctx.issues.push({
        code: 'custom',
        input: v,
        path: ['variant'],
        message: 'variant applies to SPILLAGE only',
      });
  });

/** The city thresholds a scenario sets: the rules' own schemas, every key optional (geofence/thresholds/). */
const ThresholdsSchema = THRESHOLD_OVERRIDES;

export const ScenarioFileSchema = z
  .strictObject({
    version: z.literal(1),
    name: z.string().min(1),
    description: z.string().optional(),
    /** city thresholds (defaults of the domain brief for what is left out); provisioned with the world */
    thresholds: ThresholdsSchema.optional(),
    firms: z.array(FirmSchema).min(1),
    officers: z.array(OfficerSchema).default([]),
    vehicles: z.array(VehicleSchema).default([]),
    devices: z.array(DeviceSchema).default([]),
    sites: z.array(SiteSchema).default([]),
    routes: z.array(RouteSchema).default([]),
    zones: z.array(ZoneSchema).default([]),
    permits: z.array(PermitSchema).default([]),
    /** the plans of issue 15 (sanitation and body cameras); absent: none */
    plans: PlansSchema.optional(),
    fleet: FleetSchema.default({ muckTrucks: [] }),
    injections: z.array(InjectionSchema).default([]),
  })
  .check((ctx) => crossCheck(ctx.value, ctx.issues));

export type ScenarioFile = z.output<typeof ScenarioFileSchema>;
export type ScenarioVehicle = ScenarioFile['vehicles'][number];
export type ScenarioDevice = ScenarioFile['devices'][number];
export type ScenarioPermit = ScenarioFile['permits'][number];
export type ScenarioInjection = ScenarioFile['injections'][number];

type Issues = z.core.$ZodRawIssue[];

/** References between entities, unique ids, and what the schema alone cannot say. */
function crossCheck(s: ScenarioFile, issues: Issues): void {
  const fail = (path: (string | number)[], message: string) =>
    issues.push({ code: 'custom', input: undefined, path, message });
  const index = <T extends { id: string }>(list: readonly T[], name: string): Map<string, T> => {
    const m = new Map<string, T>();
    list.forEach((e, i) => {
      if (m.has(e.id)) fail([name, i, 'id'], `duplicate id '${e.id}'`);
      m.set(e.id, e);
    });
    return m;
  };
  const firms = index(s.firms, 'firms');
  const officers = index(s.officers, 'officers');
  const vehicles = index(s.vehicles, 'vehicles');
  index(s.devices, 'devices');
  const sites = index(s.sites, 'sites');
  const routes = index(s.routes, 'routes');
  index(s.zones, 'zones');
  const permits = index(s.permits, 'permits');
  const need = (map: Map<string, unknown>, ref: string, path: (string | number)[], what: string) => {
    if (!map.has(ref)) fail(path, `unknown ${what} '${ref}'`);
  };
  const siteOfKind = (ref: string, kind: 'origin' | 'disposal', path: (string | number)[]) => {
    const site = sites.get(ref);
    if (!site) fail(path, `unknown site '${ref}'`);
    else if (site.kind !== kind) fail(path, `site '${ref}' is of kind ${site.kind}, expected ${kind}`);
  };

  for (const [i, o] of s.officers.entries()) need(firms, o.firm, ['officers', i, 'firm'], 'firm');
  s.vehicles.forEach((v, i) => {
    need(firms, v.firm, ['vehicles', i, 'firm'], 'firm');
    if (v.kind === 'muck_truck' && v.ratedLoadT === undefined)
      fail(['vehicles', i, 'ratedLoadT'], 'a muck truck needs its rated load (t)');
    if (v.haul) {
      need(routes, v.haul.route, ['vehicles', i, 'haul', 'route'], 'route');
      siteOfKind(v.haul.origin, 'origin', ['vehicles', i, 'haul', 'origin']);
      siteOfKind(v.haul.disposal, 'disposal', ['vehicles', i, 'haul', 'disposal']);
    } else if (v.kind === 'muck_truck' && !s.permits.some((p) => p.vehicles.includes(v.id))) {
      fail(['vehicles', i, 'haul'], 'a muck truck named by no permit needs a haul (route, origin, disposal)');
    }
    if (v.round && v.kind !== 'sanitation')
      fail(['vehicles', i, 'round'], 'only sanitation vehicles sweep rounds');
  });
  const deviceOf = new Map<string, number>();
  s.devices.forEach((d, i) => {
    need(firms, d.firm, ['devices', i, 'firm'], 'firm');
    if (d.kind === 'body_camera') {
      if (d.vehicle !== undefined)
        fail(['devices', i, 'vehicle'], 'a body camera is not mounted on a vehicle');
      if (d.officer !== undefined) need(officers, d.officer, ['devices', i, 'officer'], 'officer');
    } else if (d.vehicle === undefined) {
      fail(['devices', i, 'vehicle'], `a ${d.kind} device needs its vehicle`);
    } else {
      const v = vehicles.get(d.vehicle);
      if (!v) fail(['devices', i, 'vehicle'], `unknown vehicle '${d.vehicle}'`);
      else {
        if (v.kind !== d.kind) fail(['devices', i, 'kind'], `vehicle '${v.id}' is a ${v.kind}`);
        if (v.firm !== d.firm) fail(['devices', i, 'firm'], `vehicle '${v.id}' belongs to firm '${v.firm}'`);
        if (deviceOf.has(v.id)) fail(['devices', i, 'vehicle'], `vehicle '${v.id}' already has a device`);
        deviceOf.set(v.id, i);
      }
    }
    if (d.patrol && d.kind !== 'body_camera') fail(['devices', i, 'patrol'], 'only body cameras patrol');
  });
  s.vehicles.forEach((v, i) => {
    if (!deviceOf.has(v.id)) fail(['vehicles', i, 'id'], `vehicle '${v.id}' has no device`);
  });
  s.routes.forEach((r, i) => {
    const n = r.geometry.coordinates.length;
    r.limits?.forEach((l, j) => {
      if (l.from > l.to) fail(['routes', i, 'limits', j, 'to'], 'to must not be before from');
      if (l.to > n - 1)
        fail(['routes', i, 'limits', j, 'to'], `the line has ${n} vertices (last index ${n - 1})`);
    });
  });
  s.zones.forEach((z, i) => {
    if (z.kind === 'speed' && z.speedLimitKmh === undefined)
      fail(['zones', i, 'speedLimitKmh'], 'a speed zone needs its limit');
  });
  s.permits.forEach((p, i) => {
    need(firms, p.firm, ['permits', i, 'firm'], 'firm');
    p.vehicles.forEach((v, j) => {
      const veh = vehicles.get(v);
      if (!veh) fail(['permits', i, 'vehicles', j], `unknown vehicle '${v}'`);
      else if (veh.kind !== 'muck_truck') fail(['permits', i, 'vehicles', j], `'${v}' is not a muck truck`);
    });
    for (const [j, o] of p.origins.entries()) siteOfKind(o, 'origin', ['permits', i, 'origins', j]);
    for (const [j, o] of p.disposals.entries()) siteOfKind(o, 'disposal', ['permits', i, 'disposals', j]);
    for (const [j, r] of p.routes.entries()) need(routes, r, ['permits', i, 'routes', j], 'route');
    if (p.validFrom && p.validTo && p.validFrom > p.validTo)
      fail(['permits', i, 'validTo'], 'validTo is before validFrom');
  });
  for (const [i, f] of s.fleet.muckTrucks.entries())
    need(permits, f.permit, ['fleet', 'muckTrucks', i, 'permit'], 'permit');
  let tripRates = 0;
  const cameras = new Map(s.devices.filter((d) => d.kind === 'body_camera').map((d) => [d.id, d]));
  const plans = s.plans ?? { collectionPoints: [], sweepPlans: [], dutyPlans: [], uploadStations: [] };
  plans.collectionPoints.forEach((p, i) => {
    need(firms, p.firm, ['plans', 'collectionPoints', i, 'firm'], 'firm');
    p.vehicles.forEach((v, j) => {
      if (vehicles.get(v)?.kind !== 'sanitation')
        fail(
          ['plans', 'collectionPoints', i, 'vehicles', j],
          `'${v}' is not a sanitation vehicle of the scenario`,
        );
    });
  });
  plans.sweepPlans.forEach((p, i) => {
    need(firms, p.firm, ['plans', 'sweepPlans', i, 'firm'], 'firm');
    p.vehicles.forEach((v, j) => {
      if (vehicles.get(v)?.kind !== 'sanitation')
        fail(['plans', 'sweepPlans', i, 'vehicles', j], `'${v}' is not a sanitation vehicle of the scenario`);
      else if (plans.collectionPoints.some((c) => c.vehicles.includes(v)))
        fail(
          ['plans', 'sweepPlans', i, 'vehicles', j],
          `'${v}' collects (a vehicle either sweeps or collects)`,
        );
    });
  });
  plans.dutyPlans.forEach((p, i) => {
    need(firms, p.firm, ['plans', 'dutyPlans', i, 'firm'], 'firm');
    p.cameras.forEach((c, j) => {
      if (!cameras.has(c))
        fail(['plans', 'dutyPlans', i, 'cameras', j], `'${c}' is not a body camera of the scenario`);
    });
    for (const [j, o] of p.officers.entries())
      need(officers, o, ['plans', 'dutyPlans', i, 'officers', j], 'officer');
    if (p.cameras.length + p.officers.length === 0)
      fail(['plans', 'dutyPlans', i, 'cameras'], 'a duty plan names cameras or officers');
  });
  if (plans.dutyPlans.length > 0 && plans.uploadStations.length === 0)
    fail(['plans', 'uploadStations'], 'cameras on duty dock at an upload station: give at least one');
  s.injections.forEach((inj, i) => {
    if (inj.vehicle !== undefined) {
      const v = vehicles.get(inj.vehicle);
      const camera = cameras.get(inj.vehicle);
      const deviceFault = (DEVICE_FAULT_TYPES as readonly string[]).includes(inj.type);
      const kind = v?.kind ?? (camera ? 'body_camera' : undefined);
      if (kind === undefined) fail(['injections', i, 'vehicle'], `unknown vehicle '${inj.vehicle}'`);
      else if (kind !== 'muck_truck' && !deviceFault && !PLAN_TWISTS[kind].includes(inj.type))
        fail(
          ['injections', i, 'vehicle'],
          `'${inj.vehicle}' is a ${kind}: it takes ${PLAN_TWISTS[kind].join(', ')} (or a device fault)`,
        );
      else if (kind === 'muck_truck' && (PLAN_VIOLATION_CODES as readonly string[]).includes(inj.type))
        fail(
          ['injections', i, 'type'],
          `${inj.type} is a sanitation or body-camera violation, not a muck truck's`,
        );
    }
    const tripTwist =
      !(FAULT_TYPES as readonly string[]).includes(inj.type) &&
      !(VEHICLE_LEVEL_TYPES as readonly string[]).includes(inj.type) &&
      !(PLAN_VIOLATION_CODES as readonly string[]).includes(inj.type);
    if (inj.rate !== undefined && (PLAN_VIOLATION_CODES as readonly string[]).includes(inj.type))
      fail(['injections', i, 'rate'], `${inj.type} is injected per unit (vehicle), not by rate`);
    if (inj.rate !== undefined && tripTwist) tripRates += inj.rate;
  });
  if (tripRates > 1 + 1e-9)
    fail(
      ['injections'],
      `the per-trip rates add up to ${tripRates.toFixed(3)}: a trip takes at most one twist (<= 1)`,
    );
}

/** `permits[2].windows[0]` from ['permits', 2, 'windows', 0]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out === '' ? String(k) : `.${String(k)}`;
  }
  return out;
}

export class ScenarioError extends Error {
  constructor(
    readonly source: string,
    /** one line per problem: `path: message` */
    readonly problems: string[],
  ) {
    super(`${source}: invalid scenario\n  ${problems.join('\n  ')}`);
    this.name = 'ScenarioError';
  }
}

/** Validates an already parsed document. Throws ScenarioError naming each field at fault. */
export function validateScenario(doc: unknown, source = 'scenario'): ScenarioFile {
  const r = ScenarioFileSchema.safeParse(doc);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${formatPath(i.path) || '(top level)'}: ${i.message}`);
  throw new ScenarioError(source, problems);
}

/** Parses JSON or YAML text (by the file name's extension) and validates it. */
export function parseScenario(text: string, source = 'scenario.json'): ScenarioFile {
  let doc: unknown;
  try {
    doc = /\.ya?ml$/i.test(source) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(source, [
      `not valid ${/\.ya?ml$/i.test(source) ? 'YAML' : 'JSON'}: ${(err as Error).message}`,
    ]);
  }
  return validateScenario(doc, source);
}

export async function readScenario(path: string): Promise<ScenarioFile> {
  return parseScenario(await readFile(path, 'utf8'), path);
}
