import type { PolygonCoords, Position, Versioned } from './entity.ts';

/**
 * Work plans (issue 15), the registry entities the sanitation and body-camera rules judge against, as
 * the engine reads them: plain data, WGS-84 `[lon, lat]`, versioned like sites and routes. Windows are
 * daily "HH:MM-HH:MM" in China Standard Time and may cross midnight (a window belongs to the date it
 * starts). The registry validates them (registry/model/plans.ts); compile.ts indexes them once per
 * registry change.
 *
 * Assignment is by unit: a plan lists the vehicles (or, for duty plans, the cameras and officers) it
 * binds. A team is the list of its vehicles; each listed unit is judged on its own track (the engine's
 * state is keyed by unit: architecture principle 5), so a point served by two trucks alternately is two
 * points, one per truck, or one point per window.
 */

/** A collection point (收运点): must be visited in each of its windows (定点定时). */
export interface CollectionPoint extends Versioned {
  /** the sanitation firm (or department) responsible */
  firm: string;
  name: string;
  position: Position;
  /** a stop within this radius (plus the GNSS allowance) is at the point; default 30 m */
  radiusM: number;
  /** daily collection windows, at least one */
  windows: string[];
  /** the vehicles assigned */
  vehicles: string[];
  /** bins expected per visit, where known (reported with each visit, not judged) */
  binsExpected?: number;
}

/** A sweeping plan: road stretches a vehicle or team sweeps in each shift. */
export interface SweepPlan extends Versioned {
  firm: string;
  name: string;
  /** the road stretches (a MultiLineString), each at least two vertices */
  lines: Position[][];
  /** half-width of the swept road each side of its centre line; default 20 m */
  corridorM: number;
  /** daily shift windows, at least one */
  windows: string[];
  vehicles: string[];
}

/** Officers' duty: a grid (网格) and the shifts during which the listed cameras / officers patrol it. */
export interface DutyPlan extends Versioned {
  /** the enforcement department (a firm in the registry) */
  firm: string;
  name: string;
  /** the grid: a MultiPolygon */
  polygons: PolygonCoords[];
  /** daily shift windows, at least one */
  windows: string[];
  /** body cameras (their unit ids) on this duty */
  cameras: string[];
  /** officers on this duty: a camera worn by one of them (the fix's `officer`) is on duty too */
  officers: string[];
}

/** An upload station (采集站) where cameras dock to upload footage: a point with a radius. */
export interface UploadStation extends Versioned {
  name: string;
  position: Position;
  /** default 50 m */
  radiusM: number;
}

/**
 * An incident (事件) the command centre dispatches a unit to (issue 15, item 5; 精准化综合指挥): created at
 * a point, assigned to one unit, its arrival (the first fix within `radiusM`) and its closing recorded as
 * new versions. Instants are epoch ms on the platform's judgement clock (the fixes' time base). While a
 * body camera is assigned to an open incident, NOT_RECORDING judges it on the incident's policy.
 */
export interface Incident extends Versioned {
  /** what happened, for the officer and the record */
  title: string;
  position: Position;
  /** the unit has arrived at its first fix within this radius; default 50 m */
  radiusM: number;
  openedAt: number;
  /** the unit assigned; undefined until assigned */
  unit?: string;
  assignedAt?: number;
  /** first fix of the assigned unit within the radius (the fix's instant) */
  arrivedAt?: number;
  closedAt?: number;
}

/** The incident a unit is assigned to at an instant (assigned at or before it, not closed by then). */
export function incidentAt(incidents: readonly Incident[], ts: number): Incident | undefined {
  for (const i of incidents) {
    if (i.assignedAt !== undefined && i.assignedAt <= ts && (i.closedAt === undefined || ts < i.closedAt)) {
      return i;
    }
  }
  return undefined;
}

/** The plans of a registry snapshot (all optional: a city without plans judges trucks only). */
export interface PlanSnapshot {
  collectionPoints?: CollectionPoint[];
  sweepPlans?: SweepPlan[];
  dutyPlans?: DutyPlan[];
  uploadStations?: UploadStation[];
  /** the open incidents and the most recently closed ones (registry/compliance.ts snapshot) */
  incidents?: Incident[];
}

/** Where a position lies against a sweep plan: its nearest road stretch. */
export interface SweepMatch {
  /** index of the stretch in `lines` */
  line: number;
  /** metres from the stretch's centre line */
  distanceM: number;
  /** metres along the stretch from its first vertex */
  alongM: number;
}

/**
 * A sweep plan cut into pieces of about SWEEP_PIECE_M along each stretch (compile.ts): coverage is the
 * length of the pieces swept. Piece k of stretch i is global piece `offsets[i] + k`.
 */
export interface SweepLayout {
  /** first global piece of each stretch */
  offsets: number[];
  /** length of each stretch, metres */
  lengthsM: number[];
  totalPieces: number;
  totalM: number;
}

/** Granularity of SWEEP_COVERAGE (metres of road per piece). */
export const SWEEP_PIECE_M = 20;
