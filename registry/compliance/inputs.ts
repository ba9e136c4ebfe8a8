import type { RouteSegmentLimit, Site } from '../../geofence/model.ts';
import { DEFAULT_THRESHOLDS, THRESHOLD_OVERRIDES } from '../../geofence/thresholds/index.ts';
import {
  DEFAULT_CORRIDOR_M,
  type ValidationIssue,
  validateCorridor,
  validateDates,
  validateLimits,
  validateLine,
  validatePolygons,
  validateSpeed,
  validateWindows,
} from '../geometry.ts';
import { ID_GRAMMAR, isValidId } from '../ids.ts';
import { normalizeIncident } from '../incident-schema.ts';
import { zodIssues } from '../model/issues.ts';
import { PERMIT_STATES } from '../permit-workflow.ts';
import { normalizePlan } from '../plan-schemas.ts';
import { CITY_THRESHOLDS_ID, type ComplianceKind, type EntityOf } from './types.ts';

/** a reference to another entity: it must exist (referenceIssues), so ids from before the grammar count */
const isIdReference = (id: unknown): id is string =>
  typeof id === 'string' && id.length > 0 && id.length <= 256;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------------
// Normalization and validation of inputs (pure; registry/geojson.ts uses them too)

function text(
  issues: ValidationIssue[],
  v: unknown,
  path: string,
  opts: { max?: number; empty?: boolean } = {},
) {
  if (typeof v !== 'string' || (!opts.empty && v.trim().length === 0)) {
    issues.push({ path, message: opts.empty ? 'must be a string' : 'must be a non-empty string' });
  } else if (v.length > (opts.max ?? 200)) {
    issues.push({ path, message: `must be at most ${opts.max ?? 200} characters` });
  }
}

function idList(issues: ValidationIssue[], v: unknown, path: string, min = 1) {
  if (!Array.isArray(v)) {
    issues.push({ path, message: 'must be a list of ids' });
    return;
  }
  if (v.length < min) issues.push({ path, message: `at least ${min} required` });
  const seen = new Set<string>();
  v.forEach((x: unknown, i) => {
    if (!isIdReference(x)) issues.push({ path: `${path}[${i}]`, message: 'not a valid id' });
    else if (seen.has(x)) issues.push({ path: `${path}[${i}]`, message: `duplicate '${x}'` });
    else seen.add(x);
  });
}

/** the id of the entity written: the grammar (registry/ids.ts), unless it names one that exists already */
function idIssues(id: unknown, exists: (id: string) => boolean): ValidationIssue[] {
  return id === undefined || isValidId(id) || (typeof id === 'string' && exists(id))
    ? []
    : [{ path: 'id', message: `must be ${ID_GRAMMAR}` }];
}

function oneOf<T extends string>(issues: ValidationIssue[], v: unknown, allowed: readonly T[], path: string) {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    issues.push({ path, message: `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}` });
  }
}

/**
 * Threshold overrides (a PUT's values, a permit's), validated by the rules' own schemas
 * (geofence/thresholds/), the same ones the API's request schemas are (issue 11).
 */
export function validateThresholdValues(values: unknown, path: string): ValidationIssue[] {
  const parsed = THRESHOLD_OVERRIDES.safeParse(values);
  return parsed.success ? [] : zodIssues(parsed.error, path);
}

const copyPolygons = (p: unknown) => structuredClone(p) as Site['polygons'];

/**
 * Builds the stored shape of an input (known fields only, defaults filled, `id` as given) and lists what
 * is wrong with it, with paths in the input's own shape (`polygons[0][0][3]`, `limits[1].to`). References
 * between entities are checked by the registry, not here.
 */
export function normalizeInput<K extends ComplianceKind>(
  kind: K,
  input: unknown,
  /** an id outside the grammar is accepted only for an entity that exists (created before the grammar) */
  exists: (id: string) => boolean = () => false,
): { value: Omit<EntityOf<K>, 'version' | 'id'> & { id?: string }; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  if (!isObject(input)) {
    return { value: {} as never, issues: [{ path: '', message: `a ${kind} must be an object` }] };
  }
  const b = input;
  issues.push(...idIssues(b.id, exists));
  const withId = <T extends object>(v: T) => (b.id === undefined ? v : { id: b.id as string, ...v });
  let value: object;
  switch (kind) {
    case 'site': {
      oneOf(issues, b.kind, ['origin', 'disposal'] as const, 'kind');
      text(issues, b.name, 'name');
      issues.push(...validatePolygons(b.polygons, 'polygons'));
      value = withId({ kind: b.kind, name: b.name, polygons: copyPolygons(b.polygons) });
      break;
    }
    case 'route': {
      text(issues, b.name, 'name');
      const corridorM = b.corridorM ?? DEFAULT_CORRIDOR_M;
      const limits = b.limits ?? [];
      const lineIssues = validateLine(b.line, 'line');
      issues.push(...lineIssues);
      issues.push(...validateCorridor(corridorM, 'corridorM'));
      if (lineIssues.length === 0)
        issues.push(...validateLimits(limits, (b.line as unknown[]).length, 'limits'));
      const cleanLimits = Array.isArray(limits)
        ? limits.map((l: RouteSegmentLimit) => {
            const out: RouteSegmentLimit = { from: l?.from, to: l?.to };
            if (l?.speedLimitKmh !== undefined) out.speedLimitKmh = l.speedLimitKmh;
            if (l?.nightLimitKmh !== undefined) out.nightLimitKmh = l.nightLimitKmh;
            return out;
          })
        : limits;
      value = withId({ name: b.name, line: structuredClone(b.line), corridorM, limits: cleanLimits });
      break;
    }
    case 'zone': {
      oneOf(issues, b.kind, ['restricted', 'speed'] as const, 'kind');
      text(issues, b.name, 'name');
      issues.push(...validatePolygons(b.polygons, 'polygons'));
      const windows = b.windows ?? [];
      issues.push(...validateWindows(windows, 'windows'));
      if (b.speedLimitKmh !== undefined) issues.push(...validateSpeed(b.speedLimitKmh, 'speedLimitKmh'));
      else if (b.kind === 'speed')
        issues.push({ path: 'speedLimitKmh', message: 'required for a speed zone' });
      if (b.appliesTo !== undefined) {
        if (!Array.isArray(b.appliesTo) || b.appliesTo.length === 0) {
          issues.push({
            path: 'appliesTo',
            message: "must be a non-empty list of 'muck_truck', 'sanitation'",
          });
        } else {
          b.appliesTo.forEach((a: unknown, i) => {
            oneOf(issues, a, ['muck_truck', 'sanitation'] as const, `appliesTo[${i}]`);
          });
        }
      }
      const zone: Record<string, unknown> = {
        kind: b.kind,
        name: b.name,
        polygons: copyPolygons(b.polygons),
        windows: structuredClone(windows),
      };
      if (b.speedLimitKmh !== undefined) zone.speedLimitKmh = b.speedLimitKmh;
      if (b.appliesTo !== undefined) zone.appliesTo = structuredClone(b.appliesTo);
      value = withId(zone);
      break;
    }
    case 'permit': {
      text(issues, b.firm, 'firm', { max: 128 });
      idList(issues, b.vehicles, 'vehicles');
      idList(issues, b.origins, 'origins');
      idList(issues, b.disposals, 'disposals');
      idList(issues, b.routes, 'routes');
      issues.push(...validateDates(b.validFrom, b.validTo, { from: 'validFrom', to: 'validTo' }));
      issues.push(...validateWindows(b.windows, 'windows', { min: 1 }));
      text(issues, b.cargo, 'cargo', { empty: true });
      oneOf(issues, b.state, PERMIT_STATES, 'state');
      if (b.thresholds !== undefined) issues.push(...validateThresholdValues(b.thresholds, 'thresholds'));
      const permit: Record<string, unknown> = {
        firm: b.firm,
        vehicles: structuredClone(b.vehicles),
        origins: structuredClone(b.origins),
        disposals: structuredClone(b.disposals),
        routes: structuredClone(b.routes),
        validFrom: b.validFrom,
        validTo: b.validTo,
        windows: structuredClone(b.windows),
        cargo: b.cargo,
        state: b.state,
      };
      if (b.thresholds !== undefined) permit.thresholds = structuredClone(b.thresholds);
      value = withId(permit);
      break;
    }
    case 'thresholds': {
      if (b.id !== undefined && b.id !== CITY_THRESHOLDS_ID) {
        issues.push({ path: 'id', message: `the city thresholds have the id '${CITY_THRESHOLDS_ID}'` });
      }
      issues.push(...validateThresholdValues(b.values, 'values'));
      value = {
        id: CITY_THRESHOLDS_ID,
        values: { ...DEFAULT_THRESHOLDS, ...(isObject(b.values) ? structuredClone(b.values) : {}) },
      };
      break;
    }
    case 'collection_point':
    case 'sweep_plan':
    case 'duty_plan':
    case 'upload_station': {
      const plan = normalizePlan(kind, b);
      issues.push(...plan.issues);
      value = withId(plan.value);
      break;
    }
    case 'incident': {
      const incident = normalizeIncident(b);
      issues.push(...incident.issues);
      value = withId(incident.value);
      break;
    }
    default:
      throw new Error(`unknown compliance kind ${String(kind)}`);
  }
  return { value: value as never, issues };
}
