import type { PlanSnapshot } from './plans.ts';

/**
 * The compliance engine's view of the world (issue 3): what a rule reads. Plain data, WGS-84 `[lon, lat]`
 * positions, versioned registry entities. Nothing here does I/O; the registry (durable, versioned) and
 * the API produce these objects, and `compileRules` (geofence/compile.ts) turns a snapshot of them into
 * indexed `RulesInForce` once per registry change, never per fix.
 */

// Positions, polygons and versions are shared with the plans (plans.ts): declared in entity.ts.
export type { PolygonCoords, Position, Versioned } from './entity.ts';

import type { PolygonCoords, Position, Versioned } from './entity.ts';

/** Kinds of registry entity a violation can rest on (the plans of issue 15 after the 两点一线 ones). */
export const ENTITY_REF_KINDS = [
  'permit',
  'site',
  'route',
  'zone',
  'vehicle',
  'thresholds',
  'collection_point',
  'sweep_plan',
  'duty_plan',
  'upload_station',
  'incident',
] as const;

export interface EntityRef {
  kind: (typeof ENTITY_REF_KINDS)[number];
  id: string;
  version: number;
}

export type SiteKind = 'origin' | 'disposal';

/** A construction site (工地, origin) or a disposal site (消纳场). MultiPolygon: a list of polygons. */
export interface Site extends Versioned {
  kind: SiteKind;
  name: string;
  polygons: PolygonCoords[];
}

export interface RouteSegmentLimit {
  /** index of the first vertex of the stretch (inclusive) */
  from: number;
  /** index of the last vertex of the stretch (inclusive) */
  to: number;
  /** km/h, day */
  speedLimitKmh?: number;
  /** km/h, applies inside `nightWindows` of the thresholds */
  nightLimitKmh?: number;
}

/** A permitted route: a polyline with a corridor (half-width each side, metres). */
export interface Route extends Versioned {
  name: string;
  line: Position[];
  /** default 50 m */
  corridorM: number;
  limits: RouteSegmentLimit[];
}

export type ZoneKind = 'restricted' | 'speed';

/**
 * A restricted zone (禁行区: closed to these vehicles during `windows`) or a speed zone (a limit during
 * `windows`; all day when empty).
 */
export interface Zone extends Versioned {
  kind: ZoneKind;
  name: string;
  polygons: PolygonCoords[];
  /** daily windows in China Standard Time, "HH:MM-HH:MM", may cross midnight */
  windows: string[];
  /** speed zones: km/h */
  speedLimitKmh?: number;
  /** which unit kinds it applies to (default muck trucks) */
  appliesTo?: Array<'muck_truck' | 'sanitation'>;
}

/** 建筑垃圾处置核准: the permit as one object. Only permits in state `active` reach the engine. */
export interface Permit extends Versioned {
  firm: string;
  vehicles: string[];
  origins: string[];
  disposals: string[];
  routes: string[];
  /** local dates (Asia/Shanghai), inclusive */
  validFrom: string;
  validTo: string;
  /** daily windows in China Standard Time, "HH:MM-HH:MM", may cross midnight */
  windows: string[];
  cargo: string;
  /** overrides of the city defaults for this permit */
  thresholds?: Partial<Thresholds>;
}

export interface VehicleProfile extends Versioned {
  firm: string;
  kind: 'muck_truck' | 'sanitation' | 'body_camera';
  /** tonnes */
  ratedLoadT?: number;
  /** nominal report interval, seconds */
  reportIntervalS: number;
}

// The thresholds are declared in the rules' own modules, as zod schemas, and gathered in thresholds.ts
// (issue 11): the type is re-exported here for the many modules that read it beside the model.
export type { Thresholds } from './thresholds/index.ts';

import type { Thresholds } from './thresholds/index.ts';

// The violation codes live in the core layer (core/violation-codes.ts), with no imports, so that the
// console's bundle and the ground-truth oracle take the same list instead of a copy of it.
export { PLAN_VIOLATION_CODES, VIOLATION_CODES } from '../core/violation-codes.ts';

import type { PLAN_VIOLATION_CODES, VIOLATION_CODES } from '../core/violation-codes.ts';

export type PlanViolationCode = (typeof PLAN_VIOLATION_CODES)[number];
export type ViolationCode = (typeof VIOLATION_CODES)[number];

/** City-wide thresholds as a versioned registry entity. */
export interface CityThresholds extends Versioned {
  values: Thresholds;
}

/**
 * Everything the engine judges against, as one immutable snapshot of the registry: only active permits.
 * `compileWorld` (geofence/compile.ts) indexes it once per registry change.
 */
export interface RegistrySnapshot extends PlanSnapshot {
  sites: Site[];
  routes: Route[];
  zones: Zone[];
  permits: Permit[];
  vehicles: VehicleProfile[];
  thresholds: CityThresholds;
}
