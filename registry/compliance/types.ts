import type {
  CityThresholds,
  Permit,
  Route,
  RouteSegmentLimit,
  Site,
  Thresholds,
  VehicleProfile,
  Zone,
} from '../../geofence/model.ts';
import type { CollectionPoint, DutyPlan, Incident, SweepPlan, UploadStation } from '../../geofence/plans.ts';
import { PLAN_KINDS } from '../model/plans.ts';
import type { PermitAction, PermitStatus } from '../permit-workflow.ts';

/** The kinds, inputs, versions, options and errors of the compliance registry (registry/compliance.ts). */

export const COMPLIANCE_KINDS = [
  'site',
  'route',
  'zone',
  'permit',
  'thresholds',
  ...PLAN_KINDS,
  'incident',
] as const;
export type ComplianceKind = (typeof COMPLIANCE_KINDS)[number];

import type { PermitState } from '../permit-workflow.ts';

/** States in which a permit still counts on its sites and routes (they cannot be deleted under it). */
export const LIVE_PERMIT_STATES: ReadonlySet<PermitState> = new Set(['submitted', 'approved', 'active']);

/** A permit as the registry keeps it: the engine's Permit plus its workflow state. */
export interface RegistryPermit extends Permit {
  state: PermitState;
}

/** The only id of the city thresholds entity. */
export const CITY_THRESHOLDS_ID = 'city';

export interface EntityMap {
  site: Site;
  route: Route;
  zone: Zone;
  permit: RegistryPermit;
  thresholds: CityThresholds;
  // the plans of issue 15 (registry/model/plans.ts)
  collection_point: CollectionPoint;
  sweep_plan: SweepPlan;
  duty_plan: DutyPlan;
  upload_station: UploadStation;
  // dispatch (issue 15, item 5): written by the dispatch desk, one version per event
  incident: Incident;
}
export type EntityOf<K extends ComplianceKind> = EntityMap[K];

export type SiteInput = Omit<Site, 'id' | 'version'> & { id?: string };
export type RouteInput = Omit<Route, 'id' | 'version' | 'corridorM' | 'limits'> & {
  id?: string;
  /** default 50 m */
  corridorM?: number;
  /** default none */
  limits?: RouteSegmentLimit[];
};
export type ZoneInput = Omit<Zone, 'id' | 'version' | 'windows'> & {
  id?: string;
  /** default [] (restricted zones: closed all day; speed zones: the limit applies all day) */
  windows?: string[];
};
export type PermitInput = Omit<RegistryPermit, 'id' | 'version'> & { id?: string };
/** Values missing from `values` take DEFAULT_THRESHOLDS (a PUT replaces the whole set). */
export interface ThresholdsInput {
  id?: string;
  values: Partial<Thresholds>;
}
/** A plan as written: defaults (radius, corridor, cameras/officers lists) may be left out. */
export type PlanInput<T> = Partial<Omit<T, 'id' | 'version'>> & { id?: string };
export interface InputMap {
  site: SiteInput;
  route: RouteInput;
  zone: ZoneInput;
  permit: PermitInput;
  thresholds: ThresholdsInput;
  collection_point: PlanInput<CollectionPoint>;
  sweep_plan: PlanInput<SweepPlan>;
  duty_plan: PlanInput<DutyPlan>;
  upload_station: PlanInput<UploadStation>;
  incident: PlanInput<Incident>;
}
export type InputOf<K extends ComplianceKind> = InputMap[K];

/** One version row of an entity. */
export interface EntityVersion<K extends ComplianceKind = ComplianceKind> {
  kind: K;
  id: string;
  version: number;
  /** a tombstone: the entity was deleted by this version */
  deleted: boolean;
  /** ISO-8601 UTC */
  createdAt: string;
  actor?: string;
  /** why the change was made (a permit's rejection or revocation reason) */
  note?: string;
  /** the entity as of this version; absent on a tombstone */
  entity?: EntityOf<K>;
}

export interface ComplianceChange {
  kind: ComplianceKind;
  id: string;
  version: number;
  deleted: boolean;
  /** written by applyVersion: a version carried from another node (cluster/registry-sync.ts) */
  replicated?: boolean;
}

export interface WriteOptions {
  /** who made the change (recorded with the version) */
  actor?: string;
  /** why (recorded with the version) */
  note?: string;
  /**
   * Permits: hold the change to the approval workflow (registry/permit-workflow.ts). A new permit must
   * start submitted or approved; a change of state must be an allowed transition from the permit's
   * current status, else a TransitionError. Without it (seeds, imports, tests) any state is stored.
   */
  workflow?: boolean;
  /**
   * Optimistic concurrency: the version the caller last saw of the live entity, 0 for "must not exist
   * yet" (new, or deleted). A mismatch is a ConflictError and nothing is written.
   */
  ifVersion?: number;
}

export interface ComplianceRegistryOptions {
  /** directory of `compliance.db` (created when missing) */
  dir: string;
  /** the vehicles for `snapshot()`; see `vehicleProfilesFrom` for building them from the device registry */
  vehicles?: () => VehicleProfile[];
  /** clock for `createdAt` (epoch ms); Date.now by default */
  now?: () => number;
  /** where a failing change listener is reported (default: process.emitWarning) */
  onListenerError?: (err: unknown) => void;
}

/** No live entity of that kind and id (or no such version). */
export class NotFoundError extends Error {
  constructor(
    readonly kind: ComplianceKind,
    readonly id: string,
    readonly version?: number,
  ) {
    super(version === undefined ? `no ${kind} '${id}'` : `${kind} '${id}' has no version ${version}`);
    this.name = 'NotFoundError';
  }
}

/** The change conflicts with the current state: version mismatch, existing id, or entity still referenced. */
export class ConflictError extends Error {
  constructor(
    message: string,
    readonly reason: 'version' | 'exists' | 'referenced' | 'transition',
  ) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** A workflow transition the permit's current status does not allow. */
export class TransitionError extends ConflictError {
  constructor(
    readonly id: string,
    readonly current: PermitStatus | 'none',
    readonly requested: PermitState,
    detail: string,
  ) {
    super(`permit '${id}': ${detail}`, 'transition');
    this.name = 'TransitionError';
  }
}

/** One entry of a permit's audit trail: one version and what it did. */
export interface PermitAuditEntry {
  version: number;
  action: PermitAction;
  /** the status just before (undefined on creation) and just after (undefined on deletion) */
  from?: PermitStatus;
  to?: PermitStatus;
  /** the stored state the version records (undefined on deletion) */
  state?: PermitState;
  actor?: string;
  /** ISO-8601 UTC */
  at: string;
  reason?: string;
}
