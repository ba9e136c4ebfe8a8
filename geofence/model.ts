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

export interface EntityRef {
  kind: 'permit' | 'site' | 'route' | 'zone' | 'vehicle' | 'thresholds';
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
export interface Thresholds {
  /** GNSS accuracy floor: a fix is never judged closer than this to a boundary */
  accuracyFloorM: number;
  offRouteMinMs: number;
  offRouteMinFixes: number;
  offRouteEndInsideMs: number;
  offRouteEscalationMs: number[];
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
  offlineFactor: number;
  trackGapMs: number;
  trackGapSpeedKmh: number;
  /** night windows for route night limits, China Standard Time */
  nightWindows: string[];
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  accuracyFloorM: 15,
  offRouteMinMs: 60_000,
  offRouteMinFixes: 3,
  offRouteEndInsideMs: 30_000,
  offRouteEscalationMs: [10 * 60_000, 15 * 60_000],
  // the same 30 s as OFF_ROUTE's return run: with 15 m GNSS noise (JT/T 794) a truck parked just inside
  // a zone's edge shows single fixes well outside it, never three clear ones in a row
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
  offlineFactor: 3,
  trackGapMs: 5 * 60_000,
  trackGapSpeedKmh: 150,
  nightWindows: ['22:00-06:00'],
};

export const VIOLATION_CODES = [
  'OFF_ROUTE',
  'OFF_HOURS',
  'NO_PERMIT',
  'ILLEGAL_DUMP',
  'SUSPECTED_DUMP',
  'SPILLAGE',
  'WRONG_SITE',
  'OVERSPEED',
  'RESTRICTED_ZONE',
  'OVERLOAD',
  'OFFLINE',
  'TRACK_GAP',
] as const;
export type ViolationCode = (typeof VIOLATION_CODES)[number];

/** City-wide thresholds as a versioned registry entity. */
export interface CityThresholds extends Versioned {
  values: Thresholds;
}

/**
 * Everything the engine judges against, as one immutable snapshot of the registry: only active permits.
 * `compileWorld` (geofence/compile.ts) indexes it once per registry change.
 */
export interface RegistrySnapshot {
  sites: Site[];
  routes: Route[];
  zones: Zone[];
  permits: Permit[];
  vehicles: VehicleProfile[];
  thresholds: CityThresholds;
}
