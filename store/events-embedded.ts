import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { canonicalJson, type EvidencePackage, verifyEvidence } from '../geofence/evidence.ts';
import type { TripEvent } from '../geofence/trips.ts';
import type { Rejudged, Violation, ViolationEvent, ViolationPhase } from '../geofence/types.ts';
import {
  type CursorKey,
  decodeCursor,
  type EventStore,
  encodeCursor,
  lifecycleFilter,
  lifecycleOf,
  type Page,
  pageLimit,
  phaseRank,
  replacesLatest,
  replacesTrip,
  type TripQuery,
  type TripRecord,
  tripRank,
  tripRecordOf,
  type ViolationPhaseRecord,
  type ViolationQuery,
  type ViolationRecord,
  violationEventHash,
} from './events-port.ts';
import type { StoreHealth } from './port.ts';
import { openSqlite } from './sqlite-file.ts';
import {
  checkViolationChange,
  UnknownViolationError,
  type ViolationStatus,
  type ViolationStatusChange,
  type ViolationStatusRequest,
} from './violation-status.ts';

export interface EmbeddedEventStoreOptions {
  /** data directory; the database is `${dir}/events.db` (the directory is created if needed) */
  dir: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS violations (
  id TEXT NOT NULL PRIMARY KEY,
  firm TEXT NOT NULL,
  vehicle TEXT NOT NULL,
  code TEXT NOT NULL,
  start_ts INTEGER NOT NULL,
  end_ts INTEGER,
  lifecycle TEXT NOT NULL,
  phase TEXT NOT NULL,
  rank INTEGER NOT NULL,
  level INTEGER NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  status_seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS violations_start ON violations (start_ts, id);
CREATE INDEX IF NOT EXISTS violations_firm ON violations (firm, start_ts, id);
CREATE INDEX IF NOT EXISTS violations_vehicle ON violations (vehicle, start_ts, id);
CREATE INDEX IF NOT EXISTS violations_code ON violations (code, start_ts, id);
CREATE INDEX IF NOT EXISTS violations_lifecycle ON violations (lifecycle, start_ts, id);
CREATE INDEX IF NOT EXISTS violations_status ON violations (status, start_ts, id);
CREATE TABLE IF NOT EXISTS violation_status_log (
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  from_status TEXT NOT NULL,
  status TEXT NOT NULL,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL,
  note TEXT,
  PRIMARY KEY (id, seq)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS violation_status_log_no_update BEFORE UPDATE ON violation_status_log
BEGIN SELECT RAISE(ABORT, 'the status audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS violation_status_log_no_delete BEFORE DELETE ON violation_status_log
BEGIN SELECT RAISE(ABORT, 'the status audit is append-only'); END;
CREATE TABLE IF NOT EXISTS violation_phases (
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  phase TEXT NOT NULL,
  hash TEXT NOT NULL,
  body TEXT NOT NULL,
  rejudged TEXT,
  PRIMARY KEY (id, seq),
  UNIQUE (id, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trips (
  id TEXT NOT NULL PRIMARY KEY,
  firm TEXT NOT NULL,
  vehicle TEXT NOT NULL,
  start_ts INTEGER NOT NULL,
  end_ts INTEGER,
  status TEXT NOT NULL,
  rank INTEGER NOT NULL,
  compliant INTEGER,
  body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trips_start ON trips (start_ts, id);
CREATE INDEX IF NOT EXISTS trips_firm ON trips (firm, start_ts, id);
CREATE INDEX IF NOT EXISTS trips_vehicle ON trips (vehicle, start_ts, id);
CREATE TABLE IF NOT EXISTS evidence (
  violation_id TEXT NOT NULL PRIMARY KEY,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;
`;

interface Statements {
  phaseByHash: Database.Statement;
  maxSeq: Database.Statement;
  insertPhase: Database.Statement;
  currentRank: Database.Statement;
  upsertViolation: Database.Statement;
  violation: Database.Statement;
  phases: Database.Statement;
  tripRank: Database.Statement;
  upsertTrip: Database.Statement;
  trip: Database.Statement;
  upsertEvidence: Database.Statement;
  evidence: Database.Statement;
  statusLog: Database.Statement;
  recordViolations: (events: readonly ViolationEvent[]) => void;
  setStatus: (request: ViolationStatusRequest) => ViolationRecord;
  recordTrips: (events: readonly TripEvent[]) => void;
}

type Filter = { where: string[]; args: unknown[] };

/**
 * 1: the enforcement status (`status`, `status_seq`, violation_status_log); the engine's column renamed.
 * 2: `violation_phases.rejudged` (events of a re-judging with late fixes); lifecycle 'withdrawn'.
 */
const SCHEMA_VERSION = 2;

/**
 * Files written before the enforcement status had the engine's open/closed in a column called `status`:
 * it becomes `lifecycle`, and every existing violation gets the status `open` (nobody had decided yet).
 */
function migrate(db: Database.Database): void {
  const phaseColumns = (
    db.prepare("SELECT name FROM pragma_table_info('violation_phases')").all() as { name: string }[]
  ).map((c) => c.name);
  if (phaseColumns.length > 0 && !phaseColumns.includes('rejudged'))
    db.exec('ALTER TABLE violation_phases ADD COLUMN rejudged TEXT');
  const columns = (
    db.prepare("SELECT name FROM pragma_table_info('violations')").all() as { name: string }[]
  ).map((c) => c.name);
  if (columns.length === 0 || columns.includes('lifecycle')) return;
  db.transaction(() => {
    db.exec('DROP INDEX IF EXISTS violations_status');
    db.exec('ALTER TABLE violations RENAME COLUMN status TO lifecycle');
    db.exec("ALTER TABLE violations ADD COLUMN status TEXT NOT NULL DEFAULT 'open'");
    db.exec('ALTER TABLE violations ADD COLUMN status_seq INTEGER NOT NULL DEFAULT 0');
  })();
}

interface RecordRow {
  body: string;
  phase: string;
  status: string;
}

function recordOf(row: RecordRow): ViolationRecord {
  const v = JSON.parse(row.body) as Violation;
  return { ...v, phase: row.phase as ViolationPhase, status: row.status as ViolationStatus };
}

function addFilter(f: Filter, column: string, value: string | number | undefined, op = '='): void {
  if (value === undefined) return;
  f.where.push(`${column} ${op} ?`);
  f.args.push(value);
}

export class EmbeddedEventStore implements EventStore {
  readonly name = 'embedded';
  readonly file: string;
  private db: Database.Database | undefined;
  private st: Statements | undefined;

  constructor(readonly options: EmbeddedEventStoreOptions) {
    this.file = join(options.dir, 'events.db');
  }

  async open(): Promise<void> {
    if (this.db) return;
    const { db, value } = openSqlite(this.file, { schemaVersion: SCHEMA_VERSION }, (db) => {
      migrate(db);
      db.exec(SCHEMA);
      return this.prepare(db);
    });
    this.st = value;
    this.db = db;
  }

  private prepare(db: Database.Database): Statements {
    const phaseByHash = db.prepare('SELECT seq FROM violation_phases WHERE id = ? AND hash = ?');
    const maxSeq = db.prepare('SELECT coalesce(max(seq), 0) AS n FROM violation_phases WHERE id = ?');
    const insertPhase = db.prepare(
      'INSERT INTO violation_phases (id, seq, phase, hash, body, rejudged) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const currentRank = db.prepare('SELECT rank FROM violations WHERE id = ?');
    const upsertViolation = db.prepare(
      `INSERT INTO violations (id, firm, vehicle, code, start_ts, end_ts, lifecycle, phase, rank, level, body)
       VALUES (@id, @firm, @vehicle, @code, @start_ts, @end_ts, @lifecycle, @phase, @rank, @level, @body)
       ON CONFLICT (id) DO UPDATE SET firm = excluded.firm, vehicle = excluded.vehicle, code = excluded.code,
         start_ts = excluded.start_ts, end_ts = excluded.end_ts, lifecycle = excluded.lifecycle,
         phase = excluded.phase, rank = excluded.rank, level = excluded.level, body = excluded.body`,
    );
    const tripRankSt = db.prepare('SELECT rank, body FROM trips WHERE id = ?');
    const upsertTrip = db.prepare(
      `INSERT INTO trips (id, firm, vehicle, start_ts, end_ts, status, rank, compliant, body)
       VALUES (@id, @firm, @vehicle, @start_ts, @end_ts, @status, @rank, @compliant, @body)
       ON CONFLICT (id) DO UPDATE SET firm = excluded.firm, vehicle = excluded.vehicle,
         start_ts = excluded.start_ts, end_ts = excluded.end_ts, status = excluded.status,
         rank = excluded.rank, compliant = excluded.compliant, body = excluded.body`,
    );

    const recordOne = (event: ViolationEvent): void => {
      const v = event.violation;
      const hash = violationEventHash(event);
      if (phaseByHash.get(v.id, hash)) return; // a replay: already in the history
      const seq = (maxSeq.get(v.id) as { n: number }).n + 1;
      const body = canonicalJson(v);
      const rejudged = event.rejudged === undefined ? null : canonicalJson(event.rejudged);
      insertPhase.run(v.id, seq, event.phase, hash, body, rejudged);
      const rank = phaseRank(event.phase);
      const current = currentRank.get(v.id) as { rank: number } | undefined;
      // never reopen a closed violation, unless a re-judging says so (events-port.ts)
      if (!replacesLatest(event, current?.rank)) return;
      upsertViolation.run({
        id: v.id,
        firm: v.firm,
        vehicle: v.vehicle,
        code: v.code,
        start_ts: v.startTs,
        end_ts: v.endTs ?? null,
        lifecycle: lifecycleOf(event),
        phase: event.phase,
        rank,
        level: v.level,
        body,
      });
    };
    const recordTrip = (event: TripEvent): void => {
      const rec = tripRecordOf(event);
      const body = canonicalJson(rec);
      const rank = tripRank(rec.status);
      const current = tripRankSt.get(rec.id) as { rank: number; body: string } | undefined;
      if (current && (current.body === body || !replacesTrip(event, current.rank))) return;
      upsertTrip.run({
        id: rec.id,
        firm: rec.firm,
        vehicle: rec.vehicle,
        start_ts: rec.startTs,
        end_ts: rec.status === 'completed' ? rec.endTs : null,
        status: rec.status,
        rank,
        compliant: rec.status === 'completed' ? (rec.compliant ? 1 : 0) : null,
        body,
      });
    };

    const violationRow = db.prepare('SELECT body, phase, status, status_seq FROM violations WHERE id = ?');
    const insertStatus = db.prepare(
      'INSERT INTO violation_status_log (id, seq, from_status, status, actor, at, note) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const updateStatus = db.prepare('UPDATE violations SET status = ?, status_seq = ? WHERE id = ?');
    const setStatus = (request: ViolationStatusRequest): ViolationRecord => {
      const row = violationRow.get(request.id) as (RecordRow & { status_seq: number }) | undefined;
      if (!row) throw new UnknownViolationError(request.id);
      const change = checkViolationChange(request, {
        status: row.status as ViolationStatus,
        seq: row.status_seq,
      });
      insertStatus.run(
        request.id,
        change.seq,
        change.from,
        change.to,
        change.actor,
        change.at,
        change.note ?? null,
      );
      updateStatus.run(change.to, change.seq, request.id);
      return recordOf({ ...row, status: change.to });
    };

    return {
      phaseByHash,
      maxSeq,
      insertPhase,
      currentRank,
      upsertViolation,
      violation: violationRow,
      phases: db.prepare('SELECT seq, phase, body, rejudged FROM violation_phases WHERE id = ? ORDER BY seq'),
      tripRank: tripRankSt,
      upsertTrip,
      trip: db.prepare('SELECT body FROM trips WHERE id = ?'),
      upsertEvidence: db.prepare(
        `INSERT INTO evidence (violation_id, sha256, bytes, body) VALUES (?, ?, ?, ?)
         ON CONFLICT (violation_id) DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes,
           body = excluded.body WHERE evidence.sha256 <> excluded.sha256 OR evidence.body <> excluded.body`,
      ),
      evidence: db.prepare('SELECT sha256, body FROM evidence WHERE violation_id = ?'),
      statusLog: db.prepare(
        'SELECT seq, from_status, status, actor, at, note FROM violation_status_log WHERE id = ? ORDER BY seq',
      ),
      // IMMEDIATE: the read of the current status and the write are one step for every connection.
      setStatus: db.transaction(setStatus).immediate as (request: ViolationStatusRequest) => ViolationRecord,
      recordViolations: db.transaction((events: readonly ViolationEvent[]) => {
        for (const e of events) recordOne(e);
      }),
      recordTrips: db.transaction((events: readonly TripEvent[]) => {
        for (const e of events) recordTrip(e);
      }),
    };
  }

  private handles(): { db: Database.Database; st: Statements } {
    if (!this.db || !this.st) throw new Error('EmbeddedEventStore is not open (call open() first)');
    return { db: this.db, st: this.st };
  }

  async recordViolation(event: ViolationEvent): Promise<void> {
    await this.recordViolations([event]);
  }

  async recordViolations(events: readonly ViolationEvent[]): Promise<void> {
    const { st } = this.handles();
    if (events.length > 0) st.recordViolations(events);
  }

  async violations(query: ViolationQuery = {}): Promise<Page<ViolationRecord>> {
    const f: Filter = { where: [], args: [] };
    addFilter(f, 'firm', query.firm);
    addFilter(f, 'vehicle', query.vehicle);
    addFilter(f, 'code', query.code);
    addFilter(f, 'status', query.status);
    const lifecycle = lifecycleFilter(query.phase);
    if (lifecycle !== undefined && 'is' in lifecycle) addFilter(f, 'lifecycle', lifecycle.is);
    else if (lifecycle !== undefined) addFilter(f, 'lifecycle', lifecycle.not, '<>');
    return this.page<ViolationRecord>('violations', f, query);
  }

  async violation(id: string): Promise<ViolationRecord | undefined> {
    const row = this.handles().st.violation.get(id) as RecordRow | undefined;
    return row ? recordOf(row) : undefined;
  }

  async setViolationStatus(request: ViolationStatusRequest): Promise<ViolationRecord> {
    return this.handles().st.setStatus(request);
  }

  async violationStatusHistory(id: string): Promise<ViolationStatusChange[]> {
    const rows = this.handles().st.statusLog.all(id) as {
      seq: number;
      from_status: string;
      status: string;
      actor: string;
      at: number;
      note: string | null;
    }[];
    return rows.map((r) => {
      const change: ViolationStatusChange = {
        seq: r.seq,
        from: r.from_status as ViolationStatus,
        to: r.status as ViolationStatus,
        actor: r.actor,
        at: r.at,
      };
      if (r.note !== null) change.note = r.note;
      return change;
    });
  }

  async violationPhases(id: string): Promise<ViolationPhaseRecord[]> {
    const rows = this.handles().st.phases.all(id) as {
      seq: number;
      phase: string;
      body: string;
      rejudged: string | null;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      phase: r.phase as ViolationPhase,
      violation: JSON.parse(r.body) as Violation,
      ...(r.rejudged !== null ? { rejudged: JSON.parse(r.rejudged) as Rejudged } : {}),
    }));
  }

  async recordTrip(event: TripEvent): Promise<void> {
    await this.recordTrips([event]);
  }

  async recordTrips(events: readonly TripEvent[]): Promise<void> {
    const { st } = this.handles();
    if (events.length > 0) st.recordTrips(events);
  }

  async trips(query: TripQuery = {}): Promise<Page<TripRecord>> {
    const f: Filter = { where: [], args: [] };
    addFilter(f, 'firm', query.firm);
    addFilter(f, 'vehicle', query.vehicle);
    return this.page<TripRecord>('trips', f, query);
  }

  async trip(id: string): Promise<TripRecord | undefined> {
    const row = this.handles().st.trip.get(id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as TripRecord) : undefined;
  }

  /** Keyset pagination over (start_ts, id). */
  private page<T extends CursorKey>(
    table: 'violations' | 'trips',
    f: Filter,
    query: { from?: number; to?: number; limit?: number; cursor?: string },
  ): Page<T> {
    const { db } = this.handles();
    const limit = pageLimit(query.limit);
    addFilter(f, 'start_ts', query.from, '>=');
    addFilter(f, 'start_ts', query.to, '<=');
    if (query.cursor !== undefined) {
      const c = decodeCursor(query.cursor);
      f.where.push('(start_ts > ? OR (start_ts = ? AND id > ?))');
      f.args.push(c.startTs, c.startTs, c.id);
    }
    const where = f.where.length ? ` WHERE ${f.where.join(' AND ')}` : '';
    const columns = table === 'violations' ? 'body, phase, status' : 'body';
    const rows = db
      .prepare(`SELECT ${columns} FROM ${table}${where} ORDER BY start_ts, id LIMIT ?`)
      .all(...f.args, limit + 1) as RecordRow[];
    const items = rows
      .slice(0, limit)
      .map((r) => (table === 'violations' ? recordOf(r) : JSON.parse(r.body)) as T);
    const last = items.at(-1);
    return rows.length > limit && last
      ? { items, nextCursor: encodeCursor({ startTs: last.startTs, id: last.id }) }
      : { items };
  }

  /** Refuses a package whose sha256 does not verify; the last package put for a violation wins. */
  async putEvidence(pkg: EvidencePackage): Promise<void> {
    const { st } = this.handles();
    if (!verifyEvidence(pkg))
      throw new Error(`evidence of ${JSON.stringify(pkg.violation.id)} does not verify (sha256 mismatch)`);
    const text = canonicalJson(pkg);
    st.upsertEvidence.run(pkg.violation.id, pkg.sha256, Buffer.byteLength(text, 'utf8'), text);
  }

  async evidence(violationId: string): Promise<EvidencePackage | undefined> {
    const row = this.handles().st.evidence.get(violationId) as { sha256: string; body: string } | undefined;
    if (!row) return undefined;
    const pkg = JSON.parse(row.body) as EvidencePackage;
    if (pkg.sha256 !== row.sha256 || !verifyEvidence(pkg))
      throw new Error(`evidence of ${JSON.stringify(violationId)} is corrupt (does not verify)`);
    return pkg;
  }

  async health(): Promise<StoreHealth> {
    if (!this.db) return { ok: false, detail: 'embedded event store is not open' };
    try {
      this.db.prepare('SELECT 1').get();
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.st = undefined;
    db?.close();
  }
}
