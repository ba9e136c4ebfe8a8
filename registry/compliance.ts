import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { localDate } from '../geofence/geo/windows.ts';
import type { CityThresholds, RegistrySnapshot, VehicleProfile } from '../geofence/model.ts';
import { DEFAULT_THRESHOLDS } from '../geofence/thresholds/index.ts';
import { openSqlite } from '../store/sqlite-file.ts';
import { ComplianceChanges } from './compliance/changes.ts';
import { normalizeInput } from './compliance/inputs.ts';
import {
  checkWorkflow,
  permitAudit,
  permitsNaming,
  referenceIssues,
  transitionPermit,
} from './compliance/permits.ts';
import { engineView } from './compliance/snapshot.ts';
import {
  CITY_THRESHOLDS_ID,
  COMPLIANCE_KINDS,
  type ComplianceChange,
  type ComplianceKind,
  type ComplianceRegistryOptions,
  ConflictError,
  type EntityOf,
  type EntityVersion,
  type InputOf,
  NotFoundError,
  type PermitAuditEntry,
  type RegistryPermit,
  type WriteOptions,
} from './compliance/types.ts';
import {
  byId,
  fromRow,
  migrate,
  prepareStatements,
  SCHEMA,
  SCHEMA_VERSION,
  type Statements,
  sameContent,
  storeVersion,
  type VersionRow,
  versionRow,
} from './compliance/versions.ts';
import { ValidationError } from './geometry.ts';
import { type PermitStatus, type PermitTarget, permitStatus as statusOn } from './permit-workflow.ts';

export { normalizeInput, validateThresholdValues } from './compliance/inputs.ts';
export { vehicleProfilesFrom } from './compliance/profiles.ts';
export * from './compliance/types.ts';
// The permit states belong to the workflow (permit-workflow.ts); re-exported for the registry's users.
export { PERMIT_STATES, type PermitState } from './permit-workflow.ts';

/**
 * The compliance registry (issue 3): sites, routes, zones, permits and the city thresholds, durable and
 * versioned; and (issue 15) the plans: collection points, sweep plans, duty plans, upload stations. Every
 * change appends a version row and never rewrites one (a trigger refuses UPDATE and DELETE, but for a
 * version a cluster replaced by another node's: compliance/versions.ts), so a
 * violation judged by `site s1 v3` can always be re-read as it was. A deletion is a tombstone version.
 * `snapshot()` is what the engine compiles (geofence/compile.ts compileWorld): the latest live version of
 * everything, and only the permits the city approved (state `approved`, or the legacy `active`; the
 * engine itself checks validFrom/validTo).
 *
 * Permits follow the approval workflow of registry/permit-workflow.ts: every decision (submit, approve,
 * reject, revoke) is a new version carrying its author and reason (`note`), so a violation judged against
 * `permit p1 v3` still reads v3, and the audit trail (`permitAudit`) is the version history itself.
 *
 * One SQLite file `${dir}/compliance.db` (WAL, synchronous=FULL: an acknowledged change survives a power
 * cut). The latest versions are held in memory; history and older versions are read from the file.
 *
 * Its parts live in registry/compliance/: the kinds, inputs, versions and errors (types.ts), the file's
 * table and rows (versions.ts), the validation of inputs (inputs.ts), the permits' audit trail,
 * workflow and references (permits.ts), who hears of the changes (changes.ts), and the vehicle profiles
 * from the device registry (profiles.ts).
 */
export class ComplianceRegistry {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly vehicles: () => VehicleProfile[];
  private readonly now: () => number;
  /** latest version row of every (kind, id), tombstones included */
  private readonly latest = new Map<ComplianceKind, Map<string, EntityVersion>>();
  /** the listeners of onChange; holds the changes of a batch until it has committed */
  private readonly changes: ComplianceChanges;
  private cached: Omit<RegistrySnapshot, 'vehicles'> | undefined;
  private readonly stmt: Statements;

  constructor(opts: ComplianceRegistryOptions) {
    this.path = join(opts.dir, 'compliance.db');
    this.vehicles = opts.vehicles ?? (() => []);
    this.now = opts.now ?? Date.now;
    this.changes = new ComplianceChanges(
      opts.onListenerError ??
        ((err) => process.emitWarning(`compliance registry change listener failed: ${String(err)}`)),
    );
    for (const kind of COMPLIANCE_KINDS) this.latest.set(kind, new Map());
    const { db, value } = openSqlite(this.path, { schemaVersion: SCHEMA_VERSION }, (db) => {
      migrate(db);
      db.exec(SCHEMA);
      return prepareStatements(db);
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
    this.cached ??= engineView(this);
    return { ...this.cached, vehicles: this.vehicles() };
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
    return permitAudit(this, id);
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
    return transitionPermit(this, id, to, opts);
  }

  /**
   * Runs `fn` (puts and deletes) as one transaction: all of it or nothing, and one fsync instead of one
   * per write (seeding 4,000 entities took 10 s one write at a time, synchronous=FULL). Inside, each write
   * is checked against the ones before it; the listeners hear of the changes once the whole has
   * committed. When `fn` throws, nothing is stored, the latest versions are read back from the file and
   * the listeners hear nothing. A batch inside a batch is part of it.
   */
  batch<T>(fn: () => T): T {
    if (this.changes.holding) return fn();
    this.changes.hold();
    let out: T;
    try {
      out = this.db.transaction(fn).immediate();
    } catch (err) {
      this.changes.discard();
      for (const byId of this.latest.values()) byId.clear();
      this.load();
      this.cached = undefined;
      throw err;
    }
    this.changes.release();
    return out;
  }

  /** Called after every committed change (the platform recompiles the World). Returns an unsubscribe. */
  onChange(listener: (change: ComplianceChange) => void): () => void {
    return this.changes.subscribe(listener);
  }

  // ---- writes ----

  /**
   * Validates and stores a new version (first 1, then previous + 1; after a tombstone the numbering goes
   * on). Without an id, one is generated (thresholds: always 'city'). Throws ValidationError (with paths
   * in the input's shape), ConflictError (ifVersion mismatch, a site change that breaks a permit).
   */
  put<K extends ComplianceKind>(kind: K, input: InputOf<K>, opts: WriteOptions = {}): EntityOf<K> {
    const { value, issues } = normalizeInput(kind, input, (id) => this.latest.get(kind)!.has(id));
    if (issues.length === 0) issues.push(...referenceIssues(this, kind, value as Record<string, unknown>));
    if (issues.length > 0) throw new ValidationError(issues, `invalid ${kind}`);
    const id = (value as { id?: string }).id ?? `${kind}-${randomUUID()}`;
    if (kind === 'permit' && opts.workflow) {
      checkWorkflow(this, id, (value as unknown as RegistryPermit).state, opts.note);
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
      const users = permitsNaming(this, kind, id);
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
   * it already with the same content (its own write coming back; the time of writing may differ, as for
   * the city thresholds each node creates at its first start), 'conflict' when it holds a different one
   * (two nodes wrote that version at once: nothing written) unless `replace` (the cluster chose the
   * given one: it takes the place of the one held, kept in entity_versions_lost), 'applied' otherwise.
   * A version newer than the latest, or replacing it, becomes the latest, and the listeners hear of it
   * with `replicated: true`. A row the file holds and memory does not (another process sharing the
   * DATA_DIR stored it) is taken into memory the same way.
   */
  applyVersion(rec: EntityVersion, opts: { replace?: boolean } = {}): 'applied' | 'same' | 'conflict' {
    const stored = storeVersion(this.db, this.stmt, rec, opts.replace === true);
    if (stored === 'conflict') return 'conflict';
    return this.takeLatest(stored.rec) || stored.inserted ? 'applied' : 'same';
  }

  /** a replicated version newer than the latest in memory, or replacing it, becomes the latest */
  private takeLatest(rec: EntityVersion): boolean {
    const latest = this.latest.get(rec.kind)?.get(rec.id);
    if (latest !== undefined && latest.version > rec.version) return false;
    if (latest?.version === rec.version && sameContent(latest, rec)) return false;
    this.latest.get(rec.kind)!.set(rec.id, rec);
    this.cached = undefined;
    const change: ComplianceChange = {
      kind: rec.kind,
      id: rec.id,
      version: rec.version,
      deleted: rec.deleted,
      replicated: true,
    };
    this.changes.changed(change);
    return true;
  }

  close(): void {
    this.changes.clear();
    if (this.db.open) this.db.close();
  }

  // ---- internals ----

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
        const row = versionRow(
          {
            kind,
            id,
            version,
            deleted: body === undefined,
            ...(body === undefined ? {} : { entity: { id, version, ...body } as EntityOf<typeof kind> }),
            ...(opts.actor === undefined ? {} : { actor: opts.actor }),
            ...(opts.note === undefined ? {} : { note: opts.note }),
          },
          createdAt,
        );
        this.stmt.insert.run(row);
        return fromRow(row);
      })
      .immediate();
    this.latest.get(kind)!.set(id, rec);
    this.cached = undefined;
    this.changes.changed({ kind, id, version: rec.version, deleted: rec.deleted });
    return rec;
  }
}
