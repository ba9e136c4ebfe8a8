import { z } from 'zod';
import { parseWindow } from '../../geofence/geo/windows.ts';
import { THRESHOLD_OVERRIDES } from '../../geofence/thresholds/index.ts';
import { EntityIdSchema } from '../../registry/ids.ts';
import { INJECTION_TYPES, takesVehicle } from './injection-types.ts';

/**
 * The scenario file's shape (file.ts): the world's entities as GeoJSON in WGS-84, the plans, the fleet
 * and the injections, each field with the message that names what is expected.
 */

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

/**
 * A daily "HH:MM-HH:MM" the engine's window parser accepts; `expected` says which forms the field takes
 * when the text is not of that form.
 */
function checkDailyWindow(ctx: { value: string; issues: z.core.$ZodRawIssue[] }, expected: string): void {
  if (!/^\d{2}:\d{2}-\d{2}:\d{2}$/.test(ctx.value)) {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: expected });
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
}

const timeWindow = z.string().check((ctx) => checkDailyWindow(ctx, 'expected HH:MM-HH:MM'));
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
  checkDailyWindow(ctx, 'expected HH:MM-HH:MM or +H:MM-+H:MM');
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

/** The scenario file's shape; file.ts adds the checks across entities (file-check.ts). */
export const ScenarioBodySchema = z.strictObject({
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
});

export type ScenarioFile = z.output<typeof ScenarioBodySchema>;
export type ScenarioVehicle = ScenarioFile['vehicles'][number];
export type ScenarioDevice = ScenarioFile['devices'][number];
export type ScenarioPermit = ScenarioFile['permits'][number];
export type ScenarioInjection = ScenarioFile['injections'][number];
