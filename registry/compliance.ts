import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { localDate } from '../geofence/geo/windows.ts';
import type {
  CityThresholds,
  Permit,
  RegistrySnapshot,
  Route,
  RouteSegmentLimit,
  Site,
  Thresholds,
  VehicleProfile,
  Zone,
} from '../geofence/model.ts';
import type { CollectionPoint, DutyPlan, Incident, SweepPlan, UploadStation } from '../geofence/plans.ts';
import { DEFAULT_THRESHOLDS, THRESHOLD_OVERRIDES } from '../geofence/thresholds/index.ts';
import { openSqlite } from '../store/sqlite-file.ts';
import {
  DEFAULT_CORRIDOR_M,
  ValidationError,
  type ValidationIssue,
  validateCorridor,
  validateDates,
  validateLimits,
  validateLine,
  validatePolygons,
  validateSpeed,
  validateWindows,
} from './geometry.ts';
import { ID_GRAMMAR, isValidId } from './ids.ts';
import { CLOSED_INCIDENTS_IN_SNAPSHOT, normalizeIncident } from './incident-schema.ts';
import {
  decisionOf,
  isEnforcedState,
  PERMIT_REASON_REQUIRED,
  type PermitAction,
  type PermitStatus,
  type PermitTarget,
  permitAction,
  permitTransitionRefusal,
  permitStatus as statusOn,
} from './permit-workflow.ts';
import { normalizePlan, PLAN_KINDS } from './plan-schemas.ts';
import { DEFAULT_REPORT_INTERVAL_S } from './sqlite.ts';
import type { Registry } from './types.ts';
import { zodIssues } from './zod-issues.ts';

/**
 * The compliance registry (issue 3): sites, routes, zones, permits and the city thresholds, durable and
 * versioned; and (issue 15) the plans: collection points, sweep plans, duty plans, upload stations. Every change appends a version row and never rewrites one (a trigger refuses UPDATE and
 * DELETE), so a violation judged by `site s1 v3` can always be re-read as it was. A deletion is a
 * tombstone version. `snapshot()` is what the engine compiles (geofence/compile.ts compileWorld): the
 * latest live version of everything, and only the permits the city approved (state `approved`, or the
 * legacy `active`; the engine itself checks validFrom/validTo).
 *
 * Permits follow the approval workflow of registry/permit-workflow.ts: every decision (submit, approve,
 * reject, revoke) is a new version carrying its author and reason (`note`), so a violation judged against
 * `permit p1 v3` still reads v3, and the audit trail (`permitAudit`) is the version history itself.
 *
 * One SQLite file `${dir}/compliance.db` (WAL, synchronous=FULL: an acknowledged change survives a power
 * cut). The latest versions are held in memory; history and older versions are read from the file.
 */

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

// The permit states belong to the workflow (permit-workflow.ts); re-exported for the registry's users.
export { PERMIT_STATES, type PermitState } from './permit-workflow.ts';

import { PERMIT_STATES, type PermitState } from './permit-workflow.ts';

/** States in which a permit still counts on its sites and routes (they cannot be deleted under it). */
const LIVE_PERMIT_STATES: ReadonlySet<PermitState> = new Set(['submitted', 'approved', 'active']);

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
  // the plans of issue 15 (registry/plan-schemas.ts)
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

/** 2: the `note` column (why a version was written: a permit's rejection or revocation reason). */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entity_versions (
  kind       TEXT NOT NULL,
  id         TEXT NOT NULL,
  version    INTEGER NOT NULL,
  deleted    INTEGER NOT NULL,
  body       TEXT,
  created_at INTEGER NOT NULL,
  actor      TEXT,
  note       TEXT,
  PRIMARY KEY (kind, id, version)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS entity_versions_no_update BEFORE UPDATE ON entity_versions
BEGIN SELECT RAISE(ABORT, 'entity versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS entity_versions_no_delete BEFORE DELETE ON entity_versions
BEGIN SELECT RAISE(ABORT, 'entity versions are immutable'); END;
`;

interface VersionRow {
  kind: string;
  id: string;
  version: number;
  deleted: number;
  body: string | null;
  created_at: number;
  actor: string | null;
  note: string | null;
}

/** a reference to another entity: it must exist (referenceIssues), so ids from before the grammar count */
const isIdReference = (id: unknown): id is string =>
  typeof id === 'string' && id.length > 0 && id.length <= 256;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

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

/** Vehicle profiles from the device registry: one per vehicle, and one per body camera (the unit). */
export function vehicleProfilesFrom(registry: Pick<Registry, 'vehicles' | 'devices'>): VehicleProfile[] {
  const intervals = new Map<string, number>();
  for (const d of registry.devices()) {
    const prev = intervals.get(d.unit);
    if (prev === undefined || d.reportIntervalS < prev) intervals.set(d.unit, d.reportIntervalS);
  }
  const out: VehicleProfile[] = registry.vehicles().map((v) => {
    const p: VehicleProfile = {
      id: v.id,
      version: 1,
      firm: v.firm,
      kind: v.kind,
      reportIntervalS: intervals.get(v.id) ?? DEFAULT_REPORT_INTERVAL_S,
    };
    if (v.ratedLoadT !== undefined) p.ratedLoadT = v.ratedLoadT;
    return p;
  });
  for (const d of registry.devices()) {
    if (d.kind === 'body_camera') {
      out.push({
        id: d.unit,
        version: 1,
        firm: d.firm,
        kind: 'body_camera',
        reportIntervalS: d.reportIntervalS,
      });
    }
  }
  return out.sort(byId);
}

// ---------------------------------------------------------------------------------------------------

export class ComplianceRegistry {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly vehicles: () => VehicleProfile[];
  private readonly now: () => number;
  private readonly onListenerError: (err: unknown) => void;
  /** latest version row of every (kind, id), tombstones included */
  private readonly latest = new Map<ComplianceKind, Map<string, EntityVersion>>();
  private readonly listeners = new Set<(change: ComplianceChange) => void>();
  private cached: Omit<RegistrySnapshot, 'vehicles'> | undefined;
  /** changes written inside batch(), told to the listeners once it has committed */
  private batchChanges: ComplianceChange[] | undefined;
  private readonly stmt: {
    insert: Database.Statement;
    maxVersion: Database.Statement;
    one: Database.Statement;
    history: Database.Statement;
  };

  constructor(opts: ComplianceRegistryOptions) {
    this.path = join(opts.dir, 'compliance.db');
    this.vehicles = opts.vehicles ?? (() => []);
    this.now = opts.now ?? Date.now;
    this.onListenerError =
      opts.onListenerError ??
      ((err) => process.emitWarning(`compliance registry change listener failed: ${String(err)}`));
    for (const kind of COMPLIANCE_KINDS) this.latest.set(kind, new Map());
    const { db, value } = openSqlite(this.path, { schemaVersion: SCHEMA_VERSION }, (db) => {
      migrate(db);
      db.exec(SCHEMA);
      return {
        insert: db.prepare(
          `INSERT INTO entity_versions (kind, id, version, deleted, body, created_at, actor, note)
         VALUES (@kind, @id, @version, @deleted, @body, @created_at, @actor, @note)`,
        ),
        maxVersion: db.prepare('SELECT MAX(version) AS v FROM entity_versions WHERE kind = ? AND id = ?'),
        one: db.prepare('SELECT * FROM entity_versions WHERE kind = ? AND id = ? AND version = ?'),
        history: db.prepare('SELECT * FROM entity_versions WHERE kind = ? AND id = ? ORDER BY version'),
      };
    });
    this.db = db;
    this.stmt = value;
    try {
      this.load();
      if (this.latest.get('thresholds')!.get(CITY_THRESHOLDS_ID) === undefined) {
        this.write(
          'thresholds',
          CITY_THRESHOLDS_ID,
          { values: { ...DEFAULT_THRESHOLDS } },
          { actor: 'system' },
        );
      }
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private load(): void {
    const rows = this.db
      .prepare(
        `SELECT v.* FROM entity_versions v
         WHERE v.version = (SELECT MAX(w.version) FROM entity_versions w WHERE w.kind = v.kind AND w.id = v.id)`,
      )
      .all() as VersionRow[];
    for (const row of rows) {
      const kind = row.kind as ComplianceKind;
      this.latest.get(kind)?.set(row.id, fromRow(row));
    }
  }

  // ---- reads (memory for the latest versions, the file for history) ----

  /** The entity, latest version (undefined when unknown or deleted), or a given version. */
  get<K extends ComplianceKind>(kind: K, id: string, version?: number): EntityOf<K> | undefined {
    return this.record(kind, id, version)?.entity;
  }

  /** The version row: the latest (a tombstone when deleted) or a given version; undefined when none. */
  record<K extends ComplianceKind>(kind: K, id: string, version?: number): EntityVersion<K> | undefined {
    const latest = this.latest.get(kind)?.get(id) as EntityVersion<K> | undefined;
    if (version === undefined || latest === undefined) return latest;
    if (latest.version === version) return latest;
    const row = this.stmt.one.get(kind, id, version) as VersionRow | undefined;
    return row === undefined ? undefined : (fromRow(row) as EntityVersion<K>);
  }

  /** Every version of an entity, oldest first (empty when unknown). */
  history<K extends ComplianceKind>(kind: K, id: string): EntityVersion<K>[] {
    return (this.stmt.history.all(kind, id) as VersionRow[]).map((r) => fromRow(r) as EntityVersion<K>);
  }

  /** Latest versions of the live (not deleted) entities of a kind, ordered by id. */
  list<K extends ComplianceKind>(kind: K): EntityOf<K>[] {
    const out: EntityOf<K>[] = [];
    for (const rec of this.latest.get(kind)!.values()) {
      if (rec.entity !== undefined) out.push(rec.entity as EntityOf<K>);
    }
    return out.sort(byId);
  }

  /** The city thresholds in force. */
  thresholds(): CityThresholds {
    return this.get('thresholds', CITY_THRESHOLDS_ID)!;
  }

  /**
   * What the engine judges against: the latest live sites, routes and zones, the APPROVED permits (not
   * submitted, rejected or revoked; without their workflow state), the vehicles, and the city thresholds.
   * Arrays ordered by id; objects frozen. Validity dates are left to the engine, so the snapshot does not
   * depend on the clock.
   */
  snapshot(): RegistrySnapshot {
    if (this.cached === undefined) {
      this.cached = {
        sites: this.list('site'),
        routes: this.list('route'),
        zones: this.list('zone'),
        permits: this.list('permit')
          .filter((p) => isEnforcedState(p.state))
          .map(({ state: _state, ...permit }) => deepFreeze(permit)),
        thresholds: this.thresholds(),
        collectionPoints: this.list('collection_point'),
        sweepPlans: this.list('sweep_plan'),
        dutyPlans: this.list('duty_plan'),
        uploadStations: this.list('upload_station'),
        incidents: this.incidentsForEngine(),
      };
    }
    return { ...this.cached, vehicles: this.vehicles() };
  }

  /**
   * The incidents the engine judges against: every open one and the CLOSED_INCIDENTS_IN_SNAPSHOT most
   * recently closed (bounded; chosen by the registry's own data, not the clock).
   */
  private incidentsForEngine(): Incident[] {
    const all = this.list('incident');
    const closed = all
      .filter((i) => i.closedAt !== undefined)
      .sort((a, b) => b.closedAt! - a.closedAt!)
      .slice(0, CLOSED_INCIDENTS_IN_SNAPSHOT);
    const keep = new Set(closed);
    return all.filter((i) => i.closedAt === undefined || keep.has(i));
  }

  /** The workflow status of a permit at an instant (default now): approved/active/expired follow its dates. */
  permitStatus(permit: RegistryPermit, atMs: number = this.now()): PermitStatus {
    return statusOn(permit, localDate(atMs));
  }

  /**
   * The audit trail of a permit: every version (creation, amendments, decisions, deletion) with its author,
   * time and reason, oldest first. `from`/`to` are the statuses on the day of the change. Empty when unknown.
   */
  permitAudit(id: string): PermitAuditEntry[] {
    let before: RegistryPermit | undefined;
    return this.history('permit', id).map((rec) => {
      const at = Date.parse(rec.createdAt);
      const after = rec.entity;
      const entry: PermitAuditEntry = {
        version: rec.version,
        action: permitAction(before?.state, after?.state),
        at: rec.createdAt,
      };
      if (before !== undefined) entry.from = this.permitStatus(before, at);
      if (after !== undefined) {
        entry.to = this.permitStatus(after, at);
        entry.state = after.state;
      }
      if (rec.actor !== undefined) entry.actor = rec.actor;
      if (rec.note !== undefined) entry.reason = rec.note;
      before = after;
      return entry;
    });
  }

  /**
   * A workflow decision on a permit: a new version, identical but for its state, recorded with the actor
   * and the reason. NotFoundError when unknown; TransitionError when the current status does not allow it;
   * ValidationError when a rejection or revocation has no reason, or (resubmission) a site or route it
   * names is gone.
   */
  transitionPermit(
    id: string,
    to: PermitTarget,
    opts: { actor?: string; reason?: string; ifVersion?: number } = {},
  ): RegistryPermit {
    const current = this.get('permit', id);
    if (current === undefined) throw new NotFoundError('permit', id);
    // A decision must change something: "approve" twice is refused, not written as an amendment.
    const status = this.permitStatus(current);
    const refusal = permitTransitionRefusal(status, to);
    if (refusal !== undefined) throw new TransitionError(id, status, to, refusal);
    const reason = opts.reason?.trim();
    const { version: _v, ...input } = current;
    const write: WriteOptions = { workflow: true };
    if (opts.actor !== undefined) write.actor = opts.actor;
    if (reason) write.note = reason;
    if (opts.ifVersion !== undefined) write.ifVersion = opts.ifVersion;
    return this.put('permit', { ...structuredClone(input), state: to }, write);
  }

  /** Called after every committed change (the platform recompiles the World). Returns an unsubscribe. */
  /**
   * Runs `fn` (puts and deletes) as one transaction: all of it or nothing, and one fsync instead of one
   * per write (seeding 4,000 entities took 10 s one write at a time, synchronous=FULL). Inside, each write
   * is checked against the ones before it; the listeners hear of the changes once the whole has
   * committed. When `fn` throws, nothing is stored, the latest versions are read back from the file and
   * the listeners hear nothing. A batch inside a batch is part of it.
   */
  batch<T>(fn: () => T): T {
    if (this.batchChanges !== undefined) return fn();
    this.batchChanges = [];
    let out: T;
    try {
      out = this.db.transaction(fn).immediate();
    } catch (err) {
      this.batchChanges = undefined;
      for (const byId of this.latest.values()) byId.clear();
      this.load();
      this.cached = undefined;
      throw err;
    }
    const changes = this.batchChanges;
    this.batchChanges = undefined;
    for (const change of changes) this.notify(change);
    return out;
  }

  onChange(listener: (change: ComplianceChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- writes ----

  /**
   * Validates and stores a new version (first 1, then previous + 1; after a tombstone the numbering goes
   * on). Without an id, one is generated (thresholds: always 'city'). Throws ValidationError (with paths
   * in the input's shape), ConflictError (ifVersion mismatch, a site change that breaks a permit).
   */
  put<K extends ComplianceKind>(kind: K, input: InputOf<K>, opts: WriteOptions = {}): EntityOf<K> {
    const { value, issues } = normalizeInput(kind, input, (id) => this.latest.get(kind)!.has(id));
    if (issues.length === 0) issues.push(...this.referenceIssues(kind, value as Record<string, unknown>));
    if (issues.length > 0) throw new ValidationError(issues, `invalid ${kind}`);
    const id = (value as { id?: string }).id ?? `${kind}-${randomUUID()}`;
    if (kind === 'permit' && opts.workflow) {
      this.checkWorkflow(id, (value as unknown as RegistryPermit).state, opts.note);
    }
    const { id: _id, ...body } = value as { id?: string };
    return this.write(kind, id, body, opts).entity as EntityOf<K>;
  }

  /** Deletes (a tombstone version). NotFoundError when not live; ConflictError when a permit still uses it. */
  delete(kind: ComplianceKind, id: string, opts: WriteOptions = {}): EntityVersion {
    if (kind === 'thresholds') throw new ConflictError('the city thresholds cannot be deleted', 'referenced');
    const current = this.latest.get(kind)!.get(id);
    if (current?.entity === undefined) throw new NotFoundError(kind, id);
    if (kind === 'site' || kind === 'route') {
      const field = kind === 'site' ? (['origins', 'disposals'] as const) : (['routes'] as const);
      const users = this.livePermits()
        .filter((p) => field.some((f) => p[f].includes(id)))
        .map((p) => p.id);
      if (users.length > 0) {
        throw new ConflictError(
          `${kind} '${id}' is named by permit(s) ${users.map((u) => `'${u}'`).join(', ')}; revoke or change them first`,
          'referenced',
        );
      }
    }
    return this.write(kind, id, undefined, opts);
  }

  // ---- the versions a cluster carries between nodes (cluster/registry-sync.ts) ----

  /** Every version row held, oldest first per entity (what a node offers a cluster it joins). */
  *allVersions(): Generator<EntityVersion> {
    const rows = this.db
      .prepare('SELECT * FROM entity_versions ORDER BY kind, id, version')
      .iterate() as IterableIterator<VersionRow>;
    for (const row of rows) yield fromRow(row);
  }

  /**
   * Stores a version row written by another node, as it was written there (the node that wrote it made
   * the checks). Rows are immutable, so a node holds a (kind, id, version) once: 'same' when it holds
   * it already with the same content (its own write coming back, or a version seen before; the time of
   * writing may differ, as for the city thresholds each node creates at its first start), 'conflict'
   * when it holds a different one (two nodes wrote that version at once: nothing is written, the caller
   * says so), 'applied' otherwise. A newer version than the latest becomes the latest, and the listeners
   * hear of it with `replicated: true`. A row the file holds and memory does not (another process sharing
   * the DATA_DIR stored it) is taken into memory the same way.
   */
  applyVersion(rec: EntityVersion): 'applied' | 'same' | 'conflict' {
    try {
      return this.applyVersionOnce(rec);
    } catch (err) {
      // another process sharing the file stored the row between the read and the insert: read it again
      if (!/UNIQUE constraint failed/.test((err as Error).message)) throw err;
      return this.applyVersionOnce(rec);
    }
  }

  private applyVersionOnce(rec: EntityVersion): 'applied' | 'same' | 'conflict' {
    const stored = this.stmt.one.get(rec.kind, rec.id, rec.version) as VersionRow | undefined;
    if (stored !== undefined) {
      const existing = fromRow(stored);
      const same =
        existing.deleted === rec.deleted &&
        (existing.actor ?? null) === (rec.actor ?? null) &&
        (existing.note ?? null) === (rec.note ?? null) &&
        JSON.stringify(existing.entity ?? null) === JSON.stringify(rec.entity ?? null);
      if (!same) return 'conflict';
      return this.takeLatest(existing) ? 'applied' : 'same';
    }
    const row: VersionRow = {
      kind: rec.kind,
      id: rec.id,
      version: rec.version,
      deleted: rec.deleted ? 1 : 0,
      body: rec.entity === undefined ? null : JSON.stringify(rec.entity),
      created_at: Date.parse(rec.createdAt),
      actor: rec.actor ?? null,
      note: rec.note ?? null,
    };
    this.stmt.insert.run(row);
    this.takeLatest(fromRow(row));
    return 'applied';
  }

  /** a replicated version newer than the latest in memory becomes the latest; true when it did */
  private takeLatest(rec: EntityVersion): boolean {
    const latest = this.latest.get(rec.kind)?.get(rec.id);
    if (latest !== undefined && latest.version >= rec.version) return false;
    this.latest.get(rec.kind)!.set(rec.id, rec);
    this.cached = undefined;
    const change: ComplianceChange = {
      kind: rec.kind,
      id: rec.id,
      version: rec.version,
      deleted: rec.deleted,
      replicated: true,
    };
    if (this.batchChanges !== undefined) this.batchChanges.push(change);
    else this.notify(change);
    return true;
  }

  close(): void {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }

  // ---- internals ----

  /**
   * Throws TransitionError unless writing `state` to permit `id` is allowed by the workflow, and a
   * ValidationError (path `reason`) when a rejection or revocation comes without a reason.
   */
  private checkWorkflow(id: string, state: PermitState, note: string | undefined): void {
    const current = this.get('permit', id);
    if (current === undefined) {
      const decision = decisionOf(state);
      if (decision !== 'submitted' && decision !== 'approved') {
        throw new TransitionError(
          id,
          'none',
          state,
          `a new permit starts submitted (or approved by the city), not ${state}`,
        );
      }
      return;
    }
    if (permitAction(current.state, state) === 'amend') return;
    const status = this.permitStatus(current);
    const refusal = permitTransitionRefusal(status, state);
    if (refusal !== undefined) throw new TransitionError(id, status, state, refusal);
    if (PERMIT_REASON_REQUIRED.has(state as PermitTarget) && !note?.trim()) {
      throw new ValidationError([{ path: 'reason', message: `required to make a permit ${state}` }]);
    }
  }

  private livePermits(): RegistryPermit[] {
    return this.list('permit').filter((p) => LIVE_PERMIT_STATES.has(p.state));
  }

  /** Permits name live sites of the right kind and live routes; a site keeps the kind its permits use. */
  private referenceIssues(kind: ComplianceKind, value: Record<string, unknown>): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    if (kind === 'permit') {
      if (!LIVE_PERMIT_STATES.has(value.state as PermitState)) return issues;
      const sites = (field: 'origins' | 'disposals', want: Site['kind']) => {
        (value[field] as string[]).forEach((sid, i) => {
          const site = this.get('site', sid);
          if (site === undefined) issues.push({ path: `${field}[${i}]`, message: `unknown site '${sid}'` });
          else if (site.kind !== want) {
            issues.push({
              path: `${field}[${i}]`,
              message: `site '${sid}' is a ${site.kind} site, not ${want}`,
            });
          }
        });
      };
      sites('origins', 'origin');
      sites('disposals', 'disposal');
      (value.routes as string[]).forEach((rid, i) => {
        if (this.get('route', rid) === undefined) {
          issues.push({ path: `routes[${i}]`, message: `unknown route '${rid}'` });
        }
      });
    } else if (kind === 'site' && typeof value.id === 'string') {
      const other = value.kind === 'origin' ? 'disposals' : 'origins';
      const users = this.livePermits().filter((p) => p[other].includes(value.id as string));
      if (users.length > 0) {
        issues.push({
          path: 'kind',
          message: `permit(s) ${users.map((p) => `'${p.id}'`).join(', ')} use this site as ${other === 'origins' ? 'an origin' : 'a disposal site'}`,
        });
      }
    }
    return issues;
  }

  private write(
    kind: ComplianceKind,
    id: string,
    body: object | undefined,
    opts: WriteOptions,
  ): EntityVersion {
    const createdAt = this.now();
    const rec = this.db
      .transaction((): EntityVersion => {
        const max = ((this.stmt.maxVersion.get(kind, id) as { v: number | null }).v ?? 0) as number;
        const liveVersion = this.latest.get(kind)!.get(id)?.entity === undefined ? 0 : max;
        if (opts.ifVersion !== undefined && opts.ifVersion !== liveVersion) {
          throw new ConflictError(
            opts.ifVersion === 0
              ? `${kind} '${id}' already exists (version ${liveVersion})`
              : `${kind} '${id}' is at version ${liveVersion}, not ${opts.ifVersion}`,
            opts.ifVersion === 0 ? 'exists' : 'version',
          );
        }
        const version = max + 1;
        const entity = body === undefined ? undefined : { id, version, ...body };
        const row: VersionRow = {
          kind,
          id,
          version,
          deleted: body === undefined ? 1 : 0,
          body: entity === undefined ? null : JSON.stringify(entity),
          created_at: createdAt,
          actor: opts.actor ?? null,
          note: opts.note ?? null,
        };
        this.stmt.insert.run(row);
        return fromRow(row);
      })
      .immediate();
    this.latest.get(kind)!.set(id, rec);
    this.cached = undefined;
    const change: ComplianceChange = { kind, id, version: rec.version, deleted: rec.deleted };
    if (this.batchChanges !== undefined) this.batchChanges.push(change);
    else this.notify(change);
    return rec;
  }

  private notify(change: ComplianceChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}

function fromRow(row: VersionRow): EntityVersion {
  const rec: EntityVersion = {
    kind: row.kind as ComplianceKind,
    id: row.id,
    version: row.version,
    deleted: row.deleted === 1,
    createdAt: new Date(row.created_at).toISOString(),
  };
  if (row.actor !== null) rec.actor = row.actor;
  if (row.note !== null && row.note !== undefined) rec.note = row.note;
  if (row.body !== null) rec.entity = deepFreeze(JSON.parse(row.body));
  return deepFreeze(rec);
}

/** Files of schema version 1 lack the `note` column; it is added in place (old versions get none). */
function migrate(db: Database.Database): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('entity_versions')").all() as {
    name: string;
  }[];
  if (columns.length > 0 && !columns.some((c) => c.name === 'note')) {
    db.exec('ALTER TABLE entity_versions ADD COLUMN note TEXT');
  }
}
