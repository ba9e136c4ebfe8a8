import type Database from 'better-sqlite3';
import type { ComplianceKind, EntityVersion } from './types.ts';

/**
 * The file of the compliance registry (`compliance.db`): one table of immutable version rows (a trigger
 * refuses UPDATE and DELETE, but for a row kept in entity_versions_lost first: a version a cluster
 * replaced by another node's of the same number), its migration, its statements, and a row as the
 * registry hands it out. In a cluster only the stream's first version N is ever judged by (the workers
 * apply the stream; the version a node wrote and lost was never first in it).
 */

/** 2: the `note` column (why a version was written: a permit's rejection or revocation reason). */
export const SCHEMA_VERSION = 2;

export const SCHEMA = `
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
-- A version this node wrote that lost to another node's of the same number (the registry stream's
-- first wins, cluster/registry-sync.ts): kept here, then it is the one row the trigger lets go.
CREATE TABLE IF NOT EXISTS entity_versions_lost (
  kind       TEXT NOT NULL,
  id         TEXT NOT NULL,
  version    INTEGER NOT NULL,
  deleted    INTEGER NOT NULL,
  body       TEXT,
  created_at INTEGER NOT NULL,
  actor      TEXT,
  note       TEXT,
  lost_at    INTEGER NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS entity_versions_no_delete BEFORE DELETE ON entity_versions
WHEN NOT EXISTS (SELECT 1 FROM entity_versions_lost l WHERE l.kind = OLD.kind AND l.id = OLD.id
  AND l.version = OLD.version AND l.created_at = OLD.created_at AND l.body IS OLD.body)
BEGIN SELECT RAISE(ABORT, 'entity versions are immutable'); END;
`;

export interface VersionRow {
  kind: string;
  id: string;
  version: number;
  deleted: number;
  body: string | null;
  created_at: number;
  actor: string | null;
  note: string | null;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function fromRow(row: VersionRow): EntityVersion {
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

/**
 * Files of schema version 1 lack the `note` column; it is added in place (old versions get none). The
 * delete trigger of older files refuses every delete: it is made again with its exception (above).
 */
export function migrate(db: Database.Database): void {
  const trigger = db
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'entity_versions_no_delete'")
    .get() as { sql: string } | undefined;
  if (trigger !== undefined && !trigger.sql.includes('entity_versions_lost'))
    db.exec('DROP TRIGGER entity_versions_no_delete');
  const columns = db.prepare("SELECT name FROM pragma_table_info('entity_versions')").all() as {
    name: string;
  }[];
  if (columns.length > 0 && !columns.some((c) => c.name === 'note')) {
    db.exec('ALTER TABLE entity_versions ADD COLUMN note TEXT');
  }
}

/** The statements of the registry, on a file whose schema is in place. */
export function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO entity_versions (kind, id, version, deleted, body, created_at, actor, note)
         VALUES (@kind, @id, @version, @deleted, @body, @created_at, @actor, @note)`,
    ),
    maxVersion: db.prepare('SELECT MAX(version) AS v FROM entity_versions WHERE kind = ? AND id = ?'),
    one: db.prepare('SELECT * FROM entity_versions WHERE kind = ? AND id = ? AND version = ?'),
    history: db.prepare('SELECT * FROM entity_versions WHERE kind = ? AND id = ? ORDER BY version'),
    keepLost: db.prepare(
      `INSERT INTO entity_versions_lost SELECT *, ? FROM entity_versions WHERE kind = ? AND id = ? AND version = ?`,
    ),
    remove: db.prepare('DELETE FROM entity_versions WHERE kind = ? AND id = ? AND version = ?'),
  };
}
export type Statements = ReturnType<typeof prepareStatements>;

/** The row of a version (its entity as JSON; a tombstone has none). */
export function versionRow(rec: Omit<EntityVersion, 'createdAt'>, createdAtMs: number): VersionRow {
  return {
    kind: rec.kind,
    id: rec.id,
    version: rec.version,
    deleted: rec.deleted ? 1 : 0,
    body: rec.entity === undefined ? null : JSON.stringify(rec.entity),
    created_at: createdAtMs,
    actor: rec.actor ?? null,
    note: rec.note ?? null,
  };
}

/** Two versions of one (kind, id, version) say the same; the time of writing may differ. */
export function sameContent(a: EntityVersion, b: EntityVersion): boolean {
  return (
    a.deleted === b.deleted &&
    (a.actor ?? null) === (b.actor ?? null) &&
    (a.note ?? null) === (b.note ?? null) &&
    JSON.stringify(a.entity ?? null) === JSON.stringify(b.entity ?? null)
  );
}

/** what storeVersion did: 'conflict' (nothing written), or the row now held */
export type Stored = 'conflict' | { rec: EntityVersion; inserted: boolean };

/**
 * Stores a version row written by another node (ComplianceRegistry.applyVersion), as written there.
 * Held already with the same content: nothing written. Held with another content: 'conflict', unless
 * `replace` (the cluster chose the other: the one held goes to entity_versions_lost and the given one
 * takes its place, in one transaction). A row another process sharing the file stored between the read
 * and the insert is read again.
 */
export function storeVersion(
  db: Database.Database,
  stmt: Statements,
  rec: EntityVersion,
  replace: boolean,
): Stored {
  const once = (): Stored => {
    const stored = stmt.one.get(rec.kind, rec.id, rec.version) as VersionRow | undefined;
    const existing = stored === undefined ? undefined : fromRow(stored);
    if (existing !== undefined && sameContent(existing, rec)) return { rec: existing, inserted: false };
    if (existing !== undefined && !replace) return 'conflict';
    const row = versionRow(rec, Date.parse(rec.createdAt));
    db.transaction(() => {
      if (existing !== undefined) {
        stmt.keepLost.run(Date.now(), rec.kind, rec.id, rec.version);
        stmt.remove.run(rec.kind, rec.id, rec.version);
      }
      stmt.insert.run(row);
    }).immediate();
    return { rec: fromRow(row), inserted: true };
  };
  try {
    return once();
  } catch (err) {
    if (!/UNIQUE constraint failed/.test((err as Error).message)) throw err;
    return once();
  }
}
