/**
 * The tables of the embedded event store (../events-embedded.ts), one SQLite file `events.db`, and how a
 * file written by older code is brought up to date. Stored format: existing files must read back.
 */
import type Database from 'better-sqlite3';

export const SCHEMA = `
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

/**
 * 1: the enforcement status (`status`, `status_seq`, violation_status_log); the engine's column renamed.
 * 2: `violation_phases.rejudged` (events of a re-judging with late fixes); lifecycle 'withdrawn'.
 */
export const SCHEMA_VERSION = 2;

/**
 * Files written before the enforcement status had the engine's open/closed in a column called `status`:
 * it becomes `lifecycle`, and every existing violation gets the status `open` (nobody had decided yet).
 */
export function migrate(db: Database.Database): void {
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
