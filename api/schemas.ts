import { z } from 'zod';
import { type Fix, LOAD_STATES, SANITATION_TASKS, UNIT_KINDS } from '../core/fix.ts';
import { bboxParam } from '../delivery/live/filter.ts';

/**
 * The API's zod schemas: request validation, response serialization and the OpenAPI document all come
 * from here. Schemas given an `id` with `.meta()` become `#/components/schemas/{id}` in the OpenAPI
 * document; `.describe()` texts become the descriptions of fields and parameters.
 */

// ---------------------------------------------------------------------------------------------------
// Problem details (RFC 9457)

export const ProblemFieldErrorSchema = z.object({
  /** where the value came from: params, querystring, headers or body */
  in: z.string(),
  /** JSON pointer into that part of the request, e.g. `/kind`; empty for the whole part */
  pointer: z.string(),
  message: z.string(),
});

export const ProblemSchema = z
  .object({
    type: z
      .string()
      .describe('URI reference identifying the problem type; about:blank for a plain HTTP status'),
    title: z.string().describe('short summary of the problem type'),
    status: z.number().int().min(400).max(599),
    detail: z.string().optional().describe('explanation specific to this occurrence'),
    instance: z.string().optional().describe('the request path of this occurrence'),
    requestId: z
      .string()
      .optional()
      .describe('the request id (also the X-Request-Id header): quote it to find the request in the logs'),
    errors: z
      .array(ProblemFieldErrorSchema)
      .optional()
      .describe('validation problems only: every field at fault'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });
export type Problem = z.infer<typeof ProblemSchema>;

/** A route's response entry: a problem body served as application/problem+json. */
export function problemResponse(description: string) {
  return { description, content: { 'application/problem+json': { schema: ProblemSchema } } };
}

/** A route's response entry: a JSON body, with a description for the OpenAPI document. */
export function jsonResponse<T extends z.ZodType>(description: string, schema: T) {
  return { description, content: { 'application/json': { schema } } };
}

// ---------------------------------------------------------------------------------------------------
// Health

export const HEALTH_STATES = ['ok', 'degraded', 'down'] as const;
export const HealthStateSchema = z.enum(HEALTH_STATES);
export type HealthState = z.infer<typeof HealthStateSchema>;

/**
 * One component of the platform (broker, store, spool, ingest, ...): its state, a human-readable detail
 * when it is not ok, and any component-specific figures beside them: scalars, or one level of named
 * scalars (e.g. connections by client type). Conventional figures:
 * - broker: `connections` (connected clients, a number or a count per client type)
 * - store: `name` ('embedded' | 'influxdb-v1' | 'influxdb-v2'), `ok`
 * - spool: `depthFixes`, `depthBytes`, `diskBytes`, `limitBytes`, `fill` (against its limits),
 *   `oldestAgeS` (age of the oldest fix not yet in the store), waiting/slowed/held messages
 * - ingest: `acceptedTotal`, `rejectedTotal`, ...
 */
const healthFigure = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const ComponentHealthSchema = z
  .object({
    state: HealthStateSchema,
    detail: z.string().optional(),
  })
  .catchall(z.union([healthFigure, z.record(z.string(), healthFigure)]))
  .meta({ id: 'ComponentHealth' });
export type ComponentHealth = z.infer<typeof ComponentHealthSchema>;

export const HealthReportSchema = z
  .object({
    status: HealthStateSchema.describe('overall: the worst state of the components that matter'),
    components: z
      .record(z.string(), ComponentHealthSchema)
      .describe('by component name: broker, store, spool, ingest, ...'),
  })
  .meta({ id: 'HealthReport' });
export type HealthReport = z.infer<typeof HealthReportSchema>;

const SEVERITY: Record<HealthState, number> = { ok: 0, degraded: 1, down: 2 };

/** The worst of some states ('ok' when there are none): a helper for whoever builds a HealthReport. */
export function worstState(states: Iterable<HealthState>): HealthState {
  let worst: HealthState = 'ok';
  for (const s of states) if (SEVERITY[s] > SEVERITY[worst]) worst = s;
  return worst;
}

// ---------------------------------------------------------------------------------------------------
// Positions

const finite = z.number().finite();

/**
 * The Fix, field for field (core/fix.ts). The compile-time check below keeps the two in step: adding a
 * field to Fix without adding it here fails `tsc`.
 */
export const FixSchema = z.object({
  vehicle: z.string().describe('unit id: the vehicle id, or the camera id for body cameras'),
  device: z.string().describe('reporting device id'),
  kind: z.enum(UNIT_KINDS),
  firm: z.string().describe('owning firm or department id'),
  ts: z.number().int().describe('instant of the fix, UTC epoch ms'),
  received: z.number().int().describe('when the platform received the fix, UTC epoch ms'),
  lat: finite.describe('WGS-84 latitude, degrees'),
  lon: finite.describe('WGS-84 longitude, degrees'),
  speed: finite.optional().describe('km/h'),
  heading: finite.optional().describe('degrees 0-359, north 0'),
  alt: finite.optional().describe('altitude, metres'),
  sats: z.number().int().optional().describe('satellites in use'),
  accuracy: finite.optional().describe('horizontal accuracy, metres (named `acc` before 2026-12)'),
  valid: z.boolean().describe('GNSS fix valid; false: last known position, not to be judged'),
  crsIn: z.enum(['WGS84', 'GCJ02']).describe('coordinate system the device sent (stored as WGS-84)'),
  late: z.boolean().describe('arrived after a later-timestamped fix of the same device'),
  ign: z.boolean().optional().describe('ignition (ACC)'),
  load: z.enum(LOAD_STATES).optional().describe('muck truck load state'),
  weight: finite.optional().describe('load weight, tonnes'),
  cover: z.enum(['closed', 'open']).optional().describe('muck truck cover (顶盖)'),
  lift: z.enum(['down', 'up']).optional().describe('muck truck tipper lift (举升)'),
  doors: z.enum(['closed', 'open']).optional(),
  task: z.enum(SANITATION_TASKS).optional().describe('sanitation task state'),
  brush: z.boolean().optional().describe('sanitation brush running'),
  binLifts: z.number().int().optional().describe('bins emptied (收运桶数)'),
  recording: z.boolean().optional().describe('body camera recording'),
  battery: finite.optional().describe('body camera battery, percent'),
  storageFree: finite.optional().describe('body camera free storage, MB'),
  officer: z.string().optional().describe('officer wearing the body camera'),
  sos: z.boolean().optional().describe('SOS pressed (body camera), emergency alarm (vehicle terminal)'),
  docked: z.boolean().optional().describe('body camera docked at an upload station (采集站)'),
  alarms: z
    .string()
    .optional()
    .describe('the terminal’s own alarms (JT/T 808 alarm flags), comma list of names in bit order'),
  mileage: finite.optional().describe('odometer, km'),
  fuel: finite.optional().describe('fuel, litres'),
  tachoSpeed: finite.optional().describe('tachograph speed, km/h'),
  vehicleSignals: z.number().int().optional().describe('extended vehicle signal bits (JT/T 808 item 0x25)'),
  ioStatus: z.number().int().optional().describe('IO status bits (JT/T 808 item 0x2A)'),
  analog0: z.number().int().optional().describe('analog input AD0 (JT/T 808 item 0x2B)'),
  analog1: z.number().int().optional().describe('analog input AD1 (JT/T 808 item 0x2B)'),
  rssi: z.number().int().optional().describe('mobile network signal strength (JT/T 808 item 0x30)'),
});

// Compile-time: FixSchema and the Fix interface describe the same object, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const fixSchemaMatchesFix: Same<Required<z.infer<typeof FixSchema>>, Required<Fix>> = true;
void fixSchemaMatchesFix;

const isoInstant = z.iso.datetime({ offset: false, local: false });

export const PositionDtoSchema = FixSchema.omit({ ts: true, received: true })
  .extend({
    plate: z.string().optional().describe('licence plate from the registry (vehicles only)'),
    ts: isoInstant.describe('instant of the fix, ISO-8601 UTC'),
    received: isoInstant.describe('when the platform received the fix, ISO-8601 UTC'),
  })
  .meta({ id: 'Position', description: 'latest fix of one unit' });
export type PositionDto = z.infer<typeof PositionDtoSchema>;

export const PositionListSchema = z
  .object({
    items: z.array(PositionDtoSchema),
    count: z.number().int().nonnegative().describe('items on this page'),
    nextCursor: z.string().optional().describe('pass as `cursor` for the next page; absent on the last page'),
  })
  .meta({ id: 'PositionList' });
export type PositionList = z.infer<typeof PositionListSchema>;

/**
 * A Fix as the API shows it: instants as ISO-8601 UTC strings, the plate looked up by the caller.
 *
 * One literal with every property of the schema, in its order, absent ones `undefined` (JSON leaves
 * them out), and nothing else: every DTO has the same shape, so building and serializing a thousand of
 * them stays fast (copying the Fix with rest and spread made each DTO an object of its own shape, ~5x
 * slower to build and to serialize; bench/api.ts). The type lists every key: a field added to the
 * schema but not here fails `tsc`.
 */
export function toPositionDto(fix: Fix, plate?: string): PositionDto {
  const dto: { [K in keyof Required<PositionDto>]: PositionDto[K] | undefined } = {
    vehicle: fix.vehicle,
    device: fix.device,
    kind: fix.kind,
    firm: fix.firm,
    lat: fix.lat,
    lon: fix.lon,
    speed: fix.speed,
    heading: fix.heading,
    alt: fix.alt,
    sats: fix.sats,
    accuracy: fix.accuracy,
    valid: fix.valid,
    crsIn: fix.crsIn,
    late: fix.late,
    ign: fix.ign,
    load: fix.load,
    weight: fix.weight,
    cover: fix.cover,
    lift: fix.lift,
    doors: fix.doors,
    task: fix.task,
    brush: fix.brush,
    binLifts: fix.binLifts,
    recording: fix.recording,
    battery: fix.battery,
    storageFree: fix.storageFree,
    officer: fix.officer,
    sos: fix.sos,
    docked: fix.docked,
    alarms: fix.alarms,
    mileage: fix.mileage,
    fuel: fix.fuel,
    tachoSpeed: fix.tachoSpeed,
    vehicleSignals: fix.vehicleSignals,
    ioStatus: fix.ioStatus,
    analog0: fix.analog0,
    analog1: fix.analog1,
    rssi: fix.rssi,
    plate,
    ts: new Date(fix.ts).toISOString(),
    received: new Date(fix.received).toISOString(),
  };
  return dto as PositionDto;
}

const unitId = z.string().min(1).max(128);

/**
 * A query parameter of several values: repeated (`?vehicle=a&vehicle=b`) or a comma list
 * (`?vehicle=a,b`), or both; blanks dropped, each value checked by `item`, at most `max` of them.
 */
export function commaList<T extends z.ZodType<unknown, string>>(item: T, max: number) {
  return z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .pipe(z.array(item).max(max));
}

/** Vehicle ids: repeat the parameter (`?vehicle=a&vehicle=b`) or give a comma list (`?vehicle=a,b`). */
export const vehicleList = commaList(unitId, 1000);

export const PositionsQuerySchema = z.strictObject({
  firm: z.string().min(1).max(128).optional().describe('only units of this firm'),
  kind: z.enum(UNIT_KINDS).optional().describe('only units of this kind'),
  vehicle: vehicleList
    .optional()
    .describe('only these units: repeat the parameter or give a comma-separated list'),
  bbox: bboxParam
    .optional()
    .describe('only units whose latest fix is inside minLon,minLat,maxLon,maxLat (WGS-84 degrees)'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe('page size, max 10,000; without limit and cursor every matching unit is returned'),
  cursor: z.string().min(1).max(512).optional().describe('nextCursor of the previous page'),
});
export type PositionsQuery = z.output<typeof PositionsQuerySchema>;

export const UnitParamsSchema = z.object({
  id: unitId.describe('unit id: a vehicle id, or a body camera id'),
});
