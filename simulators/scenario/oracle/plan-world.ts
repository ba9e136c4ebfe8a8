import type { UnitKind } from '../../../core/fix.ts';
import type { PolygonCoords, Position } from '../../shared/geo.ts';

/**
 * The plans' world as the sanitation and body-camera oracle reads it (plans.ts): collection points, sweep
 * plans and duty plans by shape, the thresholds of their rules, and what a unit really did at one step.
 */

export interface OracleCollectionPoint {
  id: string;
  position: Position;
  radiusM: number;
  windows: string[];
  vehicles: string[];
}
export interface OracleSweepPlan {
  id: string;
  lines: Position[][];
  corridorM: number;
  windows: string[];
  vehicles: string[];
}
export interface OracleDutyPlan {
  id: string;
  polygons: PolygonCoords[];
  windows: string[];
  cameras: string[];
  officers: string[];
}
export interface OraclePlanWorld {
  collectionPoints: readonly OracleCollectionPoint[];
  sweepPlans: readonly OracleSweepPlan[];
  dutyPlans: readonly OracleDutyPlan[];
}

/** The thresholds these definitions use (the defaults, or the scenario's). */
export interface OraclePlanThresholds {
  collectionStopSpeedKmh: number;
  collectionLateGraceMs: number;
  sweepSpeedLimitKmh: number;
  sweepOverspeedMinMs: number;
  sweepCoverageMin: number;
  outOfAreaMinMs: number;
  outOfAreaMinFixes: number;
  outOfAreaEndInsideMs: number;
  notRecordingMinMs: number;
  outOfGridMinMs: number;
  outOfGridMinFixes: number;
  outOfGridEndInsideMs: number;
  lowBatteryPct: number;
  lowStorageMB: number;
  lowReadingMinMs: number;
  uploadMaxMs: number;
  offlineFactor: number;
  offlineMinMs: number;
}

/** What the unit really did at one step (true values; the plan fields of the fix contract). */
export interface PlanTrueState {
  ts: number;
  lat: number;
  lon: number;
  speed: number;
  task?: 'idle' | 'sweeping' | 'spraying' | 'collecting';
  brush?: boolean;
  binLifts?: number;
  recording?: boolean;
  battery?: number;
  storageFree?: number;
  docked?: boolean;
  sos?: boolean;
  officer?: string;
}

export interface PlanOracleUnit {
  id: string;
  kind: UnitKind;
  /** nominal report interval, seconds (camera OFFLINE's allowance) */
  reportIntervalS: number;
}
