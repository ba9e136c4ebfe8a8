import type { UnitKind } from '../../../core/fix.ts';
import { type PolygonCoords, type Position, toLatLon } from '../../shared/geo.ts';
import { Polyline } from '../../shared/tracks.ts';
import { coveredOnDates, inLocalWindows, type LocalWindow, onDates, parseLocalWindow } from './time.ts';

/**
 * The world as the ground-truth oracle reads it (oracle.ts): the registry entities by shape, the
 * thresholds in force, the permits compiled once per run (revocations during the run included), and what
 * a unit really did at one step.
 */

/** The registry entities as the oracle reads them (the fields it needs, by shape). */
export interface OracleSite {
  id: string;
  kind: 'origin' | 'disposal';
  polygons: PolygonCoords[];
}
export interface OracleRoute {
  id: string;
  line: Position[];
  corridorM: number;
  limits: Array<{ from: number; to: number; speedLimitKmh?: number; nightLimitKmh?: number }>;
}
export interface OracleZone {
  id: string;
  kind: 'restricted' | 'speed';
  polygons: PolygonCoords[];
  windows: string[];
  speedLimitKmh?: number;
  appliesTo?: Array<'muck_truck' | 'sanitation'>;
}
export interface OraclePermit {
  id: string;
  vehicles: string[];
  origins: string[];
  disposals: string[];
  routes: string[];
  validFrom: string;
  validTo: string;
  windows: string[];
}
/** The thresholds the definitions use (domain.md defaults, or the scenario's). */
export interface OracleThresholds {
  offRouteMinMs: number;
  offRouteMinFixes: number;
  offRouteEndInsideMs: number;
  offHoursSpeedKmh: number;
  offHoursMinMs: number;
  noPermitMovingMinMs: number;
  dumpWeightDropT: number;
  suspectedDumpSpeedKmh: number;
  suspectedDumpMinMs: number;
  spillageSpeedKmh: number;
  spillageMinMs: number;
  spillageWeightDropT: number;
  sensorConfirmMs: number;
  overspeedMinMs: number;
  restrictedZoneMinFixes: number;
  restrictedZoneMinMs: number;
  overloadMinMs: number;
  offlineFactor: number;
  offlineMinMs: number;
  trackGapMs: number;
  trackGapSpeedKmh: number;
  nightWindows: string[];
  defaultSpeedLimitKmh: { muck_truck?: number; sanitation?: number };
  defaultNightSpeedLimitKmh: { muck_truck?: number; sanitation?: number };
}

/** What the unit really did at one step (true values). */
export interface TrueState {
  ts: number;
  lat: number;
  lon: number;
  speed: number;
  ign?: boolean;
  load?: 'empty' | 'half' | 'full';
  weight?: number;
  cover?: 'open' | 'closed';
  lift?: 'up' | 'down';
}

export interface OracleUnit {
  /** vehicle id (or the body camera's id) */
  id: string;
  kind: UnitKind;
  ratedLoadT?: number;
  /** nominal report interval, seconds (the registry's: OFFLINE allows max(offlineFactor x this, offlineMinMs)) */
  reportIntervalS: number;
}

export interface CompiledPermit {
  permit: OraclePermit;
  windows: LocalWindow[];
  /** when it was revoked during the run (epoch ms), if it was */
  revokedAt?: number;
}

/** The world as the oracle reads it (compiled once per run). */
export class OracleWorld {
  readonly permits: CompiledPermit[];
  readonly routes = new Map<string, { route: OracleRoute; line: Polyline }>();
  readonly nightWindows: LocalWindow[];
  private readonly zoneWindows = new Map<string, LocalWindow[]>();

  constructor(
    readonly sites: readonly OracleSite[],
    routes: readonly OracleRoute[],
    readonly zones: readonly OracleZone[],
    permits: readonly OraclePermit[],
    readonly thresholds: OracleThresholds,
  ) {
    this.permits = permits.map((p) => ({ permit: p, windows: p.windows.map(parseLocalWindow) }));
    for (const r of routes) this.routes.set(r.id, { route: r, line: new Polyline(r.line.map(toLatLon)) });
    for (const z of zones) this.zoneWindows.set(z.id, z.windows.map(parseLocalWindow));
    this.nightWindows = thresholds.nightWindows.map(parseLocalWindow);
  }

  permitsOf(vehicle: string): CompiledPermit[] {
    return this.permits.filter((p) => p.permit.vehicles.includes(vehicle));
  }

  /** The permit is revoked from this instant on (the run revokes it through the API then). */
  revoke(permitId: string, ts: number): void {
    for (const p of this.permits) if (p.permit.id === permitId) p.revokedAt = ts;
  }

  zoneOpen(z: OracleZone, ts: number): boolean {
    const w = this.zoneWindows.get(z.id) ?? [];
    return w.length === 0 || inLocalWindows(w, ts);
  }
}

/** Not revoked by then. */
const live = (p: CompiledPermit, ts: number): boolean => p.revokedAt === undefined || ts < p.revokedAt;
/** In force: valid on the local date, or inside a window that started on a valid date; not revoked. */
export const inForce = (p: CompiledPermit, ts: number): boolean =>
  live(p, ts) &&
  (onDates(p.permit.validFrom, p.permit.validTo, ts) ||
    coveredOnDates(p.windows, p.permit.validFrom, p.permit.validTo, ts));
/** Inside one of its windows that started on a valid date; not revoked. */
export const covering = (p: CompiledPermit, ts: number): boolean =>
  live(p, ts) && coveredOnDates(p.windows, p.permit.validFrom, p.permit.validTo, ts);

/** Loaded: a load reading other than empty, or (without one) a weight above dumpWeightDropT. */
export function loadedOf(s: TrueState, th: Pick<OracleThresholds, 'dumpWeightDropT'>): boolean {
  return s.load !== undefined ? s.load !== 'empty' : (s.weight ?? 0) > th.dumpWeightDropT;
}
