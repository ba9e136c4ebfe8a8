import type { PlanSnapshot } from './plans.ts';
import { DEFAULT_PLAN_RULE_THRESHOLDS, type PlanRuleThresholds } from './rules/plan-thresholds.ts';

/**
 * The compliance engine's view of the world (issue 3): what a rule reads. Plain data, WGS-84 `[lon, lat]`
 * positions, versioned registry entities. Nothing here does I/O; the registry (durable, versioned) and
 * the API produce these objects, and `compileRules` (geofence/compile.ts) turns a snapshot of them into
 * indexed `RulesInForce` once per registry change, never per fix.
 */

export type Position = [lon: number, lat: number];
/** GeoJSON Polygon coordinates: outer ring first, then holes; rings closed. */
export type PolygonCoords = Position[][];

/** Every registry entity carries an id and a version; a violation records the versions it was judged by. */
export interface Versioned {
  id: string;
  /** increases by one on every change */
  version: number;
}

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

/**
 * Thresholds in force (domain.md defaults), city-wide and overridable per permit. Durations in ms,
 * distances in metres, speeds in km/h, weights in tonnes.
 */
export interface Thresholds extends PlanRuleThresholds {
  /** GNSS accuracy floor: a fix is never judged closer than this to a boundary */
  accuracyFloorM: number;
  offRouteMinMs: number;
  offRouteMinFixes: number;
  offRouteEndInsideMs: number;
  offRouteEscalationMs: number[];
  /**
   * RESTRICTED_ZONE opens once the unit has been inside for this many consecutive plausible fixes, or
   * for restrictedZoneMinMs (domain.md: a single fix inside proves nothing)
   */
  restrictedZoneMinFixes: number;
  restrictedZoneMinMs: number;
  /** RESTRICTED_ZONE ends only after the unit has been clearly outside (beyond the accuracy margin) this long */
  restrictedZoneExitMs: number;
  offHoursSpeedKmh: number;
  offHoursMinMs: number;
  dumpWeightDropT: number;
  suspectedDumpSpeedKmh: number;
  suspectedDumpMinMs: number;
  spillageSpeedKmh: number;
  spillageMinMs: number;
  spillageWeightDropT: number;
  overspeedMinMs: number;
  /** grades: fraction over the limit */
  overspeedGrades: number[];
  overspeedEscalationMs: number[];
  overloadMinMs: number;
  /**
   * NO_PERMIT also covers loaded movement (> offHoursSpeedKmh) with no valid permit (revoked, or after
   * its last window) lasting this long
   */
  noPermitMovingMinMs: number;
  /**
   * A change of a sensor reading (load state, weight) is acted on once it has persisted this long (or is
   * corroborated by lift, stop or weight); a reading that returns sooner is a glitch, counted, not judged
   */
  sensorConfirmMs: number;
  /**
   * A fix implying more than this speed from both of its neighbours (positions less their accuracy
   * allowance), while the neighbours agree with each other, is an outlier: stored, not judged
   */
  outlierSpeedKmh: number;
  /** OFFLINE: silence allowed = max(offlineFactor x the report interval, offlineMinMs) */
  offlineFactor: number;
  offlineMinMs: number;
  trackGapMs: number;
  trackGapSpeedKmh: number;
  /** night windows for route night limits and the default night limits, China Standard Time */
  nightWindows: string[];
  /**
   * City default speed limits by unit kind (day, and inside nightWindows): judged wherever no stricter
   * route stretch or speed zone limit applies; a kind left out has no default limit
   */
  defaultSpeedLimitKmh: SpeedLimitsByKind;
  defaultNightSpeedLimitKmh: SpeedLimitsByKind;
}

/** km/h per unit kind (body cameras are never judged for speed). */
export interface SpeedLimitsByKind {
  muck_truck?: number;
  sanitation?: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  accuracyFloorM: 15,
  offRouteMinMs: 60_000,
  offRouteMinFixes: 3,
  offRouteEndInsideMs: 30_000,
  offRouteEscalationMs: [10 * 60_000, 15 * 60_000],
  // the same 30 s as OFF_ROUTE's return run: with 15 m GNSS noise (JT/T 794) a truck parked just inside
  // a zone's edge shows single fixes well outside it, never three clear ones in a row
  restrictedZoneMinFixes: 2,
  restrictedZoneMinMs: 20_000,
  restrictedZoneExitMs: 30_000,
  offHoursSpeedKmh: 5,
  offHoursMinMs: 60_000,
  dumpWeightDropT: 2,
  suspectedDumpSpeedKmh: 3,
  suspectedDumpMinMs: 5 * 60_000,
  spillageSpeedKmh: 5,
  spillageMinMs: 30_000,
  spillageWeightDropT: 0.5,
  overspeedMinMs: 10_000,
  overspeedGrades: [0.2, 0.5],
  overspeedEscalationMs: [5 * 60_000, 10 * 60_000],
  overloadMinMs: 60_000,
  noPermitMovingMinMs: 60_000,
  sensorConfirmMs: 60_000,
  // the TRACK_GAP speed: a fix that would make a jump with both neighbours, while they agree, is the outlier
  outlierSpeedKmh: 150,
  offlineFactor: 3,
  offlineMinMs: 10 * 60_000,
  trackGapMs: 5 * 60_000,
  trackGapSpeedKmh: 150,
  nightWindows: ['22:00-06:00'],
  defaultSpeedLimitKmh: { muck_truck: 60, sanitation: 60 },
  defaultNightSpeedLimitKmh: { muck_truck: 50, sanitation: 50 },
  // the sanitation and body-camera rules declare theirs as zod schemas (rules/plan-thresholds.ts)
  ...DEFAULT_PLAN_RULE_THRESHOLDS,
};

// The violation codes live in a module of their own, with no imports, so that the console's bundle
// takes the same list (console/src/i18n.ts) instead of a copy of it.
export { PLAN_VIOLATION_CODES, VIOLATION_CODES } from './codes.ts';

import type { PLAN_VIOLATION_CODES, VIOLATION_CODES } from './codes.ts';

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
