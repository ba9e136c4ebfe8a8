import type Database from 'better-sqlite3';
import type { PlatformGap } from '../geofence/platform-gaps.ts';
import { openSqlite } from '../store/sqlite-file.ts';
import { HISTORY_SCHEMA, type PlatformOutage, SqliteHistory } from './backfill-history.ts';

export type OutboxKind = 'violation' | 'trip';

export interface SavedVehicle {
  vehicle: string;
  /** JSON text of the engine state */
  engine: string;
  /** JSON text of the trip state, undefined when the vehicle has none */
  trips: string | undefined;
  /** JSON text of the rest of the judge's state (geofence/judge.ts: the ledger), undefined: none */
  judge?: string | undefined;
}

export interface OutboxRow {
  seq: number;
  kind: OutboxKind;
  /** JSON text of the event */
  body: string;
}

/** A package stored, from the due row with this body (a withdrawal may have replaced the row since). */
export interface EvidenceDone {
  violationId: string;
  body: string;
}

export interface EvidenceDueRow {
  violationId: string;
  /** JSON text of the closed violation event */
  body: string;
}

export interface RestoredState {
  /** empty when the saved states were written by an engine with another fingerprint */
  vehicles: SavedVehicle[];
  /** vehicles with a history (late fixes can be re-judged) */
  historyVehicles: string[];
  /** the judgement clock's instant at the last commit before this start (undefined: first start) */
  aliveAt: number | undefined;
  /** saved vehicle states dropped because the fingerprint changed */
  discardedVehicles: number;
  /**
   * rows in the outbox by kind and evidence rows due: read page by page afterwards (outboxPage,
   * evidenceDuePage), never all at once, so a restart after a storm does not hold it all in memory
   */
  outbox: Record<OutboxKind, number>;
  evidenceDue: number;
}

export interface StateBatch {
  states: readonly SavedVehicle[];
  /** the judgement clock now: a start after a crash knows when the platform went down */
  aliveAt?: number;
  outages?: readonly PlatformOutage[];
  gaps?: readonly PlatformGap[];
  /** vehicles to prune the history of, and the instant before which it goes */
  prune?: { vehicles: readonly string[]; cutoff: number };
  /** new outbox rows, in production order */
  outbox: readonly { kind: OutboxKind; body: string }[];
  /** outbox rows the EventStore accepted since the last batch */
  acked: readonly number[];
  evidenceDue: readonly EvidenceDueRow[];
  /** packages now stored: their due rows go, unless a later event of the violation replaced the row */
  evidenceDone: readonly EvidenceDone[];
}

export interface EngineStateStoreOptions {
  /** the database file (its directory is created if needed) */
  file: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vehicles (
  vehicle TEXT NOT NULL PRIMARY KEY,
  engine TEXT NOT NULL,
  trips TEXT,
  judge TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence_due (
  violation_id TEXT NOT NULL PRIMARY KEY,
  body TEXT NOT NULL
) WITHOUT ROWID;
`;

interface Statements {
  upsertVehicle: Database.Statement;
  insertOutbox: Database.Statement;
  deleteOutbox: Database.Statement;
  upsertEvidenceDue: Database.Statement;
  deleteEvidenceDue: Database.Statement;
  outboxCount: Database.Statement;
  outboxPage: Database.Statement;
  evidenceDuePage: Database.Statement;
  evidenceDueCount: Database.Statement;
  commit: (work: (history: SqliteHistory) => StateBatch) => number[];
}

export class EngineStateStore {
  readonly file: string;
  private db: Database.Database | undefined;
  private st: Statements | undefined;
  private hist: SqliteHistory | undefined;

  constructor(options: EngineStateStoreOptions) {
    this.file = options.file;
  }

  /**
   * Opens (creating the file and tables if needed) and reads everything back. Vehicle states saved
   * under another `fingerprint` are deleted (they would be fed to rules that no longer read them the
   * same way); the outbox and the evidence queue do not depend on the engine and are always kept.
   */
  open(fingerprint: string): RestoredState {
    if (this.db) throw new Error(`${this.file} is already open`);
    const { db, value } = openSqlite(
      this.file,
      {},
      (db): RestoredState & { st: Statements; history: SqliteHistory } => {
        db.exec(SCHEMA);
        db.exec(HISTORY_SCHEMA);
        const vehicleColumns = (
          db.prepare("SELECT name FROM pragma_table_info('vehicles')").all() as { name: string }[]
        ).map((c) => c.name);
        if (!vehicleColumns.includes('judge')) db.exec('ALTER TABLE vehicles ADD COLUMN judge TEXT');
        const saved = db.prepare("SELECT value FROM meta WHERE key = 'fingerprint'").get() as
          | { value: string }
          | undefined;
        let discardedVehicles = 0;
        if (saved?.value !== fingerprint) {
          discardedVehicles = (db.prepare('SELECT count(*) AS n FROM vehicles').get() as { n: number }).n;
          db.transaction(() => {
            db.exec('DELETE FROM vehicles');
            // the checkpoints are states of the same engine: they go too (the outages and gaps stay)
            db.exec('DELETE FROM history; DELETE FROM emitted;');
            db.prepare(
              "INSERT INTO meta (key, value) VALUES ('fingerprint', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            ).run(fingerprint);
          })();
        }
        const vehicles = (
          db.prepare('SELECT vehicle, engine, trips, judge FROM vehicles').all() as {
            vehicle: string;
            engine: string;
            trips: string | null;
            judge: string | null;
          }[]
        ).map((r) => ({
          vehicle: r.vehicle,
          engine: r.engine,
          trips: r.trips ?? undefined,
          judge: r.judge ?? undefined,
        }));
        const alive = db.prepare("SELECT value FROM meta WHERE key = 'alive_at'").get() as
          | { value: string }
          | undefined;
        const aliveAt =
          alive !== undefined && Number.isFinite(Number(alive.value)) ? Number(alive.value) : undefined;
        const history = new SqliteHistory(db);
        const outbox: Record<OutboxKind, number> = { violation: 0, trip: 0 };
        for (const r of db.prepare('SELECT kind, count(*) AS n FROM outbox GROUP BY kind').all() as {
          kind: OutboxKind;
          n: number;
        }[])
          outbox[r.kind] = r.n;
        const st = this.prepare(db, history);
        const evidenceDue = (st.evidenceDueCount.get() as { n: number }).n;
        return {
          vehicles,
          historyVehicles: history.vehicles(),
          aliveAt,
          discardedVehicles,
          outbox,
          evidenceDue,
          st,
          history,
        };
      },
    );
    const { st, history, ...restored } = value;
    this.st = st;
    this.hist = history;
    this.db = db;
    return restored;
  }

  private prepare(db: Database.Database, history: SqliteHistory): Statements {
    const upsertVehicle = db.prepare(
      'INSERT INTO vehicles (vehicle, engine, trips, judge) VALUES (?, ?, ?, ?) ON CONFLICT (vehicle) DO UPDATE SET engine = excluded.engine, trips = excluded.trips, judge = excluded.judge',
    );
    const putAlive = db.prepare(
      "INSERT INTO meta (key, value) VALUES ('alive_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
    const insertOutbox = db.prepare('INSERT INTO outbox (kind, body) VALUES (?, ?)');
    const deleteOutbox = db.prepare('DELETE FROM outbox WHERE seq = ?');
    const upsertEvidenceDue = db.prepare(
      'INSERT INTO evidence_due (violation_id, body) VALUES (?, ?) ON CONFLICT (violation_id) DO UPDATE SET body = excluded.body',
    );
    // only the row the package was built from: a later event (a withdrawal) replaced it, and is due
    const deleteEvidenceDue = db.prepare('DELETE FROM evidence_due WHERE violation_id = ? AND body = ?');
    const commit = db.transaction((work: (history: SqliteHistory) => StateBatch): number[] => {
      // the history first: a re-judging in `work` reads it back within this transaction
      const batch = work(history);
      if (batch.aliveAt !== undefined && Number.isFinite(batch.aliveAt)) putAlive.run(String(batch.aliveAt));
      for (const o of batch.outages ?? []) history.putOutage(o);
      for (const g of batch.gaps ?? []) history.putGap(g);
      if (batch.prune) for (const v of batch.prune.vehicles) history.prune(v, batch.prune.cutoff);
      for (const seq of batch.acked) deleteOutbox.run(seq);
      for (const s of batch.states) upsertVehicle.run(s.vehicle, s.engine, s.trips ?? null, s.judge ?? null);
      const seqs: number[] = [];
      for (const o of batch.outbox) seqs.push(Number(insertOutbox.run(o.kind, o.body).lastInsertRowid));
      for (const e of batch.evidenceDue) upsertEvidenceDue.run(e.violationId, e.body);
      // after the inserts: an evidence job can finish before the row that announced it was committed
      for (const d of batch.evidenceDone) deleteEvidenceDue.run(d.violationId, d.body);
      return seqs;
    });
    return {
      upsertVehicle,
      insertOutbox,
      deleteOutbox,
      upsertEvidenceDue,
      deleteEvidenceDue,
      outboxCount: db.prepare('SELECT count(*) AS n FROM outbox'),
      outboxPage: db.prepare(
        'SELECT seq, kind, body FROM outbox WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      evidenceDuePage: db.prepare(
        'SELECT violation_id, body FROM evidence_due WHERE violation_id > ? ORDER BY violation_id LIMIT ?',
      ),
      evidenceDueCount: db.prepare('SELECT count(*) AS n FROM evidence_due'),
      commit,
    };
  }

  private statements(): Statements {
    if (!this.st) throw new Error(`${this.file} is not open (call open() first)`);
    return this.st;
  }

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  /**
   * One transaction: all of the batch is durable when this returns, or none of it (it throws). With a
   * function, it runs inside the transaction first (writing and re-judging the history) and returns
   * the batch.
   */
  commit(batch: StateBatch | ((history: SqliteHistory) => StateBatch)): number[] {
    return this.statements().commit(typeof batch === 'function' ? batch : () => batch);
  }

  /** the history late fixes are re-judged from (read outside a commit: the API's outage list) */
  history(): SqliteHistory {
    if (!this.hist) throw new Error(`${this.file} is not open (call open() first)`);
    return this.hist;
  }

  /** rows in the outbox (diagnostics, tests) */
  outboxSize(): number {
    return (this.statements().outboxCount.get() as { n: number }).n;
  }

  /** outbox rows of one kind after `afterSeq`, in order, at most `limit` */
  outboxPage(kind: OutboxKind, afterSeq: number, limit: number): OutboxRow[] {
    return this.statements().outboxPage.all(kind, afterSeq, limit) as OutboxRow[];
  }

  /** evidence rows due after `afterId` ('' for the first), in violation-id order, at most `limit` */
  evidenceDuePage(afterId: string, limit: number): EvidenceDueRow[] {
    return (
      this.statements().evidenceDuePage.all(afterId, limit) as { violation_id: string; body: string }[]
    ).map((r) => ({ violationId: r.violation_id, body: r.body }));
  }

  evidenceDueCount(): number {
    return (this.statements().evidenceDueCount.get() as { n: number }).n;
  }

  close(): void {
    const db = this.db;
    this.db = undefined;
    this.st = undefined;
    this.hist = undefined;
    db?.close();
  }
}
