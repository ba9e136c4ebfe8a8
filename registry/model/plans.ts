import { z } from 'zod';
import {
  type ValidationIssue,
  validateLine,
  validatePolygons,
  validatePosition,
  validateWindows,
} from '../geometry.ts';
import { IdReferenceSchema } from '../ids.ts';
import { zodIssues } from './issues.ts';

/**
 * The plans of issue 15 as the registry stores them (the engine's shapes: geofence/plans.ts), one zod
 * schema per kind with defaults and descriptions: the registry validates with it, the API derives the
 * GeoJSON Feature properties and OpenAPI from it (api/plan-schemas.ts). Geometry and windows are then
 * checked by the same validators as sites and routes (registry/geometry.ts), which name the vertex at
 * fault. Paths of issues are in the stored shape (`lines[0][3]`, `windows[1]`); registry/geojson.ts
 * rewrites them into the Feature.
 */

export const PLAN_KINDS = ['collection_point', 'sweep_plan', 'duty_plan', 'upload_station'] as const;
export type PlanKind = (typeof PLAN_KINDS)[number];

const name = z.string().trim().min(1).max(200).describe('display name');
const firm = IdReferenceSchema.describe(
  'the firm (sanitation company, enforcement department) the plan binds',
);
const windows = z
  .array(z.string())
  .min(1)
  .max(24)
  .describe('daily windows "HH:MM-HH:MM", China Standard Time; may cross midnight (22:00-06:00)');
const units = (what: string) => z.array(IdReferenceSchema).max(10_000).describe(what);
const position = z.array(z.number()).describe('[longitude, latitude]');
/** a distance in metres, positive and at most `max` */
const metres = (max: number, byDefault: number, what: string) =>
  z.number().positive().max(max).default(byDefault).describe(what);

export const CollectionPointBodySchema = z.strictObject({
  firm,
  name,
  position,
  radiusM: metres(1000, 30, 'a stop within this radius is at the point (m)'),
  windows: windows.describe('collection windows (定时): each must see a visit'),
  vehicles: units('the vehicles assigned (a team: several, each judged on its own track)').min(1),
  binsExpected: z
    .number()
    .int()
    .nonnegative()
    .max(100_000)
    .optional()
    .describe('bins per visit, where known'),
});

export const SweepPlanBodySchema = z.strictObject({
  firm,
  name,
  lines: z
    .array(z.array(z.array(z.number())))
    .min(1)
    .max(1000)
    .describe('the road stretches (MultiLineString)'),
  corridorM: metres(200, 20, 'half-width of the swept road each side (m)'),
  windows: windows.describe('shift windows'),
  vehicles: units('the vehicles (or the team) that sweep it').min(1),
});

export const DutyPlanBodySchema = z.strictObject({
  firm,
  name,
  polygons: z.array(z.unknown()).min(1).describe('the grid (网格): a MultiPolygon'),
  windows: windows.describe('duty shifts'),
  cameras: units('body cameras (unit ids) on this duty').default([]),
  officers: units('officers on this duty: a camera worn by one of them is on duty too').default([]),
});

export const UploadStationBodySchema = z.strictObject({
  name,
  position,
  radiusM: metres(1000, 50, 'a camera docked within this radius is at the station (m)'),
});

export const PLAN_BODY_SCHEMAS = {
  collection_point: CollectionPointBodySchema,
  sweep_plan: SweepPlanBodySchema,
  duty_plan: DutyPlanBodySchema,
  upload_station: UploadStationBodySchema,
} as const;

/**
 * The stored shape of a plan input (defaults filled, unknown fields refused, `id` left to the caller)
 * and what is wrong with it.
 */
export function normalizePlan(
  kind: PlanKind,
  input: Record<string, unknown>,
): { value: Record<string, unknown>; issues: ValidationIssue[] } {
  const { id: _id, ...body } = input;
  const parsed = PLAN_BODY_SCHEMAS[kind].safeParse(body);
  if (!parsed.success) return { value: {}, issues: zodIssues(parsed.error) };
  const value = structuredClone(parsed.data) as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  if ('position' in value) issues.push(...validatePosition(value.position, 'position'));
  if ('windows' in value) issues.push(...validateWindows(value.windows, 'windows', { min: 1 }));
  if (kind === 'sweep_plan') {
    (value.lines as unknown[]).forEach((line, i) => {
      issues.push(...validateLine(line, `lines[${i}]`));
    });
  }
  if (kind === 'duty_plan') {
    issues.push(...validatePolygons(value.polygons, 'polygons'));
    if ((value.cameras as string[]).length + (value.officers as string[]).length === 0) {
      issues.push({ path: 'cameras', message: 'a duty plan names at least one camera or officer' });
    }
  }
  return { value, issues };
}
