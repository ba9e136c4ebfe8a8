import type { z } from 'zod';
import { DEFAULT_THRESHOLDS, THRESHOLD_OVERRIDES } from '../../geofence/thresholds/index.ts';
import type { ValidationIssue } from '../geometry.ts';
import { ID_GRAMMAR, isValidId } from '../ids.ts';
import { normalizeIncident } from '../model/incident.ts';
import { inFieldOrder, zodIssues } from '../model/issues.ts';
import { PermitBodySchema, PermitFields } from '../model/permit.ts';
import {
  RouteBodySchema,
  RouteFields,
  SiteBodySchema,
  SiteFields,
  ZoneBodySchema,
  ZoneFields,
} from '../model/places.ts';
import { normalizePlan } from '../model/plans.ts';
import { CITY_THRESHOLDS_ID, type ComplianceKind, type EntityOf } from './types.ts';

/**
 * The inputs of the compliance registry validated (pure; registry/geojson.ts uses it too): each kind by
 * its schema of registry/model/, the one the API's request bodies are built from (issue 11).
 */

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** the id of the entity written: the grammar (registry/ids.ts), unless it names one that exists already */
function idIssues(id: unknown, exists: (id: string) => boolean): ValidationIssue[] {
  return id === undefined || isValidId(id) || (typeof id === 'string' && exists(id))
    ? []
    : [{ path: 'id', message: `must be ${ID_GRAMMAR}` }];
}

/**
 * Threshold overrides (a PUT's values, a permit's), validated by the rules' own schemas
 * (geofence/thresholds/), the same ones the API's request schemas are (issue 11).
 */
export function validateThresholdValues(values: unknown, path: string): ValidationIssue[] {
  const parsed = THRESHOLD_OVERRIDES.safeParse(values);
  return parsed.success ? [] : zodIssues(parsed.error, path);
}

/** The kinds with one schema for the whole entity, and the order of its fields (for the issues). */
const SCHEMAS: Partial<Record<ComplianceKind, { schema: z.ZodType; fields: readonly string[] }>> = {
  site: { schema: SiteBodySchema, fields: Object.keys(SiteFields) },
  route: { schema: RouteBodySchema, fields: Object.keys(RouteFields) },
  zone: { schema: ZoneBodySchema, fields: Object.keys(ZoneFields) },
  permit: { schema: PermitBodySchema, fields: Object.keys(PermitFields) },
};

/**
 * Builds the stored shape of an input (known fields only, defaults filled, `id` as given) and lists what
 * is wrong with it, with paths in the input's own shape (`polygons[0][0][3]`, `limits[1].to`), in the
 * order of the entity's fields. References between entities are checked by the registry, not here.
 */
export function normalizeInput<K extends ComplianceKind>(
  kind: K,
  input: unknown,
  /** an id outside the grammar is accepted only for an entity that exists (created before the grammar) */
  exists: (id: string) => boolean = () => false,
): { value: Omit<EntityOf<K>, 'version' | 'id'> & { id?: string }; issues: ValidationIssue[] } {
  if (!isObject(input)) {
    return { value: {} as never, issues: [{ path: '', message: `a ${kind} must be an object` }] };
  }
  const { id, ...body } = input;
  const issues = idIssues(id, exists);
  const withId = <T extends object>(v: T) => (id === undefined ? v : { id: id as string, ...v });
  let value: object;
  const entity = SCHEMAS[kind];
  if (entity !== undefined) {
    const parsed = entity.schema.safeParse(body);
    if (!parsed.success) issues.push(...inFieldOrder(zodIssues(parsed.error), entity.fields));
    value = parsed.success ? withId(structuredClone(parsed.data) as object) : {};
  } else {
    switch (kind) {
      case 'thresholds': {
        if (id !== undefined && id !== CITY_THRESHOLDS_ID) {
          issues.push({ path: 'id', message: `the city thresholds have the id '${CITY_THRESHOLDS_ID}'` });
        }
        issues.push(...validateThresholdValues(body.values, 'values'));
        value = {
          id: CITY_THRESHOLDS_ID,
          values: { ...DEFAULT_THRESHOLDS, ...(isObject(body.values) ? structuredClone(body.values) : {}) },
        };
        break;
      }
      case 'collection_point':
      case 'sweep_plan':
      case 'duty_plan':
      case 'upload_station': {
        const plan = normalizePlan(kind, body);
        issues.push(...plan.issues);
        value = withId(plan.value);
        break;
      }
      case 'incident': {
        const incident = normalizeIncident(body);
        issues.push(...incident.issues);
        value = withId(incident.value);
        break;
      }
      default:
        throw new Error(`unknown compliance kind ${String(kind)}`);
    }
  }
  return { value: value as never, issues };
}
